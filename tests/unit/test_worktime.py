import warnings
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.rules.worktime import (
    ChineseCalendarSource,
    HolidayDataMissingWarning,
    LocalException,
    OfficeHours,
    Session,
    WorkCalendar,
    parse_office_hours,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3600.0


def sh(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    """A wall-clock time in the county."""
    return datetime(y, mo, d, h, mi, tzinfo=SHANGHAI)


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar()


class WeekendsOnly:
    """A stand-in national calendar: Saturday and Sunday off, every year known."""

    def is_working_day(self, day: date) -> bool | None:
        return day.weekday() < 5


# --- which days are working days --------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 3, 2), True),  # a plain Monday
        (date(2026, 3, 7), False),  # a plain Saturday
        (date(2026, 9, 20), True),  # Sunday worked in lieu before National Day
        (date(2026, 9, 25), False),  # Mid-Autumn Festival, a Friday
        (date(2026, 10, 1), False),
        (date(2026, 10, 5), False),  # a Monday inside the Golden Week
        (date(2026, 10, 7), False),
        (date(2026, 10, 8), True),
        (date(2026, 10, 10), True),  # Saturday worked in lieu after National Day
        (date(2026, 10, 11), False),
        (date(2025, 9, 28), True),  # 2025: Sunday worked in lieu
        (date(2025, 10, 8), False),  # 2025: eight days off, 1-8 October
        (date(2025, 10, 11), True),  # 2025: Saturday worked in lieu
    ],
)
def test_national_day_and_the_adjusted_weekends_around_it(
    cal: WorkCalendar, day: date, working: bool
) -> None:
    assert cal.is_working_day(day) is working


def test_spring_festival_2026_nine_days_off_between_two_working_saturdays(
    cal: WorkCalendar,
) -> None:
    assert cal.is_working_day(date(2026, 2, 14))  # Saturday
    days_off = [date(2026, 2, 15) + timedelta(days=i) for i in range(9)]
    assert not any(cal.is_working_day(d) for d in days_off)
    assert cal.is_working_day(date(2026, 2, 24))
    assert cal.is_working_day(date(2026, 2, 28))  # Saturday


def test_local_exceptions_override_the_national_calendar() -> None:
    cal = WorkCalendar(
        exceptions=[
            LocalException(date(2026, 3, 4), working=False, note="county games"),
            LocalException(date(2026, 10, 5), working=True, note="flood-season duty"),
            LocalException(date(2026, 3, 8), working=True, note="investment fair Sunday"),
        ]
    )
    assert not cal.is_working_day(date(2026, 3, 4))
    assert cal.is_working_day(date(2026, 10, 5))
    assert cal.is_working_day(date(2026, 3, 8))
    # The local holiday is skipped when counting days.
    assert cal.add_working_days(sh(2026, 3, 3, 10), 1) == sh(2026, 3, 5, 10)


def test_contradictory_local_exceptions_are_refused() -> None:
    day = date(2026, 3, 4)
    with pytest.raises(ValueError, match="contradictory"):
        WorkCalendar(exceptions=[LocalException(day, False, "a"), LocalException(day, True, "b")])
    # The same decision twice is harmless.
    WorkCalendar(exceptions=[LocalException(day, False, "a"), LocalException(day, False, "b")])


def test_the_holiday_source_can_be_replaced() -> None:
    cal = WorkCalendar(holidays=WeekendsOnly())
    assert cal.is_working_day(date(2026, 10, 1))  # a Thursday, no National Day here
    assert not cal.is_working_day(date(2026, 10, 10))  # and no Saturday worked in lieu


# --- years the package does not know --------------------------------------------------


def test_the_package_covers_2025_and_2026() -> None:
    years = ChineseCalendarSource.years()
    assert 2025 in years
    assert 2026 in years
    assert 2040 not in years


def test_an_unknown_year_falls_back_to_weekends_with_one_warning_per_year(
    cal: WorkCalendar,
) -> None:
    assert cal.known(date(2026, 10, 1))
    assert not cal.known(date(2040, 10, 1))
    assert cal.unknown_years_seen == frozenset()  # asking known() is not using the fallback

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cal.is_working_day(date(2040, 10, 1))  # a Monday: weekends-only, so working
        assert not cal.is_working_day(date(2040, 10, 6))  # Saturday
        cal.add_working_days(datetime(2040, 10, 1, 2, tzinfo=UTC), 20)
        cal.is_working_day(date(2003, 10, 1))  # before the package's first year, too
    missing = [w for w in caught if issubclass(w.category, HolidayDataMissingWarning)]
    assert len(missing) == 2
    assert "2040" in str(missing[0].message)
    assert "2003" in str(missing[1].message)
    assert cal.unknown_years_seen == {2003, 2040}


