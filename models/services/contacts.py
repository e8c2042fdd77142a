"""Who is talking, and where: people and chats as the bot meets them."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.rules.permissions import Role
from models.services.common import audit, insert_ignoring_conflicts, read_mostly
from models.tables import Chat, ChatPurpose, Firm, Person, PersonRole


@dataclass(frozen=True)
class Sender:
    telegram_id: int
    full_name: str
    username: str | None = None


@dataclass(frozen=True)
class ChatRef:
    telegram_id: int
    kind: str
    title: str | None = None


@dataclass(frozen=True)
class Contact:
    person: Person
    chat: Chat
    roles: frozenset[Role]


async def meet(
    session: AsyncSession,
    now: datetime,
    sender: Sender,
    chat_ref: ChatRef,
    admin_ids: Collection[int] = (),
) -> Contact:
    """The person and chat of an update, created or refreshed; bootstrap admins get the role."""
    person, roles = await _person(session, now, sender)
    chat = await chat_of(session, now, chat_ref)
    if sender.telegram_id in admin_ids and Role.ADMIN not in roles:
        await session.execute(
            insert_ignoring_conflicts(session, PersonRole).values(
                person_id=person.id, role=Role.ADMIN
            )
        )
        audit(session, now, "role_granted", "person", person.id, role="admin", by="settings")
        roles = roles | {Role.ADMIN}
    return Contact(person, chat, roles)


# A person with their roles, in one statement built once: every update reads them. Their firm
# comes along into the session, where a report then finds it without a query of its own.
_PERSON_WITH_ROLES = (
    select(Person, PersonRole.role, Firm)
    .outerjoin(PersonRole, PersonRole.person_id == Person.id)
    .outerjoin(Firm, Firm.id == Person.firm_id)
    .where(Person.telegram_id == bindparam("telegram_id"))
)
_CHAT = select(Chat).where(Chat.telegram_id == bindparam("telegram_id"))


async def _person(
    session: AsyncSession, now: datetime, sender: Sender
) -> tuple[Person, frozenset[Role]]:
    rows = (await session.execute(_PERSON_WITH_ROLES, {"telegram_id": sender.telegram_id})).all()
    if rows:
        found = rows[0][0]
        if (found.full_name, found.username) != (sender.full_name, sender.username):
            found.full_name, found.username = sender.full_name, sender.username
        return found, frozenset(Role(role) for _, role, _ in rows if role is not None)
    made = await _first_seen(
        session,
        now,
        Person,
        "person",
        telegram_id=sender.telegram_id,
        full_name=sender.full_name,
        username=sender.username,
    )
    return made, frozenset()


async def chat_of(session: AsyncSession, now: datetime, ref: ChatRef) -> Chat:
    """The chat row for a Telegram chat, created when the bot first hears from it."""
    rows = await read_mostly(session, _CHAT, {"telegram_id": ref.telegram_id})
    found = rows[0] if rows else None
    if found is None:
        purpose = ChatPurpose.PRIVATE if ref.kind == "private" else ChatPurpose.UNBOUND
        found = await _first_seen(
            session,
            now,
            Chat,
            "chat",
            telegram_id=ref.telegram_id,
            kind=ref.kind,
            title=ref.title,
            purpose=purpose,
        )
    elif ref.title is not None and found.title != ref.title:
        found.title = ref.title
    return found


_Seen = TypeVar("_Seen", Person, Chat)


async def _first_seen(
    session: AsyncSession, now: datetime, entity: type[_Seen], subject: str, **values: Any
) -> _Seen:
    """The row of a Telegram person or chat the bot hears from for the first time, logged.

    Two updates from it may race: the unique key lets only one row in, and both read it back.
    """
    telegram_id = values["telegram_id"]
    await session.execute(
        insert_ignoring_conflicts(session, entity).values(created_at=now, **values)
    )
    made = await session.scalar(select(entity).where(entity.telegram_id == telegram_id))
    assert made is not None
    audit(session, now, f"{subject}_seen", subject, made.id, telegram_id=telegram_id)
    return made


async def roles_of(session: AsyncSession, person_id: int) -> frozenset[Role]:
    rows = await session.scalars(select(PersonRole.role).where(PersonRole.person_id == person_id))
    return frozenset(Role(role) for role in rows)
