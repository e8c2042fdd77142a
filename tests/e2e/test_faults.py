"""A flaky Telegram: random 5xx, timeouts and 429s while the direct line is busy.

The bot must deliver every message it meant to send, each exactly once where it could know it
was accepted, and every card must end up showing the issue's last state.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from telegram.request import HTTPXRequest

from bot import app as bot_app
from models.clock import MovableClock
from models.rules.pacing import Pacer, SendLimits
from models.tables import Chat, Issue, OutboxMessage
from models.texts import render
from tests.e2e.conftest import Line, bound

# Telegram's limits sped up tenfold (a group's 20 a minute becomes 200), on both sides: the bot
# paces itself the same way, the sandbox refuses the same way, and the test takes seconds.
BOT_LIMITS = SendLimits(group_per_minute=200, private_interval=0.1)
SANDBOX_LIMITS = {
    "overall": {"count": 300, "seconds": 1},
    "group": {"count": 200, "seconds": 60},
    "private": {"count": 30, "seconds": 3},
}
# The bot waits 15 s for an answer, so a timed-out request costs that much. 2 s keeps the test
# short and is still far more than the in-process sandbox needs to answer.
READ_TIMEOUT = 2.0
# About 10 % of the bot's sends and edits fail (5xx or a timeout), 3 % more answer 429.
FAULTS = {
    "server_error_rate": 0.05,
    "server_error_codes": [500, 502, 503],
    "timeout_rate": 0.05,
    "timeout_seconds": 30,
    "flood_rate": 0.03,
    "flood_retry_after": 1,
    "methods": ["sendMessage", "editMessageText"],
    "seed": 20260302,
}
# Generous (a message may fail three or four times in a row, with back-off in between), and
# within pytest's 60 s per test.
PATIENCE = 40.0
# The bot's clock runs this many times faster during the storm: its back-off between retries
# (2, 4, 8 s of its time) passes sooner, while the pacing and Telegram's limits keep real time.
SPEEDUP = 8
CARD = re.compile(r"^📋 (Q-\d{4}-\d{4}) ")
ANSWER = "已安排抢修并更换变压器"


@pytest.fixture(autouse=True)
def short_read_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot's Bot API requests (not its long poll) give up after READ_TIMEOUT."""

    def request(**kwargs: Any) -> HTTPXRequest:
        if "connection_pool_size" in kwargs:
            kwargs["read_timeout"] = READ_TIMEOUT
        return HTTPXRequest(**kwargs)

    monkeypatch.setattr(bot_app, "HTTPXRequest", request)