def test_the_fallback_warning_is_a_real_warning(cal: WorkCalendar) -> None:
    with pytest.warns(HolidayDataMissingWarning, match="no holiday data for 2040"):
        cal.end_of_working_day(sh(2040, 1, 2, 9))


# --- end of the working day ("claim the same day") -----------------------------------


@pytest.mark.parametrize(
    ("moment", "close"),
    [
        (sh(2026, 3, 2, 9), sh(2026, 3, 2, 17, 30)),  # during the morning
        (sh(2026, 3, 2, 7), sh(2026, 3, 2, 17, 30)),  # before opening: the same day
        (sh(2026, 3, 2, 13), sh(2026, 3, 2, 17, 30)),  # on the lunch break
        (sh(2026, 3, 2, 17, 29), sh(2026, 3, 2, 17, 30)),
        (sh(2026, 3, 2, 17, 30), sh(2026, 3, 3, 17, 30)),  # at the close: tomorrow
        (sh(2026, 3, 6, 18), sh(2026, 3, 9, 17, 30)),  # Friday evening: Monday
        (sh(2026, 3, 8, 10), sh(2026, 3, 9, 17, 30)),  # Sunday: Monday
        (sh(2026, 9, 30, 18), sh(2026, 10, 8, 17, 30)),  # eve of National Day
        (sh(2026, 10, 3, 10), sh(2026, 10, 8, 17, 30)),  # inside the holiday
        (sh(2026, 10, 9, 18), sh(2026, 10, 10, 17, 30)),  # Friday evening: working Saturday
        (sh(2026, 10, 10, 10), sh(2026, 10, 10, 17, 30)),  # on the working Saturday
    ],
)
def test_end_of_working_day(cal: WorkCalendar, moment: datetime, close: datetime) -> None:
    assert cal.end_of_working_day(moment) == close


def test_results_are_utc_whatever_the_input_zone(cal: WorkCalendar) -> None:
    result = cal.end_of_working_day(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    assert result.tzinfo is UTC
    assert result == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert cal.add_working_days(sh(2026, 3, 2, 9), 1).tzinfo is UTC
    assert cal.add_working_hours(sh(2026, 3, 2, 9), 1).tzinfo is UTC


def test_naive_datetimes_are_refused(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="naive"):
        cal.end_of_working_day(datetime(2026, 3, 2, 9))


# --- adding working days ("close in 5 working days") --------------------------------


@pytest.mark.parametrize(
    ("moment", "n", "due"),
    [
        (sh(2026, 3, 6, 16), 5, sh(2026, 3, 13, 16)),  # Friday 16:00: Friday week, 16:00
        (sh(2026, 3, 2, 9, 15), 1, sh(2026, 3, 3, 9, 15)),
        (sh(2026, 3, 2, 7), 1, sh(2026, 3, 3, 8, 30)),  # before opening: from the opening
        (sh(2026, 3, 2, 12, 30), 1, sh(2026, 3, 3, 14, 30)),  # lunch: from the afternoon
        (sh(2026, 3, 2, 12), 1, sh(2026, 3, 3, 14, 30)),  # 12:00 sharp is the break
        (sh(2026, 3, 6, 18), 5, sh(2026, 3, 16, 8, 30)),  # after hours: from Monday 08:30
        (sh(2026, 3, 8, 10), 1, sh(2026, 3, 10, 8, 30)),  # Sunday: from Monday 08:30
        (sh(2026, 3, 2, 10), 0, sh(2026, 3, 2, 10)),
        (sh(2026, 3, 2, 20), 0, sh(2026, 3, 3, 8, 30)),  # 0 days: where the clock resumes
        # Across National Day 2026: 30 Sep, 8 Oct, 9 Oct, Sat 10 Oct, Mon 12 Oct.
        (sh(2026, 9, 29, 10), 5, sh(2026, 10, 12, 10)),
        # Across Spring Festival 2026: Sat 14 Feb is worked, then nine days off.
        (sh(2026, 2, 13, 10), 1, sh(2026, 2, 14, 10)),
        (sh(2026, 2, 13, 10), 2, sh(2026, 2, 24, 10)),
        # On an adjusted Saturday the clock runs as on any working day.
        (sh(2026, 10, 10, 11), 1, sh(2026, 10, 12, 11)),
    ],
)
def test_add_working_days(cal: WorkCalendar, moment: datetime, n: int, due: datetime) -> None:
    assert cal.add_working_days(moment, n) == due


def test_negative_working_days_are_refused(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError):
        cal.add_working_days(sh(2026, 3, 2, 9), -1)


# --- adding working hours ("1124") --------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "hours", "due"),
    [
        (sh(2026, 3, 2, 9), 1, sh(2026, 3, 2, 10)),
        (sh(2026, 3, 2, 11), 1, sh(2026, 3, 2, 12)),  # used up exactly at the break
        (sh(2026, 3, 2, 11, 30), 1, sh(2026, 3, 2, 15)),  # the lunch break does not count
        (sh(2026, 3, 2, 12, 30), 1, sh(2026, 3, 2, 15, 30)),  # reported on the lunch break
        (sh(2026, 3, 2, 17), 1, sh(2026, 3, 3, 9)),  # half an hour today, half tomorrow
        (sh(2026, 3, 2, 20), 2, sh(2026, 3, 3, 10, 30)),  # reported in the evening
        (sh(2026, 3, 8, 10), 4, sh(2026, 3, 9, 15)),  # Sunday: Monday 3.5 h + 0.5 h
        (sh(2026, 3, 2, 9), 0.5, sh(2026, 3, 2, 9, 30)),
        (sh(2026, 3, 2, 8, 30), 6.5, sh(2026, 3, 2, 17, 30)),  # a whole day's office time
        (sh(2026, 3, 2, 9), 6.5, sh(2026, 3, 3, 9)),
        (sh(2026, 9, 30, 17), 4, sh(2026, 10, 8, 12)),  # across the Golden Week
        (sh(2026, 3, 2, 20), 0, sh(2026, 3, 2, 20)),  # nothing to add: the moment itself
    ],
)
def test_add_working_hours(
    cal: WorkCalendar, moment: datetime, hours: float, due: datetime
) -> None:
    assert cal.add_working_hours(moment, hours) == due


