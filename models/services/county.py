"""Load a county's set-up (departments, people and roles, groups, firms) in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.rules.permissions import Role
from models.services.common import audit
from models.tables import Chat, ChatPurpose, Department, Firm, Person, PersonRole

T = TypeVar("T")


@dataclass
class Loaded:
    departments: int = 0
    people: int = 0
    groups: int = 0
    firms: int = 0


async def load_county(session: AsyncSession, now: datetime, county: dict[str, Any]) -> Loaded:
    """Create what the description names; raises ValueError (and so loads nothing) on a bad name."""
    loaded = Loaded()
    departments: dict[str, Department] = {}
    for entry in county.get("departments", []):
        department = Department(
            name=entry["name"], is_coordinator=bool(entry.get("coordinator")), created_at=now
        )
        session.add(department)
        departments[department.name] = department
        loaded.departments += 1
    await session.flush()

    firms: dict[str, Firm] = {}
    for entry in county.get("firms", []):
        firm = Firm(name=entry["name"], industry=entry["industry"], created_at=now)
        session.add(firm)
        firms[firm.name] = firm
        loaded.firms += 1
    await session.flush()

    people: dict[int, Person] = {}
    for entry in county.get("people", []):
        person = Person(
            telegram_id=int(entry["id"]),
            full_name=entry["name"],
            username=entry.get("username"),
            created_at=now,
        )
        if "department" in entry:
            person.department_id = _named(departments, entry["department"]).id
        if "firm" in entry:
            person.firm_id = _named(firms, entry["firm"]).id
        session.add(person)
        await session.flush()
        people[person.telegram_id] = person
        for role_name in entry.get("roles", []):
            session.add(PersonRole(person_id=person.id, role=Role(role_name)))
        session.add(
            Chat(
                telegram_id=person.telegram_id,
                kind="private",
                purpose=ChatPurpose.PRIVATE,
                created_at=now,
            )
        )
        loaded.people += 1

    for entry in county.get("firms", []):
        if "liaison" in entry:
            firms[entry["name"]].liaison_id = _named(people, int(entry["liaison"])).id

    for entry in county.get("groups", []):
        session.add(
            Chat(
                telegram_id=int(entry["id"]),
                kind="supergroup",
                title=entry["title"],
                purpose=ChatPurpose.INDUSTRY,
                industry=entry["industry"],
                created_at=now,
            )
        )
        loaded.groups += 1
    await session.flush()
    audit(
        session,
        now,
        "county_loaded",
        "county",
        None,
        departments=loaded.departments,
        people=loaded.people,
        groups=loaded.groups,
        firms=loaded.firms,
    )
    return loaded


def _named(table: dict[Any, T], name: object) -> T:
    if name not in table:
        raise ValueError(f"unknown name {name!r}")
    return table[name]


async def is_empty(session: AsyncSession) -> bool:
    return await session.scalar(select(Department.id).limit(1)) is None
