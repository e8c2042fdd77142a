"""The knowledge base and what is pushed to firms: /faq, subscriptions, pro-business policies."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from telegram import Message
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.edge import NodeApplication, Turn, transactional
from bot.handlers.basic import ROW_ID
from models.rules.permissions import Action, can
from models.services import broadcasts, knowledge
from models.services.broadcasts import (
    MAX_POLICY_LENGTH,
    MAX_TITLE_LENGTH,
    SubscriptionOutcome,
    SubscriptionResult,
)

# The unsubscribe button under /subscriptions; the id is checked against the presser.
UNSUBSCRIBE_BUTTON = rf"^v1:unsub:{ROW_ID}$"
MAX_QUERY_LENGTH = 200


def _command_text(message: Message | None) -> str:
    """What follows the command, line breaks kept (a policy's text has paragraphs)."""
    if message is None:
        return ""
    text = message.text or ""
    for entity in message.entities or ():
        if entity.type == "bot_command" and entity.offset == 0:
            return text[entity.length :].strip()
    return text.strip()


# --- /faq ---------------------------------------------------------------------------------------


@transactional
async def faq(turn: Turn) -> None:
    """/faq words: the closest answered problems, anyone may ask, in a group or in private."""
    words = _command_text(turn.update.effective_message)[:MAX_QUERY_LENGTH]
    if not words:
        await turn.reply("faq_usage")
        return
    hits = await knowledge.search_faq(turn.session, words)
    if not hits:
        await turn.reply("faq_none", words=words)
        return
    await turn.reply("faq_results", words=words, hits=[asdict(hit) for hit in hits])


# --- subscriptions ------------------------------------------------------------------------------


async def _topic_lists(turn: Turn) -> dict[str, Any]:
    topics = await broadcasts.known_topics(turn.session)
    return {"industries": list(topics.industries), "categories": list(topics.categories)}


def _result_params(result: SubscriptionResult) -> dict[str, Any]:
    known = result.known
    return {
        "outcome": result.outcome.value,
        "topic": result.topic,
        "industries": list(known.industries) if known else [],
        "categories": list(known.categories) if known else [],
    }


async def _say(turn: Turn, result: SubscriptionResult) -> None:
    await turn.reply("subscribe_result", **_result_params(result))


async def _change_subscription(turn: Turn, command: str) -> None:
    if not await turn.needs_person():
        return
    assert turn.contact is not None and turn.chat is not None
    text = _command_text(turn.update.effective_message)
    if not text:
        if turn.chat.kind != "private":
            await _say(turn, SubscriptionResult(SubscriptionOutcome.PRIVATE_ONLY))
        else:
            await turn.reply("subscribe_usage", command=command, **await _topic_lists(turn))
        return
    change = broadcasts.subscribe if command == "subscribe" else broadcasts.unsubscribe
    await _say(turn, await change(turn.session, turn.now, turn.contact, text))


@transactional
async def subscribe(turn: Turn) -> None:
    await _change_subscription(turn, "subscribe")


@transactional
async def unsubscribe(turn: Turn) -> None:
    await _change_subscription(turn, "unsubscribe")


@transactional
async def subscriptions(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    assert turn.contact is not None and turn.chat is not None
    if turn.chat.kind != "private":
        await _say(turn, SubscriptionResult(SubscriptionOutcome.PRIVATE_ONLY))
        return
    if not can(turn.contact.roles, Action.SUBSCRIBE):
        await turn.reply("not_allowed")
        return
    mine = await broadcasts.subscriptions_of(turn.session, turn.contact.person.id)
    buttons = [
        [{"key": "subscribe_remove", "params": {"topic": s.topic}, "data": f"v1:unsub:{s.id}"}]
        for s in mine
    ]
    await turn.reply("subscribe_list", buttons=buttons or None, topics=[s.topic for s in mine])


@transactional
async def unsubscribe_button(turn: Turn) -> None:
    query = turn.update.callback_query
    assert query is not None and query.data is not None
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    subscription_id = int(query.data.rsplit(":", 1)[1])
    result = await broadcasts.unsubscribe_by_id(
        turn.session, turn.now, turn.contact, subscription_id
    )
    await turn.answer("subscribe_result", **_result_params(result))


# --- policies -----------------------------------------------------------------------------------


@transactional
async def policy(turn: Turn) -> None:
    """/policy <industry|all> <title> | <text>: a coordinator publishes a pro-business policy."""
    if not await turn.allowed(Action.PUBLISH_POLICY):
        return
    assert turn.contact is not None
    parts = _command_text(turn.update.effective_message).split(maxsplit=1)
    if len(parts) < 2 or "|" not in parts[1]:
        topics = await broadcasts.known_topics(turn.session)
        await turn.reply("policy_usage", industries=list(topics.industries))
        return
    title, _, text = parts[1].partition("|")
    outcome = await broadcasts.publish_policy(
        turn.session,
        turn.now,
        turn.contact,
        parts[0],
        title,
        text,
        turn.edge.settings.language.value,
    )
    if outcome.refused is not None:
        await turn.reply(
            "policy_refused",
            reason=outcome.refused.value,
            topic=outcome.topic,
            title_limit=MAX_TITLE_LENGTH,
            text_limit=MAX_POLICY_LENGTH,
        )
        return
    assert outcome.result is not None
    await turn.reply(
        "policy_published",
        title=title.strip(),
        topic=outcome.topic,
        count=outcome.result.recipients,
        groups=outcome.result.groups,
        people=outcome.result.people,
    )


@transactional
async def policies(turn: Turn) -> None:
    """/policies: how many policies went out each month, to how many chats, how many arrived."""
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    months = await broadcasts.policy_counts(
        turn.session, turn.now, turn.contact, turn.edge.settings.zone
    )
    if months is None:
        await turn.reply("not_allowed")
        return
    await turn.reply("policy_counts", months=[asdict(month) for month in months])


def register(application: NodeApplication) -> None:
    application.add_handler(CommandHandler("faq", faq))
    application.add_handler(CommandHandler("subscribe", subscribe))
    application.add_handler(CommandHandler("unsubscribe", unsubscribe))
    application.add_handler(CommandHandler("subscriptions", subscriptions))
    application.add_handler(CommandHandler("policy", policy))
    application.add_handler(CommandHandler("policies", policies))
    application.add_handler(CallbackQueryHandler(unsubscribe_button, pattern=UNSUBSCRIBE_BUTTON))
