"""Dates people type: "2026-03-20" or "2026-03-20 15:00", read in the county's zone."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from models.rules.worktime import as_utc

_MOMENT = re.compile(
    r"^\s*(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]+(\d{1,2})[:：](\d{2}))?\s*$"
)


def parse_moment(text: str, zone: ZoneInfo, day_ends: time) -> datetime | None:
    """The moment meant, in UTC, or None when the text is not a real date (and time).

    A date alone means the end of that day's office hours (`day_ends`), which is what
    "by 20 March" means in an office.
    """
    found = _MOMENT.match(text)
    if found is None:
        return None
    year, month, day, hour, minute = found.groups()
    try:
        when = date(int(year), int(month), int(day))
        at = time(int(hour), int(minute)) if hour is not None else day_ends
    except ValueError:
        return None
    return as_utc(datetime.combine(when, at, tzinfo=zone))


def split_moment(words: list[str]) -> tuple[str, list[str]]:
    """The leading date (and time, if the second word is one) of `words`, and the rest."""
    if len(words) >= 2 and re.fullmatch(r"\d{1,2}[:：]\d{2}", words[1]):
        return f"{words[0]} {words[1]}", words[2:]
    return (words[0], words[1:]) if words else ("", [])
