"""The direct line through Telegram: a firm's problem in a group, to closure and broadcast."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select, update

from models.tables import Chat, Issue, IssueAttachment, IssueCard
from tests.e2e.conftest import Line, bound, report


async def test_the_whole_path_from_report_to_broadcast(line: Line) -> None:
    stack, control = line.stack, line.stack.control
    await stack.say(line.group, line.uid("owner"), "/help")  # groups are unbound by default...
    async with stack.db.sessions() as session, session.begin():
        await session.execute(
            update(Chat)
            .where(Chat.telegram_id == line.group)
            .values(purpose="industry", industry="医药")
        )  # ...this one is the pharma group
    card, cursor = await report(line)
    assert "Q-2026-0001" in card["text"] and "Lead: 供电公司" in card["text"]
    assert "Routed by: 停电 → 供电公司" in card["text"]

    electrician, lineman = line.uid("electrician"), line.uid("lineman")
    theirs = [await line.card_in(chat, cursor) for chat in (electrician, lineman)]
    claim = theirs[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    assert claim.startswith("v1:claim:")
    answers = await asyncio.gather(
        stack.press(electrician, theirs[0]["message_id"], claim, electrician),
        stack.press(lineman, theirs[1]["message_id"], claim, lineman),
    )
    assert sorted(a or "" for a in answers) == [
        "This has moved on (now: in hand); the action no longer applies.",
        "You claimed Q-2026-0001.",
    ]
    winner = electrician if answers[0] == "You claimed Q-2026-0001." else lineman
    winner_card = theirs[0] if winner == electrician else theirs[1]
    await stack.quiet()
    group_card = await line.latest(line.group, card["message_id"])
    assert "Claimed by:" in group_card["text"]

    cursor = await control.cursor()
    await control.send_text(
        winner, "已安排抢修并更换变压器", from_user_id=winner, reply_to=winner_card["message_id"]
    )
    ack = (await stack.replies(winner, cursor))[0]
    assert "awaits the firm's confirmation" in ack["text"]
    general = ack["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    assert "marked general" in (await stack.press(winner, ack["message_id"], general, winner) or "")

    owner = line.uid("owner")
    (notice,) = await stack.replies(owner, cursor)
    assert "已安排抢修并更换变压器" in notice["text"]
    solved = notice["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    cursor = await control.cursor()
    await stack.press(owner, notice["message_id"], solved, owner)
    (rate,) = await stack.replies(owner, cursor)
    four = rate["reply_markup"]["inline_keyboard"][0][3]["callback_data"]
    assert await stack.press(owner, rate["message_id"], four, owner) == "Thank you for rating!"
    await stack.quiet()

    broadcast = [m for m in await control.messages(line.group) if "更换变压器" in (m["text"] or "")]
    assert broadcast, "the general answer reaches the origin group"
    async with stack.db.sessions() as session:
        issue = await session.scalar(select(Issue))
        assert issue is not None
        assert (issue.status, issue.close_kind, issue.rating) == ("closed", "confirmed", 4)

    track = await stack.say(owner, owner, "/history Q-2026-0001")
    for step in ("reported", "claimed", "answered", "closed", "rated"):
        assert step in track["text"]
    faq = await stack.say(owner, owner, "/faq 停电")
    assert "Q-2026-0001" in faq["text"]


async def _claimed_and_answered(line: Line) -> tuple[int, dict[str, Any]]:
    stack = line.stack
    await bound(line)
    _, cursor = await report(line)
    electrician = line.uid("electrician")
    mine = await line.card_in(electrician, cursor)
    claim = mine["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    await stack.press(electrician, mine["message_id"], claim, electrician)
    await stack.say(electrician, electrician, "/answer Q-2026-0001 已派人检修")
    return electrician, await line.with_button(line.uid("owner"), "v1:confirm:")


async def test_not_solved_asks_why_and_sends_it_back(line: Line) -> None:
    stack = line.stack
    electrician, notice = await _claimed_and_answered(line)
    owner = line.uid("owner")
    not_solved = notice["reply_markup"]["inline_keyboard"][0][1]["callback_data"]
    cursor = await stack.control.cursor()
    await stack.press(owner, notice["message_id"], not_solved, owner)
    (question,) = await stack.replies(owner, cursor)
    assert "what is still not solved" in question["text"]
    cursor = await stack.control.cursor()
    done = await stack.say(owner, owner, "还是每天跳闸")
    assert done["text"] == "Q-2026-0001 went back to the department."
    reopened = [m for m in await stack.replies(electrician, cursor) if "not solved" in m["text"]]
    assert "还是每天跳闸" in reopened[0]["text"]


async def test_a_transfer_by_buttons_asks_for_the_reason(line: Line) -> None:
    stack, control = line.stack, line.stack.control
    await bound(line)
    _, cursor = await report(line)
    electrician = line.uid("electrician")
    mine = await line.card_in(electrician, cursor)
    transfer = mine["reply_markup"]["inline_keyboard"][0][1]["callback_data"]
    cursor = await control.cursor()
    await stack.press(electrician, mine["message_id"], transfer, electrician)
    (choose,) = await stack.replies(electrician, cursor)
    targets = {
        b["text"]: b["callback_data"]
        for row in choose["reply_markup"]["inline_keyboard"]
        for b in row
    }
    assert set(targets) == {"人社局"}
    cursor = await control.cursor()
    await stack.press(electrician, choose["message_id"], targets["人社局"], electrician)
    (ask,) = await stack.replies(electrician, cursor)
    assert "why transfer" in ask["text"]
    cursor = await control.cursor()
    done = await stack.say(electrician, electrician, "属于用工问题")
    assert done["text"] == "Q-2026-0001 was transferred."
    hr = await line.card_in(line.hr_chat, cursor)
    assert "Lead: 人社局" in hr["text"]


async def test_an_unplaced_problem_is_assigned_by_the_coordinator(line: Line) -> None:
    stack = line.stack
    await bound(line)
    _, cursor = await report(line, "#问题 想咨询出口退税流程")
    coordinator = line.uid("coordinator")
    triage = await line.card_in(coordinator, cursor)
    assert "awaiting the coordinator" in triage["text"]
    buttons = {
        b["text"]: b["callback_data"]
        for row in triage["reply_markup"]["inline_keyboard"]
        for b in row
    }
    stranger = line.uid("stranger")
    refused = await stack.press(coordinator, triage["message_id"], buttons["人社局"], stranger)
    assert refused == "You are not allowed to do that."
    done = await stack.press(coordinator, triage["message_id"], buttons["人社局"], coordinator)
    assert done == "Q-2026-0001 was assigned."
    await line.card_in(line.hr_chat, cursor)


async def test_bad_input_gets_clear_answers(line: Line) -> None:
    stack, control = line.stack, line.stack.control
    owner = line.uid("owner")
    elsewhere = await stack.group("闲聊群", [owner])
    unbound = await stack.say(elsewhere, owner, "#问题 停电")
    assert "not bound as an industry group" in unbound["text"]
    await bound(line)
    assert (await stack.say(line.group, owner, "/report"))["text"].startswith("Usage: /report")
    too_long = await stack.say(line.group, owner, "/report " + "停" * 2100)
    assert "too long" in too_long["text"]
    unknown = await stack.say(owner, owner, "/history Q-2026-9999")
    assert unknown["text"] == "There is no such issue: Q-2026-9999."
    garbage = await stack.say(owner, owner, "/history banana")
    assert garbage["text"] == "There is no such issue: banana."
    anonymous = await stack.say(line.group, owner, "#问题 停电", anonymous_admin=True)
    assert anonymous["text"].startswith("Please write as yourself")

    card, _ = await report(line)
    forged = await stack.press(line.group, card["message_id"], "v1:claim:99999", owner)
    assert forged == "There is no such issue."
    bogus = await stack.press(line.group, card["message_id"], "v1:claim:x; drop", owner)
    assert bogus == "This button is no longer valid."
    not_theirs = await stack.press(line.group, card["message_id"], "v1:claim:1", owner)
    assert not_theirs == "You are not allowed to do that."

    sent = await control.send_text(line.group, "#问题 用电报装", from_user_id=owner)
    await stack.quiet()
    cursor = await control.cursor()
    await control.edit_text(line.group, sent["message_id"], "#问题 用电报装（改）")
    (edited,) = await stack.replies(line.group, cursor)
    assert "filed as first written" in edited["text"]
    async with stack.db.sessions() as session:
        texts = list(await session.scalars(select(Issue.text).order_by(Issue.id)))
    assert texts == ["厂区经常停电，影响生产", "用电报装"]


async def test_photos_attach_to_reports_and_details_reach_the_department(line: Line) -> None:
    stack, control = line.stack, line.stack.control
    await bound(line)
    owner = line.uid("owner")
    cursor = await control.cursor()
    await control.send_photo(line.group, from_user_id=owner, caption="#问题 停电照片如图")
    card = await line.card_in(line.group, cursor)
    cursor = await control.cursor()
    await control.send_document(
        line.group,
        from_user_id=owner,
        name="电表.pdf",
        caption="补充电表记录",
        reply_to=card["message_id"],
    )
    thanks = await stack.replies(line.group, cursor)
    assert thanks[0]["text"] == "Your details went to the department."
    await stack.quiet()
    electrician = await control.messages(line.uid("electrician"))
    assert any("补充电表记录" in (m["text"] or "") for m in electrician)
    async with stack.db.sessions() as session:
        files = list(await session.execute(select(IssueAttachment.kind, IssueAttachment.stage)))
    assert sorted(tuple(f) for f in files) == [("document", "detail"), ("photo", "report")]


async def test_a_reply_to_the_bot_in_the_group_is_a_report(line: Line) -> None:
    control = line.stack.control
    owner = line.uid("owner")
    greeting = (await control.messages(line.group))[-1]
    assert greeting["is_bot"]
    cursor = await control.cursor()
    await control.send_text(
        line.group, "用电报装一直没人受理", from_user_id=owner, reply_to=greeting["message_id"]
    )
    card = await line.card_in(line.group, cursor)
    assert "Q-2026-0001" in card["text"] and "用电报装一直没人受理" in card["text"]


async def test_a_member_who_left_the_group_still_confirms_in_private(line: Line) -> None:
    stack, control = line.stack, line.stack.control
    owner = line.uid("owner")
    await bound(line)
    await report(line)
    await control.remove_member(line.group, owner)
    electrician = line.uid("electrician")
    await stack.say(electrician, electrician, "/claim Q-2026-0001")
    await stack.say(electrician, electrician, "/answer Q-2026-0001 已派人检修")
    notice = await line.with_button(owner, "v1:confirm:")
    solved = notice["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    answer = await stack.press(owner, notice["message_id"], solved, owner)
    assert answer == "Thank you: the issue is closed."
    async with stack.db.sessions() as session:
        issue = await session.scalar(select(Issue))
        assert issue is not None and issue.status == "closed"


async def test_a_photo_captioned_report_is_filed_with_the_photo(line: Line) -> None:
    stack, control = line.stack, line.stack.control
    await bound(line)
    cursor = await control.cursor()
    await control.send_photo(
        line.group, from_user_id=line.uid("owner"), caption="/report 变压器冒烟，照片如图"
    )
    card = await line.card_in(line.group, cursor)
    assert "变压器冒烟" in card["text"]
    async with stack.db.sessions() as session:
        issue = await session.scalar(select(Issue))
        assert issue is not None and issue.text == "变压器冒烟，照片如图"
        attached = list(await session.scalars(select(IssueAttachment)))
    assert [(a.issue_id, a.kind) for a in attached] == [(issue.id, "photo")]


async def test_reports_that_come_together_share_transactions_and_each_is_filed_once(
    line: Line,
) -> None:
    """Group commit through Telegram: a burst of reports, several to a transaction."""
    stack = line.stack
    await bound(line)
    turns = stack.edge.turns
    before = turns.transactions, turns.updates
    cursor = await stack.control.cursor()
    sent = await asyncio.gather(
        *(
            stack.control.send_text(
                line.group, f"#问题 {k} 号厂房停电，影响生产", from_user_id=line.uid("owner")
            )
            for k in range(12)
        )
    )
    await stack.quiet()
    transactions, updates = turns.transactions - before[0], turns.updates - before[1]
    assert updates >= 12 and transactions < updates  # some shared one
    async with stack.db.sessions() as session:
        issues = list(await session.execute(select(Issue.number, Issue.origin_message_id)))
        cards = list(await session.scalars(select(IssueCard.issue_id)))
    assert sorted(number for number, _ in issues) == [f"Q-2026-{n:04d}" for n in range(1, 13)]
    assert sorted(message for _, message in issues) == sorted(m["message_id"] for m in sent)
    # Each issue's card in the group, as a reply to its report; three cards each (the group's and
    # the power company's two officials').
    replies = [
        m for m in await stack.control.messages(line.group, after=cursor) if m["from"]["is_bot"]
    ]
    assert sorted(m["reply_to"] for m in replies) == sorted(m["message_id"] for m in sent)
    assert len(cards) == 12 * 3
