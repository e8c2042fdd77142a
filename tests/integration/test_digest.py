"""The leaders' digest and lists on a real database: their numbers, and once per day."""

from __future__ import annotations

from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from models.clock import FrozenClock
from models.services import digest, issues, sweep
from models.services.issues import Report
from models.tables import AuditEntry, Issue, OutboxFile, OutboxMessage, PersonRole, SentReport
from tests.conftest import Database
from tests.integration.county import DESK, County, build_county

ZONE = ZoneInfo("Asia/Shanghai")
AT = time(8, 30)
HOUR = timedelta(hours=1)


@pytest.fixture
async def county(db: Database, clock: FrozenClock) -> County:
    async with db.sessions() as session, session.begin():
        return await build_county(session, clock.now())


async def _report(db: Database, clock: FrozenClock, county: County, text: str) -> Issue:
    async with db.sessions() as session, session.begin():
        who = await county.in_group(session, county.owner)
        outcome = await issues.report_issue(
            session, clock.now(), DESK, Report(text=text, chat=who.chat, reporter=who)
        )
        assert outcome.issue is not None
        return outcome.issue


async def _send(db: Database, clock: FrozenClock) -> int:
    async with db.sessions() as session, session.begin():
        return await digest.send_due(session, clock.now(), DESK, AT)


async def _messages(db: Database, template: str) -> list[OutboxMessage]:
    async with db.sessions() as session:
        return list(
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.template == template)
                .order_by(OutboxMessage.id)
            )
        )


async def _a_busy_day(db: Database, clock: FrozenClock, county: County) -> None:
    """Monday: three reports; one claimed, answered, confirmed and rated 4; one left unclaimed
    past its limit (yellow); one claimed in time (green)."""
    first = await _report(db, clock, county, "厂区经常停电")
    await _report(db, clock, county, "用电报装太慢")
    third = await _report(db, clock, county, "停电没有通知")
    async with db.sessions() as session, session.begin():
        who = await county.contact(session, county.electrician)
        for issue in (first, third):
            assert (await issues.claim_issue(session, clock.now(), DESK, who, issue.id)).ok
        assert (await issues.answer_issue(session, clock.now(), DESK, who, first.id, "已修")).ok
        owner = await county.contact(session, county.owner)
        assert (await issues.confirm_issue(session, clock.now(), DESK, owner, first.id, True)).ok
        assert (await issues.rate_issue(session, clock.now(), owner, first.id, 4)).ok
    clock.advance(9 * HOUR)  # 18:00: the unclaimed one is past its claim limit
    async with db.sessions() as session, session.begin():
        await sweep.sweep(session, clock.now(), ZONE, "zh_CN")


async def test_the_digest_counts_what_happened_since_the_last_one(
    db: Database, clock: FrozenClock, county: County
) -> None:
    since = clock.now() - HOUR
    await _a_busy_day(db, clock, county)
    clock.advance(timedelta(minutes=1))
    async with db.sessions() as session:
        found = await digest.figures(session, clock.now(), ZONE, since)
    assert (found.new, found.claimed, found.closed) == (3, 2, 1)
    # Green: two claims and one close; yellow: one claim limit.
    assert found.cards == {"green": 3, "yellow": 1}
    assert found.overdue == 1
    assert found.behind == [("供电公司", 1)]
    assert [(r.category, r.green, r.settled) for r in found.on_time] == [("utilities", 3, 4)]
    assert (found.rating, found.ratings) == (4.0, 1)
    assert found.supervised_count == 0
    params = digest.params(found, ZONE)
    assert params["digest_cards"] == {"green": 3, "yellow": 1, "red": 0}


async def test_each_leader_gets_one_digest_a_working_day_with_its_chart(
    db: Database, clock: FrozenClock, county: County
) -> None:
    await _a_busy_day(db, clock, county)  # Monday 18:00: after 08:30, so Monday's is due
    assert await _send(db, clock) == 3  # the digest, the month's and the quarter's lists
    assert await _send(db, clock) == 0  # a restart, another sweep: nothing twice
    (sent,) = await _messages(db, "digest")
    assert sent.has_file
    assert sent.params["digest_new"] == 3
    async with db.sessions() as session:
        chart = await session.scalar(select(OutboxFile).where(OutboxFile.outbox_id == sent.id))
        reports = list(await session.scalars(select(SentReport).order_by(SentReport.id)))
    assert chart is not None and chart.kind == "photo" and chart.data.startswith(b"\x89PNG")
    assert [(r.kind, r.period, r.person_id) for r in reports] == [
        ("digest", "2026-03-02", county.leader.id),
        ("month", "2026-02", county.leader.id),
        ("quarter", "2025-Q4", county.leader.id),
    ]
    assert reports[0].outbox_id == sent.id

    clock.advance(14 * HOUR)  # Tuesday 08:00: not yet
    assert await _send(db, clock) == 0
    clock.advance(HOUR)  # Tuesday 09:00
    assert await _send(db, clock) == 1
    tuesday = (await _messages(db, "digest"))[-1]
    # Tuesday's covers what happened since Monday's went out.
    assert tuesday.params["digest_since"] == "2026-03-02 18:00"
    assert tuesday.params["digest_new"] == 0


async def test_no_digest_on_a_day_off_and_none_for_people_who_are_not_leaders(
    db: Database, clock: FrozenClock, county: County
) -> None:
    clock.advance(5 * 24 * HOUR)  # Saturday 09:00
    assert await _send(db, clock) == 0
    clock.advance(2 * 24 * HOUR)  # Monday 09:00
    async with db.sessions() as session, session.begin():
        session.add(PersonRole(person_id=county.coordinator.id, role="leader"))
    assert await _send(db, clock) == 6
    chats = {m.chat_id for m in await _messages(db, "digest")}
    assert len(chats) == 2


async def test_the_lists_name_the_best_and_the_worst_with_their_reasons(
    db: Database, clock: FrozenClock, county: County
) -> None:
    await _a_busy_day(db, clock, county)
    async with db.sessions() as session:
        view = await digest.lists_params(session, clock.now(), ZONE, "month")
    assert view["lists_kind"] == "month"
    assert view["lists_from"] == "2026-03-01"
    (best,) = view["lists_red"]
    (worst,) = view["lists_black"]
    assert best["name"] == "供电公司" and best["points"] == 3.0
    assert best["on_time_rate"] == 0.75 and best["satisfaction"] == 4.0
    assert worst["name"] == "人社局" and worst["points"] == 0.0


async def test_every_report_sent_is_in_the_audit_log(
    db: Database, clock: FrozenClock, county: County
) -> None:
    clock.advance(HOUR)
    await _send(db, clock)
    async with db.sessions() as session:
        rows = await session.execute(
            select(AuditEntry.action, AuditEntry.subject_id, AuditEntry.detail)
            .where(AuditEntry.action.in_(["digest_sent", "lists_sent"]))
            .order_by(AuditEntry.id)
        )
    assert [(a, s, d) for a, s, d in rows.all()] == [
        ("digest_sent", county.leader.id, {"day": "2026-03-02"}),
        ("lists_sent", county.leader.id, {"period": "2026-02"}),
        ("lists_sent", county.leader.id, {"period": "2025-Q4"}),
    ]
