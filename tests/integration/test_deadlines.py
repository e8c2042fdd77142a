"""Deadlines, the sweep and cards on a real database, with the clock moved forward."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from models.clock import FrozenClock
from models.rules.cards import Colour
from models.services import deadlines, issues, sweep
from models.services.deadlines import Refusal
from models.services.issues import Report
from models.services.sweep import Swept
from models.tables import (
    AuditEntry,
    Card,
    Chat,
    Deadline,
    Issue,
    OutboxMessage,
    PointsEntry,
    PointsRule,
    ScoreWeight,
    ServicePolicy,
)
from reminders.sweep import sweep_deadlines
from tests.conftest import Database
from tests.integration.county import DESK, County, build_county

ZONE = ZoneInfo("Asia/Shanghai")
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


async def _sweep(db: Database, clock: FrozenClock) -> Swept:
    async with db.sessions() as session, session.begin():
        return await sweep.sweep(session, clock.now(), ZONE, "zh_CN")


async def _rows(db: Database, issue_id: int) -> dict[str, Deadline]:
    async with db.sessions() as session:
        return {row.kind: row for row in await deadlines.of_subject(session, "issue", issue_id)}


async def _cards(db: Database) -> list[tuple[int, str]]:
    async with db.sessions() as session:
        rows = await session.execute(select(Card.deadline_id, Card.colour).order_by(Card.id))
        return [(d, c) for d, c in rows.all()]


async def _batches(db: Database) -> list[OutboxMessage]:
    async with db.sessions() as session:
        return list(
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.template == "deadline_batch")
                .order_by(OutboxMessage.id)
            )
        )


async def _chat_of(db: Database, telegram_id: int) -> int:
    async with db.sessions() as session:
        chat_id = await session.scalar(select(Chat.id).where(Chat.telegram_id == telegram_id))
        assert chat_id is not None
        return chat_id


def _kinds(message: OutboxMessage) -> list[str]:
    return [item["kind"] for item in message.params["items"]]


async def _claim(db: Database, clock: FrozenClock, county: County, issue: Issue) -> None:
    async with db.sessions() as session, session.begin():
        who = await county.contact(session, county.electrician)
        assert (await issues.claim_issue(session, clock.now(), DESK, who, issue.id)).ok


async def _yellow_claim(db: Database, clock: FrozenClock, county: County) -> Deadline:
    """An issue whose claim limit (8 h on the test calendar) has passed, carded yellow."""
    issue = await _report(db, clock, county, "厂区经常停电")
    clock.advance(9 * HOUR)
    await _sweep(db, clock)
    row = (await _rows(db, issue.id))["claim#1"]
    assert row.cards == "yellow"
    return row


async def _propose(
    db: Database, clock: FrozenClock, county: County, row: Deadline, new_due: datetime | None
) -> deadlines.Outcome:
    async with db.sessions() as session, session.begin():
        who = await county.contact(session, county.electrician)
        return await deadlines.propose_recommit(
            session, clock.now(), ZONE, "zh_CN", who, row.id, "线路改造需要协调", new_due
        )


async def _decide(
    db: Database, clock: FrozenClock, county: County, row: Deadline, approve: bool
) -> deadlines.Outcome:
    async with db.sessions() as session, session.begin():
        who = await county.contact(session, county.leader)
        return await deadlines.decide_recommit(
            session, clock.now(), ZONE, "zh_CN", who, row.id, approve
        )


# --- tracking issue limits --------------------------------------------------------------------


async def test_a_routed_issue_tracks_its_claim_and_close_limits(
    db: Database, clock: FrozenClock, county: County
) -> None:
    issue = await _report(db, clock, county, "厂区经常停电")
    rows = await _rows(db, issue.id)
    assert set(rows) == {"claim#1", "close"}
    assert rows["claim#1"].due_at == issue.claim_due_at == clock.now() + 8 * HOUR
    assert rows["close"].due_at == issue.close_due_at
    assert rows["claim#1"].department_id == county.power.id
    assert rows["claim#1"].card_due_at == rows["claim#1"].due_at
    # Reminded 2 hours before the claim limit (the 24-hour one would lie in the past).
    assert rows["claim#1"].next_reminder_at == rows["claim#1"].due_at - 2 * HOUR


async def test_nothing_is_owed_before_a_deadline_or_exactly_at_it(
    db: Database, clock: FrozenClock, county: County
) -> None:
    await _report(db, clock, county, "厂区经常停电")
    clock.advance(8 * HOUR)
    swept = await _sweep(db, clock)
    assert swept.cards == []
    assert await _cards(db) == []


async def test_a_claim_in_time_earns_a_green_card_and_its_points(
    db: Database, clock: FrozenClock, county: County
) -> None:
    issue = await _report(db, clock, county, "厂区经常停电")
    clock.advance(HOUR)
    await _claim(db, clock, county, issue)
    clock.advance(timedelta(seconds=30))
    swept = await _sweep(db, clock)
    row = (await _rows(db, issue.id))["claim#1"]
    assert swept.cards == [(row.id, Colour.GREEN)]
    assert row.cards == "green" and row.card_due_at is None and row.next_reminder_at is None
    assert swept.messages == 0  # a green is recorded and scored, not announced
    async with db.sessions() as session:
        entry = await session.scalar(select(PointsEntry))
        assert entry is not None
        assert (entry.colour, entry.points, entry.department_id) == ("green", 1.0, county.power.id)
        assert entry.reason.startswith("green: Q-2026-0001")
    assert (await _rows(db, issue.id))["close"].owner_id == county.electrician.id


async def test_a_missed_claim_limit_raises_one_yellow_and_tells_the_department(
    db: Database, clock: FrozenClock, county: County
) -> None:
    row = await _yellow_claim(db, clock, county)
    batches = await _batches(db)
    # No working chat for the power company: each of its officials hears in private.
    chats = {m.chat_id for m in batches}
    assert chats == {
        await _chat_of(db, county.electrician.telegram_id),
        await _chat_of(db, county.lineman.telegram_id),
    }
    assert all(_kinds(m) == ["yellow"] for m in batches)
    assert batches[0].buttons == [
        [{"key": "recommit", "params": {"label": row.label[:24]}, "data": f"v1:rc:{row.id}"}]
    ]
    clock.advance(HOUR)
    again = await _sweep(db, clock)
    assert again.cards == []
    assert await _cards(db) == [(row.id, "yellow")]
    async with db.sessions() as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.action == "card_raised")
            )
        )
        card = await session.scalar(select(Card))
        assert card is not None and len(card.notices) == 2
    assert actions == ["card_raised"]


async def test_two_sweeps_at_once_raise_each_card_once(
    db: Database, clock: FrozenClock, county: County
) -> None:
    for text in ("厂区经常停电", "用电报装太慢", "停电没有通知"):
        await _report(db, clock, county, text)
    clock.advance(9 * HOUR)
    first, second = await asyncio.gather(_sweep(db, clock), _sweep(db, clock))
    assert len(first.cards) + len(second.cards) == 3
    assert len(await _cards(db)) == 3
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(PointsEntry)) == 3


async def test_a_card_another_sweep_recorded_is_not_raised_again(
    db: Database, clock: FrozenClock, county: County
) -> None:
    issue = await _report(db, clock, county, "厂区经常停电")
    clock.advance(9 * HOUR)
    row = (await _rows(db, issue.id))["claim#1"]
    async with db.sessions() as session, session.begin():
        # As if a sweep in another process committed the card and this one read the row before.
        session.add(Card(deadline_id=row.id, colour="yellow", raised_at=clock.now(), notices=[]))
    swept = await _sweep(db, clock)
    assert swept.cards == []
    assert (await _rows(db, issue.id))["claim#1"].cards == "yellow"
    assert await _cards(db) == [(row.id, "yellow")]


async def test_an_official_with_many_items_due_gets_one_message(
    db: Database, clock: FrozenClock, county: County
) -> None:
    for text in ("厂区经常停电", "用电报装太慢", "停电没有通知"):
        await _report(db, clock, county, text)
    clock.advance(6 * HOUR + 5 * timedelta(minutes=1))
    swept = await _sweep(db, clock)
    assert swept.reminders == 3
    electrician = await _chat_of(db, county.electrician.telegram_id)
    mine = [m for m in await _batches(db) if m.chat_id == electrician]
    assert len(mine) == 1
    assert _kinds(mine[0]) == ["before_due"] * 3
    assert {item["deadline"] for item in mine[0].params["items"]} == {"claim#1"}


async def test_reminders_are_held_through_quiet_hours(
    db: Database, clock: FrozenClock, county: County
) -> None:
    # The close limit is 5 days on at 09:00; its 24-hour reminder falls at 09:00, inside quiet
    # hours that run to 10:00, so it waits until 10:00.
    async with db.sessions() as session, session.begin():
        session.add(
            ServicePolicy(
                category=None,
                priority="normal",
                close_working_days=5,
                confirm_days=3,
                quiet_hours="08:00-10:00",
                created_at=clock.now(),
            )
        )
    issue = await _report(db, clock, county, "厂区经常停电")
    await _claim(db, clock, county, issue)
    reminder = (await _rows(db, issue.id))["close"].next_reminder_at
    assert reminder == issue.close_due_at - 24 * HOUR  # type: ignore[operator]
    clock.advance(reminder - clock.now())
    swept = await _sweep(db, clock)
    assert (swept.reminders, swept.held) == (0, 1)
    held = (await _rows(db, issue.id))["close"].next_reminder_at
    assert held is not None and held.astimezone(ZONE).strftime("%H:%M") == "10:00"
    clock.advance(held - clock.now())
    assert (await _sweep(db, clock)).reminders == 1
    assert (await _rows(db, issue.id))["close"].next_reminder_at == issue.close_due_at - 2 * HOUR  # type: ignore[operator]


@pytest.mark.parametrize(("urgent", "reminded"), [(True, 1), (False, 0)])
async def test_only_urgent_items_are_reminded_at_night(
    db: Database, clock: FrozenClock, county: County, urgent: bool, reminded: int
) -> None:
    issue = await _report(db, clock, county, "厂区经常停电")
    await _claim(db, clock, county, issue)
    async with db.sessions() as session, session.begin():
        row = await deadlines.find(session, "issue", issue.id, "close")
        assert row is not None
        row.urgent = urgent
        row.next_reminder_at = clock.now() + 13 * HOUR  # 22:00 in the county
    clock.advance(13 * HOUR)
    assert (await _sweep(db, clock)).reminders == reminded


# --- yellow → re-commit → approve → red --------------------------------------------------------


async def test_the_whole_path_from_yellow_to_red(
    db: Database, clock: FrozenClock, county: County
) -> None:
    row = await _yellow_claim(db, clock, county)
    new_due = clock.now() + 48 * HOUR
    assert (await _propose(db, clock, county, row, new_due)).ok
    pending = (await _rows(db, row.subject_id))["claim#1"]
    assert (pending.recommit_status, pending.recommit_due_at) == ("pending", new_due)
    async with db.sessions() as session:
        request = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.template == "recommit_request")
        )
    assert request is not None
    assert request.chat_id == await _chat_of(db, county.leader.telegram_id)
    assert request.buttons == [deadlines.approval_buttons(pending)]

    # Until the leader decides, the item stays yellow and the leader is reminded daily.
    clock.advance(25 * HOUR)
    swept = await _sweep(db, clock)
    assert swept.cards == []
    reminded = (await _batches(db))[-1]
    assert reminded.chat_id == await _chat_of(db, county.leader.telegram_id)
    assert _kinds(reminded) == ["approval_needed"]

    assert (await _decide(db, clock, county, row, approve=True)).ok
    approved = (await _rows(db, row.subject_id))["claim#1"]
    assert approved.recommit_status == "approved" and approved.card_due_at == new_due

    clock.advance(new_due + timedelta(seconds=1) - clock.now())
    swept = await _sweep(db, clock)
    assert swept.cards == [(row.id, Colour.RED)]
    red = (await _rows(db, row.subject_id))["claim#1"]
    assert red.cards == "yellow,red" and red.supervised_at == clock.now()
    last = [m for m in await _batches(db) if "red" in _kinds(m) or "red_leader" in _kinds(m)]
    heard = {m.chat_id: _kinds(m) for m in last}
    assert heard == {
        await _chat_of(db, county.electrician.telegram_id): ["red"],
        await _chat_of(db, county.lineman.telegram_id): ["red"],
        await _chat_of(db, county.head.telegram_id): ["red"],
        await _chat_of(db, county.leader.telegram_id): ["red_leader"],
    }
    async with db.sessions() as session:
        points = list(await session.scalars(select(PointsEntry.points).order_by(PointsEntry.id)))
        listed = await deadlines.supervision_list(session)
    assert points == [0.0, -1.0]
    assert [item.id for item in listed] == [row.id]
    assert (await _sweep(db, clock)).cards == []


async def test_a_re_commitment_kept_earns_no_red(
    db: Database, clock: FrozenClock, county: County
) -> None:
    row = await _yellow_claim(db, clock, county)
    new_due = clock.now() + 48 * HOUR
    await _propose(db, clock, county, row, new_due)
    await _decide(db, clock, county, row, approve=True)
    async with db.sessions() as session, session.begin():
        issue = await session.get(Issue, row.subject_id)
        assert issue is not None
    await _claim(db, clock, county, issue)
    clock.advance(new_due + 24 * HOUR - clock.now())
    assert (await _sweep(db, clock)).cards == []
    assert (await _rows(db, row.subject_id))["claim#1"].cards == "yellow"


async def test_a_rejected_re_commitment_asks_for_another(
    db: Database, clock: FrozenClock, county: County
) -> None:
    row = await _yellow_claim(db, clock, county)
    await _propose(db, clock, county, row, clock.now() + 48 * HOUR)
    assert (await _decide(db, clock, county, row, approve=False)).ok
    rejected = (await _rows(db, row.subject_id))["claim#1"]
    assert (rejected.recommit_status, rejected.recommit_due_at) == (None, None)
    assert rejected.card_due_at is None
    async with db.sessions() as session:
        told = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.template == "recommit_decided")
        )
    assert told is not None and told.params["approved"] is False
    assert told.chat_id == await _chat_of(db, county.electrician.telegram_id)
    # A second decision on the same proposal changes nothing.
    assert (await _decide(db, clock, county, row, approve=True)).refused is Refusal.MOVED_ON
    assert (await _propose(db, clock, county, row, clock.now() + 24 * HOUR)).ok


@pytest.mark.parametrize(
    ("new_due", "refused"),
    [
        (None, Refusal.BAD_DATE),
        (-HOUR, Refusal.NOT_IN_FUTURE),
        (timedelta(days=120), Refusal.TOO_FAR),
    ],
)
async def test_a_re_commitment_needs_a_real_future_date(
    db: Database,
    clock: FrozenClock,
    county: County,
    new_due: timedelta | None,
    refused: Refusal,
) -> None:
    row = await _yellow_claim(db, clock, county)
    when = clock.now() + new_due if new_due is not None else None
    assert (await _propose(db, clock, county, row, when)).refused is refused


async def test_only_the_responsible_side_re_commits_and_only_a_leader_decides(
    db: Database, clock: FrozenClock, county: County
) -> None:
    row = await _yellow_claim(db, clock, county)
    async with db.sessions() as session, session.begin():
        recruiter = await county.contact(session, county.recruiter)
        outcome = await deadlines.propose_recommit(
            session, clock.now(), ZONE, "zh_CN", recruiter, row.id, "x", clock.now() + HOUR
        )
    assert outcome.refused is Refusal.NOT_ALLOWED
    await _propose(db, clock, county, row, clock.now() + 48 * HOUR)
    async with db.sessions() as session, session.begin():
        for person in (county.electrician, county.coordinator, county.head):
            who = await county.contact(session, person)
            decided = await deadlines.decide_recommit(
                session, clock.now(), ZONE, "zh_CN", who, row.id, True
            )
            assert decided.refused is Refusal.NOT_ALLOWED, person.full_name
    assert (await _rows(db, row.subject_id))["claim#1"].recommit_status == "pending"


async def test_re_committing_a_deadline_that_is_not_yellow_is_refused(
    db: Database, clock: FrozenClock, county: County
) -> None:
    issue = await _report(db, clock, county, "厂区经常停电")
    row = (await _rows(db, issue.id))["claim#1"]
    outcome = await _propose(db, clock, county, row, clock.now() + 48 * HOUR)
    assert outcome.refused is Refusal.MOVED_ON


# --- hand-overs, the close limit, stages ------------------------------------------------------


async def test_a_transfer_before_the_claim_starts_a_new_claim_limit(
    db: Database, clock: FrozenClock, county: County
) -> None:
    issue = await _report(db, clock, county, "厂区经常停电")
    clock.advance(HOUR)
    async with db.sessions() as session, session.begin():
        who = await county.contact(session, county.electrician)
        hr = await issues.department_by_name(session, "人社局")
        outcome = await issues.transfer_issue(
            session, clock.now(), DESK, who, issue.id, hr, "是用工问题"
        )
        assert outcome.ok
    rows = await _rows(db, issue.id)
    assert rows["claim#1"].cancelled_at == clock.now() and rows["claim#1"].card_due_at is None
    assert rows["claim#2"].department_id == county.hr.id
    assert rows["claim#2"].due_at == clock.now() + 8 * HOUR
    assert rows["close"].department_id == county.hr.id
    assert rows["close"].due_at == issue.close_due_at  # a transfer does not extend it
    clock.advance(9 * HOUR)
    await _sweep(db, clock)
    assert [(d, c) for d, c in await _cards(db)] == [(rows["claim#2"].id, "yellow")]


async def test_the_close_limit_is_judged_by_the_answer_not_the_confirmation(
    db: Database, clock: FrozenClock, county: County
) -> None:
    issue = await _report(db, clock, county, "厂区经常停电")
    await _claim(db, clock, county, issue)
    clock.advance(4 * 24 * HOUR)
    async with db.sessions() as session, session.begin():
        who = await county.contact(session, county.electrician)
        assert (await issues.answer_issue(session, clock.now(), DESK, who, issue.id, "已抢修")).ok
    clock.advance(2 * 24 * HOUR)  # past the close limit, but answered within it
    async with db.sessions() as session, session.begin():
        owner = await county.contact(session, county.owner)
        assert (await issues.confirm_issue(session, clock.now(), DESK, owner, issue.id, True)).ok
    clock.advance(timedelta(seconds=1))
    await _sweep(db, clock)
    close = (await _rows(db, issue.id))["close"]
    assert close.cards == "green" and close.owner_id == county.electrician.id


async def test_stage_limits_are_tracked_one_after_another(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        session.add(
            ServicePolicy(
                category="utilities",
                priority="normal",
                close_working_days=5,
                confirm_days=3,
                stage_limits=[["分类", 1], ["派单", 1], ["到场", 2], ["办结", 4]],
                created_at=clock.now(),
            )
        )
    issue = await _report(db, clock, county, "厂区经常停电")
    rows = await _rows(db, issue.id)
    start = issue.created_at
    dues = {kind: rows[kind].due_at - start for kind in rows if kind.startswith("stage:")}
    assert dues == {
        "stage:分类": HOUR,
        "stage:派单": 2 * HOUR,
        "stage:到场": 4 * HOUR,
        "stage:办结": 8 * HOUR,
    }
    await _claim(db, clock, county, issue)
    async with db.sessions() as session, session.begin():
        who = await county.contact(session, county.electrician)
        done = await issues.finish_stage(session, clock.now(), DESK, who, issue.id, "到场")
        assert done.ok
        unknown = await issues.finish_stage(session, clock.now(), DESK, who, issue.id, "喝茶")
        assert unknown.refused is issues.Refusal.UNKNOWN_STAGE
        stranger = await county.contact(session, county.recruiter)
        denied = await issues.finish_stage(session, clock.now(), DESK, stranger, issue.id, "分类")
        assert denied.refused is issues.Refusal.NOT_ALLOWED
    clock.advance(5 * HOUR)
    await _sweep(db, clock)
    rows = await _rows(db, issue.id)
    assert rows["stage:到场"].cards == "green"
    assert rows["stage:分类"].cards == rows["stage:派单"].cards == "yellow"
    assert rows["stage:办结"].cards == ""


# --- points: weights and rules per category ---------------------------------------------------


async def test_points_follow_the_category_rule_and_the_weights(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        session.add(
            PointsRule(category="utilities", green=2, yellow=-0.5, red=-3, created_at=clock.now())
        )
        session.add(
            ScoreWeight(scope="category", key="utilities", weight=1.5, created_at=clock.now())
        )
        session.add(ScoreWeight(scope="unit_kind", key="国企", weight=2, created_at=clock.now()))
        power = await session.get(type(county.power), county.power.id)
        assert power is not None
        power.kind = "国企"
    await _yellow_claim(db, clock, county)
    async with db.sessions() as session:
        points = await session.scalar(select(PointsEntry.points))
    assert points == -0.5 * 1.5 * 2


async def test_the_ledger_is_append_only(db: Database, clock: FrozenClock, county: County) -> None:
    await _yellow_claim(db, clock, county)
    with pytest.raises(Exception, match="append-only"):
        async with db.sessions() as session, session.begin():
            entry = await session.scalar(select(PointsEntry))
            assert entry is not None
            entry.points = 5.0


async def test_the_sweep_job_works_through_more_than_one_batch(
    db: Database, clock: FrozenClock, county: County
) -> None:
    for n in range(5):
        await _report(db, clock, county, f"停电第{n}次")
    clock.advance(9 * HOUR)
    totals = await sweep_deadlines(db.sessions, clock, DESK, batch=2)
    assert totals.cards == 5 and totals.passes >= 3
    assert len(await _cards(db)) == 5
