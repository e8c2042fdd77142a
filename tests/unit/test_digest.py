from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from models.rules.cards import Colour
from models.rules.digest import (
    digest_day,
    furthest_behind,
    last_completed,
    on_time_by_category,
    since_last,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
AT = time(8, 30)


def _weekdays(day: date) -> bool:
    return day.weekday() < 5


def sh(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SHANGHAI)


def test_the_digest_is_due_on_a_working_day_from_its_time_on() -> None:
    assert digest_day(sh(2026, 3, 2, 8, 29), SHANGHAI, AT, _weekdays) is None
    assert digest_day(sh(2026, 3, 2, 8, 30), SHANGHAI, AT, _weekdays) == date(2026, 3, 2)
    # The bot was down at 08:30: it is still today's digest at 16:00.
    assert digest_day(sh(2026, 3, 2, 16), SHANGHAI, AT, _weekdays) == date(2026, 3, 2)


def test_no_digest_on_a_day_off() -> None:
    assert digest_day(sh(2026, 3, 7, 9), SHANGHAI, AT, _weekdays) is None


def test_the_day_is_the_countys_not_utcs() -> None:
    # 01:00 UTC on Monday is 09:00 in the county.
    assert digest_day(datetime(2026, 3, 2, 1, tzinfo=UTC), SHANGHAI, AT, _weekdays) == date(
        2026, 3, 2
    )


@pytest.mark.parametrize(
    ("now", "kind", "label", "start"),
    [
        (sh(2026, 3, 2, 9), "month", "2026-02", sh(2026, 2, 1)),
        (sh(2026, 1, 5, 9), "month", "2025-12", sh(2025, 12, 1)),
        (sh(2026, 4, 1, 9), "quarter", "2026-Q1", sh(2026, 1, 1)),
        (sh(2026, 2, 10, 9), "quarter", "2025-Q4", sh(2025, 10, 1)),
        (sh(2026, 12, 31, 9), "quarter", "2026-Q3", sh(2026, 7, 1)),
    ],
)
def test_the_last_completed_period(now: datetime, kind: str, label: str, start: datetime) -> None:
    assert last_completed(now, SHANGHAI, kind) == (label, start.astimezone(UTC))  # type: ignore[arg-type]


def test_on_time_rates_by_category_worst_first_reds_not_counted_twice() -> None:
    cards = [
        ("utilities", Colour.GREEN),
        ("utilities", Colour.YELLOW),
        ("utilities", Colour.RED),
        ("labour", Colour.GREEN),
        (None, Colour.YELLOW),
    ]
    rows = on_time_by_category(cards)
    assert [(r.category, r.green, r.settled, r.rate) for r in rows] == [
        ("other", 0, 1, 0.0),
        ("utilities", 1, 2, 0.5),
        ("labour", 1, 1, 1.0),
    ]


def test_the_departments_furthest_behind() -> None:
    overdue = ["人社局", "供电公司", "人社局", "住建局", "供电公司", "人社局", "财政局"]
    assert furthest_behind(overdue) == [("人社局", 3), ("供电公司", 2), ("住建局", 1)]
    assert furthest_behind([]) == []


def test_a_first_digest_covers_the_last_day() -> None:
    now = datetime(2026, 3, 2, 1, tzinfo=UTC)
    assert since_last(None, now) == now - timedelta(hours=24)
    assert since_last(now - timedelta(hours=72), now) == now - timedelta(hours=72)
