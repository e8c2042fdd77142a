"""Alembic environment: runs migrations over Nodedesk's own async engine."""

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from models.db import create_engine
from models.tables import Base
from reminders.locks import NAMESPACE, Work

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several processes starting at once upgrade one after another: the lock is held until
            # this transaction commits, and the next finds the schema already at head.
            lock = f"SELECT pg_advisory_xact_lock({NAMESPACE}, {int(Work.SCHEMA)})"
            connection.execute(text(lock))
        context.run_migrations()


async def _run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `nodedesk db upgrade`")
asyncio.run(_run_online())
