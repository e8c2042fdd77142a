"""Group commit: updates that arrive while a transaction is being written share the next one.

Each update is still handled on its own, in order, by the same code; what the updates waiting
together share is the session, one BEGIN and one COMMIT, and the audit log's one INSERT. Under
light load nothing waits, so every update has a transaction of its own as before; under heavy
load the batches grow by themselves. A batch is all or nothing: if one update's handling fails,
the batch is rolled back and each update in it is handled again alone, so one bad update costs
the others a retry, never their outcome.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger(__name__)

Work = Callable[[AsyncSession], Awaitable[Any]]
# Done first in a batch's transaction, with the batch's work: what they can do together.
Prepare = Callable[[AsyncSession, list[Any]], Awaitable[None]]

# Enough to spread a transaction's fixed cost thin; few enough that a batch holds SQLite's write
# lock (and PostgreSQL's row locks) for a few tens of milliseconds at most.
MAX_BATCH = 32


class GroupCommit:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        limit: int = MAX_BATCH,
        prepare: Prepare | None = None,
    ) -> None:
        self._sessions = sessions
        self._limit = limit
        self._prepare = prepare
        self._lock = asyncio.Lock()
        self._waiting: list[tuple[Work, asyncio.Future[Any]]] = []
        # Written so far, rolled back ones aside: their ratio is the mean batch.
        self.transactions = 0
        self.updates = 0

    async def run(self, work: Work) -> Any:
        """`work(session)` done and committed, with whatever updates wait beside it."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        job = (work, future)
        self._waiting.append(job)
        try:
            # The lock passes in arrival order; whoever holds it writes what waits, a batch at a
            # time, until its own work is done; most find it done by someone before them.
            async with self._lock:
                while not future.done():
                    await self._write_waiting(job)
        except asyncio.CancelledError:
            # The request that carried it was dropped: not written, it is no longer wanted.
            if job in self._waiting:
                self._waiting.remove(job)
            raise
        return future.result()

    async def _write_waiting(self, own: tuple[Work, asyncio.Future[Any]]) -> None:
        batch = self._waiting[: self._limit]
        del self._waiting[: self._limit]
        try:
            await self._write(batch)
        finally:
            # Cut off halfway, the batch was rolled back: the others wait again, first in line.
            self._waiting[:0] = [job for job in batch if job is not own and not job[1].done()]

    async def _write(self, batch: list[tuple[Work, asyncio.Future[Any]]]) -> None:
        if len(batch) > 1:
            try:
                async with self._sessions() as session, session.begin():
                    if self._prepare is not None:
                        await self._prepare(session, [work for work, _ in batch])
                    results = [await work(session) for work, _ in batch]
            except Exception:
                log.warning("a batch of %d updates failed; handling each alone", len(batch))
            else:
                for (_, future), result in zip(batch, results, strict=True):
                    future.set_result(result)
                self._count(len(batch))
                return
        for work, future in batch:
            try:
                async with self._sessions() as session, session.begin():
                    result = await work(session)
            except Exception as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)
                self._count(1)

    def _count(self, updates: int) -> None:
        self.transactions += 1
        self.updates += updates