def test_calendar_hours_run_round_the_clock(cal: WorkCalendar) -> None:
    # Heating-season emergencies: the eve of National Day at 17:00 plus 4 h is 21:00.
    assert cal.add_working_hours(sh(2026, 9, 30, 17), 4, calendar_hours=True) == sh(2026, 9, 30, 21)
    assert cal.add_working_hours(sh(2026, 10, 3, 23), 2, calendar_hours=True) == sh(2026, 10, 4, 1)


@pytest.mark.parametrize("hours", [-1.0, float("nan"), float("inf")])
def test_bad_hours_are_refused(cal: WorkCalendar, hours: float) -> None:
    with pytest.raises(ValueError):
        cal.add_working_hours(sh(2026, 3, 2, 9), hours)


# --- working time between two moments ------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        (sh(2026, 3, 2, 8, 30), sh(2026, 3, 2, 17, 30), 6.5),
        (sh(2026, 3, 2, 0), sh(2026, 3, 3, 0), 6.5),
        (sh(2026, 3, 2, 17, 30), sh(2026, 3, 3, 8, 30), 0),  # overnight
        (sh(2026, 3, 2, 12), sh(2026, 3, 2, 14, 30), 0),  # the lunch break
        (sh(2026, 3, 6, 16), sh(2026, 3, 9, 9), 2),  # Friday 16:00 to Monday 09:00
        (sh(2026, 9, 30, 8, 30), sh(2026, 10, 8, 17, 30), 13),  # two days across the holiday
        (sh(2026, 3, 2, 9), sh(2026, 3, 9, 9), 5 * 6.5),  # a plain week
    ],
)
def test_working_seconds_between(
    cal: WorkCalendar, start: datetime, end: datetime, hours: float
) -> None:
    assert cal.working_seconds_between(start, end) == hours * HOUR


def test_working_seconds_between_is_negative_when_early(cal: WorkCalendar) -> None:
    deadline, closed = sh(2026, 3, 6, 16), sh(2026, 3, 9, 9)
    assert cal.working_seconds_between(deadline, closed) == 2 * HOUR  # two office hours late
    assert cal.working_seconds_between(closed, deadline) == -2 * HOUR


moments = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2026, 10, 31), timezones=st.just(SHANGHAI)
)


@settings(max_examples=200, deadline=None)
@given(moment=moments, minutes=st.integers(min_value=0, max_value=60 * 60))
def test_adding_hours_and_measuring_them_agree(moment: datetime, minutes: int) -> None:
    cal = WorkCalendar()
    due = cal.add_working_hours(moment, minutes / 60)
    assert cal.working_seconds_between(moment, due) == minutes * 60


@settings(max_examples=200, deadline=None)
@given(moment=moments, n=st.integers(min_value=0, max_value=30))
def test_added_days_land_inside_office_hours_on_a_working_day(moment: datetime, n: int) -> None:
    cal = WorkCalendar()
    due = cal.add_working_days(moment, n).astimezone(SHANGHAI)
    assert cal.is_working_day(due.date())
    assert time(8, 30) <= due.time() < time(12) or time(14, 30) <= due.time() < time(17, 30)
    assert due >= moment


# --- other office hours and other zones ----------------------------------------------


