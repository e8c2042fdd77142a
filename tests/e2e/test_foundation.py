"""The foundation through Telegram's wire format: commands, buttons, bad input, the outbox."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select
from telegram import Update
from telegram.ext import CommandHandler, TypeHandler

from bot import app as bot_app
from bot.edge import read_update
from bot.polling import Poller
from models.services.common import enqueue
from models.services.contacts import ChatRef, chat_of
from models.tables import AuditEntry, Chat, OutboxMessage, Person, ProcessedUpdate
from tests.e2e.conftest import ADMIN_ID, Stack


async def _person(stack: Stack, name: str, **kwargs: Any) -> tuple[int, int]:
    user, chat = await stack.control.private_chat(name, **kwargs)
    return int(user["id"]), int(chat["id"])


async def test_start_greets_with_buttons_and_the_help_button_answers(stack: Stack) -> None:
    user, chat = await _person(stack, "Li")
    greeting = await stack.say(chat, user, "/start")
    assert greeting["text"].startswith("Hello, Li!")
    buttons = [
        b["callback_data"] for row in greeting["reply_markup"]["inline_keyboard"] for b in row
    ]
    assert buttons == ["v1:help", "v1:whoami"]
    cursor = await stack.control.cursor()
    await stack.press(chat, greeting["message_id"], "v1:help", user)
    (help_text,) = await stack.replies(chat, cursor)
    assert "/whoami" in help_text["text"] and "/grant" not in help_text["text"]


async def test_help_shows_what_the_role_allows(stack: Stack) -> None:
    await stack.control.create_user("Admin", id=ADMIN_ID, username="boss")
    chat = (await stack.control.create_chat("private", user_id=ADMIN_ID))["id"]
    admin_help = await stack.say(chat, ADMIN_ID, "/help")
    assert "/grant" in admin_help["text"]


async def test_whoami_and_roles_granted_by_an_admin(stack: Stack) -> None:
    user, chat = await _person(stack, "Zhao", username="zhao")
    before = await stack.say(chat, user, "/whoami")
    assert f"User id: {user}" in before["text"] and "none yet" in before["text"]
    refused = await stack.say(chat, user, "/grant @zhao admin")
    assert refused["text"] == "You are not allowed to do that."

    await stack.control.create_user("Admin", id=ADMIN_ID)
    admin_chat = (await stack.control.create_chat("private", user_id=ADMIN_ID))["id"]
    granted = await stack.say(admin_chat, ADMIN_ID, "/grant @zhao official")
    assert granted["text"] == "Zhao is now official."
    usage = await stack.say(admin_chat, ADMIN_ID, "/grant @zhao")
    assert usage["text"].startswith("Usage: /grant")
    after = await stack.say(chat, user, "/whoami")
    assert "Roles: official" in after["text"]


async def test_language_can_be_switched_per_person(stack: Stack) -> None:
    user, chat = await _person(stack, "Sun")
    assert (await stack.say(chat, user, "/lang zh_CN"))["text"] == "已切换为简体中文。"
    assert "没有 /nope 这个命令" in (await stack.say(chat, user, "/nope"))["text"]
    assert (await stack.say(chat, user, "/lang fr"))["text"].startswith("用法")


async def test_unknown_commands_and_commands_for_other_bots(stack: Stack) -> None:
    user, chat = await _person(stack, "Wu")
    unknown = await stack.say(chat, user, "/frobnicate now")
    assert unknown["text"] == "There is no /frobnicate command. Send /help to see what you can do."
    group = await stack.group("Tea firms", [user])
    cursor = await stack.control.cursor()
    await stack.control.send_text(group, "/frobnicate@some_other_bot", from_user_id=user)
    await stack.control.send_text(group, "/help@nodedesk_bot", from_user_id=user)
    (only,) = await stack.replies(group, cursor)
    assert "/whoami" in only["text"]
    await stack.quiet()
    assert len(await stack.control.messages(group, after=only["message_id"])) == 0


async def test_anonymous_admins_and_channels_are_asked_to_write_as_themselves(
    stack: Stack,
) -> None:
    user, _ = await _person(stack, "Feng")
    group = await stack.group("Pharma", [user], admins=(user,))
    cursor = await stack.control.cursor()
    await stack.control.send_text(group, "/whoami", anonymous_admin=True, from_user_id=user)
    (answer,) = await stack.replies(group, cursor)
    assert answer["text"].startswith("Please write as yourself")


async def test_a_redelivered_update_is_handled_once(stack: Stack) -> None:
    seen: list[dict[str, Any]] = []

    async def remember(update: Update, context: Any) -> None:
        seen.append(update.to_dict())

    stack.application.add_handler(TypeHandler(Update, remember), group=-5)
    user, chat = await _person(stack, "Chen")
    await stack.say(chat, user, "/whoami")
    await stack.quiet()
    before = len(await stack.control.messages(chat))
    # Telegram sends the same update again after a restart (same id), or a slow webhook's
    # retry arrives under a new id for the same message.
    again = dict(seen[0])
    renumbered = {**seen[0], "update_id": seen[0]["update_id"] + 1000}
    for raw in (again, renumbered):
        await stack.application.process_update(Update.de_json(raw, stack.application.bot))
    await stack.quiet()
    assert len(await stack.control.messages(chat)) == before
    async with stack.db.sessions() as session:
        handled = list(await session.scalars(select(ProcessedUpdate.update_id)))
        assert handled.count(seen[0]["update_id"]) == 1


async def test_a_failing_handler_apologises_and_the_bot_keeps_going(stack: Stack) -> None:
    async def boom(update: Update, context: Any) -> None:
        raise RuntimeError("a bug")

    stack.application.add_handler(CommandHandler("boom", boom), group=-1)
    user, chat = await _person(stack, "Han")
    apology = await stack.say(chat, user, "/boom")
    assert apology["text"].startswith("Sorry, something went wrong")
    assert "/help" in (await stack.say(chat, user, "/help"))["text"]


async def test_the_bot_added_to_a_group_says_it_is_not_bound_yet(stack: Stack) -> None:
    user, _ = await _person(stack, "Qian")
    group = await stack.control.create_chat(
        "group", title="Farm firms", members=[user], with_bot=False
    )
    cursor = await stack.control.cursor()
    await stack.control.add_member(group["id"], 123456, by=user)
    (hello,) = await stack.replies(group["id"], cursor)
    assert "not yet bound" in hello["text"]


async def test_a_migrated_group_keeps_being_served_under_its_new_id(stack: Stack) -> None:
    user, _ = await _person(stack, "Jiang")
    group = await stack.group("Industry", [user], kind="group")
    await stack.say(group, user, "/help")
    new_id = int((await stack.control.migrate(group, by=user))["new_chat_id"])

    async def group_ids() -> list[int]:
        async with stack.db.sessions() as session:
            chats = await session.scalars(select(Chat.telegram_id).where(Chat.kind != "private"))
            return list(chats)

    for _ in range(100):  # the bot handles the migration notice on its own time
        if await group_ids() == [new_id]:
            break
        await asyncio.sleep(0.1)
    assert await group_ids() == [new_id]
    assert "/whoami" in (await stack.say(new_id, user, "/help"))["text"]


async def test_a_message_to_a_group_that_migrated_meanwhile_follows_it(stack: Stack) -> None:
    user, _ = await _person(stack, "Wei")
    group = await stack.group("Old group", [user], kind="group")
    # The bot stops polling, so it misses the migration notice, then has something to send.
    await stack.edge.extras["poller"].stop()
    new_id = int((await stack.control.migrate(group, by=user))["new_chat_id"])
    async with stack.db.sessions() as session, session.begin():
        chat = await chat_of(session, stack.clock.now(), ChatRef(group, "group", "Old group"))
        await enqueue(session, stack.clock.now(), chat, "error", "en")
    cursor = await stack.control.cursor()
    stack.edge.wake_outbox()
    (delivered,) = await stack.replies(new_id, cursor)
    assert delivered["text"].startswith("Sorry")


async def test_a_blocked_chat_is_marked_and_the_coordinator_told_once(stack: Stack) -> None:
    await stack.control.create_user("Admin", id=ADMIN_ID)
    admin_chat = (await stack.control.create_chat("private", user_id=ADMIN_ID))["id"]
    await stack.say(admin_chat, ADMIN_ID, "/start")
    group = await stack.group("Gone group", [ADMIN_ID])
    await stack.control.kick_bot(group, by=ADMIN_ID)
    await stack.quiet()
    async with stack.db.sessions() as session, session.begin():
        chat = await session.scalar(select(Chat).where(Chat.telegram_id == group))
        assert chat is not None and chat.undeliverable_at is not None
        for _ in range(2):
            await enqueue(session, stack.clock.now(), chat, "error", "en")
    await stack.quiet()
    notices = [
        m
        for m in await stack.control.messages(admin_chat)
        if "can no longer send" in (m["text"] or "")
    ]
    assert len(notices) == 1 and "Gone group" in notices[0]["text"]
    async with stack.db.sessions() as session:
        statuses = list(
            await session.scalars(
                select(OutboxMessage.status).where(OutboxMessage.chat_id == chat.id)
            )
        )
        assert "sent" not in statuses[-2:]


async def test_forbidden_from_telegram_marks_the_chat(stack: Stack) -> None:
    await stack.control.create_user("Admin", id=ADMIN_ID)
    admin_chat = (await stack.control.create_chat("private", user_id=ADMIN_ID))["id"]
    await stack.say(admin_chat, ADMIN_ID, "/start")
    user, chat = await _person(stack, "Blocker")
    await stack.say(chat, user, "/grant")  # known to the bot, with a private chat
    await stack.control.block_bot(user)
    async with stack.db.sessions() as session, session.begin():
        row = await session.scalar(select(Chat).where(Chat.telegram_id == chat))
        assert row is not None
        await enqueue(session, stack.clock.now(), row, "error", "en")
    await stack.quiet()
    async with stack.db.sessions() as session:
        row = await session.scalar(select(Chat).where(Chat.telegram_id == chat))
        assert row is not None and row.undeliverable_at is not None


async def test_retry_after_is_honoured_and_nothing_is_lost_or_doubled(stack: Stack) -> None:
    _, chat = await _person(stack, "Flood")
    for _ in range(2):
        await stack.control.add_fault("flood", method="sendMessage", retry_after=1)
    async with stack.db.sessions() as session, session.begin():
        row = await session.scalar(select(Chat).where(Chat.telegram_id == chat))
        if row is None:
            row = await chat_of(session, stack.clock.now(), ChatRef(chat, "private"))
        for n in range(3):
            await enqueue(
                session, stack.clock.now(), row, "unknown_command", "en", {"command": f"c{n}"}
            )
    cursor = await stack.control.cursor()
    stack.edge.wake_outbox()
    delivered = await stack.replies(chat, cursor, count=3)
    assert [m["text"].split()[3] for m in delivered] == ["/c0", "/c1", "/c2"]
    await stack.quiet()
    assert len(await stack.control.messages(chat)) == 3


async def test_an_over_long_message_arrives_in_clean_parts(stack: Stack) -> None:
    _, chat = await _person(stack, "Long")
    long_name = "<b>" + "很长的内容 " * 900
    async with stack.db.sessions() as session, session.begin():
        row = await chat_of(session, stack.clock.now(), ChatRef(chat, "private"))
        await enqueue(
            session, stack.clock.now(), row, "unknown_command", "en", {"command": long_name}
        )
    cursor = await stack.control.cursor()
    stack.edge.wake_outbox()
    parts = await stack.replies(chat, cursor, count=2)
    await stack.quiet()
    everything = await stack.control.messages(chat)
    assert len(everything) >= 2
    assert all(len(m["text"]) <= 4096 for m in everything)
    assert "".join(m["text"] for m in everything).count("很长的内容") == 900
    assert parts[0]["text"].startswith("There is no /<b>")


async def test_every_state_change_leaves_an_audit_entry(stack: Stack) -> None:
    user, chat = await _person(stack, "Audit")
    await stack.say(chat, user, "/lang zh_CN")
    async with stack.db.sessions() as session:
        actions = set(await session.scalars(select(AuditEntry.action)))
    assert {"person_seen", "chat_seen", "language_set"} <= actions


async def test_updates_are_handled_concurrently_without_losing_any(stack: Stack) -> None:
    people = [await _person(stack, f"P{n}") for n in range(8)]
    cursor = await stack.control.cursor()
    await asyncio.gather(
        *(stack.control.send_text(chat, "/whoami", from_user_id=user) for user, chat in people)
    )
    for user, chat in people:
        (answer,) = await stack.replies(chat, cursor)
        assert f"User id: {user}" in answer["text"]


async def test_server_errors_and_timeouts_are_retried_until_delivered_once(stack: Stack) -> None:
    _, chat = await _person(stack, "Flaky")
    await stack.control.add_fault("server_error", method="sendMessage", status=502)
    await stack.control.add_fault(
        "timeout", method="sendMessage", timeout_seconds=20, delivered=False
    )
    async with stack.db.sessions() as session, session.begin():
        row = await chat_of(session, stack.clock.now(), ChatRef(chat, "private"))
        await enqueue(session, stack.clock.now(), row, "unknown_command", "en", {"command": "x"})
    cursor = await stack.control.cursor()
    stack.edge.wake_outbox()
    (delivered,) = await stack.control.wait_for_bot_messages(
        1, chat_id=chat, after_seq=cursor, timeout=30
    )
    assert delivered["text"].startswith("There is no /x command")
    await stack.quiet()
    assert len(await stack.control.messages(chat)) == 1
    async with stack.db.sessions() as session:
        row = await session.scalar(select(OutboxMessage).where(OutboxMessage.chat_id == row.id))
        assert row is not None and (row.status, row.attempts) == ("sent", 3)


async def test_an_update_whose_handling_is_cut_short_comes_again_and_counts_once(
    stack: Stack,
) -> None:
    """Polling confirms a batch to Telegram only after handling it: a crash loses nothing."""
    user, chat = await _person(stack, "Crash")
    await stack.edge.extras["poller"].stop()
    real = stack.application.process_update
    started = asyncio.Event()

    async def hang(update: object) -> None:
        started.set()
        await asyncio.Event().wait()  # handling never ends: the process dies here

    stack.application.process_update = hang  # type: ignore[method-assign]
    cut_short = Poller(stack.application)
    await cut_short.start()
    cursor = await stack.control.cursor()
    await stack.control.send_text(chat, "/whoami", from_user_id=user)
    await asyncio.wait_for(started.wait(), 10)
    await cut_short.stop()
    stack.application.process_update = real  # type: ignore[method-assign]

    restarted = stack.edge.extras["poller"] = Poller(stack.application)
    await restarted.start()
    (answer,) = await stack.replies(chat, cursor)
    assert f"User id: {user}" in answer["text"]
    await stack.quiet()
    said = await stack.control.messages(chat, after=cursor)
    assert [m["text"] for m in said if m["from"]["is_bot"]] == [answer["text"]]


async def test_a_nul_in_a_name_or_text_is_replaced_not_fatal(stack: Stack) -> None:
    """PostgreSQL's text cannot hold NUL; the edge stands U+FFFD in for it, offsets intact."""
    user, chat = await _person(stack, "Li\x00Ming")
    greeting = await stack.say(chat, user, "/start\x00 now")
    assert greeting["text"].startswith("Hello, Li\ufffdMing!")
    async with stack.db.sessions() as session:
        names = await session.scalars(select(Person.full_name).where(Person.telegram_id == user))
        assert list(names) == ["Li\ufffdMing"]


