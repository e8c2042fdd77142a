"""Telegram's flood limits as sliding windows over real monotonic time."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Window:
    """At most `count` messages within any `seconds`-long interval."""

    count: int
    seconds: float


@dataclass(frozen=True)
class RateLimits:
    """What the sandbox enforces on messages a bot sends (send*, forward, copy; not edits).

    The defaults follow Telegram's published guidance: 30 messages per second overall,
    20 per minute in one group, about one per second in one private chat; the private
    window allows a burst of 3 within 3 s, which is how Telegram tolerates short bursts.
    """

    enabled: bool = True
    overall: Window = field(default_factory=lambda: Window(30, 1.0))
    group: Window = field(default_factory=lambda: Window(20, 60.0))
    private: Window = field(default_factory=lambda: Window(3, 3.0))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, changes: dict[str, Any]) -> RateLimits:
        """A copy with the given JSON fields replaced (windows as {"count", "seconds"})."""
        current = self.to_json()
        unknown = set(changes) - set(current)
        if unknown:
            raise ValueError(f"unknown rate limit fields: {sorted(unknown)}")
        for name in ("overall", "group", "private"):
            if name in changes:
                window = {**current[name], **changes[name]}
                current[name] = Window(int(window["count"]), float(window["seconds"]))
            else:
                current[name] = Window(**current[name])
        return RateLimits(
            enabled=bool(changes.get("enabled", current["enabled"])),
            overall=current["overall"],
            group=current["group"],
            private=current["private"],
        )


class _SlidingLog:
    def __init__(self, window: Window) -> None:
        self.window = window
        self.times: deque[float] = deque()

    def retry_after(self, now: float) -> float:
        """Seconds until one more message fits; 0 if it fits now."""
        while self.times and self.times[0] <= now - self.window.seconds:
            self.times.popleft()
        if len(self.times) < self.window.count:
            return 0.0
        return self.times[len(self.times) - self.window.count] + self.window.seconds - now


class RateLimiter:
    def __init__(self, limits: RateLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._overall = _SlidingLog(limits.overall)
        self._chats: dict[int, _SlidingLog] = {}

    def configure(self, limits: RateLimits) -> None:
        self.limits = limits
        self._overall.window = limits.overall
        self._chats.clear()

    def acquire(self, chat_id: int, is_private: bool) -> int | None:
        """Record one message, or return the whole seconds to wait if it would flood."""
        if not self.limits.enabled:
            return None
        now = self._clock()
        window = self.limits.private if is_private else self.limits.group
        chat = self._chats.setdefault(chat_id, _SlidingLog(window))
        wait = max(self._overall.retry_after(now), chat.retry_after(now))
        if wait > 0:
            return max(1, math.ceil(wait))
        self._overall.times.append(now)
        chat.times.append(now)
        return None
