"""SQLite run in the event loop's thread (models/inline_sqlite.py): waiting for a lock held by
another connection must not stop the loop, and the write-ahead log is checkpointed off it."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from models import inline_sqlite
from models.db import create_engine


def _engine(path: Path, **kwargs: object) -> AsyncEngine:
    return create_engine(f"sqlite+aiosqlite:///{path}", **kwargs)


async def _make_table(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))


async def test_a_transaction_waiting_for_the_lock_lets_the_holder_of_this_loop_finish(
    tmp_path: Path,
) -> None:
    """Two engines of one process on one file: the second's BEGIN waits for the first's write
    lock. In SQLite's busy handler it would block the loop, and the first, waiting on the loop
    to commit, would never move: both stuck until the busy timeout."""
    holder, waiter = _engine(tmp_path / "db.sqlite3"), _engine(tmp_path / "db.sqlite3")
    try:
        await _make_table(holder)
        order: list[str] = []
        holding = asyncio.Event()

        async def hold() -> None:
            async with holder.begin() as connection:
                await connection.execute(text("INSERT INTO notes (body) VALUES ('first')"))
                holding.set()
                await asyncio.sleep(0.3)  # the loop must run meanwhile for this to end
                order.append("holder commits")

        async def wait() -> None:
            await holding.wait()
            async with waiter.begin() as connection:
                order.append("waiter begins")
                await connection.execute(text("INSERT INTO notes (body) VALUES ('second')"))

        await asyncio.wait_for(asyncio.gather(hold(), wait()), timeout=10)
        assert order == ["holder commits", "waiter begins"]
        async with waiter.connect() as connection:
            bodies = (await connection.execute(text("SELECT body FROM notes ORDER BY id"))).all()
        assert [body for (body,) in bodies] == ["first", "second"]
    finally:
        await holder.dispose()
        await waiter.dispose()


async def test_a_lock_held_past_the_patience_fails_as_locked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "db.sqlite3"
    holder = _engine(path)
    monkeypatch.setattr("models.db.SQLITE_BUSY_TIMEOUT_MS", 200)
    waiter = _engine(path)
    try:
        await _make_table(holder)
        async with holder.begin() as connection:
            await connection.execute(text("INSERT INTO notes (body) VALUES ('held')"))
            started = asyncio.get_running_loop().time()
            with pytest.raises(OperationalError, match="database is locked"):
                async with waiter.begin():
                    pass
            waited = asyncio.get_running_loop().time() - started
        assert 0.2 <= waited < 5
    finally:
        await holder.dispose()
        await waiter.dispose()


async def test_the_log_is_checkpointed_by_its_thread_and_the_file_is_whole_after_dispose(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inline_sqlite, "CHECKPOINT_EVERY", 0.05)
    path = tmp_path / "db.sqlite3"
    engine = _engine(path)
    try:
        await _make_table(engine)
        async with engine.connect() as connection:
            autocheckpoint = await connection.scalar(text("PRAGMA wal_autocheckpoint"))
        assert autocheckpoint == 0  # SQLite does not checkpoint at commits
        async with engine.begin() as connection:
            for n in range(200):
                await connection.execute(
                    text("INSERT INTO notes (body) VALUES (:body)"), {"body": "x" * 2000 + str(n)}
                )
        # The thread copies the log into the file while the engine is open.
        for _ in range(200):
            if path.stat().st_size > 200 * 2000:
                break
            await asyncio.sleep(0.05)
        assert path.stat().st_size > 200 * 2000
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO notes (body) VALUES ('last')"))
    finally:
        await engine.dispose()
    # Disposed, the database is the file alone: a copy of it has every row.
    copy = tmp_path / "copy.sqlite3"
    shutil.copy(path, copy)
    with sqlite3.connect(copy) as reader:
        assert reader.execute("SELECT count(*) FROM notes").fetchone() == (201,)
    assert [t for t in threading.enumerate() if t.name == f"checkpoint {path}"] == []
