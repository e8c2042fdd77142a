"""Telegram's sending limits as a pacer: when may the next message to a chat leave?

Times are seconds on a monotonic clock, passed in, so the rule can be tested without waiting.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SendLimits:
    overall_per_second: int = 30
    group_per_minute: int = 20
    private_interval: float = 1.0
    # Our clock and Telegram's never agree exactly; a little slack keeps us under the limit.
    margin: float = 0.03


@dataclass
class Pacer:
    limits: SendLimits = field(default_factory=SendLimits)
    _overall: deque[float] = field(default_factory=deque)
    _groups: dict[int, deque[float]] = field(default_factory=dict)
    _private_last: dict[int, float] = field(default_factory=dict)
    _paused_until: dict[int, float] = field(default_factory=dict)

    def wait(self, chat_id: int, is_group: bool, now: float) -> float:
        """Seconds until a message to `chat_id` may leave without breaking a limit (0 = now)."""
        limits = self.limits
        waits = [self._paused_until.get(chat_id, 0.0) - now]
        waits.append(_window_wait(self._overall, limits.overall_per_second, 1.0, limits, now))
        if is_group:
            window = self._groups.get(chat_id)
            if window is not None:
                waits.append(_window_wait(window, limits.group_per_minute, 60.0, limits, now))
        else:
            last = self._private_last.get(chat_id)
            if last is not None:
                waits.append(last + limits.private_interval + limits.margin - now)
        return max(0.0, *waits)

    def sent(self, chat_id: int, is_group: bool, now: float) -> None:
        """Count a message that left at `now`."""
        self._overall.append(now)
        if is_group:
            self._groups.setdefault(chat_id, deque()).append(now)
        else:
            self._private_last[chat_id] = now
        self._forget(now)

    def pause(self, chat_id: int, seconds: float, now: float) -> None:
        """Telegram said RetryAfter: nothing goes to this chat for that long."""
        self._paused_until[chat_id] = max(self._paused_until.get(chat_id, 0.0), now + seconds)

    def _forget(self, now: float) -> None:
        _trim(self._overall, now - 1.0 - self.limits.margin)
        for chat_id in [c for c, w in self._groups.items() if not _trim(w, now - 61.0)]:
            del self._groups[chat_id]
        if len(self._private_last) > 10_000:
            horizon = now - self.limits.private_interval - self.limits.margin
            self._private_last = {c: t for c, t in self._private_last.items() if t > horizon}
        for chat_id in [c for c, until in self._paused_until.items() if until <= now]:
            del self._paused_until[chat_id]


def _window_wait(
    window: deque[float], allowed: int, span: float, limits: SendLimits, now: float
) -> float:
    """In a sliding window of `span` seconds at most `allowed` messages leave."""
    if len(window) < allowed:
        return 0.0
    return window[-allowed] + span + limits.margin - now


def _trim(window: deque[float], before: float) -> int:
    while window and window[0] < before:
        window.popleft()
    return len(window)
