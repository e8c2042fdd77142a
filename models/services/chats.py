"""What happens to chats: migration to a supergroup, the bot added or removed, unreachable chats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.rules.permissions import Role
from models.services.common import audit, enqueue
from models.tables import Base, Chat, OutboxMessage, OutboxStatus, Person, PersonRole


async def migrate_chat(
    session: AsyncSession, now: datetime, old_id: int, new_id: int
) -> Chat | None:
    """Make the chat known as `old_id` known as `new_id` from now on, keeping all it refers to.

    Telegram announces a migration in both chats, in either order, and the bot makes a row for a
    chat it has not seen when it hears from it. So when both ids have a row, the younger one
    (made for the announcement that came second, or for a message that beat the first) is
    folded into the older one, which keeps its binding.
    """
    old = await session.scalar(select(Chat).where(Chat.telegram_id == old_id))
    new = await session.scalar(select(Chat).where(Chat.telegram_id == new_id))
    if old is None:
        return new
    if new is not None and new.id != old.id:
        keep, drop = (old, new) if old.id < new.id else (new, old)
        for column in _references_to_chats():
            await session.execute(
                update(column.table).where(column == drop.id).values({column.name: keep.id})
            )
        await session.execute(delete(Chat).where(Chat.id == drop.id))
        await session.flush()
        session.expunge(drop)
        old = keep
    old.telegram_id = new_id
    old.kind = "supergroup"
    audit(session, now, "chat_migrated", "chat", old.id, from_id=old_id, to_id=new_id)
    return old


def _references_to_chats() -> list[Column[Any]]:
    """Every column that points at a chat row, whichever table grows one."""
    return [
        key.parent
        for table in Base.metadata.sorted_tables
        for key in table.foreign_keys
        if key.column.table.name == Chat.__tablename__
    ]


@dataclass(frozen=True)
class Undeliverable:
    chat: Chat
    dropped: int
    coordinators_told: int


async def mark_undeliverable(
    session: AsyncSession, now: datetime, chat_id: int, reason: str, language: str
) -> Undeliverable | None:
    """Stop sending to a chat that refused the bot, and tell the coordinators, once."""
    chat = await session.get(Chat, chat_id)
    if chat is None or chat.undeliverable_at is not None:
        return None
    chat.undeliverable_at, chat.undeliverable_reason = now, reason[:256]
    dropped = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.chat_id == chat.id, OutboxMessage.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.UNDELIVERABLE, last_error=reason[:500])
    )
    audit(session, now, "chat_undeliverable", "chat", chat.id, reason=reason)
    told = 0
    if not await _worth_telling(session, chat):
        return Undeliverable(chat, int(getattr(dropped, "rowcount", 0) or 0), told)
    for coordinator_chat in await _coordinator_chats(session):
        if coordinator_chat.id == chat.id:
            continue
        written = await enqueue(
            session,
            now,
            coordinator_chat,
            "chat_undeliverable",
            language,
            {"title": chat.title or str(chat.telegram_id), "reason": reason},
            dedupe_key=f"undeliverable:{chat.id}:{coordinator_chat.id}:{now.isoformat()}",
        )
        told += written is not None
    return Undeliverable(chat, int(getattr(dropped, "rowcount", 0) or 0), told)


async def mark_deliverable(session: AsyncSession, now: datetime, chat: Chat) -> bool:
    """The bot is back in a chat (re-added, unblocked): send to it again."""
    if chat.undeliverable_at is None:
        return False
    chat.undeliverable_at, chat.undeliverable_reason = None, None
    audit(session, now, "chat_deliverable", "chat", chat.id)
    return True


async def _worth_telling(session: AsyncSession, chat: Chat) -> bool:
    """Groups always; a private chat only when its person has a role (not every passer-by)."""
    if chat.kind != "private":
        return True
    role = await session.scalar(
        select(PersonRole.id)
        .join(Person, Person.id == PersonRole.person_id)
        .where(Person.telegram_id == chat.telegram_id)
        .limit(1)
    )
    return role is not None


async def _coordinator_chats(session: AsyncSession) -> list[Chat]:
    """Private chats of the coordinators, or of the admins when there is no coordinator yet."""
    for role in (Role.COORDINATOR, Role.ADMIN):
        rows = await session.scalars(
            select(Chat)
            .join(Person, Person.telegram_id == Chat.telegram_id)
            .join(PersonRole, PersonRole.person_id == Person.id)
            .where(PersonRole.role == role, Chat.undeliverable_at.is_(None))
            .order_by(Chat.id)
        )
        chats = list(rows)
        if chats:
            return chats
    return []
