"""For leaders through Telegram: the digest with its chart, the lists, published to a group."""

from __future__ import annotations

from datetime import time, timedelta

from sqlalchemy import select

from models.tables import SentReport
from reminders.digest import send_reports
from tests.e2e.conftest import Line, bound, report


async def _reports(line: Line) -> int:
    """What the periodic work does for leaders, at the default time of day (08:30)."""
    edge = line.stack.edge
    return await send_reports(edge.sessions, line.stack.clock, edge.desk, time(8, 30))


async def test_the_digest_comes_once_a_day_with_its_chart_and_on_demand(line: Line) -> None:
    stack, control = line.stack, line.stack.control
    leader = line.uid("leader")
    await bound(line)
    await report(line)
    await stack.quiet()
    # Monday 09:30: today's digest goes out; running the periodic work again sends nothing.
    cursor = await control.cursor()
    await _reports(line)
    await _reports(line)
    await stack.quiet()
    mine = [m for m in await control.messages(leader) if m["seq"] > cursor and m["is_bot"]]
    digests = [m for m in mine if m["photo"] is not None]
    assert len(digests) == 1
    assert "Daily digest" in (digests[0]["caption"] or "")
    assert "1 new" in digests[0]["caption"]
    lists = [m for m in mine if "Red and black lists" in (m["text"] or "")]
    assert len(lists) == 2  # last month's and last quarter's
    async with stack.db.sessions() as session:
        kinds = list(await session.scalars(select(SentReport.kind).order_by(SentReport.id)))
    assert kinds == ["digest", "month", "quarter"]

    # On demand, as it stands now.
    cursor = await control.cursor()
    await control.send_text(leader, "/digest", from_user_id=leader)
    (asked,) = await stack.replies(leader, cursor)
    assert asked["photo"] is not None and "Daily digest" in (asked["caption"] or "")

    # The next working day brings the next one.
    cursor = await control.cursor()
    stack.clock.advance(timedelta(days=1))
    await _reports(line)
    await stack.quiet()
    later = [m for m in await control.messages(leader) if m["seq"] > cursor and m["photo"]]
    assert len(later) == 1


async def test_lists_are_shown_and_published_only_by_those_allowed(line: Line) -> None:
    stack = line.stack
    leader, owner = line.uid("leader"), line.uid("owner")
    shown = await stack.say(leader, leader, "/lists quarter")
    assert "Red and black lists" in shown["text"] and "quarter" in shown["text"]
    usage = await stack.say(leader, leader, "/lists week")
    assert usage["text"].startswith("Usage: /lists")
    refused = await stack.say(owner, owner, "/lists")
    assert refused["text"] == "You are not allowed to do that."
    refused_digest = await stack.say(owner, owner, "/digest")
    assert refused_digest["text"] == "You are not allowed to do that."
    await stack.control.add_member(line.group, leader, by=line.uid("coordinator"))
    published = await stack.say(line.group, leader, "/lists month publish")
    assert "Red and black lists" in published["text"] and "month" in published["text"]
