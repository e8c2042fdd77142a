"""The county's own working-time calendar: local days off and extra working days (the table
`calendar_exceptions`), which override the national holiday schedule in every deadline.

Each change is audited; the edge then reloads the running calendar with `load_exceptions`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.rules.permissions import Action, can
from models.rules.worktime import LocalException, WorkCalendar
from models.services.common import audit
from models.services.contacts import Contact
from models.services.setup import clean
from models.tables import CalendarException

NOTE_LIMIT = 200  # calendar_exceptions.note
# How far /calendar looks back; what is older no longer moves a deadline anyone is waiting on.
RECENT_DAYS = 31
# Exceptions are for the near past (a day off decided at short notice) and the coming
# schedule; a day outside this window is almost always a typo in the year.
PAST_LIMIT_DAYS = 366
FUTURE_LIMIT_DAYS = 2 * 366


class Refusal(StrEnum):
    NOT_ALLOWED = "not_allowed"
    TOO_LONG = "too_long"
    OUT_OF_RANGE = "out_of_range"
    NOT_SET = "not_set"


class Change(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    CLEARED = "cleared"


@dataclass(frozen=True)
class DayView:
    """One exception as the answer shows it."""

    day: date
    working: bool
    note: str

    def params(self) -> dict[str, object]:
        return {
            "day": self.day.isoformat(),
            "weekday": self.day.weekday(),
            "working": self.working,
            "note": self.note,
        }


@dataclass(frozen=True)
class CalendarOutcome:
    """What a calendar use case did (`change`, `exception`, `exceptions`), or why it refused."""

    change: Change | None = None
    refused: Refusal | None = None
    exception: DayView | None = None
    exceptions: tuple[DayView, ...] = ()
    # For a refusal: the limit broken, and the earliest and latest day accepted.
    limit: int | None = None
    earliest: date | None = None
    latest: date | None = None

    @property
    def ok(self) -> bool:
        return self.refused is None


_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_day(text: str) -> date | None:
    """A calendar day written YYYY-MM-DD (full-width digits too), or None."""
    text = clean(text)
    if not _ISO_DAY.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _view(row: CalendarException) -> DayView:
    return DayView(row.day, row.working, row.note)


def _today(now: datetime, zone: ZoneInfo) -> date:
    return now.astimezone(zone).date()


async def _row(session: AsyncSession, day: date) -> CalendarException | None:
    return await session.scalar(select(CalendarException).where(CalendarException.day == day))


async def set_exception(
    session: AsyncSession,
    now: datetime,
    actor: Contact,
    zone: ZoneInfo,
    day: date,
    working: bool,
    note: str = "",
) -> CalendarOutcome:
    """/holiday, /workday: `day` is a local day off (or an extra working day), whatever the
    national calendar says; a day that had the other kind of exception changes kind."""
    if not can(actor.roles, Action.MANAGE_COUNTY):
        return CalendarOutcome(refused=Refusal.NOT_ALLOWED)
    note = note.strip()
    if len(note) > NOTE_LIMIT:
        return CalendarOutcome(refused=Refusal.TOO_LONG, limit=NOTE_LIMIT)
    today = _today(now, zone)
    earliest = today - timedelta(days=PAST_LIMIT_DAYS)
    latest = today + timedelta(days=FUTURE_LIMIT_DAYS)
    if not earliest <= day <= latest:
        return CalendarOutcome(refused=Refusal.OUT_OF_RANGE, earliest=earliest, latest=latest)
    row = await _row(session, day)
    if row is None:
        row = CalendarException(day=day, working=working, note=note, created_at=now)
        session.add(row)
        change = Change.CREATED
    elif (row.working, row.note) == (working, note):
        return CalendarOutcome(change=Change.UNCHANGED, exception=_view(row))
    else:
        row.working, row.note = working, note
        change = Change.UPDATED
    await session.flush()
    audit(
        session,
        now,
        "calendar_exception_set",
        "calendar",
        row.id,
        actor_id=actor.person.id,
        change=change.value,
        day=day.isoformat(),
        working=working,
        note=note,
    )
    return CalendarOutcome(change=change, exception=_view(row))


async def clear_exception(
    session: AsyncSession, now: datetime, actor: Contact, day: date
) -> CalendarOutcome:
    """/holiday DAY clear: the day follows the national calendar again."""
    if not can(actor.roles, Action.MANAGE_COUNTY):
        return CalendarOutcome(refused=Refusal.NOT_ALLOWED)
    row = await _row(session, day)
    if row is None:
        return CalendarOutcome(refused=Refusal.NOT_SET, exception=DayView(day, False, ""))
    cleared = _view(row)
    await session.delete(row)
    await session.flush()
    audit(
        session,
        now,
        "calendar_exception_cleared",
        "calendar",
        row.id,
        actor_id=actor.person.id,
        day=day.isoformat(),
        working=cleared.working,
        note=cleared.note,
    )
    return CalendarOutcome(change=Change.CLEARED, exception=cleared)


async def list_exceptions(
    session: AsyncSession, now: datetime, actor: Contact, zone: ZoneInfo
) -> CalendarOutcome:
    """/calendar: the exceptions from `RECENT_DAYS` ago on, by day."""
    if not can(actor.roles, Action.MANAGE_COUNTY):
        return CalendarOutcome(refused=Refusal.NOT_ALLOWED)
    since = _today(now, zone) - timedelta(days=RECENT_DAYS)
    rows = await session.scalars(
        select(CalendarException)
        .where(CalendarException.day >= since)
        .order_by(CalendarException.day)
    )
    return CalendarOutcome(change=Change.UNCHANGED, exceptions=tuple(_view(r) for r in rows))


async def load_exceptions(session: AsyncSession, calendar: WorkCalendar) -> None:
    """Every exception in the table into the running calendar (at start-up, after a change)."""
    rows = await session.scalars(select(CalendarException).order_by(CalendarException.day))
    calendar.replace_exceptions(LocalException(r.day, r.working, r.note) for r in rows)
