"""Which process does a piece of work, when several run on one PostgreSQL.

A session-level advisory lock lives as long as the connection that took it: when its process
dies, the database closes the connection and frees the lock, and another process can take it.
SQLite serves one process and needs none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from enum import IntEnum

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

log = logging.getLogger(__name__)

# The first key of every Nodedesk lock (pg_locks.classid), so that other software's advisory
# locks in the same database cannot collide with ours.
NAMESPACE = 0x4E44


class Work(IntEnum):
    """What a lock is for (its second key, pg_locks.objid)."""

    SCHEMA = 0  # migrations (migrations/env.py), for the length of the upgrade's transaction
    OUTBOX = 1


def engine_of(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine | None:
    """The engine the sessions are bound to (None when bound to something else)."""
    bind = sessions.kw.get("bind")
    return bind if isinstance(bind, AsyncEngine) else None


def is_postgresql(engine: AsyncEngine | None) -> bool:
    return engine is not None and engine.dialect.name == "postgresql"


class HeldLock:
    """One advisory lock, held on a connection of its own, outside any transaction.

    `take` takes it when free; `still_held` asks the database again (at most every
    `recheck_after` seconds), so a holder whose connection was lost stops within that time.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        work: Work,
        *,
        recheck_after: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine, self.work = engine, work
        self.recheck_after, self.monotonic = recheck_after, monotonic
        self._connection: AsyncConnection | None = None
        self._held = False
        self._checked = 0.0
        # One connection runs one statement at a time; the holder's tasks share it.
        self._guard = asyncio.Lock()

    @property
    def held(self) -> bool:
        """Held when last asked; `still_held` asks again."""
        return self._held

    async def take(self) -> bool:
        """Hold the lock, taking it if no other process does; False when another holds it."""
        if self._held:
            return await self.still_held()
        async with self._guard:
            try:
                if self._connection is None:
                    connection = await self.engine.connect()
                    self._connection = await connection.execution_options(
                        isolation_level="AUTOCOMMIT"
                    )
                taken = await self._connection.scalar(
                    text(f"SELECT pg_try_advisory_lock({NAMESPACE}, {int(self.work)})")
                )
            except Exception as exc:
                log.warning("could not ask for the %s lock: %s", self.work.name, exc)
                await self._drop()
                return False
            self._held = bool(taken)
            if self._held:
                self._checked = self.monotonic()
                log.info("this process now does the %s work", self.work.name.lower())
            return self._held

    async def still_held(self) -> bool:
        """Whether the lock is still ours: its connection alive and the lock granted to it."""
        async with self._guard:
            if not self._held or self._connection is None:
                return False
            if self.monotonic() - self._checked < self.recheck_after:
                return True
            try:
                # By the backend, not just "the connection answers": a connection that was lost
                # and opened again answers too, without the lock.
                mine = await self._connection.scalar(
                    text(
                        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
                        f" AND classid = {NAMESPACE} AND objid = {int(self.work)}"
                        " AND objsubid = 2 AND granted AND pid = pg_backend_pid())"
                    )
                )
            except Exception as exc:
                log.warning("the %s lock's connection failed: %s", self.work.name, exc)
                mine = False
            if not mine:
                log.warning("lost the %s lock; stopping until it is taken again", self.work.name)
                await self._drop()
                return False
            self._checked = self.monotonic()
            return True

    async def notify(self, channel: str) -> None:
        """Tell whoever listens on `channel` (see `listen`); best effort."""
        async with self._guard:
            if self._connection is None:
                return
            with contextlib.suppress(Exception):
                await self._connection.execute(text(f"NOTIFY {channel}"))

    async def listen(self, channel: str, callback: Callable[[], None]) -> bool:
        """Call `callback` whenever a NOTIFY arrives on `channel`, on the lock's connection;
        False (and the lock let go) when the connection fails."""
        async with self._guard:
            if self._connection is None:
                return False
            try:
                raw = await self._connection.get_raw_connection()
                driver = raw.driver_connection
                assert driver is not None
                await driver.add_listener(channel, lambda *_: callback())
            except Exception as exc:
                log.warning("could not listen on %s: %s", channel, exc)
                await self._drop()
                return False
            return True

    async def release(self) -> None:
        """Let go of the lock and its connection."""
        async with self._guard:
            if self._connection is not None and self._held:
                with contextlib.suppress(Exception):
                    await self._connection.execute(
                        text(f"SELECT pg_advisory_unlock({NAMESPACE}, {int(self.work)})")
                    )
            await self._drop()

    async def _drop(self) -> None:
        """Forget the lock; the connection is discarded, never returned to the pool with it."""
        self._held = False
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.invalidate()
            with contextlib.suppress(Exception):
                await connection.close()
