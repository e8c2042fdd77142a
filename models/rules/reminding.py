"""Reminding: when reminders before a deadline go out, holding them through quiet hours, and
gathering each official's notices into one message (为基层减负: do not bury people in messages).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from models.rules.worktime import as_utc

DEFAULT_OFFSETS = (timedelta(hours=24), timedelta(hours=2))


def reminder_times(
    due: datetime, offsets: Sequence[timedelta] = DEFAULT_OFFSETS, *, created: datetime
) -> list[datetime]:
    """When to remind of a deadline: `offset` before `due` for each offset, in UTC, sorted,
    each once. A time before `created` is dropped: a deadline set an hour ahead gets no
    "24 h before" reminder. Offsets are plain hours; quiet hours are `deliver_at`'s concern.
    """
    if any(offset <= timedelta() for offset in offsets):
        raise ValueError("reminders go out before the deadline: offsets must be positive")
    end, start = as_utc(due), as_utc(created)
    return sorted({end - offset for offset in offsets if end - offset >= start})


def _default_zone() -> ZoneInfo:
    return ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class QuietHours:
    """The night, in the county's wall-clock time, when nothing but urgent notices goes out.

    From `start` (inclusive) to `end` (exclusive); a start later than the end spans midnight.
    """

    start: time = time(22, 0)
    end: time = time(7, 30)
    zone: ZoneInfo = field(default_factory=_default_zone)

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("quiet hours are local wall-clock times, without a zone")
        if self.start == self.end:
            raise ValueError("quiet hours must start and end at different times")


def deliver_at(moment: datetime, urgent: bool, quiet: QuietHours) -> datetime:
    """When a notice meant for `moment` goes out, in UTC: urgent ones at once, others held
    to the end of the quiet hours they fall in."""
    instant = as_utc(moment)
    if urgent:
        return instant
    local = instant.astimezone(quiet.zone)
    at = local.time()
    if quiet.start < quiet.end:
        held = quiet.start <= at < quiet.end
        day = local.date()
    else:
        held = at >= quiet.start or at < quiet.end
        day = local.date() + timedelta(days=1) if at >= quiet.start else local.date()
    if not held:
        return instant
    return as_utc(datetime.combine(day, quiet.end, tzinfo=quiet.zone))


@dataclass(frozen=True)
class Notice:
    """One thing to tell one person about: an item (an issue or node) and what about it."""

    recipient: int
    item: str
    kind: str
    due: datetime

    def __post_init__(self) -> None:
        as_utc(self.due)


@dataclass(frozen=True)
class Batch:
    """Everything for one recipient, soonest first: one message, not one per item."""

    recipient: int
    notices: tuple[Notice, ...]


def batch(notices: Iterable[Notice]) -> list[Batch]:
    """One batch per recipient, recipients in ascending order; the same notice twice is
    listed once."""
    by_recipient: dict[int, set[Notice]] = {}
    for notice in notices:
        by_recipient.setdefault(notice.recipient, set()).add(notice)
    return [
        Batch(recipient, tuple(sorted(found, key=lambda n: (as_utc(n.due), n.item, n.kind))))
        for recipient, found in sorted(by_recipient.items())
    ]
