"""The big screen's figures: the whole county at a glance, read in one place.

Pure reads. Everything is as of `now`; "this month" is the county's calendar month (the same
period the monthly ranking uses). Times are shown in the county's zone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.rules.cards import Colour
from models.rules.scoring import period_bounds
from models.services.deadlines import holding_due, overdue_at
from models.services.nodes import DONE
from models.services.scoring import ranking, standing_params
from models.tables import Card, Deadline, Department, Issue, IssueStatus, Node, Project

OVERDUE_LIMIT = 20
RANKING_LIMIT = 10
CLOSURES_LIMIT = 10
CLOSURE_TEXT_LIMIT = 40


async def figures(session: AsyncSession, now: datetime, zone: ZoneInfo) -> dict[str, Any]:
    """Everything the screen shows, as plain data (it is also served as JSON)."""
    start, end = period_bounds("month", now, zone)
    local_start = start.astimezone(zone)
    names = {d.id: d.name for d in await session.scalars(select(Department))}
    overdue, overdue_count = await _overdue(session, now, zone, names)
    view = await ranking(session, now, zone, "month")
    return {
        "updated": now.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
        "year": local_start.year,
        "month": local_start.month,
        "totals": {
            "month": await _totals(session, start, end),
            "all": await _totals(session, None, None),
        },
        "cards": await _cards(session, start, end),
        "nodes": await _nodes(session),
        "overdue": overdue,
        "overdue_count": overdue_count,
        "ranking": [standing_params(s) for s in view.departments[:RANKING_LIMIT]],
        "closures": await _closures(session, zone, names),
    }


async def _count(session: AsyncSession, *conditions: Any) -> int:
    found = await session.scalar(select(func.count()).select_from(Issue).where(*conditions))
    return int(found or 0)


async def _totals(
    session: AsyncSession, start: datetime | None, end: datetime | None
) -> dict[str, int]:
    """Issues reported and closed in the period, and those reported then that are still open.

    With no period: every issue ever reported and closed, and every one open now.
    """
    reported: list[Any] = []
    closed: list[Any] = []
    if start is not None and end is not None:
        reported = [Issue.created_at >= start, Issue.created_at < end]
        closed = [Issue.closed_at >= start, Issue.closed_at < end]
    return {
        "reported": await _count(session, *reported),
        "open": await _count(session, Issue.status != IssueStatus.CLOSED, *reported),
        "closed": await _count(session, Issue.status == IssueStatus.CLOSED, *closed),
    }


async def _cards(session: AsyncSession, start: datetime, end: datetime) -> dict[str, int]:
    """Cards raised this month, by colour."""
    counts = dict.fromkeys((c.value for c in Colour), 0)
    rows = await session.execute(
        select(Card.colour, func.count())
        .where(Card.raised_at >= start, Card.raised_at < end)
        .group_by(Card.colour)
    )
    for colour, count in rows:
        counts[colour] = int(count)
    return counts


def _percent(done: int, total: int) -> int:
    return round(100 * done / total) if total else 0


async def _nodes(session: AsyncSession) -> list[dict[str, Any]]:
    """Nodes done out of all nodes, per project category (by name)."""
    rows = await session.execute(
        select(
            Project.category,
            func.count(Node.id),
            func.sum(case((Node.status == DONE, 1), else_=0)),
        )
        .join(Project, Project.id == Node.project_id)
        .group_by(Project.category)
        .order_by(Project.category)
    )
    return [
        {
            "category": category,
            "done": int(done or 0),
            "total": int(total),
            "percent": _percent(int(done or 0), int(total)),
        }
        for category, total, done in rows
    ]


async def _overdue(
    session: AsyncSession, now: datetime, zone: ZoneInfo, names: dict[int, str]
) -> tuple[list[dict[str, Any]], int]:
    """Open deadlines past their date (an approved re-committed one replaces it), most late
    first, and how many there are in all."""
    due, late = holding_due(), overdue_at(now)
    count = int(await session.scalar(select(func.count()).select_from(Deadline).where(late)) or 0)
    rows = list(
        await session.execute(
            select(Deadline, due).where(late).order_by(due, Deadline.id).limit(OVERDUE_LIMIT)
        )
    )
    issue_ids = {row.subject_id for row, _ in rows if row.subject_type == "issue"}
    private: dict[int, str] = {}
    if issue_ids:
        found = await session.execute(
            select(Issue.id, Issue.number).where(
                Issue.id.in_(issue_ids), Issue.is_private.is_(True)
            )
        )
        private = {issue_id: number for issue_id, number in found}
    items = []
    for row, due_at in rows:
        hidden = row.subject_type == "issue" and row.subject_id in private
        items.append(
            {
                "subject": row.subject_type,
                "kind": row.kind,
                # A private issue's label carries its text; the hall sees only its number.
                "label": private[row.subject_id] if hidden else row.label,
                "department": names.get(row.department_id) if row.department_id else None,
                "card": _worst_card(row.cards),
                "due": due_at.astimezone(zone).strftime("%m-%d %H:%M"),
                "late_minutes": int((now - due_at).total_seconds() // 60),
            }
        )
    return items, count


def _worst_card(cards: str) -> str | None:
    """The card the item stands on: red after its yellow, else yellow, else none yet."""
    raised = cards.split(",")
    for colour in (Colour.RED, Colour.YELLOW):
        if colour.value in raised:
            return colour.value
    return None


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def _closures(
    session: AsyncSession, zone: ZoneInfo, names: dict[int, str]
) -> list[dict[str, Any]]:
    """The latest issues closed, newest first; a private issue shows no text."""
    issues = await session.scalars(
        select(Issue)
        .where(Issue.status == IssueStatus.CLOSED, Issue.closed_at.is_not(None))
        .order_by(Issue.closed_at.desc(), Issue.id.desc())
        .limit(CLOSURES_LIMIT)
    )
    return [
        {
            "number": issue.number,
            "department": names.get(issue.department_id) if issue.department_id else None,
            "closed_at": issue.closed_at.astimezone(zone).strftime("%m-%d %H:%M")
            if issue.closed_at
            else "",
            "text": None if issue.is_private else _clip(issue.text, CLOSURE_TEXT_LIMIT),
            "rating": issue.rating,
        }
        for issue in issues
    ]