@pytest.mark.parametrize(
    ("delivered", "reports"),
    [(False, 30), (True, 12)],
    ids=["timeouts-not-delivered", "timeouts-delivered"],
)
async def test_a_flaky_telegram_loses_nothing_and_doubles_only_what_it_cannot_know(
    line: Line, delivered: bool, reports: int
) -> None:
    stack, control = line.stack, line.stack.control
    owner, electrician, lineman = line.uid("owner"), line.uid("electrician"), line.uid("lineman")
    await bound(line)
    other_group = await stack.group("医药企业二群", [owner])
    async with stack.db.sessions() as session, session.begin():
        await session.execute(
            update(Chat)
            .where(Chat.telegram_id == other_group)
            .values(purpose="industry", industry="医药")
        )
    assert stack.edge.dispatcher is not None
    stack.edge.dispatcher.pacer = Pacer(BOT_LIMITS)
    await control.set_rate_limits(**SANDBOX_LIMITS)
    await stack.quiet()
    await control.reset_stats()
    # A delivered timeout is a message sent whose answer was lost: the one duplicate the bot
    # cannot know about. Without it, any duplicate is the bot's fault.
    await control.set_faults(**FAULTS, timeout_delivered=delivered)

    async with fast_clock(stack.clock):
        await _storm(line, reports)
    stats = await control.stats()
    await control.clear_faults()
    assert stats["injected_server_errors"] and stats["injected_timeouts"]
    assert stats["injected_flood"]

    async with stack.db.sessions() as session:
        rows = list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        chats = {c.id: c.telegram_id for c in await session.scalars(select(Chat))}
        issues = list(await session.scalars(select(Issue)))
    assert len(issues) == reports
    assert [(r.template, r.last_error) for r in rows if r.status != "sent"] == []
    # The bot knows each message it sent by its Telegram id: one message, one id.
    sent = [(r.chat_id, r.telegram_message_id) for r in rows if r.edit_of_id is None]
    assert None not in {message_id for _, message_id in sent}
    assert len(set(sent)) == len(sent)

    # Each message shows what the bot last meant it to: its own text, or its last edit's.
    meant: dict[tuple[int, int], str] = {}
    originals: Counter[tuple[int, str]] = Counter()
    by_id = {row.id: row for row in rows}
    for row in rows:
        # An edit changes the message its card row went out as.
        target = by_id[row.edit_of_id or row.id].telegram_message_id
        assert target is not None
        source = render(row.template, row.language or "en", row.params)
        meant[(chats[row.chat_id], target)] = source
        if row.edit_of_id is None:
            originals[(chats[row.chat_id], source)] += 1
    transcripts = {
        chat: [m for m in await control.messages(chat) if m["is_bot"]]
        for chat in {chats[row.chat_id] for row in rows}
    }
    shown = {(chat, m["message_id"]): m for chat, ms in transcripts.items() for m in ms}
    assert set(meant) - set(shown) == set()
    assert {key: shown[key]["source"] for key in meant} == meant
    # Anything more is a copy of a message whose answer a delivered timeout swallowed.
    extra = [m for key, m in shown.items() if key not in meant]
    if delivered:
        assert extra, "some delivered timeout hit a sendMessage"
    else:
        assert extra == []
    assert len(extra) <= stats["injected_timeouts"]
    for m in extra:  # never edited: the bot does not know it exists
        assert not m["edits"] and originals[(m["chat_id"], m["source"])], m

    # Counted on the screen: every issue's card once in the group and with each official.
    for chat in (line.group, electrician, lineman):
        cards = Counter(
            found[1] for m in transcripts[chat] if (found := CARD.match(m["text"] or ""))
        )
        assert set(cards) == {issue.number for issue in issues}, chat
        if not delivered:
            assert set(cards.values()) == {1}, (chat, cards)
    (group_card,) = [
        r.telegram_message_id
        for r in rows
        if (chats[r.chat_id], r.template, r.edit_of_id) == (line.group, "issue_card", None)
        and r.params["number"] == "Q-2026-0001"
    ]
    assert "Closed (confirmed by the firm)" in shown[(line.group, group_card)]["text"]
    for chat in (line.group, other_group):
        answers = [
            m
            for m in transcripts[chat]
            if ANSWER in (m["text"] or "") and not CARD.match(m["text"])
        ]
        assert len(answers) == 1 or (delivered and answers), chat


async def _storm(line: Line, reports: int) -> None:
    """Many firms' problems at once, then one of them answered and confirmed.

    Each report makes a card in the group and one for each official of the power company, and
    notices to the assisting department and to the firm's liaison; the answered one changes its
    cards everywhere and, marked general, goes to both pharma groups.
    """
    stack, control = line.stack, line.stack.control
    owner, electrician = line.uid("owner"), line.uid("electrician")
    await asyncio.gather(
        *(
            control.send_text(line.group, f"#问题 {n}号车间经常停电，影响生产", from_user_id=owner)
            for n in range(1, reports + 1)
        )
    )
    await stack.quiet(timeout=PATIENCE)
    await _tell(line, electrician, "/claim Q-2026-0001")
    await _tell(line, electrician, f"/answer Q-2026-0001 {ANSWER}")
    ack = await _with_button(line, electrician, "v1:general:")
    marked = await stack.press(electrician, ack["message_id"], ack["button"], electrician)
    assert "marked general" in (marked or "")
    notice = await _with_button(line, owner, "v1:confirm:")
    await stack.press(owner, notice["message_id"], notice["button"], owner)
    await stack.quiet(timeout=PATIENCE)


@asynccontextmanager
async def fast_clock(clock: MovableClock) -> AsyncIterator[None]:
    """Move the bot's clock on in the background, SPEEDUP seconds for every real one."""

    async def run() -> None:
        while True:
            await asyncio.sleep(0.05)
            clock.advance(timedelta(seconds=0.05 * (SPEEDUP - 1)))

    task = asyncio.create_task(run())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def _tell(line: Line, chat: int, text: str) -> None:
    """Say something in a private chat and wait, patiently, for the bot's answer."""
    control = line.stack.control
    cursor = await control.cursor()
    await control.send_text(chat, text, from_user_id=chat)
    await control.wait_for_bot_messages(chat_id=chat, after_seq=cursor, timeout=PATIENCE)


async def _with_button(line: Line, chat: int, prefix: str) -> dict[str, Any]:
    """The newest bot message in `chat` with a button whose data starts with `prefix`."""
    await line.stack.quiet(timeout=PATIENCE)
    for message in reversed(await line.stack.control.messages(chat)):
        for row in (message["reply_markup"] or {}).get("inline_keyboard", []):
            for button in row:
                if button.get("callback_data", "").startswith(prefix):
                    return {**message, "button": button["callback_data"]}
    raise AssertionError(f"no message with a {prefix} button")
