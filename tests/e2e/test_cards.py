"""Cards through Telegram: a missed claim limit goes yellow, is re-committed, approved, and red."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.app import periodic_work
from models.tables import Deadline, PointsEntry
from tests.e2e.conftest import Line, bound, button_data, report


async def _jump(line: Line, delta: timedelta) -> int:
    """Move the bot's clock and run the periodic work at once; the transcript cursor before."""
    await line.stack.quiet()
    cursor = await line.stack.control.cursor()
    line.stack.clock.advance(delta)
    await periodic_work(line.stack.edge)
    await line.stack.quiet()
    return cursor


async def _bot_messages(line: Line, chat_id: int, after: int) -> list[dict[str, Any]]:
    return [
        m for m in await line.stack.control.messages(chat_id) if m["seq"] > after and m["is_bot"]
    ]


async def test_yellow_then_recommit_then_approve_then_red(line: Line) -> None:
    stack = line.stack
    await bound(line)
    card, _ = await report(line)  # Monday 09:30: to be claimed by 17:30 today
    electrician, lineman = line.uid("electrician"), line.uid("lineman")
    leader, head = line.uid("leader"), line.uid("head")

    # 18:30: nobody claimed it. One yellow card; both of the power company's officials hear.
    cursor = await _jump(line, timedelta(hours=9))
    (yellow,) = await _bot_messages(line, electrician, cursor)
    assert "Yellow card" in yellow["text"] and "Q-2026-0001" in yellow["text"]
    assert "claim limit" in yellow["text"]
    assert [m["text"] for m in await _bot_messages(line, lineman, cursor)] == [yellow["text"]]
    # The card in the group is edited to show it.
    assert "Cards: 🟡 claim limit" in (await line.latest(line.group, card["message_id"]))["text"]

    # Someone outside the department cannot answer for it.
    recommit = button_data(yellow, "v1:rc:")
    refused = await stack.press(electrician, yellow["message_id"], recommit, line.uid("recruiter"))
    assert refused == "You may not do that for this item."

    # The reason and the new date, by button and a short dialogue.
    cursor = await stack.control.cursor()
    await stack.press(electrician, yellow["message_id"], recommit, electrician)
    (question,) = await stack.replies(electrician, cursor)
    assert "why was the deadline missed" in question["text"]
    asked_date = await stack.say(electrician, electrician, "线路改造需要协调停电窗口")
    assert "new committed date" in asked_date["text"]
    bad = await stack.say(electrician, electrician, "next week")
    assert bad["text"].startswith("That is not a date")
    cursor = await stack.control.cursor()
    sent = await stack.say(electrician, electrician, "2026-03-04")
    assert "Sent to the leader in charge" in sent["text"] and "2026-03-04 17:30" in sent["text"]

    (request,) = await stack.replies(leader, cursor)
    assert "线路改造需要协调停电窗口" in request["text"] and "2026-03-04 17:30" in request["text"]
    approve = button_data(request, "v1:ra:")
    forged = await stack.press(leader, request["message_id"], approve, line.uid("coordinator"))
    assert forged == "You may not do that for this item."
    cursor = await stack.control.cursor()
    approved = await stack.press(leader, request["message_id"], approve, leader)
    assert approved is not None and approved.startswith("Approved:")
    (told,) = await stack.replies(electrician, cursor)
    assert "approved the new date" in told["text"]
    again = await stack.press(leader, request["message_id"], approve, leader)
    assert again == "This has moved on: nothing to do here any more."

    # Wednesday 18:30: the re-committed date passed too. Red, interview, supervision.
    cursor = await _jump(line, timedelta(days=2))
    for person in (electrician, lineman, head):
        (notice,) = await _bot_messages(line, person, cursor)
        assert "Red card, interview notice" in notice["text"], person
    (leader_told,) = await _bot_messages(line, leader, cursor)
    assert "Red card" in leader_told["text"]
    assert "key-supervision" in leader_told["text"]

    assert "Cards: 🔴 claim limit" in (await line.latest(line.group, card["message_id"]))["text"]
    listed = await stack.say(leader, leader, "/supervision")
    assert "Q-2026-0001" in listed["text"] and "claim limit" in listed["text"]
    async with stack.db.sessions() as session:
        row = await session.scalar(select(Deadline).where(Deadline.kind == "claim#1"))
        assert row is not None and row.cards == "yellow,red"
        points = list(await session.scalars(select(PointsEntry.points).order_by(PointsEntry.id)))
    assert points == [0.0, -1.0]

    # Another sweep, as after a restart, raises nothing more.
    cursor = await _jump(line, timedelta(minutes=1))
    assert await _bot_messages(line, electrician, cursor) == []


async def test_recommit_and_approve_by_command(line: Line) -> None:
    stack = line.stack
    await bound(line)
    await report(line)
    await stack.quiet()
    electrician, leader = line.uid("electrician"), line.uid("leader")
    nothing_yet = await stack.say(electrician, electrician, "/recommit Q-2026-0001 2026-03-05 忙")
    assert "has no yellow card" in nothing_yet["text"]
    await _jump(line, timedelta(hours=9))
    unknown = await stack.say(electrician, electrician, "/recommit N-999 2026-03-05 忙")
    assert unknown["text"].startswith("No such item: N-999")
    usage = await stack.say(electrician, electrician, "/recommit")
    assert usage["text"].startswith("Usage: /recommit")
    proposed = await stack.say(
        electrician, electrician, "/recommit Q-2026-0001 2026-03-05 10:00 等待物资"
    )
    assert "2026-03-05 10:00" in proposed["text"]
    denied = await stack.say(electrician, electrician, "/approve Q-2026-0001")
    assert denied["text"] == "You are not allowed to do that."
    rejected = await stack.say(leader, leader, "/reject Q-2026-0001 请提前到明天")
    assert rejected["text"].startswith("Rejected:")
    none_pending = await stack.say(leader, leader, "/approve Q-2026-0001")
    assert "no re-commitment waiting" in none_pending["text"]


async def test_a_forged_button_with_a_huge_id_is_stale_not_a_database_error(line: Line) -> None:
    stack = line.stack
    leader = line.uid("leader")
    hello = await stack.say(leader, leader, "/start")
    for data in ("v1:ra:123456789012", "v1:claim:99999999999", "v1:member:1234567890123:ok"):
        answer = await stack.press(leader, hello["message_id"], data, leader)
        assert answer == "This button is no longer valid.", data
