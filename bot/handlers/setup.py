"""Setting up the county at the edge: departments, bound groups, firms, members, rules, limits."""

from __future__ import annotations

import html
import logging
import re
from typing import Any

from telegram import Update
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.edge import NodeApplication, NodeContext, Turn, transactional, transactional_after
from bot.handlers.basic import ROW_ID
from models.rules.categories import CATEGORIES
from models.services import setup
from models.services.setup import Outcome, Refusal
from models.texts import render

log = logging.getLogger(__name__)

MEMBER_PATTERN = rf"^v1:member:({ROW_ID}):(ok|no)$"
_TAG = re.compile(r"<[^>]+>")


def plain(text: str) -> str:
    """A rendered message as plain text, for a button's answer (which shows no HTML)."""
    return html.unescape(_TAG.sub("", text))


async def _usage(turn: Turn, command: str) -> None:
    await turn.reply("setup_usage", command=command, categories=list(CATEGORIES))


async def _answer(turn: Turn, outcome: Outcome, template: str, **params: Any) -> None:
    """The outcome's answer: `template` when it was done, else why not."""
    if outcome.refused is Refusal.NOT_ALLOWED:
        await turn.reply("not_allowed")
    elif outcome.refused is not None:
        await turn.reply("setup_refused", **setup.refusal_params(outcome))
    else:
        assert outcome.change is not None
        await turn.reply(template, change=outcome.change.value, **{**outcome.detail, **params})


async def ask_chat_admin(update: Update, context: NodeContext) -> bool:
    """Whether Telegram says the sender administers the group the command came from."""
    chat, user, message = update.effective_chat, update.effective_user, update.effective_message
    if chat is None or user is None or chat.type not in setup.GROUP_KINDS:
        return False
    if message is not None and message.sender_chat is not None:
        return False  # an anonymous admin or a channel: nobody to ask about
    try:
        member = await context.bot.get_chat_member(chat.id, user.id)
    except TelegramError as exc:
        log.warning("could not ask Telegram who administers chat %s: %s", chat.id, exc)
        return False
    return member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)


# --- departments and people -------------------------------------------------------------------


@transactional
async def adddept(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    words = turn.args
    coordinator = len(words) > 1 and words[-1].lower() == setup.COORDINATOR_FLAG
    name = " ".join(words[:-1] if coordinator else words)
    if not name.strip():
        await _usage(turn, "adddept")
        return
    outcome = await setup.add_department(turn.session, turn.now, turn.contact, name, coordinator)
    await _answer(turn, outcome, "setup_department_added")


@transactional
async def setdept(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    if len(turn.args) < 2:
        await _usage(turn, "setdept")
        return
    outcome = await setup.set_department(
        turn.session,
        turn.now,
        turn.contact,
        turn.args[0],
        " ".join(turn.args[1:]),
        turn.edge.settings.language.value,
    )
    await _answer(turn, outcome, "setup_department_set")


# --- chats ------------------------------------------------------------------------------------


@transactional_after(ask_chat_admin)
async def bindgroup(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    if not turn.args:
        await _usage(turn, "bindgroup")
        return
    outcome = await setup.bind_industry(
        turn.session,
        turn.now,
        turn.contact,
        bool(turn.told),
        turn.args[0],
        turn.args[1:],
    )
    await _answer(turn, outcome, "setup_group_bound")


@transactional_after(ask_chat_admin)
async def binddept(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    if not turn.args:
        await _usage(turn, "binddept")
        return
    outcome = await setup.bind_department(
        turn.session, turn.now, turn.contact, bool(turn.told), " ".join(turn.args)
    )
    await _answer(turn, outcome, "setup_department_chat_bound")


@transactional_after(ask_chat_admin)
async def unbind(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    outcome = await setup.unbind(turn.session, turn.now, turn.contact, bool(turn.told))
    await _answer(turn, outcome, "setup_chat_unbound")


# --- firms and members ------------------------------------------------------------------------


@transactional
async def addfirm(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    args = setup.parse_addfirm(turn.args)
    if args is None:
        await _usage(turn, "addfirm")
        return
    outcome = await setup.add_firm(turn.session, turn.now, turn.contact, args)
    await _answer(turn, outcome, "setup_firm_added")


@transactional
async def join(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    if not turn.args:
        await _usage(turn, "join")
        return
    outcome = await setup.request_membership(
        turn.session,
        turn.now,
        turn.contact,
        " ".join(turn.args),
        turn.edge.settings.language.value,
    )
    await _answer(turn, outcome, "setup_join_sent")


@transactional
async def member_button(turn: Turn) -> None:
    """[Confirm] / [Reject] on a join request."""
    query = turn.update.callback_query
    assert query is not None
    if turn.contact is None:
        turn.callback_answer = plain(render("anonymous", turn.language))
        return
    match = re.match(MEMBER_PATTERN, query.data or "")
    assert match is not None
    message = query.message
    outcome = await setup.decide_membership(
        turn.session,
        turn.now,
        turn.contact,
        int(match.group(1)),
        match.group(2) == "ok",
        turn.edge.settings.language.value,
        message_id=message.message_id if message is not None else None,
    )
    if outcome.refused is Refusal.NOT_ALLOWED:
        answer = render("not_allowed", turn.language)
    elif outcome.refused is Refusal.UNKNOWN_REQUEST:
        answer = render("button_stale", turn.language)
    elif outcome.refused is not None:
        answer = render("setup_refused", turn.language, setup.refusal_params(outcome))
    else:
        answer = render("setup_member_answer", turn.language, outcome.detail)
    turn.callback_answer = plain(answer)


# --- rules and policies -----------------------------------------------------------------------


@transactional
async def addrule(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    args = setup.parse_addrule(turn.args)
    if args is None:
        await _usage(turn, "addrule")
        return
    outcome = await setup.add_rule(turn.session, turn.now, turn.contact, args)
    await _answer(turn, outcome, "setup_rule_added")


@transactional
async def rules(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    outcome = await setup.list_rules(turn.session, turn.contact)
    await _answer(turn, outcome, "setup_rules")


@transactional
async def delrule(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    if len(turn.args) != 1:
        await _usage(turn, "delrule")
        return
    outcome = await setup.delete_rule(turn.session, turn.now, turn.contact, turn.args[0])
    await _answer(turn, outcome, "setup_rule_deleted")


@transactional
async def setpolicy(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    args = setup.parse_setpolicy(turn.args)
    if args is None:
        await _usage(turn, "setpolicy")
        return
    outcome = await setup.set_policy(turn.session, turn.now, turn.contact, args)
    await _answer(turn, outcome, "setup_policy_set")


@transactional
async def servicepolicies(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    outcome = await setup.list_policies(turn.session, turn.contact)
    await _answer(turn, outcome, "setup_policies")


def register(application: NodeApplication) -> None:
    for name, handler in (
        ("adddept", adddept),
        ("setdept", setdept),
        ("bindgroup", bindgroup),
        ("binddept", binddept),
        ("unbind", unbind),
        ("addfirm", addfirm),
        ("join", join),
        ("addrule", addrule),
        ("rules", rules),
        ("delrule", delrule),
        ("setpolicy", setpolicy),
        ("servicepolicies", servicepolicies),
    ):
        application.add_handler(CommandHandler(name, handler))
    application.add_handler(CallbackQueryHandler(member_button, pattern=MEMBER_PATTERN))
