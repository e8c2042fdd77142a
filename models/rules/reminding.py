"""Reminding: when reminders before a deadline go out, holding them through quiet hours, and
gathering each official's notices into one message (为基层减负: do not bury people in messages).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from models.rules.cards import Colour, Deadline
from models.rules.worktime import as_utc

DEFAULT_OFFSETS = (timedelta(hours=24), timedelta(hours=2))
# A yellow with no reason given, or a re-commitment the leader has not decided, is raised again
# this often until someone acts.
NUDGE_EVERY = timedelta(hours=24)


class ReminderKind(StrEnum):
    BEFORE_DUE = "before_due"  # to the owner: the deadline (or the approved new date) is near
    RECOMMIT_NEEDED = "recommit_needed"  # to the owner: yellow, give a reason and a new date
    APPROVAL_NEEDED = "approval_needed"  # to the leader: a re-commitment waits for a decision


def reminder_kind(deadline: Deadline) -> ReminderKind | None:
    """What a reminder about this deadline is about now, or None when none is owed."""
    if deadline.done_at is not None:
        return None
    if not deadline.cards:
        return ReminderKind.BEFORE_DUE
    if deadline.cards != (Colour.YELLOW,):
        return None
    if deadline.recommitted_due is None:
        return ReminderKind.RECOMMIT_NEEDED
    if not deadline.recommit_approved:
        return ReminderKind.APPROVAL_NEEDED
    return ReminderKind.BEFORE_DUE


def next_reminder(
    deadline: Deadline, after: datetime, offsets: Sequence[timedelta] = DEFAULT_OFFSETS
) -> datetime | None:
    """When the next reminder about `deadline` is owed, strictly after `after`, in UTC.

    Before the (approved re-committed) date: `offsets` before it. While a yellow waits for a
    reason, or a re-commitment for the leader: every `NUDGE_EVERY` after `after`.
    """
    kind = reminder_kind(deadline)
    start = as_utc(after)
    if kind is None:
        return None
    if kind is not ReminderKind.BEFORE_DUE:
        return start + NUDGE_EVERY
    due = deadline.approved_due or deadline.due
    later = [t for t in reminder_times(due, offsets, created=start) if t > start]
    return later[0] if later else None


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
