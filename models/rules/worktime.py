"""Working time: the county's office hours on Chinese working days, for deadlines and lateness.

Every method takes timezone-aware datetimes (any zone) and returns aware datetimes in UTC,
the zone the rest of the app stores and compares in. Which *day* a moment falls on, and which
hours are office hours, is always decided in the county's zone (`OfficeHours.zone`).

National holidays and adjusted working days (调休) come from the `chinese-calendar` package;
local exceptions set by the admin override them. For a year the package does not cover yet,
weekends are the only days off until it is upgraded: that is warned about once per year and
listed in `WorkCalendar.unknown_years_seen`.
"""

from __future__ import annotations

import functools
import math
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

import chinese_calendar  # type: ignore[import-untyped]

# Longer than any real run of days off (the longest is a 9-day Spring Festival); only a
# misconfigured exception table or holiday source can reach it, and then we stop, not spin.
MAX_DAYS_OFF_IN_A_ROW = 60


class Session(NamedTuple):
    """One stretch of office time within a day, local wall-clock times, start before end."""

    start: time
    end: time


def _default_sessions() -> tuple[Session, ...]:
    return (Session(time(8, 30), time(12, 0)), Session(time(14, 30), time(17, 30)))


def _default_zone() -> ZoneInfo:
    return ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class OfficeHours:
    """When the county's offices work, in the county's zone.

    The default, 08:30-12:00 and 14:30-17:30 in Asia/Shanghai, is the usual county-government
    day (the long lunch break included). Counties move the afternoon for summer hours
    (e.g. 15:00-18:00), so pass the sessions from configuration rather than relying on it.
    """

    sessions: tuple[Session, ...] = field(default_factory=_default_sessions)
    zone: ZoneInfo = field(default_factory=_default_zone)

    def __post_init__(self) -> None:
        if not self.sessions:
            raise ValueError("office hours need at least one session")
        previous_end: time | None = None
        for start, end in self.sessions:
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError("session times are local wall-clock times, without a zone")
            if not start < end:
                raise ValueError(f"a session must start before it ends: {start}-{end}")
            if previous_end is not None and start < previous_end:
                raise ValueError("sessions must be in order and must not overlap")
            previous_end = end

    @property
    def opening(self) -> time:
        return self.sessions[0].start

    @property
    def closing(self) -> time:
        return self.sessions[-1].end


@dataclass(frozen=True)
class LocalException:
    """An admin's override of the national calendar: a local holiday or an extra working day."""

    day: date
    working: bool
    note: str = ""


_SESSION = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


def parse_office_hours(text: str) -> tuple[Session, ...]:
    """Office hours as configured: "08:30-12:00,14:30-17:30" (sessions in order, 24-hour).

    Raises ValueError saying what is wrong, for a setting to be refused at start-up.
    """
    sessions = []
    for part in text.split(","):
        if not part.strip():
            raise ValueError("an empty session: write HH:MM-HH:MM, separated by commas")
        found = _SESSION.match(part.strip())
        if found is None:
            raise ValueError(
                f"{part.strip()!r} is not a session like 08:30-12:00; "
                "write the sessions as HH:MM-HH:MM separated by commas"
            )
        h1, m1, h2, m2 = (int(n) for n in found.groups())
        try:
            sessions.append(Session(time(h1, m1), time(h2, m2)))
        except ValueError:
            raise ValueError(f"{part.strip()!r} is not a time of day (00:00 to 23:59)") from None
    # The same checks as OfficeHours, so a bad value is refused where it is read.
    OfficeHours(tuple(sessions))
    return tuple(sessions)


class HolidaySource(Protocol):
    """The national calendar: is `day` a working day, or None when its year is not published."""

    def is_working_day(self, day: date) -> bool | None: ...


