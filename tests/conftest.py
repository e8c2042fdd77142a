"""Fixtures shared by the tiers: a migrated database per test, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from models.clock import FrozenClock
from models.db import create_engine, create_sessionmaker
from models.migrate import _upgrade
from models.tables import Base

# PTB 22 returns RetryAfter.retry_after as a timedelta with this set, and warns without it.
os.environ.setdefault("PTB_TIMEDELTA", "1")
PG_URL = os.environ.get("NODEDESK_TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgresql"]

# Monday 2 March 2026, 09:00 in the county (Asia/Shanghai): a plain working morning.
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@dataclass
class Database:
    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    @contextmanager
    def statements(self) -> Iterator[list[str]]:
        """The SQL sent to the database inside the block, as it is sent."""
        sent: list[str] = []

        def record(*args: Any) -> None:
            sent.append(str(args[2]))

        event.listen(self.engine.sync_engine, "before_cursor_execute", record)
        try:
            yield sent
        finally:
            event.remove(self.engine.sync_engine, "before_cursor_execute", record)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a copy, which is faster than migrating again."""
    path = tmp_path_factory.mktemp("template") / "nodedesk.sqlite3"
    _upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("NODEDESK_TEST_DATABASE_URL is not set")
    drop_schema(PG_URL)
    _upgrade(PG_URL)
    yield PG_URL


def drop_schema(url: str) -> None:
    """A PostgreSQL database as new: no tables, no schema version."""

    async def drop() -> None:
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()

    asyncio.run(drop())


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database for this test."""
    if request.param == "sqlite":
        path = tmp_path / "nodedesk.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)

    async def empty() -> None:
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        await engine.dispose()

    asyncio.run(empty())
    return url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    engine = create_engine(database_url)
    yield Database(database_url, engine, create_sessionmaker(engine))
    await engine.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)
