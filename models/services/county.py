"""Load a county's set-up (departments, people and roles, groups, firms) in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.services.issues import Desk
from models.services.setup import import_county, raw_from_mapping
from models.tables import Department


@dataclass
class Loaded:
    departments: int = 0
    people: int = 0
    groups: int = 0
    firms: int = 0


async def load_county(
    session: AsyncSession, now: datetime, county: dict[str, Any], desk: Desk | None = None
) -> Loaded:
    """Load a county described like an import file (see `nodedesk import`), in one transaction.

    `desk` gives node deadlines their zone and office hours. Raises ValueError naming every
    problem (and so loads nothing) when the description is wrong.
    """
    raw, problems = raw_from_mapping(county)
    outcome = await import_county(
        session,
        now,
        raw,
        source="county",
        problems=problems,
        audit_action="county_loaded",
        desk=desk,
    )
    if not outcome.ok:
        raise ValueError("; ".join(f"{p.where()}: {p.flaw.value}" for p in outcome.problems))
    sizes = {c.section: c.created + c.updated for c in outcome.counts}
    return Loaded(
        departments=sizes["departments"],
        people=sizes["people"],
        groups=sizes["groups"],
        firms=sizes["firms"],
    )


async def is_empty(session: AsyncSession) -> bool:
    return await session.scalar(select(Department.id).limit(1)) is None
