"""The bot's update queue, read by getUpdates or pushed to a webhook."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import Callable, Sequence

import httpx

from .model import JSON
from .notify import Pulse
from .stats import Stats

# What Telegram sends when allowed_updates is empty or was never set.
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


class UpdateQueue:
    def __init__(self, pulse: Pulse, stats: Stats) -> None:
        self._pulse = pulse
        self._stats = stats
        self._pending: deque[JSON] = deque()
        # Never reset: a bot that keeps running across a sandbox reset still sends its old
        # offset, and restarting at 1 would make it confirm (drop) every new update.
        self._next_id = 1
        self.allowed: frozenset[str] | None = None

    def __len__(self) -> int:
        return len(self._pending)

    def set_allowed(self, kinds: Sequence[str]) -> None:
        self.allowed = frozenset(kinds) if kinds else None

    def accepts(self, kind: str) -> bool:
        if self.allowed is None:
            return kind not in OPT_IN_UPDATES
        return kind in self.allowed

    def push(self, kind: str, payload: JSON) -> JSON | None:
        if not self.accepts(kind):
            return None
        update: JSON = {"update_id": self._next_id, kind: payload}
        self._next_id += 1
        self._pending.append(update)
        self._stats.updates_queued += 1
        self._pulse.fire()
        return update

    def confirm(self, offset: int) -> None:
        """Forget updates the way getUpdates' offset does (negative: keep the last -offset)."""
        if offset > 0:
            while self._pending and self._pending[0]["update_id"] < offset:
                self._pending.popleft()
        elif offset < 0:
            while len(self._pending) > -offset:
                self._pending.popleft()
        self._pulse.fire()

    def first(self) -> JSON | None:
        return self._pending[0] if self._pending else None

    def take(self, limit: int) -> list[JSON]:
        return list(itertools.islice(self._pending, limit))

    def clear(self) -> None:
        self._pending.clear()
        self._pulse.fire()


class Webhook:
    """Pushes queued updates, in order and one at a time, to the bot's URL."""

    def __init__(
        self,
        url: str,
        *,
        secret_token: str | None,
        max_connections: int,
        queue: UpdateQueue,
        pulse: Pulse,
        stats: Stats,
        retry_delays: Sequence[float],
        timeout: float,
        now_unix: Callable[[], int],
    ) -> None:
        self.url = url
        self.secret_token = secret_token
        self.max_connections = max_connections
        self.last_error_date: int | None = None
        self.last_error_message: str | None = None
        self._queue = queue
        self._pulse = pulse
        self._stats = stats
        self._retry_delays = tuple(retry_delays)
        self._timeout = timeout
        self._now_unix = now_unix
        self._task: asyncio.Task[None] | None = None
        # True while a POST is out; the bot may be handling that update right now.
        self.delivering = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"sandbox-webhook {self.url}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def info(self) -> JSON:
        data: JSON = {
            "url": self.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
            "max_connections": self.max_connections,
        }
        if self._queue.allowed is not None:
            data["allowed_updates"] = sorted(self._queue.allowed)
        if self.last_error_date is not None:
            data["last_error_date"] = self.last_error_date
            data["last_error_message"] = self.last_error_message
        return data

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            while True:
                update = await self._pulse.wait_until(self._queue.first, 3600)
                if update is None:
                    continue
                self.delivering = True
                try:
                    await self._deliver(client, update)
                finally:
                    self.delivering = False
                # Delivered or given up on: either way it leaves the queue.
                self._queue.confirm(update["update_id"] + 1)

    async def _deliver(self, client: httpx.AsyncClient, update: JSON) -> bool:
        headers = {}
        if self.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.secret_token
        for delay in (*self._retry_delays, None):
            try:
                response = await client.post(self.url, json=update, headers=headers)
            except httpx.HTTPError as err:
                error = f"Connection failed: {type(err).__name__}"
            else:
                if response.is_success:
                    self._stats.webhook_deliveries += 1
                    return True
                error = (
                    "Wrong response from the webhook: "
                    f"{response.status_code} {response.reason_phrase}"
                )
            self._stats.webhook_failures += 1
            self.last_error_date = self._now_unix()
            self.last_error_message = error
            if delay is None:
                return False
            await asyncio.sleep(delay)
        return False
