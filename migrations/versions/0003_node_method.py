"""node method: working-time exceptions, deadlines, cards, the points ledger, node updates

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 10:39:20.369870
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_exceptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("working", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_exceptions")),
        sa.UniqueConstraint("day", name=op.f("uq_calendar_exceptions_day")),
    )
    op.create_table(
        "points_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=50), nullable=True),
        sa.Column("green", sa.Float(), nullable=False),
        sa.Column("yellow", sa.Float(), nullable=False),
        sa.Column("red", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_rules")),
        sa.UniqueConstraint("category", name=op.f("uq_points_rules_category")),
    )
    op.create_table(
        "score_weights",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_weights")),
        sa.UniqueConstraint("scope", "key", name=op.f("uq_score_weights_scope")),
    )
    op.create_table(
        "deadlines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_type", sa.String(length=8), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=320), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("approver_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=50), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recommit_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recommit_reason", sa.Text(), nullable=True),
        sa.Column("recommit_status", sa.String(length=16), nullable=True),
        sa.Column("recommit_by_id", sa.Integer(), nullable=True),
        sa.Column("recommitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cards", sa.String(length=32), nullable=False),
        sa.Column("card_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_reminder_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("supervised_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["approver_id"], ["people.id"], name=op.f("fk_deadlines_approver_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_deadlines_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["people.id"], name=op.f("fk_deadlines_owner_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["recommit_by_id"], ["people.id"], name=op.f("fk_deadlines_recommit_by_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadlines")),
        sa.UniqueConstraint(
            "subject_type", "subject_id", "kind", name=op.f("uq_deadlines_subject_type")
        ),
    )
    with op.batch_alter_table("deadlines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deadlines_card_due_at"), ["card_due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_deadlines_department_id"), ["department_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_deadlines_next_reminder_at"), ["next_reminder_at"], unique=False
        )

    op.create_table(
        "cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deadline_id", sa.Integer(), nullable=False),
        sa.Column("colour", sa.String(length=8), nullable=False),
        sa.Column("missed_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notices", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deadline_id"], ["deadlines.id"], name=op.f("fk_cards_deadline_id_deadlines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cards")),
        sa.UniqueConstraint("deadline_id", "colour", name=op.f("uq_cards_deadline_id")),
    )
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cards_raised_at"), ["raised_at"], unique=False)

    op.create_table(
        "node_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("file_kind", sa.String(length=16), nullable=True),
        sa.Column("file_id", sa.String(length=256), nullable=True),
        sa.Column("file_name", sa.String(length=256), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_node_updates_node_id_nodes")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_node_updates_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_node_updates")),
    )
    with op.batch_alter_table("node_updates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_node_updates_node_id"), ["node_id"], unique=False)

    op.create_table(
        "points_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("colour", sa.String(length=8), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(length=400), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_points_ledger_card_id_cards")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_points_ledger_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_points_ledger_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_ledger")),
        sa.UniqueConstraint("card_id", name=op.f("uq_points_ledger_card_id")),
    )
    with op.batch_alter_table("points_ledger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_points_ledger_at"), ["at"], unique=False)

    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=50), nullable=True))

    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("progress", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("completion_requested_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("accepted_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("returned_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_nodes_accepted_by_id_people"), "people", ["accepted_by_id"], ["id"]
        )

    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chat_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_projects_chat_id_chats"), "chats", ["chat_id"], ["id"]
        )

    with op.batch_alter_table("service_policies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_hours", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("stage_limits", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(
            sa.Column("reminder_hours", sa.JSON(), nullable=False, server_default="[24.0, 2.0]")
        )
        batch_op.add_column(
            sa.Column(
                "quiet_hours", sa.String(length=11), nullable=False, server_default="22:00-07:30"
            )
        )

    _create_append_only_guard("points_ledger")


def downgrade() -> None:
    _drop_append_only_guard("points_ledger")
    with op.batch_alter_table("service_policies", schema=None) as batch_op:
        batch_op.drop_column("quiet_hours")
        batch_op.drop_column("reminder_hours")
        batch_op.drop_column("stage_limits")
        batch_op.drop_column("claim_hours")

    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_projects_chat_id_chats"), type_="foreignkey")
        batch_op.drop_column("chat_id")

    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_nodes_accepted_by_id_people"), type_="foreignkey")
        batch_op.drop_column("updated_at")
        batch_op.drop_column("returned_reason")
        batch_op.drop_column("accepted_by_id")
        batch_op.drop_column("accepted_at")
        batch_op.drop_column("completion_requested_at")
        batch_op.drop_column("progress")

    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.drop_column("kind")

    with op.batch_alter_table("points_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_points_ledger_at"))

    op.drop_table("points_ledger")
    with op.batch_alter_table("node_updates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_node_updates_node_id"))

    op.drop_table("node_updates")
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cards_raised_at"))

    op.drop_table("cards")
    with op.batch_alter_table("deadlines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deadlines_next_reminder_at"))
        batch_op.drop_index(batch_op.f("ix_deadlines_department_id"))
        batch_op.drop_index(batch_op.f("ix_deadlines_card_due_at"))

    op.drop_table("deadlines")
    op.drop_table("score_weights")
    op.drop_table("points_rules")
    op.drop_table("calendar_exceptions")


def _create_append_only_guard(table: str) -> None:
    """The points ledger, like the audit log, refuses UPDATE and DELETE in the database."""
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
        return
    op.execute(
        f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{table} is append-only'; END $$"
    )
    op.execute(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
    )


def _drop_append_only_guard(table: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        return
    op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
