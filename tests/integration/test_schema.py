import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from models.clock import FrozenClock
from models.services.common import audit
from models.tables import AuditEntry, Base
from tests.conftest import Database


async def test_the_migrations_build_exactly_the_models(db: Database) -> None:
    def differences(connection: object) -> list[object]:
        context = MigrationContext.configure(connection)  # type: ignore[arg-type]
        return list(compare_metadata(context, Base.metadata))

    async with db.engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_the_audit_log_is_append_only(db: Database, clock: FrozenClock) -> None:
    async with db.sessions() as session, session.begin():
        audit(session, clock.now(), "something_happened", "issue", 1, note="kept")
    for statement in (
        update(AuditEntry).values(action="rewritten"),
        text("DELETE FROM audit_log"),
    ):
        async with db.sessions() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                async with session.begin():
                    await session.execute(statement)
    async with db.sessions() as session:
        entry = await session.scalar(select(AuditEntry))
        assert entry is not None
        assert (entry.action, entry.detail, entry.at) == (
            "something_happened",
            {"note": "kept"},
            clock.now(),
        )
