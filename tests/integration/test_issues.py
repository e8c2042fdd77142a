"""The direct line's use cases on a real database: report → route → claim → answer → close."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.clock import FrozenClock
from models.services import issues
from models.services.dialogues import open_dialogue
from models.services.issues import Attachment, Outcome, Refusal, Report
from models.tables import AuditEntry, Chat, Issue, IssueAttachment, IssueCard, OutboxMessage
from models.texts import render
from tests.conftest import Database
from tests.integration.county import DESK, County, build_county


@pytest.fixture
async def county(db: Database, clock: FrozenClock) -> County:
    async with db.sessions() as session, session.begin():
        return await build_county(session, clock.now())


async def _report(
    db: Database, clock: FrozenClock, county: County, text: str, **kwargs: Any
) -> Outcome:
    async with db.sessions() as session, session.begin():
        who = await county.in_group(session, county.owner)
        report = Report(text=text, chat=who.chat, reporter=who, message_id=500, **kwargs)
        return await issues.report_issue(session, clock.now(), DESK, report)


async def _outbox(db: Database, template: str | None = None) -> list[OutboxMessage]:
    async with db.sessions() as session:
        statement = select(OutboxMessage).order_by(OutboxMessage.id)
        if template:
            statement = statement.where(OutboxMessage.template == template)
        return list(await session.scalars(statement))


async def _issue(db: Database, issue_id: int) -> Issue:
    async with db.sessions() as session:
        issue = await session.get(Issue, issue_id)
        assert issue is not None
        return issue


async def _actions(db: Database, issue_id: int) -> list[str]:
    async with db.sessions() as session:
        return list(
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.subject_type == "issue", AuditEntry.subject_id == issue_id)
                .order_by(AuditEntry.id)
            )
        )


async def _claimed(db: Database, clock: FrozenClock, county: County) -> Issue:
    filed = await _report(db, clock, county, "厂区经常停电，影响生产")
    assert filed.issue is not None
    async with db.sessions() as session, session.begin():
        who = await county.contact(session, county.electrician)
        outcome = await issues.claim_issue(session, clock.now(), DESK, who, filed.issue.id)
        assert outcome.ok
    return await _issue(db, filed.issue.id)


async def _answered(db: Database, clock: FrozenClock, county: County) -> Issue:
    issue = await _claimed(db, clock, county)
    async with db.sessions() as session, session.begin():
        who = await county.contact(session, county.electrician)
        outcome = await issues.answer_issue(
            session, clock.now(), DESK, who, issue.id, "已安排抢修并更换变压器"
        )
        assert outcome.ok, outcome
    return await _issue(db, issue.id)


async def test_a_group_report_is_numbered_routed_and_carded(
    db: Database, clock: FrozenClock, county: County
) -> None:
    outcome = await _report(
        db,
        clock,
        county,
        "我们厂区经常停电，影响生产",
        attachments=[Attachment("photo", "F1", "U1")],
    )
    issue = outcome.issue
    assert issue is not None
    assert (issue.number, issue.status, issue.category) == ("Q-2026-0001", "routed", "utilities")
    assert issue.department_id == county.power.id
    assert issue.assist_department_ids == [county.hr.id]
    assert issue.routing_reason == "停电 → 供电公司"
    assert issue.verified and not issue.is_private
    assert issue.claim_due_at == clock.now() + timedelta(hours=8)
    assert issue.close_due_at == clock.now() + timedelta(days=5)

    cards = await _outbox(db, "issue_card")
    chats = {row.chat_id: row for row in cards}
    group_card = chats[county.group.id]
    assert group_card.reply_to_message_id == 500 and group_card.buttons is None
    for official in (county.electrician, county.lineman):
        department_card = chats[county.chats[official.telegram_id].id]
        assert department_card.buttons == [
            [
                {"key": "claim", "data": f"v1:claim:{issue.id}"},
                {"key": "transfer", "data": f"v1:transfer:{issue.id}"},
            ]
        ]
    assert group_card.params["routing_reason"] == "停电 → 供电公司"
    assistants = await _outbox(db, "issue_assist_notice")
    assert [row.chat_id for row in assistants] == [county.hr_chat.id]
    liaison = await _outbox(db, "issue_liaison_notice")
    assert [row.chat_id for row in liaison] == [county.chats[county.recruiter.telegram_id].id]
    assert await _actions(db, issue.id) == ["issue_reported", "attachments_added", "issue_routed"]
    async with db.sessions() as session:
        files = list(await session.scalars(select(IssueAttachment.file_id)))
        assert files == ["F1"]

    second = await _report(db, clock, county, "招工难，需要对接劳务市场")
    assert second.issue is not None and second.issue.number == "Q-2026-0002"
    hr_cards = [c for c in await _outbox(db, "issue_card") if c.chat_id == county.hr_chat.id]
    assert len(hr_cards) == 1  # the department's working chat, not each official


async def test_what_no_rule_places_goes_to_triage_and_the_coordinator_assigns_it(
    db: Database, clock: FrozenClock, county: County
) -> None:
    outcome = await _report(db, clock, county, "想咨询出口退税的办理流程")
    issue = outcome.issue
    assert issue is not None and issue.status == "new" and issue.department_id is None
    triage = await _outbox(db, "issue_card")
    coordinator_chat = county.chats[county.coordinator.telegram_id].id
    triage_card = next(c for c in triage if c.chat_id == coordinator_chat)
    assign = [b["data"] for row in triage_card.buttons or [] for b in row]
    assert f"v1:assign:{issue.id}:{county.power.id}" in assign
    assert not any(data.endswith(f":{county.office.id}") for data in assign)

    async with db.sessions() as session, session.begin():
        official = await county.contact(session, county.electrician)
        refused = await issues.assign_issue(
            session, clock.now(), DESK, official, issue.id, county.hr.id
        )
        assert refused.refused is Refusal.NOT_ALLOWED
        coordinator = await county.contact(session, county.coordinator)
        done = await issues.assign_issue(
            session, clock.now(), DESK, coordinator, issue.id, county.hr.id
        )
        assert done.ok
        again = await issues.assign_issue(
            session, clock.now(), DESK, coordinator, issue.id, county.power.id
        )
        assert again.refused is Refusal.MOVED_ON
    assigned = await _issue(db, issue.id)
    assert (assigned.status, assigned.department_id) == ("routed", county.hr.id)
    edits = [c for c in await _outbox(db, "issue_card") if c.edit_of_id == triage_card.id]
    assert len(edits) == 1 and edits[0].buttons is None


async def test_two_officials_pressing_claim_at_once_exactly_one_wins(
    db: Database, clock: FrozenClock, county: County
) -> None:
    filed = await _report(db, clock, county, "停电")
    assert filed.issue is not None
    issue_id = filed.issue.id

    async def press(person_attr: str) -> Outcome:
        async with db.sessions() as session, session.begin():
            who = await county.contact(session, getattr(county, person_attr))
            return await issues.claim_issue(session, clock.now(), DESK, who, issue_id)

    results = await asyncio.gather(press("electrician"), press("lineman"))
    assert sorted(r.ok for r in results) == [False, True]
    loser = next(r for r in results if not r.ok)
    assert loser.refused is Refusal.MOVED_ON
    issue = await _issue(db, issue_id)
    winner = county.electrician if results[0].ok else county.lineman
    assert (issue.status, issue.claimed_by_id) == ("claimed", winner.id)
    assert (await _actions(db, issue_id)).count("issue_claimed") == 1
    notices = await _outbox(db, "issue_claimed_notice")
    assert [n.chat_id for n in notices] == [county.chats[county.owner.telegram_id].id]


async def test_a_claim_in_the_transaction_that_filed_the_issue_edits_its_cards(
    db: Database, clock: FrozenClock, county: County
) -> None:
    # Updates handled together share a transaction (bot/group_commit.py); the cards a report
    # posts are written at its commit, and a claim before it must still find them.
    async with db.sessions() as session, session.begin():
        who = await county.in_group(session, county.owner)
        report = Report(text="厂区经常停电，影响生产", chat=who.chat, reporter=who, message_id=500)
        filed = await issues.report_issue(session, clock.now(), DESK, report)
        assert filed.issue is not None
        official = await county.contact(session, county.electrician)
        assert (await issues.claim_issue(session, clock.now(), DESK, official, filed.issue.id)).ok
    cards = await _outbox(db, "issue_card")
    posted = [card.id for card in cards if card.edit_of_id is None]
    edited = [card.edit_of_id for card in cards if card.edit_of_id is not None]
    assert len(posted) == 3  # in the group, and in the lead department's two chats
    assert sorted(edited) == posted


async def test_reports_sharing_a_transaction_are_numbered_in_turn_and_the_count_goes_on(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async def numbered(session: AsyncSession, count: int) -> list[int]:
        who = await county.in_group(session, county.owner)
        taken = []
        for k in range(count):
            report = Report(text=f"第{k}次停电", chat=who.chat, reporter=who, message_id=600 + k)
            filed = await issues.report_issue(session, clock.now(), DESK, report)
            assert filed.issue is not None
            taken.append(int(filed.issue.number.rsplit("-", 1)[1]))
        return taken

    async with db.sessions() as session, session.begin():
        assert await numbered(session, 3) == [1, 2, 3]
    async with db.sessions() as session:
        assert await numbered(session, 2) == [4, 5]
        await session.rollback()
    async with db.sessions() as session, session.begin():
        assert await numbered(session, 2) == [4, 5]  # a rolled back transaction took nothing
    filed = await _report(db, clock, county, "又停电了")
    assert filed.issue is not None
    assert filed.issue.number.endswith("-0006")


async def test_only_the_lead_departments_officials_may_claim(
    db: Database, clock: FrozenClock, county: County
) -> None:
    filed = await _report(db, clock, county, "停电")
    assert filed.issue is not None
    async with db.sessions() as session, session.begin():
        for person in (county.recruiter, county.owner, county.stranger):
            who = await county.contact(session, person)
            outcome = await issues.claim_issue(session, clock.now(), DESK, who, filed.issue.id)
            assert outcome.refused is Refusal.NOT_ALLOWED
        who = await county.contact(session, county.electrician)
        unknown = await issues.claim_issue(session, clock.now(), DESK, who, 424242)
        assert unknown.refused is Refusal.UNKNOWN_ISSUE
    assert (await _issue(db, filed.issue.id)).status == "routed"


async def test_a_transfer_needs_a_reason_keeps_the_close_by_time_and_is_tracked(
    db: Database, clock: FrozenClock, county: County
) -> None:
    issue = await _claimed(db, clock, county)
    clock.advance(timedelta(hours=3))
    async with db.sessions() as session, session.begin():
        who = await county.contact(session, county.electrician)
        no_reason = await issues.transfer_issue(
            session, clock.now(), DESK, who, issue.id, county.hr, "  "
        )
        assert no_reason.refused is Refusal.NO_REASON
        same = await issues.transfer_issue(
            session, clock.now(), DESK, who, issue.id, county.power, "x"
        )
        assert same.refused is Refusal.SAME_DEPARTMENT
        done = await issues.transfer_issue(
            session, clock.now(), DESK, who, issue.id, county.hr, "属于用工问题"
        )
        assert done.ok
    moved = await _issue(db, issue.id)
    assert (moved.status, moved.department_id, moved.claimed_by_id) == (
        "routed",
        county.hr.id,
        None,
    )
    assert moved.close_due_at == issue.close_due_at
    assert moved.claim_due_at == clock.now() + timedelta(hours=8)
    async with db.sessions() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "issue_transferred")
        )
        assert entry is not None
        assert entry.detail == {"source": "供电公司", "to": "人社局", "reason": "属于用工问题"}
    notices = await _outbox(db, "issue_routed_notice")
    assert [(n.chat_id, n.params["reason"]) for n in notices] == [
        (county.hr_chat.id, "属于用工问题")
    ]


async def test_an_answer_asks_the_firm_and_solved_closes_it_with_a_rating(
    db: Database, clock: FrozenClock, county: County
) -> None:
    issue = await _answered(db, clock, county)
    assert issue.status == "answered"
    assert issue.confirm_due_at == clock.now() + timedelta(days=3)
    prompt = (await _outbox(db, "issue_answer_notice"))[0]
    owner_chat = county.chats[county.owner.telegram_id].id
    assert prompt.chat_id == owner_chat
    assert prompt.buttons == [
        [
            {"key": "solved", "data": f"v1:confirm:{issue.id}:yes"},
            {"key": "not_solved", "data": f"v1:confirm:{issue.id}:no"},
        ],
        [{"key": "name_consent", "data": f"v1:consent:{issue.id}"}],
    ]
    async with db.sessions() as session, session.begin():
        stranger = await county.contact(session, county.stranger)
        refused = await issues.confirm_issue(session, clock.now(), DESK, stranger, issue.id, True)
        assert refused.refused is Refusal.NOT_ALLOWED
        owner = await county.contact(session, county.owner)
        assert (await issues.confirm_issue(session, clock.now(), DESK, owner, issue.id, True)).ok
        twice = await issues.confirm_issue(session, clock.now(), DESK, owner, issue.id, True)
        assert twice.refused is Refusal.MOVED_ON
        assert (await issues.rate_issue(session, clock.now(), owner, issue.id, 6)).refused
        assert (await issues.rate_issue(session, clock.now(), owner, issue.id, 4)).ok
    closed = await _issue(db, issue.id)
    assert (closed.status, closed.close_kind, closed.rating) == ("closed", "confirmed", 4)
    rate = (await _outbox(db, "issue_rate_prompt"))[0]
    assert [b["data"] for b in (rate.buttons or [[]])[0]] == [
        f"v1:rate:{issue.id}:{n}" for n in range(1, 6)
    ]
    last_card = (await _outbox(db, "issue_card"))[-1]
    assert last_card.params["status"] == "closed" and last_card.edit_of_id is not None


async def test_not_solved_asks_why_and_reopens_to_the_same_department(
    db: Database, clock: FrozenClock, county: County
) -> None:
    issue = await _answered(db, clock, county)
    async with db.sessions() as session, session.begin():
        owner = await county.contact(session, county.owner)
        asked = await issues.confirm_issue(session, clock.now(), DESK, owner, issue.id, False)
        assert asked.ok and asked.detail == {"asked": "reopen_reason"}
    async with db.sessions() as session, session.begin():
        owner = await county.contact(session, county.owner)
        dialogue = await open_dialogue(session, clock.now(), owner)
        assert dialogue is not None and dialogue.kind == "reopen_reason"
        done = await issues.answer_dialogue(
            session, clock.now(), DESK, owner, dialogue, "变压器换了还是跳闸"
        )
        assert done.ok
    reopened = await _issue(db, issue.id)
    assert (reopened.status, reopened.department_id, reopened.reopen_count) == (
        "reopened",
        county.power.id,
        1,
    )
    assert reopened.feedback == "变压器换了还是跳闸"
    notices = await _outbox(db, "issue_reopened_notice")
    assert {n.params["reason"] for n in notices} == {"变压器换了还是跳闸"}
    async with db.sessions() as session, session.begin():
        owner = await county.contact(session, county.owner)
        assert await open_dialogue(session, clock.now(), owner) is None
        official = await county.contact(session, county.electrician)
        again = await issues.answer_issue(session, clock.now(), DESK, official, issue.id, "已根治")
        assert again.ok


async def test_no_reaction_in_time_closes_as_unconfirmed(
    db: Database, clock: FrozenClock, county: County
) -> None:
    issue = await _answered(db, clock, county)
    async with db.sessions() as session, session.begin():
        assert await issues.close_unconfirmed(session, clock.now(), DESK) == []
    clock.advance(timedelta(days=3))
    async with db.sessions() as session, session.begin():
        closed = await issues.close_unconfirmed(session, clock.now(), DESK)
        assert [i.id for i in closed] == [issue.id]
    final = await _issue(db, issue.id)
    assert (final.status, final.close_kind) == ("closed", "unconfirmed")
    assert (await _actions(db, issue.id))[-1] == "issue_closed"


async def test_a_private_report_never_appears_in_a_group(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        who = await county.contact(session, county.owner)
        report = Report(text="停电问题不便公开", chat=who.chat, reporter=who, source="private")
        outcome = await issues.report_issue(session, clock.now(), DESK, report)
    assert outcome.issue is not None and outcome.issue.is_private
    group_chats = {county.group.id}
    assert not [row for row in await _outbox(db) if row.chat_id in group_chats]


async def test_bad_reports_get_reasons_and_file_nothing(
    db: Database, clock: FrozenClock, county: County
) -> None:
    assert (await _report(db, clock, county, "   ")).refused is Refusal.EMPTY
    too_long = await _report(db, clock, county, "停" * (issues.MAX_REPORT_LENGTH + 1))
    assert too_long.refused is Refusal.TOO_LONG
    assert too_long.detail["limit"] == issues.MAX_REPORT_LENGTH
    async with db.sessions() as session, session.begin():
        unbound = Chat(telegram_id=-777, kind="group", created_at=clock.now())
        session.add(unbound)
        await session.flush()
        who = await county.contact(session, county.owner)
        outcome = await issues.report_issue(
            session, clock.now(), DESK, Report("停电", unbound, who)
        )
        assert outcome.refused is Refusal.UNBOUND_CHAT
    async with db.sessions() as session:
        assert await session.scalar(select(Issue.id)) is None


async def test_an_unknown_member_can_report_but_is_unverified(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        who = await county.in_group(session, county.stranger)
        outcome = await issues.report_issue(
            session, clock.now(), DESK, Report("停电了", who.chat, who)
        )
    assert outcome.issue is not None and not outcome.issue.verified
    assert outcome.issue.firm_id is None


async def test_a_similar_answered_issue_is_shown_first_and_the_firm_decides(
    db: Database, clock: FrozenClock, county: County
) -> None:
    answered = await _answered(db, clock, county)

    async def finder(session: AsyncSession, text: str, industry: str | None) -> int | None:
        return answered.id if "停电" in text else None

    async with db.sessions() as session, session.begin():
        who = await county.in_group(session, county.owner)
        report = Report("又停电了怎么办", who.chat, who, message_id=600)
        held = await issues.report_issue(session, clock.now(), DESK, report, finder)
    assert held.draft is not None and held.issue is None
    shown = (await _outbox(db, "issue_similar"))[0]
    assert shown.params["answer"] == "已安排抢修并更换变压器"
    draft_id = held.draft.id
    async with db.sessions() as session, session.begin():
        stranger = await county.in_group(session, county.stranger)
        forged = await issues.resolve_draft(session, clock.now(), DESK, stranger, draft_id, False)
        assert forged.refused is Refusal.NOT_ALLOWED
        who = await county.in_group(session, county.owner)
        filed = await issues.resolve_draft(session, clock.now(), DESK, who, draft_id, False, finder)
        assert filed.issue is not None and filed.issue.number == "Q-2026-0002"
        stale = await issues.resolve_draft(session, clock.now(), DESK, who, draft_id, True)
        assert stale.refused is Refusal.MOVED_ON


async def test_an_official_files_on_a_firms_behalf(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        official = await county.contact(session, county.recruiter)
        report = Report(
            "早餐会上反映招工难",
            official.chat,
            None,
            source="breakfast",
            firm=county.firm,
            filed_by=official,
        )
        outcome = await issues.report_issue(session, clock.now(), DESK, report)
        owner = await county.contact(session, county.owner)
        refused = await issues.report_issue(
            session,
            clock.now(),
            DESK,
            Report("x", owner.chat, None, source="visit", firm=county.firm, filed_by=owner),
        )
        assert refused.refused is Refusal.NOT_ALLOWED
    issue = outcome.issue
    assert issue is not None
    assert (issue.source, issue.firm_id, issue.filed_by_id, issue.verified) == (
        "breakfast",
        county.firm.id,
        county.recruiter.id,
        True,
    )
    assert issue.department_id == county.hr.id


async def test_details_from_the_firm_reach_the_department_and_strangers_are_refused(
    db: Database, clock: FrozenClock, county: County
) -> None:
    issue = await _claimed(db, clock, county)
    async with db.sessions() as session, session.begin():
        row = await session.get(Issue, issue.id)
        assert row is not None
        stranger = await county.in_group(session, county.stranger)
        refused = await issues.add_detail(session, clock.now(), DESK, stranger, row, "我也停电")
        assert refused.refused is Refusal.NOT_ALLOWED
        owner = await county.in_group(session, county.owner)
        done = await issues.add_detail(
            session,
            clock.now(),
            DESK,
            owner,
            row,
            "补充：每天下午三点停电",
            [Attachment("document", "D1", None, "电表记录.pdf")],
        )
        assert done.ok
    notices = await _outbox(db, "issue_detail_notice")
    assert {n.params["text"] for n in notices} == {"补充：每天下午三点停电"}
    assert "detail_added" in await _actions(db, issue.id)


async def test_a_card_reply_finds_its_issue(
    db: Database, clock: FrozenClock, county: County
) -> None:
    issue = await _claimed(db, clock, county)
    async with db.sessions() as session, session.begin():
        card = await session.scalar(select(IssueCard).where(IssueCard.chat_id == county.group.id))
        assert card is not None
        row = await session.get(OutboxMessage, card.outbox_id)
        assert row is not None
        row.telegram_message_id = 9001
    async with db.sessions() as session:
        group = await session.get(Chat, county.group.id)
        assert group is not None
        found = await issues.issue_by_card(session, group, 9001)
        assert found is not None and found.id == issue.id
        by_report = await issues.issue_by_card(session, group, 500)
        assert by_report is not None and by_report.id == issue.id
        assert await issues.issue_by_card(session, group, 1) is None


async def test_call_backs_are_for_supervisors_and_history_shows_the_track(
    db: Database, clock: FrozenClock, county: County
) -> None:
    issue = await _answered(db, clock, county)
    async with db.sessions() as session, session.begin():
        owner = await county.contact(session, county.owner)
        refused = await issues.record_callback(session, clock.now(), owner, issue.id, "满意")
        assert refused.refused is Refusal.NOT_ALLOWED
        coordinator = await county.contact(session, county.coordinator)
        assert (
            await issues.record_callback(session, clock.now(), coordinator, issue.id, "满意")
        ).ok
    async with db.sessions() as session:
        row = await issues.issue_by_number(session, "q-2026-1")
        assert row is not None
        track = await issues.history(session, row)
        assert [entry.action for entry, _ in track] == [
            "issue_reported",
            "issue_routed",
            "issue_claimed",
            "issue_answered",
            "callback_recorded",
        ]
        assert [name for _, name in track][2] == "赵电力"
        # A public issue's track is for people with a role; a passer-by sees only the card.
        assert not issues.may_see(await county.contact(session, county.stranger), row)
        assert issues.may_see(await county.contact(session, county.recruiter), row)
        official_queue = await issues.queue(session, await county.contact(session, county.lineman))
        assert [i.number for i in official_queue] == ["Q-2026-0001"]


async def test_a_card_stays_one_message_however_long_the_report_and_answer(
    db: Database, clock: FrozenClock, county: County
) -> None:
    filed = await _report(db, clock, county, "停电" + "很" * (issues.MAX_REPORT_LENGTH - 2))
    assert filed.issue is not None
    async with db.sessions() as session, session.begin():
        who = await county.contact(session, county.electrician)
        await issues.claim_issue(session, clock.now(), DESK, who, filed.issue.id)
        long_answer = "答" * issues.MAX_REPORT_LENGTH
        await issues.answer_issue(session, clock.now(), DESK, who, filed.issue.id, long_answer)
        issue = await session.get(Issue, filed.issue.id)
        assert issue is not None
        params = await issues.card_params(session, DESK, issue)
    text = render("issue_card", "zh_CN", params)
    assert len(text) < 4096
    assert params["answer"].endswith("…")


async def test_details_on_an_issue_awaiting_triage_go_to_the_coordinator(
    db: Database, clock: FrozenClock, county: County
) -> None:
    outcome = await _report(db, clock, county, "想咨询出口退税流程")
    assert outcome.issue is not None and outcome.issue.department_id is None
    async with db.sessions() as session, session.begin():
        owner = await county.contact(session, county.owner)
        row = await session.get(Issue, outcome.issue.id)
        assert row is not None
        done = await issues.add_detail(session, clock.now(), DESK, owner, row, "补充：已有报关单")
        assert done.ok
    notices = await _outbox(db, "issue_detail_notice")
    coordinator = county.chats[county.coordinator.telegram_id].id
    assert [(m.chat_id, m.params["text"]) for m in notices] == [(coordinator, "补充：已有报关单")]
