"""The county's own rules through Telegram: local days off and working days, points per card,
and the rankings leaders and officials ask for."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import select

from bot.app import _load_calendar, build_application
from bot.edge import Edge
from models.clock import FrozenClock
from models.config import Settings
from models.rules.worktime import WorkCalendar
from models.tables import CalendarException, Card, Deadline, Department, Person, PointsEntry
from tests.conftest import Database
from tests.e2e.conftest import ADMIN_ID, MONDAY_MORNING, TOKEN, Stack

THURSDAY = date(2026, 4, 30)  # a working day nationally, the eve of the May Day holiday
SATURDAY = date(2026, 3, 14)  # a plain weekend day


async def _private(stack: Stack, user_id: int, name: str) -> int:
    await stack.control.create_user(name, id=user_id)
    chat = await stack.control.create_chat("private", user_id=user_id)
    await stack.say(int(chat["id"]), user_id, "/start")
    return int(chat["id"])


def _calendar(stack: Stack) -> WorkCalendar:
    calendar = stack.edge.desk.calendar
    assert isinstance(calendar, WorkCalendar)
    return calendar


async def test_local_days_off_and_working_days_move_the_running_calendar(stack: Stack) -> None:
    admin = await _private(stack, ADMIN_ID, "Admin Wang")
    calendar = _calendar(stack)
    assert calendar.is_working_day(THURSDAY) and not calendar.is_working_day(SATURDAY)

    usage = await stack.say(admin, ADMIN_ID, "/holiday")
    assert usage["text"].startswith("Usage: /holiday YYYY-MM-DD [note]")
    bad = await stack.say(admin, ADMIN_ID, "/holiday 2026-02-30")
    assert bad["text"] == "“2026-02-30” is not a date: write it as YYYY-MM-DD, e.g. 2026-04-30."

    off = await stack.say(admin, ADMIN_ID, "/holiday 2026-04-30 县庆 放假")
    assert off["text"].startswith("Done: 2026-04-30 (Thursday) is a local day off — 县庆 放假.")
    assert not calendar.is_working_day(THURSDAY)
    extra = await stack.say(admin, ADMIN_ID, "/workday 2026-03-14")
    assert extra["text"].startswith("Done: 2026-03-14 (Saturday) is a local working day.")
    assert calendar.is_working_day(SATURDAY)

    listed = await stack.say(admin, ADMIN_ID, "/calendar")
    text = listed["text"]
    assert "Office hours: 08:30-12:00, 14:30-17:30 (Asia/Shanghai)" in text
    assert "National holidays and adjusted working days: 2004–" in text
    assert "2026-03-14 Sat · working day" in text
    assert "2026-04-30 Thu · day off · 县庆 放假" in text

    cleared = await stack.say(admin, ADMIN_ID, "/holiday 2026-04-30 clear")
    assert cleared["text"].startswith("2026-04-30 (Thursday) is no longer a local day off")
    assert calendar.is_working_day(THURSDAY)
    again = await stack.say(admin, ADMIN_ID, "/holiday 2026-04-30 clear")
    assert "has no local exception" in again["text"]

    member = await _private(stack, 600001, "Chen")
    refused = await stack.say(member, 600001, "/holiday 2026-04-30")
    assert refused["text"] == "You are not allowed to do that."
    assert calendar.is_working_day(THURSDAY)
    async with stack.db.sessions() as session:
        rows = await session.scalars(select(CalendarException))
        assert [(r.day, r.working) for r in rows] == [(SATURDAY, True)]


async def test_points_per_card_and_the_months_ranking(stack: Stack) -> None:
    admin = await _private(stack, ADMIN_ID, "Admin Wang")
    points = await stack.say(admin, ADMIN_ID, "/setpoints default 2 0 -3")
    assert points["text"].startswith(
        "Points set for every category without its own: green 2, yellow 0, red -3 per card"
    )
    wrong = await stack.say(admin, ADMIN_ID, "/setpoints default 2 0 3")
    assert wrong["text"].startswith("A green cannot cost points")
    usage = await stack.say(admin, ADMIN_ID, "/setpoints land 2")
    assert usage["text"].startswith("Usage: /setpoints category|default green yellow red")

    async with stack.db.sessions() as session, session.begin():
        power = Department(name="供电公司", created_at=MONDAY_MORNING)
        hr = Department(name="人社局", created_at=MONDAY_MORNING)
        office = Department(name="营商办", is_coordinator=True, created_at=MONDAY_MORNING)
        session.add_all([power, hr, office])
        await session.flush()
        zhao = Person(
            telegram_id=700001,
            full_name="赵电力",
            department_id=power.id,
            created_at=MONDAY_MORNING,
        )
        session.add(zhao)
        await session.flush()
        for number, (colour, value) in enumerate((("green", 2.0), ("yellow", 0.0)), start=1):
            deadline = Deadline(
                subject_type="node",
                subject_id=number,
                kind="node",
                label=f"N-{number}",
                department_id=power.id,
                owner_id=zhao.id,
                due_at=MONDAY_MORNING,
                created_at=MONDAY_MORNING,
                updated_at=MONDAY_MORNING,
            )
            session.add(deadline)
            await session.flush()
            card = Card(deadline_id=deadline.id, colour=colour, raised_at=MONDAY_MORNING)
            session.add(card)
            await session.flush()
            session.add(
                PointsEntry(
                    card_id=card.id,
                    department_id=power.id,
                    person_id=zhao.id,
                    colour=colour,
                    points=value,
                    reason=f"N-{number} {colour}",
                    at=MONDAY_MORNING,
                )
            )

    table = (await stack.say(admin, ADMIN_ID, "/ranking"))["text"]
    assert table.startswith("Ranking · 2026-03 (2026-03-01 to 2026-03-31)")
    assert "1. 供电公司 · 2 points · green 1, yellow 1, red 0 · on time 50.0%" in table
    assert "2. 人社局 · 0 points" in table
    assert "营商办" not in table
    assert "Officials\n1. 赵电力 · 2 points" in table
    quarter = (await stack.say(admin, ADMIN_ID, "/ranking quarter"))["text"]
    assert quarter.startswith("Ranking · Q1 2026 (2026-01-01 to 2026-03-31)")
    weekly = await stack.say(admin, ADMIN_ID, "/ranking week")
    assert weekly["text"].startswith("Usage: /ranking [month|quarter|year]")

    member = await _private(stack, 600002, "Chen")
    refused = await stack.say(member, 600002, "/ranking")
    assert refused["text"] == "You are not allowed to do that."


def _settings(db: Database, **overrides: object) -> Settings:
    values: dict[str, object] = {"token": TOKEN, "database_url": db.url, "language": "en"}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


async def test_start_up_loads_the_tables_exceptions_and_the_configured_hours(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    async with db.sessions() as session, session.begin():
        session.add(
            CalendarException(day=THURSDAY, working=False, note="县庆", created_at=MONDAY_MORNING)
        )
    settings = _settings(db, office_hours="08:30-12:00,15:00-18:00")
    application = build_application(settings, FrozenClock(MONDAY_MORNING))
    edge: Edge = application.bot_data["edge"]
    calendar = edge.desk.calendar
    assert isinstance(calendar, WorkCalendar)
    assert calendar.office_hours.closing == time(18)
    assert calendar.is_working_day(THURSDAY)  # not loaded yet
    await _load_calendar(edge)
    assert not calendar.is_working_day(THURSDAY)
    await edge.engine.dispose()


@pytest.mark.parametrize(("year", "warned"), [(2010, False), (2100, True)])
async def test_start_up_warns_when_the_national_calendar_runs_out(
    db: Database, caplog: pytest.LogCaptureFixture, year: int, warned: bool
) -> None:
    application = build_application(_settings(db), FrozenClock(datetime(year, 6, 1, tzinfo=UTC)))
    edge: Edge = application.bot_data["edge"]
    with caplog.at_level(logging.WARNING, logger="bot.app"):
        await _load_calendar(edge)
    warnings = [r.getMessage() for r in caplog.records if "chinese-calendar" in r.getMessage()]
    assert bool(warnings) == warned
    if warned:
        assert "not 2100, 2101" in warnings[0]
    await edge.engine.dispose()