class ChineseCalendarSource:
    """The State Council's holiday schedule, as packaged by `chinese-calendar`."""

    def is_working_day(self, day: date) -> bool | None:
        return _national_working_day(day)

    @staticmethod
    def years() -> range:
        """The years the installed package has data for (the app logs this at start-up)."""
        known = chinese_calendar.holidays.keys()
        return range(min(known).year, max(known).year + 1)


@functools.lru_cache(maxsize=4096)
def _national_working_day(day: date) -> bool | None:
    """The package's answer, remembered: its data does not change while the bot runs, and every
    report's limits ask it about the same few weeks of days."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        # The package raises this for years outside its data, not only for bad input.
        return None


class HolidayDataMissingWarning(UserWarning):
    """A date fell in a year the holiday data does not cover: only weekends count as off."""


class WorkCalendar:
    """Office time on working days: the clock that claim, close and "1124" limits run on."""

    def __init__(
        self,
        office_hours: OfficeHours | None = None,
        exceptions: Iterable[LocalException] = (),
        holidays: HolidaySource | None = None,
    ) -> None:
        self.office_hours = office_hours if office_hours is not None else OfficeHours()
        self._holidays: HolidaySource = (
            holidays if holidays is not None else ChineseCalendarSource()
        )
        self._exceptions: dict[date, LocalException] = {}
        self.replace_exceptions(exceptions)
        self._unknown_years: set[int] = set()

    def replace_exceptions(self, exceptions: Iterable[LocalException]) -> None:
        """Take `exceptions` instead of the current ones (the admin changed the table).

        They are checked before anything changes, so a refused set leaves the old one in force.
        """
        checked: dict[date, LocalException] = {}
        for exception in exceptions:
            earlier = checked.get(exception.day)
            if earlier is not None and earlier.working != exception.working:
                # Silently letting one win would hide an admin's mistake in a deadline.
                raise ValueError(f"contradictory local exceptions for {exception.day}")
            checked[exception.day] = exception
        self._exceptions = checked

    @property
    def exceptions(self) -> tuple[LocalException, ...]:
        """The local exceptions in force, by day."""
        return tuple(self._exceptions[day] for day in sorted(self._exceptions))

    @property
    def unknown_years_seen(self) -> frozenset[int]:
        """Years asked about that the holiday data does not cover (weekends-only was used)."""
        return frozenset(self._unknown_years)

    def known(self, day: date) -> bool:
        """Whether the national calendar covers `day`'s year."""
        return self._holidays.is_working_day(day) is not None

    def is_working_day(self, day: date) -> bool:
        """A working day in the county: local exceptions first, then the national calendar."""
        exception = self._exceptions.get(day)
        if exception is not None:
            return exception.working
        national = self._holidays.is_working_day(day)
        if national is not None:
            return national
        if day.year not in self._unknown_years:
            self._unknown_years.add(day.year)
            warnings.warn(
                f"no holiday data for {day.year}: counting only weekends as days off; "
                "upgrade chinese-calendar or add local exceptions",
                HolidayDataMissingWarning,
                stacklevel=2,
            )
        return day.weekday() < 5

    def end_of_working_day(self, moment: datetime) -> datetime:
        """The close of the working day `moment` falls on (before or during office hours, the
        lunch break included); at or after the close, or on a day off, the next working day's.

        This is the "claim the same day" limit: a report at 17:30 or later, or on a Sunday, is
        due at the close of the next working day.
        """
        instant = as_utc(moment)
        day = self._local_day(instant)
        if self.is_working_day(day):
            close = self._at(day, self.office_hours.closing)
            if instant < close:
                return close
        return self._at(self._next_working_day(day), self.office_hours.closing)

    def add_working_days(self, moment: datetime, n: int) -> datetime:
        """`n` working days after `moment`, at the same local time of day.

        The start is first moved into office time: inside a session it stays put; before the
        opening of a working day, in a break (12:00 sharp included) or between sessions it
        moves to the start of the next session; at or after the close, or on a day off, to the
        opening of the next working day. Then the date moves on `n` working days, keeping that
        time of day. So Friday 16:00 + 5 is 16:00 on the 5th working day after that Friday,
        Friday 18:00 + 5 is 08:30 on the 5th working day after the following Monday (the next
        working day), and `n` = 0 gives just the moved start.
        """
        if n < 0:
            raise ValueError("n must not be negative")
        day, time_of_day = self._into_office_time(as_utc(moment))
        for _ in range(n):
            day = self._next_working_day(day)
        return self._at(day, time_of_day)

    def add_working_hours(
        self, moment: datetime, hours: float, *, calendar_hours: bool = False
    ) -> datetime:
        """The earliest instant by which `hours` of office time have passed since `moment`.

        Only office time on working days counts, so 11:00 + 1 h is 12:00 (not 14:30: the
        hour is used up at the break) and 17:00 + 1 h is 09:00 on the next working day.
        With `calendar_hours` every hour counts (round-the-clock heating-season work).
        """
        if not math.isfinite(hours) or hours < 0:
            raise ValueError("hours must be a finite number, not negative")
        start = as_utc(moment)
        remaining = timedelta(hours=hours)
        if calendar_hours or not remaining:
            return start + remaining
        for session_start, session_end in self._sessions_from(self._local_day(start)):
            if session_end <= start:
                continue
            begin = max(session_start, start)
            available = session_end - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        raise AssertionError("unreachable: _sessions_from never ends")  # pragma: no cover

    def working_seconds_between(self, start: datetime, end: datetime) -> float:
        """Office seconds from `start` to `end`; negative if `end` comes first (e.g. early).

        The lateness of something closed after its deadline is
        `working_seconds_between(deadline, closed_at)`.
        """
        first, last = as_utc(start), as_utc(end)
        if last < first:
            return -self.working_seconds_between(end, start)
        total = timedelta()
        day, last_day = self._local_day(first), self._local_day(last)
        while day <= last_day:
            for session_start, session_end in self._sessions_on(day):
                overlap = min(session_end, last) - max(session_start, first)
                if overlap > timedelta():
                    total += overlap
            day += timedelta(days=1)
        return total.total_seconds()

    def _local_day(self, instant: datetime) -> date:
        return instant.astimezone(self.office_hours.zone).date()

    def _at(self, day: date, time_of_day: time) -> datetime:
        return datetime.combine(day, time_of_day, tzinfo=self.office_hours.zone).astimezone(UTC)

    def _sessions_on(self, day: date) -> list[tuple[datetime, datetime]]:
        if not self.is_working_day(day):
            return []
        return [(self._at(day, s.start), self._at(day, s.end)) for s in self.office_hours.sessions]

    def _sessions_from(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """Every office session from `day` on, in order, without end."""
        if not self.is_working_day(day):
            day = self._next_working_day(day)
        while True:
            yield from self._sessions_on(day)
            day = self._next_working_day(day)

    def _next_working_day(self, day: date) -> date:
        """The first working day strictly after `day`."""
        for offset in range(1, MAX_DAYS_OFF_IN_A_ROW + 2):
            candidate = day + timedelta(days=offset)
            if self.is_working_day(candidate):
                return candidate
        raise ValueError(f"no working day within {MAX_DAYS_OFF_IN_A_ROW} days after {day}")

    def _into_office_time(self, instant: datetime) -> tuple[date, time]:
        """The working day and local time of day where office time resumes at `instant`."""
        local = instant.astimezone(self.office_hours.zone)
        day = local.date()
        if self.is_working_day(day):
            for session in self.office_hours.sessions:
                if instant < self._at(day, session.start):
                    return day, session.start
                if instant < self._at(day, session.end):
                    return day, local.time()
        return self._next_working_day(day), self.office_hours.opening


def as_utc(moment: datetime) -> datetime:
    """An aware moment in UTC; a naive one is refused, since its zone would be a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a naive datetime: working time needs timezone-aware moments")
    return moment.astimezone(UTC)
