"""Telegram's sending limits as a pacer: when may the next message to a chat leave?

Times are seconds on a monotonic clock, passed in, so the rule can be tested without waiting.

Telegram counts a message when it arrives, somewhere between the moment it left and the moment
Telegram answered. A message counts from when it left (`sent`), with a margin for the way there;
once the sender reports the answer (`answered`), from the answer, with hardly any margin: then no
delay on the way can squeeze more than the limit into Telegram's window, whatever the network
did. Messages overall leave evenly spaced rather than in bursts of thirty, so that they do not
queue up on the way and arrive bunched together: each has its slot on a schedule 1/30 s (plus the
margin) apart, and may leave a few slots early, so that a sender that wakes a little late does
not lose its slot for good.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SendLimits:
    overall_per_second: int = 30
    group_per_minute: int = 20
    private_interval: float = 1.0
    # Between leaving and arriving a message may be held up, and arrive bunched with later ones;
    # counted from when it left, a little slack keeps us under the limit (3 %).
    margin: float = 0.03
    # Counted from Telegram's answer it cannot have arrived later: only the clocks' drift is left.
    answered_margin: float = 0.002
    # How many slots of the even schedule a message may leave ahead of its own.
    early_slots: int = 3


@dataclass
class Sending:
    """One message on its way; `at` is when it counts: when it left, then when it was answered."""

    at: float
    answered: bool = False

    def counts_until(self, span: float, limits: SendLimits) -> float:
        """When it leaves a window of `span` seconds that it entered at `at`."""
        return self.at + span + (limits.answered_margin if self.answered else limits.margin)


@dataclass
class Pacer:
    limits: SendLimits = field(default_factory=SendLimits)
    _overall: deque[Sending] = field(default_factory=deque)
    _groups: dict[int, deque[Sending]] = field(default_factory=dict)
    _private_last: dict[int, Sending] = field(default_factory=dict)
    _paused_until: dict[int, float] = field(default_factory=dict)
    # When the next message's slot on the even schedule is.
    _next_slot: float = float("-inf")

    def wait(self, chat_id: int, is_group: bool, now: float) -> float:
        """Seconds until a message to `chat_id` may leave without breaking a limit (0 = now)."""
        limits = self.limits
        waits = [self._paused_until.get(chat_id, 0.0) - now]
        waits.append(_window_wait(self._overall, limits.overall_per_second, 1.0, limits, now))
        waits.append(self._next_slot - limits.early_slots * self._spacing - now)
        if is_group:
            window = self._groups.get(chat_id)
            if window is not None:
                waits.append(_window_wait(window, limits.group_per_minute, 60.0, limits, now))
        else:
            last = self._private_last.get(chat_id)
            if last is not None:
                waits.append(last.counts_until(limits.private_interval, limits) - now)
        return max(0.0, *waits)

    def sent(self, chat_id: int, is_group: bool, now: float) -> Sending:
        """Count a message that left at `now`; pass what comes back to `answered`."""
        sending = Sending(now)
        self._next_slot = max(self._next_slot, now) + self._spacing
        self._overall.append(sending)
        if is_group:
            self._groups.setdefault(chat_id, deque()).append(sending)
        else:
            self._private_last[chat_id] = sending
        self._forget(now)
        return sending

    def answered(self, sending: Sending, now: float) -> None:
        """Telegram answered (accepted, refused or failed) at `now`: count the message from then,
        the latest moment it can have arrived."""
        sending.at = max(sending.at, now)
        sending.answered = True

    @property
    def _spacing(self) -> float:
        return (1.0 + self.limits.margin) / self.limits.overall_per_second

    def pause(self, chat_id: int, seconds: float, now: float) -> None:
        """Telegram said RetryAfter: nothing goes to this chat for that long."""
        self._paused_until[chat_id] = max(self._paused_until.get(chat_id, 0.0), now + seconds)

    def _forget(self, now: float) -> None:
        limits = self.limits
        self._overall = _trim(self._overall, 1.0, limits, now)
        for chat_id, window in list(self._groups.items()):
            kept = _trim(window, 60.0, limits, now)
            if kept:
                self._groups[chat_id] = kept
            else:
                del self._groups[chat_id]
        if len(self._private_last) > 10_000:
            interval = limits.private_interval
            self._private_last = {
                chat_id: last
                for chat_id, last in self._private_last.items()
                if last.counts_until(interval, limits) > now
            }
        for chat_id in [c for c, until in self._paused_until.items() if until <= now]:
            del self._paused_until[chat_id]


def _window_wait(
    window: deque[Sending], allowed: int, span: float, limits: SendLimits, now: float
) -> float:
    """In a sliding window of `span` seconds at most `allowed` messages count."""
    if len(window) < allowed:
        return 0.0
    # Answers come back in any order, so the window is not sorted by when each counts.
    return sorted(sending.counts_until(span, limits) for sending in window)[-allowed] - now


def _trim(window: deque[Sending], span: float, limits: SendLimits, now: float) -> deque[Sending]:
    """The messages that still count in a window of `span` seconds at `now`."""
    if all(sending.counts_until(span, limits) > now for sending in window):
        return window
    return deque(sending for sending in window if sending.counts_until(span, limits) > now)
