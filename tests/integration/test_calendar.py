"""The county's working-time calendar on a real database: local days off and extra working
days, who may set them, what the audit log keeps, and the running calendar taking them."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from models.clock import FrozenClock
from models.rules.worktime import WorkCalendar
from models.services import calendar
from models.services.calendar import NOTE_LIMIT, Change, Refusal, parse_day
from models.tables import AuditEntry, CalendarException
from models.texts import render
from tests.conftest import Database
from tests.integration.county import County, build_county

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The clock starts on Monday 2 March 2026; Thursday 30 April is a working day nationally
# (the eve of the May Day holiday), Saturday 9 May a plain weekend day.
THURSDAY = date(2026, 4, 30)
SATURDAY = date(2026, 5, 9)


class WeekendsOnly:
    def is_working_day(self, day: date) -> bool | None:
        return day.weekday() < 5


@pytest.fixture
async def county(db: Database, clock: FrozenClock) -> County:
    async with db.sessions() as session, session.begin():
        return await build_county(session, clock.now())


async def _rows(db: Database) -> list[CalendarException]:
    async with db.sessions() as session:
        return list(
            await session.scalars(select(CalendarException).order_by(CalendarException.day))
        )


async def _audit(db: Database) -> list[AuditEntry]:
    async with db.sessions() as session:
        return list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action.like("calendar_%"))
                .order_by(AuditEntry.id)
            )
        )


async def test_the_coordinator_sets_a_local_day_off_and_it_is_audited(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        actor = await county.contact(session, county.coordinator)
        outcome = await calendar.set_exception(
            session, clock.now(), actor, SHANGHAI, THURSDAY, False, " 县庆 "
        )
    assert outcome.change is Change.CREATED
    assert outcome.exception is not None
    assert outcome.exception.params() == {
        "day": "2026-04-30",
        "weekday": 3,
        "working": False,
        "note": "县庆",
    }
    (row,) = await _rows(db)
    assert (row.day, row.working, row.note, row.created_at) == (
        THURSDAY,
        False,
        "县庆",
        clock.now(),
    )
    (entry,) = await _audit(db)
    assert entry.action == "calendar_exception_set"
    assert entry.actor_id == county.coordinator.id
    assert entry.detail == {
        "change": "created",
        "day": "2026-04-30",
        "working": False,
        "note": "县庆",
    }


async def test_the_same_day_again_changes_nothing_and_the_other_kind_replaces_it(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        actor = await county.contact(session, county.coordinator)
        now = clock.now()
        await calendar.set_exception(session, now, actor, SHANGHAI, SATURDAY, True, "补班")
        again = await calendar.set_exception(session, now, actor, SHANGHAI, SATURDAY, True, "补班")
        assert again.change is Change.UNCHANGED
        flipped = await calendar.set_exception(session, now, actor, SHANGHAI, SATURDAY, False)
        assert flipped.change is Change.UPDATED
    (row,) = await _rows(db)
    assert (row.working, row.note) == (False, "")
    assert [e.detail["change"] for e in await _audit(db)] == ["created", "updated"]


async def test_clearing_removes_the_exception_and_clearing_nothing_is_refused(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        actor = await county.contact(session, county.coordinator)
        await calendar.set_exception(session, clock.now(), actor, SHANGHAI, SATURDAY, True, "补班")
        cleared = await calendar.clear_exception(session, clock.now(), actor, SATURDAY)
        assert cleared.change is Change.CLEARED
        assert cleared.exception is not None and cleared.exception.working
        nothing = await calendar.clear_exception(session, clock.now(), actor, SATURDAY)
        assert nothing.refused is Refusal.NOT_SET
    assert await _rows(db) == []
    last = (await _audit(db))[-1]
    assert last.action == "calendar_exception_cleared"
    assert last.detail == {"day": "2026-05-09", "working": True, "note": "补班"}


async def test_only_who_manages_the_county_may_touch_the_calendar(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        for person in (county.electrician, county.leader, county.owner):
            actor = await county.contact(session, person)
            now = clock.now()
            set_ = await calendar.set_exception(session, now, actor, SHANGHAI, THURSDAY, False)
            clear = await calendar.clear_exception(session, now, actor, THURSDAY)
            listed = await calendar.list_exceptions(session, now, actor, SHANGHAI)
            assert {set_.refused, clear.refused, listed.refused} == {Refusal.NOT_ALLOWED}
    assert await _rows(db) == []
    assert await _audit(db) == []


async def test_an_overlong_note_and_a_day_far_off_are_refused(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        actor = await county.contact(session, county.coordinator)
        now = clock.now()
        long = await calendar.set_exception(
            session, now, actor, SHANGHAI, THURSDAY, False, "长" * (NOTE_LIMIT + 1)
        )
        assert long.refused is Refusal.TOO_LONG and long.limit == NOTE_LIMIT
        typo = await calendar.set_exception(session, now, actor, SHANGHAI, date(2062, 4, 30), False)
        assert typo.refused is Refusal.OUT_OF_RANGE
        assert (typo.earliest, typo.latest) == (date(2025, 3, 1), date(2028, 3, 3))
        past = await calendar.set_exception(session, now, actor, SHANGHAI, date(2025, 2, 28), False)
        assert past.refused is Refusal.OUT_OF_RANGE
        edge = await calendar.set_exception(session, now, actor, SHANGHAI, date(2028, 3, 3), True)
        assert edge.change is Change.CREATED
    assert [r.day for r in await _rows(db)] == [date(2028, 3, 3)]


async def test_the_list_shows_the_last_month_and_what_is_ahead_by_day(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        actor = await county.contact(session, county.coordinator)
        now = clock.now()
        for day in (SATURDAY, date(2026, 1, 30), date(2026, 2, 1), THURSDAY):
            await calendar.set_exception(session, now, actor, SHANGHAI, day, day == SATURDAY)
        listed = await calendar.list_exceptions(session, now, actor, SHANGHAI)
    assert listed.ok
    # 2 March minus 31 days is 30 January: that day is still "recent"; nothing older is shown.
    assert [(e.day, e.working) for e in listed.exceptions] == [
        (date(2026, 1, 30), False),
        (date(2026, 2, 1), False),
        (THURSDAY, False),
        (SATURDAY, True),
    ]
    clock.advance(datetime(2026, 3, 3, 1, tzinfo=SHANGHAI) - clock.now())
    async with db.sessions() as session:
        actor = await county.contact(session, county.coordinator)
        later = await calendar.list_exceptions(session, clock.now(), actor, SHANGHAI)
    assert later.exceptions[0].day == date(2026, 2, 1)


async def test_the_running_calendar_takes_the_tables_exceptions(
    db: Database, clock: FrozenClock, county: County
) -> None:
    running = WorkCalendar(holidays=WeekendsOnly())
    monday = date(2026, 3, 9)
    async with db.sessions() as session, session.begin():
        actor = await county.contact(session, county.coordinator)
        now = clock.now()
        await calendar.set_exception(session, now, actor, SHANGHAI, monday, False, "汛期")
        await calendar.set_exception(session, now, actor, SHANGHAI, date(2026, 3, 7), True)
        await calendar.load_exceptions(session, running)
    assert not running.is_working_day(monday)
    assert running.is_working_day(date(2026, 3, 7))
    friday_evening = datetime(2026, 3, 6, 18, tzinfo=SHANGHAI)
    assert running.end_of_working_day(friday_evening) == datetime(
        2026, 3, 7, 17, 30, tzinfo=SHANGHAI
    )
    async with db.sessions() as session, session.begin():
        actor = await county.contact(session, county.coordinator)
        await calendar.clear_exception(session, clock.now(), actor, date(2026, 3, 7))
        await calendar.clear_exception(session, clock.now(), actor, monday)
        await calendar.load_exceptions(session, running)
    assert running.exceptions == ()
    assert running.end_of_working_day(friday_evening) == datetime(
        2026, 3, 9, 17, 30, tzinfo=SHANGHAI
    )


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2026-04-30", THURSDAY),
        (" ２０２６-０４-３０ ", THURSDAY),
        ("2026-02-30", None),
        ("20260430", None),
        ("2026-4-30", None),
        ("2026-W18-4", None),
        ("clear", None),
    ],
)
def test_days_are_written_year_month_day(text: str, day: date | None) -> None:
    assert parse_day(text) == day


@pytest.mark.parametrize("language", ["zh_CN", "en"])
@pytest.mark.parametrize(
    ("reason", "says"),
    [
        ("not_set", "2026-04-30"),
        ("too_long", "200"),
        ("out_of_range", "2028-03-02"),
    ],
)
def test_every_refusal_has_its_own_answer(language: str, reason: str, says: str) -> None:
    text = render(
        "calendar_refused",
        language,
        {
            "calendar_reason": reason,
            "calendar_day": "2026-04-30",
            "calendar_limit": 200,
            "calendar_earliest": "2025-03-01",
            "calendar_latest": "2028-03-02",
        },
    )
    assert says in text


@pytest.mark.parametrize("language", ["zh_CN", "en"])
@pytest.mark.parametrize("change", ["created", "updated", "unchanged", "cleared"])
@pytest.mark.parametrize("working", [True, False])
def test_every_change_is_answered(language: str, change: str, working: bool) -> None:
    exception = {"day": "2026-05-09", "weekday": 5, "working": working, "note": ""}
    text = render(
        "calendar_set", language, {"calendar_change": change, "calendar_exception": exception}
    )
    assert "2026-05-09" in text and ("Saturday" in text or "周六" in text)
