from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from models.rules.dates import parse_moment, split_moment

SHANGHAI = ZoneInfo("Asia/Shanghai")
CLOSE = time(17, 30)


def test_a_date_alone_means_the_end_of_that_office_day() -> None:
    assert parse_moment("2026-03-20", SHANGHAI, CLOSE) == datetime(2026, 3, 20, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["2026-03-20 15:00", "2026/3/20 15:00", "2026年3月20日 15:00", " 2026.03.20T15:00 "]
)
def test_a_date_and_time_in_the_ways_people_write_them(text: str) -> None:
    assert parse_moment(text, SHANGHAI, CLOSE) == datetime(2026, 3, 20, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["", "tomorrow", "2026-02-30", "2026-13-01", "2026-03-20 25:00", "20-03-2026"]
)
def test_what_is_not_a_real_date_is_refused(text: str) -> None:
    assert parse_moment(text, SHANGHAI, CLOSE) is None


def test_the_time_is_taken_with_the_date_when_it_follows() -> None:
    assert split_moment(["2026-03-20", "15:00", "材料", "未到"]) == (
        "2026-03-20 15:00",
        ["材料", "未到"],
    )
    assert split_moment(["2026-03-20", "材料未到"]) == ("2026-03-20", ["材料未到"])
    assert split_moment([]) == ("", [])
