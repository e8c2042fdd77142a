"""The file clock: a bot process's time, moved from outside by a test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from models.clock import FileClock


def test_reads_the_time_written_and_follows_each_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "now"
    start = datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=8)))
    FileClock.write(path, start)
    clock = FileClock(path)
    assert clock.now() == start and clock.now().tzinfo is UTC
    FileClock.write(path, start + timedelta(hours=30))
    assert clock.now() == start + timedelta(hours=30)


def test_refuses_a_missing_or_naive_time(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        FileClock(tmp_path / "absent")
    naive = tmp_path / "naive"
    naive.write_text("2026-03-02T09:00:00", encoding="utf-8")
    with pytest.raises(ValueError, match="offset"):
        FileClock(naive)
    with pytest.raises(ValueError, match="aware"):
        FileClock.write(naive, datetime(2026, 3, 2, 9, 0))
