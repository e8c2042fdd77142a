"""For leaders at the edge: today's digest on demand, the red/black lists, publishing them."""

from __future__ import annotations

from telegram.ext import CommandHandler

from bot.edge import NodeApplication, Turn, transactional
from models.rules.digest import ListKind, last_completed, since_last
from models.rules.permissions import Action, can
from models.services import digest
from models.services.common import audit, enqueue
from models.services.scoring import parse_period
from models.texts import is_keyword


@transactional
async def digest_now(turn: Turn) -> None:
    """/digest: the digest as it stands now, since the last one sent to this person."""
    if not await turn.allowed(Action.VIEW_DIGEST):
        return
    assert turn.contact is not None and turn.chat is not None
    since = since_last(
        await digest.last_digest(turn.session, turn.contact.person, turn.now), turn.now
    )
    await digest.enqueue_digest(
        turn.session, turn.now, turn.edge.desk, turn.chat, turn.language, since
    )


@transactional
async def lists(turn: Turn) -> None:
    """/lists [month|quarter] [publish]: the last whole period's red and black lists."""
    if not await turn.allowed(Action.VIEW_DIGEST):
        return
    assert turn.contact is not None and turn.chat is not None
    words = [word.lower() for word in turn.args]
    publish = bool(words) and is_keyword(words[-1], "publish")
    if publish:
        words = words[:-1]
    period = parse_period(words[0] if words else "")
    if period not in ("month", "quarter") or len(words) > 1:
        await turn.reply("lists_usage")
        return
    kind: ListKind = "month" if period == "month" else "quarter"
    if publish and not can(turn.contact.roles, Action.PUBLISH_LISTS):
        await turn.reply("not_allowed")
        return
    label, inside = last_completed(turn.now, turn.edge.desk.zone, kind)
    view = await digest.lists_params(turn.session, inside, turn.edge.desk.zone, kind)
    language = turn.edge.desk.language if publish else turn.language
    await enqueue(turn.session, turn.now, turn.chat, "lists", language, view)
    if publish:
        audit(
            turn.session,
            turn.now,
            "lists_published",
            "chat",
            turn.chat.id,
            actor_id=turn.contact.person.id,
            period=label,
        )


def register(application: NodeApplication) -> None:
    application.add_handler(CommandHandler("digest", digest_now))
    application.add_handler(CommandHandler("lists", lists))