def test_summer_hours_are_configurable() -> None:
    summer = OfficeHours(sessions=(Session(time(8, 30), time(12)), Session(time(15), time(18))))
    cal = WorkCalendar(summer)
    assert cal.end_of_working_day(sh(2026, 7, 1, 17, 45)) == sh(2026, 7, 1, 18)
    assert cal.add_working_hours(sh(2026, 7, 1, 11), 2) == sh(2026, 7, 1, 16)


def test_the_defaults_are_documented_county_hours() -> None:
    hours = OfficeHours()
    assert hours.sessions == (Session(time(8, 30), time(12)), Session(time(14, 30), time(17, 30)))
    assert hours.zone == SHANGHAI
    assert (hours.opening, hours.closing) == (time(8, 30), time(17, 30))


@pytest.mark.parametrize(
    "sessions",
    [
        (),
        (Session(time(12), time(8, 30)),),
        (Session(time(8, 30), time(12)), Session(time(11), time(17))),
        (Session(time(14), time(17)), Session(time(8), time(12))),
    ],
)
def test_impossible_office_hours_are_refused(sessions: tuple[Session, ...]) -> None:
    with pytest.raises(ValueError):
        OfficeHours(sessions=sessions)


def test_the_zone_decides_the_day_and_the_hours() -> None:
    shanghai, berlin = WorkCalendar(), WorkCalendar(OfficeHours(zone=BERLIN))
    friday = datetime(2026, 3, 6, 10, tzinfo=UTC)  # 18:00 in Shanghai, 11:00 in Berlin
    assert shanghai.end_of_working_day(friday) == sh(2026, 3, 9, 17, 30)
    assert berlin.end_of_working_day(friday) == datetime(2026, 3, 6, 17, 30, tzinfo=BERLIN)
    assert berlin.end_of_working_day(friday) == datetime(2026, 3, 6, 16, 30, tzinfo=UTC)


def test_a_zone_with_summer_time_keeps_the_local_hours() -> None:
    # Europe/Berlin moves to summer time on Sunday 29 March 2026.
    cal = WorkCalendar(OfficeHours(zone=BERLIN), holidays=WeekendsOnly())
    friday = datetime(2026, 3, 27, 10, tzinfo=BERLIN)  # UTC+1
    monday = cal.add_working_days(friday, 1)
    assert monday == datetime(2026, 3, 30, 10, tzinfo=BERLIN)  # UTC+2
    assert monday == datetime(2026, 3, 30, 8, tzinfo=UTC)
    late_friday = datetime(2026, 3, 27, 17, tzinfo=BERLIN)
    assert cal.working_seconds_between(late_friday, monday) == 2 * HOUR
    assert cal.add_working_hours(late_friday, 1) == datetime(2026, 3, 30, 9, tzinfo=BERLIN)


# --- configured office hours and local exceptions -----------------------------------------


def test_office_hours_are_read_from_their_setting() -> None:
    assert parse_office_hours("08:30-12:00,14:30-17:30") == (
        Session(time(8, 30), time(12)),
        Session(time(14, 30), time(17, 30)),
    )
    assert parse_office_hours(" 9:00 - 17:00 ") == (Session(time(9), time(17)),)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty session"),
        ("08:30-12:00,", "empty session"),
        ("8-12", "is not a session like 08:30-12:00"),
        ("08:30-12:00;14:30-17:30", "is not a session like"),
        ("08:30-24:00", "is not a time of day"),
        ("08:61-12:00", "is not a time of day"),
        ("12:00-08:30", "must start before it ends"),
        ("14:30-17:30,08:30-12:00", "in order and must not overlap"),
        ("08:30-12:00,11:00-17:30", "in order and must not overlap"),
    ],
)
def test_malformed_office_hours_are_refused_with_the_reason(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_office_hours(text)


def test_a_running_calendar_takes_the_tables_current_exceptions() -> None:
    cal = WorkCalendar(holidays=WeekendsOnly())
    monday, saturday = date(2026, 3, 9), date(2026, 3, 14)
    cal.replace_exceptions([LocalException(monday, False, "flood"), LocalException(saturday, True)])
    assert not cal.is_working_day(monday) and cal.is_working_day(saturday)
    assert [e.day for e in cal.exceptions] == [monday, saturday]
    cal.replace_exceptions([])
    assert cal.is_working_day(monday) and not cal.is_working_day(saturday)
    assert cal.exceptions == ()


def test_contradictory_replacements_are_refused_and_the_old_ones_stay() -> None:
    monday = date(2026, 3, 9)
    cal = WorkCalendar(exceptions=[LocalException(monday, False)], holidays=WeekendsOnly())
    with pytest.raises(ValueError, match="contradictory"):
        cal.replace_exceptions([LocalException(monday, True), LocalException(monday, False)])
    assert not cal.is_working_day(monday)
