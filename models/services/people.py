"""People: who they are, their roles and their language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.rules.permissions import Action, Role, can
from models.services.common import audit, insert_ignoring_conflicts
from models.services.contacts import Contact, roles_of
from models.tables import Department, Firm, Person, PersonRole
from models.texts import LANGUAGES


@dataclass(frozen=True)
class Profile:
    person: Person
    roles: frozenset[Role]
    department: str | None
    firm: str | None


async def profile(session: AsyncSession, person: Person) -> Profile:
    department = (
        await session.scalar(select(Department.name).where(Department.id == person.department_id))
        if person.department_id
        else None
    )
    firm = (
        await session.scalar(select(Firm.name).where(Firm.id == person.firm_id))
        if person.firm_id
        else None
    )
    return Profile(person, await roles_of(session, person.id), department, firm)


class RoleChange(StrEnum):
    DONE = "done"
    UNCHANGED = "unchanged"
    NOT_ALLOWED = "not_allowed"
    UNKNOWN_PERSON = "unknown_person"


@dataclass(frozen=True)
class RoleChangeResult:
    outcome: RoleChange
    target: Person | None = None


async def change_role(
    session: AsyncSession,
    now: datetime,
    actor: Contact,
    target_ref: str,
    role: Role,
    grant: bool,
) -> RoleChangeResult:
    """Grant or revoke a role; only admins may, and an admin cannot revoke their own admin role."""
    if not can(actor.roles, Action.MANAGE_ROLES):
        return RoleChangeResult(RoleChange.NOT_ALLOWED)
    target = await find_person(session, target_ref)
    if target is None:
        return RoleChangeResult(RoleChange.UNKNOWN_PERSON)
    if not grant and role is Role.ADMIN and target.id == actor.person.id:
        return RoleChangeResult(RoleChange.NOT_ALLOWED, target)
    if grant:
        result = await session.execute(
            insert_ignoring_conflicts(session, PersonRole)
            .values(person_id=target.id, role=role)
            .returning(PersonRole.id)
        )
        changed = result.scalar() is not None
    else:
        result = await session.execute(
            delete(PersonRole)
            .where(PersonRole.person_id == target.id, PersonRole.role == role)
            .returning(PersonRole.id)
        )
        changed = result.scalar() is not None
    if not changed:
        return RoleChangeResult(RoleChange.UNCHANGED, target)
    action = "role_granted" if grant else "role_revoked"
    audit(session, now, action, "person", target.id, actor_id=actor.person.id, role=role.value)
    return RoleChangeResult(RoleChange.DONE, target)


async def find_person(session: AsyncSession, ref: str) -> Person | None:
    """A person by Telegram user id or @username."""
    ref = ref.strip()
    if ref.lstrip("-").isdigit():
        condition = Person.telegram_id == int(ref)
    else:
        username = ref.removeprefix("@")
        if not username:
            return None
        condition = or_(Person.username == username, Person.username == username.lower())
    return await session.scalar(select(Person).where(condition).limit(1))


async def set_language(session: AsyncSession, now: datetime, person: Person, language: str) -> bool:
    if language not in LANGUAGES:
        return False
    if person.language != language:
        person.language = language
        audit(session, now, "language_set", "person", person.id, language=language)
    return True
