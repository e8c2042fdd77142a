"""The engine and the session factory; one session per update or job, opened at the edge."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from models.inline_sqlite import connector

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_POOL_TIMEOUT_S = 600


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; on SQLite with WAL, foreign keys, a busy timeout and write-ahead locking,
    its statements run in the event loop's thread (models/inline_sqlite.py)."""
    if make_url(url).get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_async_engine(url, **kwargs)

    # Every transaction takes SQLite's one write lock at BEGIN (below), so a second pooled
    # connection could only wait for it, napping in SQLite's busy handler (1 to 100 ms at a time)
    # while the lock stands free. With one connection, transactions queue in the event loop
    # instead, in order, and each starts the moment the last one ends. Waiting one's turn is not
    # a fault: under a burst an update waits as long as the queue ahead of it takes, rather than
    # fail (and a report be lost) after the busy timeout; only a connection held for minutes is.
    kwargs.setdefault("pool_size", 1)
    kwargs.setdefault("max_overflow", 0)
    kwargs.setdefault("pool_timeout", SQLITE_POOL_TIMEOUT_S)
    database = make_url(url).database or ":memory:"
    engine = create_async_engine(
        url, async_creator=connector(database, SQLITE_BUSY_TIMEOUT_MS / 1000), **kwargs
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take control of BEGIN from the driver, so that every transaction can start IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # No busy_timeout: SQLite would wait for a lock by sleeping in the event loop's thread;
        # the connection (models/inline_sqlite.py) waits on the loop instead.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A deferred transaction that reads and then writes can fail at once with "database is
        # locked", whatever the busy timeout; taking the write lock at BEGIN makes writers queue.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False keeps loaded attributes readable after commit, with no lazy reload.
    return async_sessionmaker(engine, expire_on_commit=False)
