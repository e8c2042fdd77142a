"""A broadcast wake-up for code that waits on sandbox state."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Pulse:
    """Wakes every waiter whenever anything changes; waiters re-check their own condition.

    One pulse for the whole sandbox keeps the mutation code free of per-condition
    bookkeeping: a mutation calls fire(), and each waiter decides whether it is done.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seconds: float) -> None:
        """Return at the next fire(), or after `seconds`."""
        event = self._event
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(seconds, 0.0)):
                await event.wait()

    async def wait_until(self, check: Callable[[], T], seconds: float) -> T:
        """Return check()'s first truthy value, or its last (falsy) one after `seconds`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(seconds, 0.0)
        while True:
            # Taken before checking, so a fire() between check and wait is not lost.
            event = self._event
            result = check()
            remaining = deadline - loop.time()
            if result or remaining <= 0:
                return result
            try:
                async with asyncio.timeout(remaining):
                    await event.wait()
            except TimeoutError:
                return check()
