"""the knowledge base's version, counted by the database

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 21:00:00

Every write that can change the knowledge base (closed issues: which there are, their question,
answer, industry, privacy and general mark) adds one to the counter row `knowledge`, by
triggers, so that a process can tell whether its copy of the base is current by reading one
row, however many issues are closed, and no writer can forget to say so.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What the knowledge base reads of an issue (models/services/knowledge.py).
COLUMNS = "status, text, answer, industry, is_private, is_general"
BUMP = (
    "INSERT INTO counters (name, value) VALUES ('knowledge', 1) "
    "ON CONFLICT (name) DO UPDATE SET value = counters.value + 1"
)
CLOSED_BEFORE_OR_AFTER = "OLD.status = 'closed' OR NEW.status = 'closed'"
# (trigger, event, condition)
TRIGGERS = (
    ("knowledge_on_insert", "INSERT", "NEW.status = 'closed'"),
    ("knowledge_on_update", f"UPDATE OF {COLUMNS}", CLOSED_BEFORE_OR_AFTER),
    ("knowledge_on_delete", "DELETE", "OLD.status = 'closed'"),
)


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION knowledge_changed() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {BUMP}; RETURN NULL; END $$"
        )
        for name, event, condition in TRIGGERS:
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON issues FOR EACH ROW "
                f"WHEN ({condition}) EXECUTE FUNCTION knowledge_changed()"
            )
        return
    for name, event, condition in TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON issues FOR EACH ROW "
            f"WHEN {condition} BEGIN {BUMP}; END"
        )


def downgrade() -> None:
    postgresql = op.get_context().dialect.name == "postgresql"
    for name, _, _ in TRIGGERS:
        op.execute(f"DROP TRIGGER {name}" + (" ON issues" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION knowledge_changed()")
    op.execute("DELETE FROM counters WHERE name = 'knowledge'")
