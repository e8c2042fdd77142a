"""SQLite for SQLAlchemy's aiosqlite dialect, run in the event loop's own thread.

aiosqlite runs each call on a thread of its own and hands the result back through the event
loop: two thread switches per statement, and, under load, a wait for the interpreter lock each
time. Measured here, that was most of a report's cost (27.4 ms a report, in-process, one after
another; 11.1 ms with this connection, the same 29 statements). A statement on a local SQLite
file takes microseconds, so running it where it is awaited costs less than handing it over;
the price is that a long query holds up the event loop for its length, where with aiosqlite it
held up only the transactions queued behind it (the one pooled connection, `models/db.py`).

The objects below have the shape SQLAlchemy's aiosqlite adapter expects of an aiosqlite
connection and cursor (it is handed them through `async_creator`), with coroutines that finish
at once, except when the database is locked by another connection. SQLite's own busy handler
would then sleep in this thread, and the event loop with it: if the lock's holder is a
transaction of this same process, waiting on the loop to go on, neither would ever move. So
the connection's busy timeout is 0, and a statement refused for the lock is tried again after
an `asyncio.sleep` (1 ms, growing to 50 ms) until `timeout` has passed, letting everything
else run meanwhile.

For the same reason the write-ahead log is copied into the database file by a thread of its
own (`Checkpointer`), not by SQLite at the commit that finds the log past 1,000 pages: that
commit would stop the event loop for the copy and its fsync. Measured with the intake benchmark
(100 reports/s on 7,200 issues): p50 latency 72 ms with SQLite's checkpoints, 14–25 ms without.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


BUSY_NAPS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05)
CHECKPOINT_EVERY = 0.5  # seconds
IN_MEMORY = ("", ":memory:")


async def _patiently(statement: Callable[[], T], patience: float) -> T:
    """Run `statement`, trying again while another connection holds the lock it needs."""
    deadline = time.monotonic() + patience
    for attempt in itertools.count():
        try:
            return statement()
        except sqlite3.OperationalError as error:
            # SQLITE_BUSY only: SQLITE_BUSY_SNAPSHOT and the like do not pass by waiting.
            if error.sqlite_errorname != "SQLITE_BUSY" or time.monotonic() >= deadline:
                raise
        await asyncio.sleep(BUSY_NAPS[min(attempt, len(BUSY_NAPS) - 1)])
    raise AssertionError("unreachable")


class Cursor:
    def __init__(self, cursor: sqlite3.Cursor, timeout: float) -> None:
        self._cursor = cursor
        self._timeout = timeout

    async def __aenter__(self) -> Cursor:
        return self

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Cursor:
        await _patiently(lambda: self._cursor.execute(sql, parameters), self._timeout)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> Cursor:
        rows = list(parameters)
        await _patiently(lambda: self._cursor.executemany(sql, rows), self._timeout)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size) if size else self._cursor.fetchmany()

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class _RunNow:
    """Stands for aiosqlite's queue of calls to its thread: the adapter sets the isolation
    level by putting a call and a future on it."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, call = item
        try:
            future.set_result(call())
        except Exception as error:  # handed to whoever awaits the future
            future.set_exception(error)


class Checkpointer(threading.Thread):
    """Copies the write-ahead log into the database file every CHECKPOINT_EVERY seconds, on its
    own connection, without waiting for readers or writers (a PASSIVE checkpoint)."""

    def __init__(self, database: str) -> None:
        super().__init__(name=f"checkpoint {database}", daemon=True)
        self._database = database
        self._stopping = threading.Event()

    def run(self) -> None:
        connection = sqlite3.connect(self._database, timeout=1)
        try:
            while not self._stopping.wait(CHECKPOINT_EVERY):
                # Busy now (a schema change, say) is no loss: the next round copies the rest.
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            connection.close()

    def finish(self) -> None:
        """Stop, and wait for a checkpoint under way: the connection that closes last then
        copies what is left and removes the log, so the file alone is the whole database."""
        self._stopping.set()
        if self.is_alive():
            self.join()


class Connection:
    def __init__(
        self, connection: sqlite3.Connection, timeout: float, checkpointer: Checkpointer | None
    ) -> None:
        self._conn = connection
        self._timeout = timeout
        self._checkpointer = checkpointer
        self._tx = _RunNow()
        # The adapter reads this to tell an open connection (aiosqlite's name for it).
        self._connection: sqlite3.Connection | None = connection

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> Cursor:
        return Cursor(self._conn.cursor(), self._timeout)

    async def commit(self) -> None:
        await _patiently(self._conn.commit, self._timeout)

    async def rollback(self) -> None:
        self._conn.rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.finish()
        self._conn.close()
        self._connection = None


def connector(database: str, timeout: float) -> Callable[[], Awaitable[Connection]]:
    """The `async_creator` of an engine on the SQLite file `database`: a statement waits for
    another connection's lock up to `timeout` seconds."""

    async def connect() -> Connection:
        # Made in one thread and used in it; SQLAlchemy's pool may still close it from the
        # garbage collector's.
        connection = sqlite3.connect(database, timeout=0, check_same_thread=False)
        checkpointer = None
        if database not in IN_MEMORY:
            connection.execute("PRAGMA wal_autocheckpoint=0")  # the Checkpointer's work
            checkpointer = Checkpointer(database)
            checkpointer.start()
        return Connection(connection, timeout, checkpointer)

    return connect
