"""Handlers: parse the update, call one service, say what the outcome calls for."""

from __future__ import annotations

import logging
from typing import Any

from telegram.constants import ChatMemberStatus
from telegram.ext import (
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.edge import NodeApplication, Turn, transactional
from models.rules.permissions import Role, commands_for, parse_role
from models.services import chats as chat_service
from models.services import people
from models.services.common import enqueue
from models.services.contacts import ChatRef, chat_of
from models.texts import LANGUAGES

log = logging.getLogger(__name__)

# Callback data carries a version, so buttons from an older release are recognised as stale.
CALLBACK_PREFIX = "v1:"
# A row's id in callback data. PostgreSQL's integer holds any nine digits, so a forged id of more
# is answered as a stale button instead of failing in the database.
ROW_ID = r"[0-9]{1,9}"


def _roles(turn: Turn) -> frozenset[Role]:
    return turn.contact.roles if turn.contact else frozenset()


@transactional
async def start(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    buttons = [
        [
            {"key": "help", "data": f"{CALLBACK_PREFIX}help"},
            {"key": "whoami", "data": f"{CALLBACK_PREFIX}whoami"},
        ]
    ]
    await turn.reply("start", buttons=buttons, name=turn.contact.person.full_name)


@transactional
async def help_command(turn: Turn) -> None:
    await _send_help(turn)


async def _send_help(turn: Turn) -> None:
    await turn.reply("help", commands=[command.name for command in commands_for(_roles(turn))])


@transactional
async def whoami(turn: Turn) -> None:
    if await turn.needs_person():
        await _send_whoami(turn)


async def _send_whoami(turn: Turn) -> None:
    assert turn.contact is not None
    found = await people.profile(turn.session, turn.contact.person)
    await turn.reply(
        "whoami",
        name=found.person.full_name,
        telegram_id=found.person.telegram_id,
        roles=sorted(found.roles),
        department=found.department,
        firm=found.firm,
        language=turn.language,
    )


@transactional
async def lang(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    choice = turn.args[0] if len(turn.args) == 1 else ""
    if choice not in LANGUAGES:
        await turn.reply("lang_usage")
        return
    await people.set_language(turn.session, turn.now, turn.contact.person, choice)
    await turn.reply("lang_set")


async def _change_role(turn: Turn, grant: bool) -> None:
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    command = "grant" if grant else "revoke"
    role = parse_role(turn.args[1]) if len(turn.args) == 2 else None
    if role is None:
        if Role.ADMIN not in turn.contact.roles:
            await turn.reply("not_allowed")
            return
        await turn.reply("role_usage", command=command, roles=[r.value for r in Role])
        return
    result = await people.change_role(
        turn.session, turn.now, turn.contact, turn.args[0], role, grant
    )
    params: dict[str, Any] = {"role": role.value, "granted": grant}
    match result.outcome:
        case people.RoleChange.NOT_ALLOWED:
            await turn.reply("not_allowed")
        case people.RoleChange.UNKNOWN_PERSON:
            await turn.reply("unknown_person", ref=turn.args[0])
        case people.RoleChange.UNCHANGED:
            assert result.target is not None
            await turn.reply("role_unchanged", name=result.target.full_name, **params)
        case people.RoleChange.DONE:
            assert result.target is not None
            await turn.reply("role_changed", name=result.target.full_name, **params)


@transactional
async def grant(turn: Turn) -> None:
    await _change_role(turn, grant=True)


@transactional
async def revoke(turn: Turn) -> None:
    await _change_role(turn, grant=False)


@transactional
async def unknown_command(turn: Turn) -> None:
    message = turn.update.effective_message
    if message is None or not message.text:
        return
    word = message.text.split()[0][1:]
    command, _, addressee = word.partition("@")
    bot_username = turn.context.bot.username
    if addressee and bot_username and addressee.lower() != bot_username.lower():
        return  # a command for another bot in the same group
    await turn.reply("unknown_command", command=command[:64])


@transactional
async def button(turn: Turn) -> None:
    query = turn.update.callback_query
    assert query is not None
    if query.data == f"{CALLBACK_PREFIX}help":
        await _send_help(turn)
    elif turn.contact is not None:
        await _send_whoami(turn)
    else:
        await turn.reply("anonymous")


@transactional
async def stale_button(turn: Turn) -> None:
    """Forged, stale or from a release that is gone: say so, change nothing."""
    query = turn.update.callback_query
    assert query is not None
    log.info("stale or unknown button %r from %s", (query.data or "")[:64], query.from_user.id)
    await turn.answer("button_stale")


@transactional
async def migrated(turn: Turn) -> None:
    message = turn.update.effective_message
    assert message is not None
    if message.migrate_to_chat_id:
        old_id, new_id = message.chat_id, message.migrate_to_chat_id
    else:
        assert message.migrate_from_chat_id is not None
        old_id, new_id = message.migrate_from_chat_id, message.chat_id
    await chat_service.migrate_chat(turn.session, turn.now, old_id, new_id)


@transactional
async def membership(turn: Turn) -> None:
    """The bot was added to, or removed from, a chat (or a person blocked or unblocked it)."""
    change = turn.update.my_chat_member
    assert change is not None
    status = change.new_chat_member.status
    chat = await chat_of(
        turn.session,
        turn.now,
        ChatRef(change.chat.id, change.chat.type, change.chat.title),
    )
    if status in (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED):
        await chat_service.mark_undeliverable(
            turn.session, turn.now, chat.id, f"status: {status}", turn.edge.settings.language
        )
        return
    was_out = change.old_chat_member.status in (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED)
    await chat_service.mark_deliverable(turn.session, turn.now, chat)
    if was_out and change.chat.type != "private":
        await enqueue(
            turn.session,
            turn.now,
            chat,
            "bot_added",
            turn.edge.settings.language,
            {"purpose": chat.purpose, "industry": chat.industry},
        )


def register_commands(application: NodeApplication) -> None:
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("help", help_command))
    application.add_handler(CommandHandler("whoami", whoami))
    application.add_handler(CommandHandler("lang", lang))
    application.add_handler(CommandHandler("grant", grant))
    application.add_handler(CommandHandler("revoke", revoke))
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, migrated))
    application.add_handler(ChatMemberHandler(membership, ChatMemberHandler.MY_CHAT_MEMBER))
    application.add_handler(
        CallbackQueryHandler(button, pattern=rf"^{CALLBACK_PREFIX}(help|whoami)$")
    )


def register_fallbacks(application: NodeApplication) -> None:
    application.add_handler(CallbackQueryHandler(stale_button))
    application.add_handler(
        MessageHandler(filters.COMMAND & filters.UpdateType.MESSAGE, unknown_command)
    )
