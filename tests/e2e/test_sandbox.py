"""The sandbox, driven the way the bot drives Telegram: through a real telegram.Bot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import telegram
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, MessageEntity
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)

from sandbox import ControlError, RunningSandbox, Sandbox, running
from sandbox.model import GROUP_ANONYMOUS_BOT_ID
from sandbox.server import serve_app

pytestmark = pytest.mark.asyncio

TOKEN = "123456:TEST"
# The smallest valid PNG: 1x1, for upload/download round trips.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


@pytest.fixture
async def sb() -> AsyncIterator[RunningSandbox]:
    sandbox = Sandbox(TOKEN, webhook_retry_delays=(0.01, 0.01), seed=7)
    async with running(sandbox) as running_sandbox:
        yield running_sandbox


@pytest.fixture
async def bot(sb: RunningSandbox) -> AsyncIterator[telegram.Bot]:
    bot = telegram.Bot(sb.token, base_url=sb.base_url, base_file_url=sb.base_file_url)
    await bot.initialize()
    yield bot
    await bot.shutdown()


async def private_chat(sb: RunningSandbox, name: str = "Alice") -> int:
    _user, chat = await sb.client.private_chat(name, username=name.lower())
    return int(chat["id"])


async def group_with(sb: RunningSandbox, *names: str, type: Any = "group") -> tuple[int, list[int]]:
    users = [(await sb.client.create_user(name))["id"] for name in names]
    chat = await sb.client.create_chat(type, title="Pharma firms", members=users)
    return int(chat["id"]), users


def seconds(retry_after: int | timedelta) -> float:
    """RetryAfter.retry_after is a timedelta or an int, depending on PTB_TIMEDELTA."""
    return retry_after.total_seconds() if isinstance(retry_after, timedelta) else retry_after


async def drain(bot: telegram.Bot) -> tuple[telegram.Update, ...]:
    """Everything queued for the bot, confirmed so the next call starts fresh."""
    updates = await bot.get_updates(timeout=0)
    if updates:
        await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    return updates


# -- the basics ---------------------------------------------------------------------------


async def test_get_me_describes_the_bot_of_the_token(bot: telegram.Bot) -> None:
    me = await bot.get_me()

    assert (me.id, me.username, me.is_bot) == (123456, "nodedesk_bot", True)
    assert me.can_read_all_group_messages


async def test_wrong_token_and_unknown_method_answer_like_telegram(sb: RunningSandbox) -> None:
    with pytest.raises(InvalidToken):
        async with telegram.Bot("999:WRONG", base_url=sb.base_url):
            pass

    async with httpx.AsyncClient() as http:
        response = await http.post(f"{sb.base_url}{TOKEN}/sendCarrierPigeon")

    assert response.status_code == 404
    assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_send_edit_delete_show_up_in_the_transcript(
    sb: RunningSandbox, bot: telegram.Bot
) -> None:
    chat_id = await private_chat(sb)

    sent = await bot.send_message(chat_id, "<b>Issue</b> #7 &amp; co", parse_mode=ParseMode.HTML)
    assert sent.text == "Issue #7 & co"
    assert sent.entities == (MessageEntity(MessageEntity.BOLD, 0, 5),)
    edited = await bot.edit_message_text(
        "<i>Closed</i>", chat_id, sent.message_id, parse_mode="HTML"
    )
    assert isinstance(edited, telegram.Message) and edited.text == "Closed"
    assert edited.edit_date is not None
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("<i>Closed</i>", chat_id, sent.message_id, parse_mode="HTML")
    assert await bot.delete_message(chat_id, sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(chat_id, sent.message_id)

    (record,) = await sb.client.messages(chat_id)
    assert record["is_bot"] and record["deleted"] and record["edited"]
    assert record["html"] == "<i>Closed</i>"
    assert record["source"] == "<i>Closed</i>"
    assert record["edits"][0]["text"] == "Issue #7 & co"


async def test_too_long_or_broken_text_is_a_bad_request(
    sb: RunningSandbox, bot: telegram.Bot
) -> None:
    chat_id = await private_chat(sb)

    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(chat_id, "x" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(chat_id, "<b>unclosed", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(-999, "anyone?")
    await bot.send_message(chat_id, "y" * 4096)


async def test_transcript_html_is_safe_to_render(sb: RunningSandbox, bot: telegram.Bot) -> None:
    chat_id = await private_chat(sb)

    await bot.send_message(
        chat_id,
        '<a href="javascript:alert(1)">x</a> &lt;script&gt; <a href="https://gov.cn">ok</a> 😀'
        "<code>1 &amp; 2</code>",
        parse_mode=ParseMode.HTML,
    )

    (record,) = await sb.client.messages(chat_id)
    assert record["html"] == (
        '<span class="text_link">x</span> &lt;script&gt; '
        '<a href="https://gov.cn" target="_blank" rel="noopener noreferrer">ok</a> 😀'
        "<code>1 &amp; 2</code>"
    )


async def test_user_commands_carry_a_bot_command_entity(
    sb: RunningSandbox, bot: telegram.Bot
) -> None:
    chat_id = await private_chat(sb)
    group_id, (bob,) = await group_with(sb, "Bob")
    await drain(bot)

    await sb.client.send_text(chat_id, "/start")
    await sb.client.send_text(group_id, "/report@nodedesk_bot water cut", from_user_id=bob)
    first, second = await drain(bot)

    assert first.message is not None and second.message is not None
    assert first.message.entities[0].type == MessageEntity.BOT_COMMAND
    assert first.message.chat.type == "private"
    assert second.message.parse_entity(second.message.entities[0]) == "/report@nodedesk_bot"
    assert second.message.from_user is not None and second.message.from_user.id == bob


async def test_replies_and_user_edits_reach_the_bot(sb: RunningSandbox, bot: telegram.Bot) -> None:
    chat_id = await private_chat(sb)
    question = await bot.send_message(chat_id, "Which department?")

    answer = await sb.client.send_text(chat_id, "Water", reply_to=question.message_id)
    await sb.client.edit_text(chat_id, answer["message_id"], "Water and power")
    message_update, edit_update = await drain(bot)

    assert message_update.message is not None
    assert message_update.message.reply_to_message is not None
    assert message_update.message.reply_to_message.message_id == question.message_id
    assert edit_update.edited_message is not None
    assert edit_update.edited_message.text == "Water and power"


# -- buttons and updates ------------------------------------------------------------------


async def test_pressing_an_inline_button_round_trips_through_get_updates(
    sb: RunningSandbox, bot: telegram.Bot
) -> None:
    chat_id = await private_chat(sb)
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Claim", callback_data="claim:7")],
            [InlineKeyboardButton("Docs", url="https://example.org")],
        ]
    )
    card = await bot.send_message(chat_id, "Issue 7", reply_markup=keyboard)

    pressed = await sb.client.press_button(chat_id, card.message_id, text="Claim")
    (update,) = await drain(bot)
    query = update.callback_query
    assert query is not None and query.message is not None
    assert (query.data, query.message.message_id) == ("claim:7", card.message_id)
    assert query.from_user.id == chat_id and query.chat_instance
    assert await query.answer("Claimed ✔")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await query.answer("again")

    answered = await sb.client.callback_answer(pressed["callback_query_id"])
    assert answered["answer"]["text"] == "Claimed ✔"
    transcript = await sb.client.transcript(chat_id)
    assert transcript["callback_answers"][0]["data"] == "claim:7"
    with pytest.raises(ControlError, match=r"(?i)not a callback button"):
        await sb.client.press_button(chat_id, card.message_id, text="Docs")
    # Data no button carries still goes out: the bot must not trust callback data.
    await sb.client.press_button(chat_id, card.message_id, data="claim:999")
    (forged,) = await drain(bot)
    assert forged.callback_query is not None and forged.callback_query.data == "claim:999"


async def test_long_poll_wakes_as_soon_as_an_update_arrives(
    sb: RunningSandbox, bot: telegram.Bot
) -> None:
    chat_id = await private_chat(sb)
    sandbox = sb.sandbox
    polls_before = sandbox.poll_generation

    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await sandbox.pulse.wait_until(lambda: sandbox.poll_generation > polls_before, 5)
    await sb.client.send_text(chat_id, "hello?")
    (update,) = await asyncio.wait_for(poll, 5)

    assert update.message is not None and update.message.text == "hello?"
    assert time.monotonic() - started < 5


async def test_a_second_poller_ends_the_first_with_conflict(
    sb: RunningSandbox, bot: telegram.Bot
) -> None:
    sandbox = sb.sandbox
    first = asyncio.create_task(bot.get_updates(timeout=30))
    await sandbox.pulse.wait_until(lambda: sandbox.poll_generation == 1, 5)
    # A second process running the same bot: its own Bot, its own connection.
    async with telegram.Bot(sb.token, base_url=sb.base_url) as twin:
        assert await twin.get_updates(timeout=0) == ()

    with pytest.raises(Conflict, match=r"(?i)terminated by other getUpdates"):
        await asyncio.wait_for(first, 5)


async def test_webhook_gets_updates_with_the_secret_and_after_retries(
    sb: RunningSandbox, bot: telegram.Bot
) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []
    arrived = asyncio.Event()

    async def hook(request: Request) -> JSONResponse:
        received.append(
            (request.headers.get("x-telegram-bot-api-secret-token"), await request.json())
        )
        arrived.set()
        # Fail the first delivery: the sandbox must try again.
        return JSONResponse({}, status_code=500 if len(received) == 1 else 200)

    chat_id = await private_chat(sb)
    async with serve_app(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as url:
        assert await bot.set_webhook(f"{url}/hook", secret_token="s3cret-Token")
        with pytest.raises(Conflict, match=r"(?i)webhook is active"):
            await bot.get_updates()
        await sb.client.send_text(chat_id, "via webhook")
        await sb.sandbox.pulse.wait_until(lambda: sb.sandbox.stats.webhook_deliveries == 1, 5)

        info = await bot.get_webhook_info()
        assert info.url == f"{url}/hook" and info.pending_update_count == 0
        assert (
            info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
        )
        await bot.delete_webhook()

    assert len(received) == 2
    assert received[0] == received[1]
    secret, update = received[1]
    assert secret == "s3cret-Token"
    assert telegram.Update.de_json(update, bot).message.text == "via webhook"  # type: ignore[union-attr]
    assert await bot.get_updates(timeout=0) == ()


# -- refusals ---------------------------------------------------------------------------------


async def test_private_chat_flood_answers_429_with_retry_after(
    sb: RunningSandbox, bot: telegram.Bot
) -> None:
    chat_id = await private_chat(sb)
    await sb.client.reset_stats()

    for n in range(3):
        await bot.send_message(chat_id, f"burst {n}")
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(chat_id, "one too many")

    assert 1 <= seconds(flood.value.retry_after) <= 3
    stats = await sb.client.stats()
    assert (stats["messages_accepted"], stats["too_many_requests"]) == (3, 1)
    assert stats["calls"]["sendMessage"] == 4


async def test_group_limit_is_configurable_and_can_be_switched_off(
    sb: RunningSandbox, bot: telegram.Bot
) -> None:
    group_id, _ = await group_with(sb, "Bob")
    await sb.client.set_rate_limits(group={"count": 2, "seconds": 60})

    await bot.send_message(group_id, "one")
    await bot.send_message(group_id, "two")
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(group_id, "three")
    assert seconds(flood.value.retry_after) > 50

    await sb.client.set_rate_limits(enabled=False)
    for n in range(10):
        await bot.send_message(group_id, f"unlimited {n}")


async def test_blocked_user_and_kicked_bot_are_forbidden(
    sb: RunningSandbox, bot: telegram.Bot
) -> None:
    chat_id = await private_chat(sb)
    group_id, (boss,) = await group_with(sb, "Boss")
    stranger = await sb.client.create_user("Stranger")
    await drain(bot)

    await sb.client.block_bot(chat_id)
    await sb.client.kick_bot(group_id, by=boss)

    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(chat_id, "hello")
    with pytest.raises(Forbidden, match=r"(?i)bot was kicked from the group chat"):
        await bot.send_message(group_id, "hello")
    with pytest.raises(Forbidden, match=r"(?i)can't initiate conversation"):
        await bot.send_message(stranger["id"], "hello")
    blocked, kicked = await drain(bot)
    assert blocked.my_chat_member is not None and kicked.my_chat_member is not None
    assert blocked.my_chat_member.new_chat_member.status == "kicked"
    assert kicked.my_chat_member.from_user.id == boss

    await sb.client.send_text(chat_id, "/start")  # writing again unblocks, as "Restart" does
    await bot.send_message(chat_id, "welcome back")


async def test_migrated_group_answers_with_the_new_supergroup_id(
    sb: RunningSandbox, bot: telegram.Bot
) -> None:
    group_id, _ = await group_with(sb, "Carol")
    await drain(bot)

    migrated = await sb.client.migrate(group_id)
    new_id = migrated["new_chat_id"]

    assert str(new_id).startswith("-100")
    with pytest.raises(ChatMigrated) as moved:
        await bot.send_message(group_id, "still there?")
    assert moved.value.new_chat_id == new_id
    await bot.send_message(new_id, "found you")
    old_side, new_side = await drain(bot)
    assert old_side.message is not None and old_side.message.migrate_to_chat_id == new_id
    assert new_side.message is not None and new_side.message.migrate_from_chat_id == group_id
    assert new_side.message.chat.type == "supergroup"


# -- groups, admins, senders ------------------------------------------------------------------


async def test_membership_changes_arrive_as_service_messages(
    sb: RunningSandbox, bot: telegram.Bot
) -> None:
    dave = (await sb.client.create_user("Dave"))["id"]
    erin = (await sb.client.create_user("Erin"))["id"]
    chat = await sb.client.create_chat("supergroup", title="Tea", members=[dave], with_bot=False)

    await sb.client.add_member(chat["id"], sb.sandbox.bot.id, by=dave)
    await sb.client.add_member(chat["id"], erin, by=dave)
    await sb.client.promote(chat["id"], erin, custom_title="Liaison")
    await sb.client.remove_member(chat["id"], erin, by=dave)
    bot_added, bot_joined_message, erin_joined, erin_left = await drain(bot)

    assert bot_added.my_chat_member is not None
    assert bot_added.my_chat_member.new_chat_member.status == "member"
    assert bot_joined_message.message is not None
    assert bot_joined_message.message.new_chat_members[0].id == sb.sandbox.bot.id
    assert erin_joined.message is not None and erin_joined.message.new_chat_members[0].id == erin
    assert erin_left.message is not None and erin_left.message.left_chat_member is not None
    member = await bot.get_chat_member(chat["id"], dave)
    assert member.status == "creator"
    assert (await bot.get_chat_member(chat["id"], erin)).status == "left"


async def test_admins_are_listed_and_speak_anonymously_or_as_channels(
    sb: RunningSandbox, bot: telegram.Bot
) -> None:
    group_id, (owner, helper) = await group_with(sb, "Owner", "Helper", type="supergroup")
    channel = await sb.client.create_chat("channel", title="County news", creator_id=owner)
    await sb.client.promote(group_id, helper, custom_title="Coordinator")
    await drain(bot)

    admins = await bot.get_chat_administrators(group_id)
    assert {a.user.id: a.status for a in admins} == {owner: "creator", helper: "administrator"}

    await sb.client.send_text(
        group_id, "anonymous notice", from_user_id=helper, anonymous_admin=True
    )
    await sb.client.send_text(
        group_id, "from the channel", from_user_id=owner, sender_chat_id=channel["id"]
    )
    await sb.client.send_text(channel["id"], "a post", from_user_id=owner)
    anonymous, as_channel, post = await drain(bot)

    assert anonymous.message is not None and anonymous.message.from_user is not None
    assert anonymous.message.from_user.id == GROUP_ANONYMOUS_BOT_ID
    assert anonymous.message.sender_chat is not None
    assert anonymous.message.sender_chat.id == group_id
    assert anonymous.message.author_signature == "Coordinator"
    assert as_channel.message is not None and as_channel.message.sender_chat is not None
    assert as_channel.message.sender_chat.id == channel["id"]
    assert post.channel_post is not None and post.channel_post.text == "a post"


# -- files ------------------------------------------------------------------------------------


async def test_photos_and_documents_upload_and_download(
    sb: RunningSandbox, bot: telegram.Bot
) -> None:
    chat_id = await private_chat(sb)

    photo = await bot.send_photo(chat_id, PNG, caption="<i>site</i>", parse_mode="HTML")
    assert photo.caption == "site" and photo.photo[-1].width == 1
    downloaded = await (await bot.get_file(photo.photo[-1].file_id)).download_as_bytearray()
    assert bytes(downloaded) == PNG
    again = await bot.send_document(chat_id, photo.photo[-1].file_id)
    assert again.document is not None
    report = await bot.send_document(chat_id, "进度报告".encode(), filename="报告.txt")
    assert report.document is not None and report.document.file_name == "报告.txt"
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_photo(chat_id, "no-such-file-id")

    await sb.client.send_document(chat_id, data=b"%PDF-1.4 minutes", name="minutes.pdf")
    await sb.client.send_photo(chat_id, caption="the broken pipe")
    document_update, photo_update = await drain(bot)
    assert document_update.message is not None and document_update.message.document is not None
    assert document_update.message.document.mime_type == "application/pdf"
    user_file = await bot.get_file(document_update.message.document.file_id)
    assert bytes(await user_file.download_as_bytearray()) == b"%PDF-1.4 minutes"
    assert photo_update.message is not None and photo_update.message.photo
    assert photo_update.message.caption == "the broken pipe"


# -- faults -----------------------------------------------------------------------------------


async def test_one_shot_server_errors_hit_only_the_next_matching_call(
    sb: RunningSandbox, bot: telegram.Bot
) -> None:
    chat_id = await private_chat(sb)
    await sb.client.add_fault("server_error", method="sendMessage", status=502)

    await bot.get_me()
    with pytest.raises(NetworkError, match=r"(?i)Bad Gateway"):
        await bot.send_message(chat_id, "lost")
    await bot.send_message(chat_id, "delivered")

    assert [m["text"] for m in await sb.client.messages(chat_id)] == ["delivered"]
    assert (await sb.client.stats())["injected_server_errors"] == 1


async def test_timeouts_hold_the_request_and_may_or_may_not_deliver(
    sb: RunningSandbox, bot: telegram.Bot
) -> None:
    chat_id = await private_chat(sb)
    await sb.client.add_fault("timeout", method="sendMessage", timeout_seconds=60, delivered=True)
    await sb.client.add_fault("timeout", method="sendMessage", timeout_seconds=60, delivered=False)

    started = time.monotonic()
    with pytest.raises(TimedOut):
        await bot.send_message(chat_id, "sent, but the answer got lost", read_timeout=0.2)
    with pytest.raises(TimedOut):
        await bot.send_message(chat_id, "never sent", read_timeout=0.2)

    assert time.monotonic() - started < 5
    texts = [m["text"] for m in await sb.client.messages(chat_id)]
    assert texts == ["sent, but the answer got lost"]
    # The held requests let go when the client hung up, so nothing is left working.
    await sb.client.wait_idle(quiet=0.0, timeout=5)


async def test_random_faults_follow_the_configured_rates(
    sb: RunningSandbox, bot: telegram.Bot
) -> None:
    await sb.client.set_faults(flood_rate=1.0, flood_retry_after=9, methods=["getMe"], seed=1)
    with pytest.raises(RetryAfter) as flood:
        await bot.get_me()
    assert seconds(flood.value.retry_after) == 9

    await sb.client.set_faults(server_error_rate=0.5, methods=["getMe"], seed=3)
    outcomes = []
    for _ in range(40):
        try:
            await bot.get_me()
            outcomes.append(True)
        except NetworkError:
            outcomes.append(False)
    assert 5 < outcomes.count(False) < 35

    await sb.client.clear_faults()
    await bot.get_me()


# -- control conveniences -----------------------------------------------------------------------


async def test_waiting_for_bot_messages_returns_once_the_bot_replied(
    sb: RunningSandbox, bot: telegram.Bot
) -> None:
    chat_id = await private_chat(sb)

    async def echo_bot() -> None:
        (update,) = await bot.get_updates(timeout=10)
        assert update.message is not None
        await bot.send_message(chat_id, f"echo: {update.message.text}")
        await bot.send_message(chat_id, "anything else?")

    echo = asyncio.create_task(echo_bot())
    sent = await sb.client.send_text(chat_id, "ping")
    replies = await sb.client.wait_for_bot_messages(2, chat_id=chat_id, after_seq=sent["seq"])
    await echo

    assert [r["text"] for r in replies] == ["echo: ping", "anything else?"]
    with pytest.raises(TimeoutError):
        await sb.client.wait_for_bot_messages(
            3, chat_id=chat_id, after_seq=sent["seq"], timeout=0.1
        )
    after = await sb.client.transcript(chat_id, after=sent["message_id"], wait=5)
    assert len(after["messages"]) == 2


async def test_commands_are_stored_per_scope_and_language(bot: telegram.Bot) -> None:
    await bot.set_my_commands([("report", "Report a problem"), ("mine", "My issues")])
    await bot.set_my_commands([("report", "反映问题")], language_code="zh")

    assert [c.command for c in await bot.get_my_commands()] == ["report", "mine"]
    assert [c.description for c in await bot.get_my_commands(language_code="zh")] == ["反映问题"]
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Not-Valid", "x")])


async def test_the_clock_endpoints_call_the_hooks_or_say_there_are_none(
    sb: RunningSandbox,
) -> None:
    with pytest.raises(ControlError, match=r"(?i)no clock") as missing:
        await sb.client.advance_clock(3600)
    assert missing.value.status == 404

    now = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)

    async def advance(seconds: float) -> datetime:
        nonlocal now
        now += timedelta(seconds=seconds)
        return now

    async with running(Sandbox(on_clock_advance=advance, clock_now=lambda: now)) as clocked:
        assert await clocked.client.clock_now() == now
        assert await clocked.client.advance_clock(86400) == datetime(2024, 3, 2, 9, tzinfo=UTC)
        _user, chat = await clocked.client.private_chat("Frank")
        message = await clocked.client.send_text(chat["id"], "what time is it?")
        assert message["date"] == int(now.timestamp())


async def test_reset_forgets_the_world_but_keeps_update_ids_moving(
    sb: RunningSandbox, bot: telegram.Bot
) -> None:
    chat_id = await private_chat(sb)
    await sb.client.send_text(chat_id, "before")
    (before,) = await drain(bot)

    await sb.client.reset()
    chat_id = await private_chat(sb)
    await sb.client.send_text(chat_id, "after")
    (after,) = await drain(bot)

    assert after.update_id > before.update_id
    assert len(await sb.client.chats()) == 1


async def test_web_chat_page_is_self_contained(sb: RunningSandbox) -> None:
    async with httpx.AsyncClient() as http:
        page = await http.get(f"{sb.url}/")

    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "advance_seconds" in page.text
    assert "<script src" not in page.text and "<link" not in page.text
