"""direct line

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 06:51:12.971588
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_counters")),
    )
    op.create_table(
        "service_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=50), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("close_working_days", sa.Integer(), nullable=False),
        sa.Column("confirm_days", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_policies")),
        sa.UniqueConstraint("category", "priority", name=op.f("uq_service_policies_category")),
    )
    op.create_table(
        "routing_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("category", sa.String(length=50), nullable=False),
        sa.Column("industry", sa.String(length=100), nullable=True),
        sa.Column("lead_department_id", sa.Integer(), nullable=False),
        sa.Column("assist_department_ids", sa.JSON(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_department_id"],
            ["departments.id"],
            name=op.f("fk_routing_rules_lead_department_id_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_rules")),
    )
    op.create_table(
        "dialogues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["chat_id"], ["chats.id"], name=op.f("fk_dialogues_chat_id_chats")),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_dialogues_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dialogues")),
    )
    with op.batch_alter_table("dialogues", schema=None) as batch_op:
        batch_op.create_index("ix_dialogues_open", ["person_id", "chat_id", "status"], unique=False)

    op.create_table(
        "firm_memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("firm_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_firm_memberships_chat_id_chats")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["people.id"], name=op.f("fk_firm_memberships_decided_by_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["firm_id"], ["firms.id"], name=op.f("fk_firm_memberships_firm_id_firms")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_firm_memberships_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firm_memberships")),
    )
    with op.batch_alter_table("firm_memberships", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_firm_memberships_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_subscriptions_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint("person_id", "topic", name=op.f("uq_subscriptions_person_id")),
    )
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["by_id"], ["people.id"], name=op.f("fk_broadcasts_by_id_people")),
        sa.ForeignKeyConstraint(
            ["issue_id"], ["issues.id"], name=op.f("fk_broadcasts_issue_id_issues")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcasts")),
    )
    op.create_table(
        "issue_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("file_id", sa.String(length=256), nullable=False),
        sa.Column("file_unique_id", sa.String(length=128), nullable=True),
        sa.Column("file_name", sa.String(length=256), nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["added_by_id"], ["people.id"], name=op.f("fk_issue_attachments_added_by_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["issue_id"], ["issues.id"], name=op.f("fk_issue_attachments_issue_id_issues")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issue_attachments")),
    )
    with op.batch_alter_table("issue_attachments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_issue_attachments_issue_id"), ["issue_id"], unique=False
        )

    op.create_table(
        "issue_cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_issue_cards_chat_id_chats")
        ),
        sa.ForeignKeyConstraint(
            ["issue_id"], ["issues.id"], name=op.f("fk_issue_cards_issue_id_issues")
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_issue_cards_outbox_id_outbox")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issue_cards")),
    )
    with op.batch_alter_table("issue_cards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_issue_cards_issue_id"), ["issue_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_issue_cards_outbox_id"), ["outbox_id"], unique=False)

    op.create_table(
        "issue_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("matched_issue_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_issue_drafts_chat_id_chats")
        ),
        sa.ForeignKeyConstraint(
            ["matched_issue_id"],
            ["issues.id"],
            name=op.f("fk_issue_drafts_matched_issue_id_issues"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_issue_drafts_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issue_drafts")),
    )
    op.create_table(
        "broadcast_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            ["broadcasts.id"],
            name=op.f("fk_broadcast_recipients_broadcast_id_broadcasts"),
        ),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_broadcast_recipients_chat_id_chats")
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_broadcast_recipients_outbox_id_outbox")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcast_recipients")),
        sa.UniqueConstraint(
            "broadcast_id", "chat_id", name=op.f("uq_broadcast_recipients_broadcast_id")
        ),
    )
    with op.batch_alter_table("broadcast_recipients", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_broadcast_recipients_broadcast_id"), ["broadcast_id"], unique=False
        )

    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tags", sa.JSON(), nullable=False, server_default="[]"))

    with op.batch_alter_table("issues", schema=None) as batch_op:
        batch_op.add_column(sa.Column("industry", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column("priority", sa.String(length=16), nullable=False, server_default="normal")
        )
        batch_op.add_column(
            sa.Column("source", sa.String(length=16), nullable=False, server_default="group")
        )
        batch_op.add_column(
            sa.Column("is_private", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("verified", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("filed_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("origin_message_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("assist_department_ids", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(
            sa.Column("routing_reason", sa.String(length=300), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("claimed_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("answer", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("answered_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("is_general", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("name_consent", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("feedback", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("rating", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("reopen_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("close_kind", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("callback_result", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("callback_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("callback_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("confirm_due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_issues_confirm_due_at"), ["confirm_due_at"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_issues_claimed_by_id_people"), "people", ["claimed_by_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_issues_answered_by_id_people"), "people", ["answered_by_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_issues_filed_by_id_people"), "people", ["filed_by_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_issues_callback_by_id_people"), "people", ["callback_by_id"], ["id"]
        )

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("edit_of_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_edit_of_id_outbox"), "outbox", ["edit_of_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_outbox_edit_of_id_outbox"), type_="foreignkey")
        batch_op.drop_column("edit_of_id")

    with op.batch_alter_table("issues", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_issues_callback_by_id_people"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_issues_filed_by_id_people"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_issues_answered_by_id_people"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_issues_claimed_by_id_people"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_issues_confirm_due_at"))
        batch_op.drop_column("confirm_due_at")
        batch_op.drop_column("callback_at")
        batch_op.drop_column("callback_by_id")
        batch_op.drop_column("callback_result")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("close_kind")
        batch_op.drop_column("reopen_count")
        batch_op.drop_column("rating")
        batch_op.drop_column("feedback")
        batch_op.drop_column("name_consent")
        batch_op.drop_column("is_general")
        batch_op.drop_column("answered_at")
        batch_op.drop_column("answered_by_id")
        batch_op.drop_column("answer")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("claimed_by_id")
        batch_op.drop_column("routing_reason")
        batch_op.drop_column("assist_department_ids")
        batch_op.drop_column("origin_message_id")
        batch_op.drop_column("filed_by_id")
        batch_op.drop_column("verified")
        batch_op.drop_column("is_private")
        batch_op.drop_column("source")
        batch_op.drop_column("priority")
        batch_op.drop_column("industry")

    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.drop_column("tags")

    with op.batch_alter_table("broadcast_recipients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_broadcast_recipients_broadcast_id"))

    op.drop_table("broadcast_recipients")
    op.drop_table("issue_drafts")
    with op.batch_alter_table("issue_cards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_issue_cards_outbox_id"))
        batch_op.drop_index(batch_op.f("ix_issue_cards_issue_id"))

    op.drop_table("issue_cards")
    with op.batch_alter_table("issue_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_issue_attachments_issue_id"))

    op.drop_table("issue_attachments")
    op.drop_table("broadcasts")
    op.drop_table("subscriptions")
    with op.batch_alter_table("firm_memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_firm_memberships_person_id"))

    op.drop_table("firm_memberships")
    with op.batch_alter_table("dialogues", schema=None) as batch_op:
        batch_op.drop_index("ix_dialogues_open")

    op.drop_table("dialogues")
    op.drop_table("routing_rules")
    op.drop_table("service_policies")
    op.drop_table("counters")
