"""The periodic jobs run by three processes at the same moment on one PostgreSQL.

Each "process" has an engine of its own (its own connections); they run what `periodic_work`
runs, in its order, side by side. Nothing may be done twice, nothing left undone, and no job may
fail on another's account (a lock conflict, a deadlock, a unique violation).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import time, timedelta

import pytest
from sqlalchemy import func, select

from models.clock import FrozenClock
from models.db import create_engine, create_sessionmaker
from models.rules.permissions import Role
from models.services import issues
from models.services.issues import Report
from models.tables import (
    AuditEntry,
    Card,
    Chat,
    ChatPurpose,
    OutboxMessage,
    Person,
    PersonRole,
    PointsEntry,
    SentReport,
)
from reminders.digest import send_reports
from reminders.issues import close_unconfirmed_issues
from reminders.sweep import sweep_deadlines
from tests.conftest import Database
from tests.integration.county import DESK, build_county

PROCESSES = 3
LEADERS = 6
REPORTS = 40
DIGEST_AT = time(8, 30)


async def _periodic_work(url: str, clock: FrozenClock) -> tuple[int, int, int]:
    """What bot/app.py's periodic_work runs, through connections of its own."""
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    try:
        closed = await close_unconfirmed_issues(sessions, clock, DESK)
        swept = await sweep_deadlines(sessions, clock, DESK, batch=10)
        reported = await send_reports(sessions, clock, DESK, DIGEST_AT)
        return closed, swept.cards, reported
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_three_processes_running_the_periodic_jobs_at_once_do_each_thing_once(
    db: Database, clock: FrozenClock
) -> None:
    async with db.sessions() as session, session.begin():
        county = await build_county(session, clock.now())
        for n in range(LEADERS - 1):
            leader = Person(telegram_id=3100 + n, full_name=f"县领导{n}", created_at=clock.now())
            session.add(leader)
            await session.flush()
            session.add(PersonRole(person_id=leader.id, role=Role.LEADER))
            session.add(
                Chat(
                    telegram_id=leader.telegram_id,
                    kind="private",
                    purpose=ChatPurpose.PRIVATE,
                    created_at=clock.now(),
                )
            )
    reported = []
    async with db.sessions() as session, session.begin():
        who = await county.in_group(session, county.owner)
        for n in range(REPORTS):
            topic = "停电" if n % 2 else "招工"
            text = f"第{n}号厂区{topic}问题，第{n * 7 % 13}次反映，编号{n:03}"
            outcome = await issues.report_issue(
                session, clock.now(), DESK, Report(text=text, chat=who.chat, reporter=who)
            )
            assert outcome.issue is not None
            reported.append(outcome.issue)
    answered = []
    async with db.sessions() as session, session.begin():
        power = await county.contact(session, county.electrician)
        hr = await county.contact(session, county.recruiter)
        for n, issue in enumerate(reported):
            if n % 4 == 3:
                continue  # never claimed: yellow on its claim limit, then on its close limit
            official = power if issue.department_id == county.power.id else hr
            assert (await issues.claim_issue(session, clock.now(), DESK, official, issue.id)).ok
            if n % 4 < 2:
                answer = await issues.answer_issue(
                    session, clock.now(), DESK, official, issue.id, f"已处理{n}"
                )
                assert answer.ok
                answered.append(issue.id)
    # Monday 09:00 a week on: every answer is unconfirmed past its window, every open limit has
    # passed, and the leaders' digest is due.
    clock.advance(timedelta(days=7))
    outcomes = await asyncio.gather(
        *(_periodic_work(db.url, clock) for _ in range(PROCESSES)), return_exceptions=True
    )
    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
    # Nothing left undone: a fourth round finds nothing.
    assert await _periodic_work(db.url, clock) == (0, 0, 0)

    async with db.sessions() as session:
        closings = Counter(
            await session.scalars(
                select(AuditEntry.subject_id).where(AuditEntry.action == "issue_closed")
            )
        )
        assert closings == Counter(answered)
        cards = list(await session.scalars(select(Card)))
        assert len({(c.deadline_id, c.colour) for c in cards}) == len(cards)
        assert Counter(await session.scalars(select(PointsEntry.card_id))) == Counter(
            c.id for c in cards
        )
        raised = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "card_raised")
        )
        assert raised == len(cards)
        # Each card told each of its recipients once: one message per chat among its notices.
        chat_of = dict(
            (await session.execute(select(OutboxMessage.id, OutboxMessage.chat_id))).all()
        )
        told = [[chat_of[outbox_id] for outbox_id in c.notices] for c in cards]
        assert all(len(chats) == len(set(chats)) for chats in told)
        assert sum(1 for chats in told if chats) > 10  # yellow cards were told: the case is real
        reports = Counter(
            (person, kind)
            for person, kind in (
                await session.execute(select(SentReport.person_id, SentReport.kind))
            ).all()
        )
        assert len(reports) == LEADERS * 3  # a digest, the month's lists, the quarter's
        assert set(reports.values()) == {1}
        digests = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.template == "digest")
        )
        assert digests == LEADERS
