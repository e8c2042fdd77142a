"""What leaders see: when the daily digest and the red/black lists are due, and the sums in them.

Pure: dates and counts in, dates and counts out; the service reads the rows and sends.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from models.rules.cards import Colour
from models.rules.worktime import as_utc

ListKind = Literal["month", "quarter"]


def digest_day(
    now: datetime, zone: ZoneInfo, at: time, is_working_day: Callable[[date], bool]
) -> date | None:
    """The day whose digest is due at `now`: today, on a working day from `at` on; else None.

    A bot that was down at `at` sends it when it is back the same day; the next day that digest
    is no longer due (the new one is).
    """
    local = as_utc(now).astimezone(zone)
    if not is_working_day(local.date()) or local.time() < at:
        return None
    return local.date()


def last_completed(now: datetime, zone: ZoneInfo, kind: ListKind) -> tuple[str, datetime]:
    """The last whole month or quarter before `now`'s: its label ("2026-02", "2026-Q1") and a
    moment inside it (its first instant), in UTC."""
    today = as_utc(now).astimezone(zone).date()
    months = 1 if kind == "month" else 3
    current_first = (today.month - 1) // months * months + 1
    index = today.year * 12 + current_first - 1 - months
    year, first = divmod(index, 12)
    start = datetime(year, first + 1, 1, tzinfo=zone)
    label = f"{year}-{first + 1:02d}" if kind == "month" else f"{year}-Q{first // 3 + 1}"
    return label, as_utc(start)


def lists_due(
    now: datetime, zone: ZoneInfo, at: time, is_working_day: Callable[[date], bool]
) -> bool:
    """Lists go out with a digest: on a working day, from the digest's time on."""
    return digest_day(now, zone, at, is_working_day) is not None


@dataclass(frozen=True)
class OnTime:
    """Limits met (green) over limits settled (green + yellow) in one category."""

    category: str
    green: int
    settled: int

    @property
    def rate(self) -> float | None:
        return self.green / self.settled if self.settled else None


def on_time_by_category(cards: Iterable[tuple[str | None, Colour]]) -> list[OnTime]:
    """Per category (None as "other"), worst rate first, then by name; reds are left out, as
    the yellow before them already counted the limit as missed."""
    green: Counter[str] = Counter()
    settled: Counter[str] = Counter()
    for category, colour in cards:
        name = category or "other"
        if colour is Colour.RED:
            continue
        settled[name] += 1
        if colour is Colour.GREEN:
            green[name] += 1
    rows = [OnTime(name, green[name], settled[name]) for name in settled]
    return sorted(rows, key=lambda r: (r.rate if r.rate is not None else 1.0, r.category))


def furthest_behind(overdue: Iterable[str], size: int = 3) -> list[tuple[str, int]]:
    """The departments with the most overdue items, most first (ties by name)."""
    counts = Counter(overdue)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:size]


def since_last(previous: datetime | None, now: datetime) -> datetime:
    """A digest covers what happened since the previous one, or the last 24 hours."""
    return previous if previous is not None else as_utc(now) - timedelta(hours=24)
