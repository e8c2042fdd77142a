"""Questions the bot asks and waits on: the person's next message in that chat answers them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.services.common import enqueue
from models.services.contacts import Contact
from models.tables import Dialogue

DIALOGUE_LIFETIME = timedelta(hours=24)


async def ask(
    session: AsyncSession,
    now: datetime,
    who: Contact,
    kind: str,
    language: str,
    payload: dict[str, Any],
    params: dict[str, Any] | None = None,
) -> None:
    """Ask `who` the question `ask_<kind>` in their chat; an earlier open question is replaced."""
    chat = who.chat
    await session.execute(
        update(Dialogue)
        .where(
            Dialogue.person_id == who.person.id,
            Dialogue.chat_id == chat.id,
            Dialogue.status == "open",
        )
        .values(status="replaced")
    )
    session.add(
        Dialogue(
            person_id=who.person.id,
            chat_id=chat.id,
            kind=kind,
            payload=payload,
            status="open",
            created_at=now,
            expires_at=now + DIALOGUE_LIFETIME,
        )
    )
    await enqueue(session, now, chat, f"ask_{kind}", language, params or {})


# Read for every message. Built once (see `common.prepared_insert`): building it and its cache
# key each time cost more than running it.
_OPEN = (
    select(Dialogue)
    .where(
        Dialogue.person_id == bindparam("person_id"),
        Dialogue.chat_id == bindparam("chat_id"),
        Dialogue.status == "open",
        Dialogue.expires_at > bindparam("now"),
    )
    .order_by(Dialogue.id.desc())
    .limit(1)
)


async def open_dialogue(session: AsyncSession, now: datetime, who: Contact) -> Dialogue | None:
    """The question `who` has yet to answer in this chat, if one is still open."""
    return await session.scalar(
        _OPEN, {"person_id": who.person.id, "chat_id": who.chat.id, "now": now}
    )