async def test_one_failing_piece_of_periodic_work_does_not_stop_the_others(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []

    async def broken(*_: object) -> int:
        raise RuntimeError("a bad row")

    async def digest(*_: object) -> int:
        ran.append("digest")
        return 0

    monkeypatch.setattr(bot_app, "close_unconfirmed_issues", broken)
    monkeypatch.setattr(bot_app, "send_reports", digest)
    await bot_app.periodic_work(stack.edge)
    assert ran == ["digest"]
    assert "closing unconfirmed answers failed" in caplog.text


async def test_a_button_press_handled_before_a_restart_is_still_answered(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Telegram sends a press again when its handling was cut short; the saved press is not
    handled twice, but its button must stop spinning."""
    user, chat = await _person(stack, "Spin")
    greeting = await stack.say(chat, user, "/start")
    answered: list[str] = []

    async def answer(_bot: object, callback_query_id: str, *args: object, **kw: object) -> bool:
        answered.append(callback_query_id)
        return True

    # The bot is frozen; its class is not.
    monkeypatch.setattr(type(stack.application.bot), "answer_callback_query", answer)
    press = {
        "update_id": 880_001,
        "callback_query": {
            "id": "press-1",
            "chat_instance": "1",
            "data": "v1:help",
            "from": {"id": user, "is_bot": False, "first_name": "Spin"},
            "message": {
                "message_id": greeting["message_id"],
                "date": 0,
                "chat": {"id": chat, "type": "private"},
                "text": greeting["text"],
            },
        },
    }
    for _ in range(2):
        await stack.application.process_update(read_update(press, stack.application.bot))
    assert answered == ["press-1", "press-1"]
    async with stack.db.sessions() as session:
        helps = await session.scalar(
            select(func.count())
            .select_from(ProcessedUpdate)
            .where(ProcessedUpdate.update_id == 880_001)
        )
    assert helps == 1
