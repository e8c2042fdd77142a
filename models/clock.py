"""The one place that reads the wall clock; tests and the demo move it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """The real time, always timezone-aware UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class MovableClock:
    """Real time plus an offset that only grows: the demo's clock control moves it forward."""

    def __init__(self, offset: timedelta = timedelta()) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta():
            raise ValueError("the clock only moves forward")
        self.offset += delta
        return self.now()


class FrozenClock:
    """A clock that stands still until told to move: what tests use."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock needs an aware datetime")
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta():
            raise ValueError("the clock only moves forward")
        self.current += delta
        return self.current


class FileClock:
    """The time written in a file (ISO 8601, with its offset), read again at every call.

    For tests that run the bot as its own process and must move its time from outside
    (`NODEDESK_CLOCK_FILE`): the test rewrites the file, every process sharing it follows. A file
    that cannot be read or parsed is an error, never a silent fall back to the wall clock.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.now()  # refuse a missing or malformed file at start, not at the first update

    def now(self) -> datetime:
        text = self.path.read_text(encoding="utf-8").strip()
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            raise ValueError(f"{self.path}: the time needs its UTC offset, got {text!r}")
        return moment.astimezone(UTC)

    @staticmethod
    def write(path: Path, moment: datetime) -> None:
        """Set the time of every process reading `path`; replaced whole, never half-written."""
        if moment.tzinfo is None:
            raise ValueError("the clock needs an aware datetime")
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(moment.isoformat(), encoding="utf-8")
        partial.replace(path)
