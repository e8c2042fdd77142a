"""For leaders: the daily digest and the monthly and quarterly red/black lists.

Each goes to every leader once per day (or period), also across restarts: a `sent_reports` row,
unique per person, kind and period, is written in the same transaction as the message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.rules.cards import Colour
from models.rules.digest import (
    ListKind,
    OnTime,
    digest_day,
    furthest_behind,
    last_completed,
    on_time_by_category,
    since_last,
)
from models.rules.permissions import Role
from models.rules.scoring import Standing, period_bounds, red_black_lists
from models.services.common import OutgoingFile, audit, enqueue, insert_ignoring_conflicts
from models.services.deadlines import overdue_at
from models.services.issues import Desk
from models.services.scoring import ranking
from models.tables import (
    Card,
    Chat,
    Deadline,
    Department,
    Issue,
    Person,
    PersonRole,
    SentReport,
)
from models.texts import render

SUPERVISION_SHOWN = 5
LIST_KINDS: tuple[ListKind, ...] = ("month", "quarter")


@dataclass
class Figures:
    """A digest's numbers, from `since` to `now`."""

    since: datetime
    now: datetime
    new: int = 0
    claimed: int = 0
    closed: int = 0
    overdue: int = 0
    cards: dict[str, int] = field(default_factory=dict)
    on_time: list[OnTime] = field(default_factory=list)
    behind: list[tuple[str, int]] = field(default_factory=list)
    supervised: list[str] = field(default_factory=list)
    supervised_count: int = 0
    rating: float | None = None
    ratings: int = 0


async def figures(session: AsyncSession, now: datetime, zone: ZoneInfo, since: datetime) -> Figures:
    """New, claimed, closed and overdue items; cards since; on-time rates this month; the
    departments furthest behind; the key-supervision list; satisfaction since."""
    found = Figures(since, now)

    async def count(column: Any) -> int:
        return int(
            await session.scalar(
                select(func.count()).select_from(Issue).where(column >= since, column < now)
            )
            or 0
        )

    found.new = await count(Issue.created_at)
    found.claimed = await count(Issue.claimed_at)
    found.closed = await count(Issue.closed_at)
    raised = await session.execute(
        select(Card.colour, func.count())
        .where(Card.raised_at >= since, Card.raised_at < now)
        .group_by(Card.colour)
    )
    found.cards = {colour: int(n) for colour, n in raised.all()}
    month_start, _ = period_bounds("month", now, zone)
    month_cards = await session.execute(
        select(Deadline.category, Card.colour)
        .join(Deadline, Deadline.id == Card.deadline_id)
        .where(Card.raised_at >= month_start, Card.raised_at < now)
    )
    found.on_time = on_time_by_category((cat, Colour(colour)) for cat, colour in month_cards.all())
    overdue = overdue_at(now)
    by_department = await session.execute(
        select(Department.name, func.count())
        .select_from(Deadline)
        .outerjoin(Department, Department.id == Deadline.department_id)
        .where(overdue)
        .group_by(Department.name)
    )
    counts = [(name or "—", int(n)) for name, n in by_department.all()]
    found.overdue = sum(n for _, n in counts)
    found.behind = furthest_behind(name for name, n in counts for _ in range(n))
    supervised = overdue & Deadline.supervised_at.is_not(None)
    found.supervised_count = int(
        await session.scalar(select(func.count()).select_from(Deadline).where(supervised)) or 0
    )
    found.supervised = list(
        await session.scalars(
            select(Deadline.label)
            .where(supervised)
            .order_by(Deadline.supervised_at, Deadline.id)
            .limit(SUPERVISION_SHOWN)
        )
    )
    rated = await session.execute(
        select(func.avg(Issue.rating), func.count(Issue.rating)).where(
            Issue.closed_at >= since, Issue.closed_at < now, Issue.rating.is_not(None)
        )
    )
    average, ratings = rated.one()
    found.rating = float(average) if average is not None else None
    found.ratings = int(ratings)
    return found


def params(found: Figures, zone: ZoneInfo) -> dict[str, Any]:
    def local(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    return {
        "digest_since": local(found.since),
        "digest_now": local(found.now),
        "digest_new": found.new,
        "digest_claimed": found.claimed,
        "digest_closed": found.closed,
        "digest_overdue": found.overdue,
        "digest_cards": {c.value: found.cards.get(c.value, 0) for c in Colour},
        "digest_on_time": [
            {"category": r.category, "green": r.green, "settled": r.settled, "rate": r.rate}
            for r in found.on_time
        ],
        "digest_behind": [{"department": d, "overdue": n} for d, n in found.behind],
        "digest_supervised": found.supervised,
        "digest_supervised_count": found.supervised_count,
        "digest_rating": round(found.rating, 1) if found.rating is not None else None,
        "digest_ratings": found.ratings,
    }


def chart(found: Figures, language: str) -> OutgoingFile:
    # matplotlib (and numpy under it) cost ~45 MB and a second to import: only once a chart is
    # drawn, not at every start of the bot.
    from models.services.charts import digest_chart

    labels = dict(
        line.split("|", 1)
        for line in render("digest_chart_labels", language, {}).splitlines()
        if "|" in line
    )
    categories = [(labels.get(f"category:{r.category}", r.category), r.rate) for r in found.on_time]
    png = digest_chart(labels, categories, found.cards)
    return OutgoingFile("photo", f"digest-{found.now:%Y%m%d}.png", png)


async def leaders(session: AsyncSession) -> list[tuple[Person, Chat]]:
    """Every leader the bot can reach in private."""
    rows = await session.execute(
        select(Person, Chat)
        .join(PersonRole, PersonRole.person_id == Person.id)
        .join(Chat, and_(Chat.telegram_id == Person.telegram_id, Chat.kind == "private"))
        .where(PersonRole.role == Role.LEADER, Chat.undeliverable_at.is_(None))
        .order_by(Person.id)
    )
    return [(person, chat) for person, chat in rows.all()]


async def _claim_report(
    session: AsyncSession, now: datetime, person: Person, kind: str, period: str
) -> int | None:
    """The report's row, if this is the first time; None when it was sent before."""
    statement = (
        insert_ignoring_conflicts(session, SentReport)
        .values(person_id=person.id, kind=kind, period=period, sent_at=now)
        .returning(SentReport.id)
    )
    return (await session.execute(statement)).scalar()


async def last_digest(session: AsyncSession, person: Person, now: datetime) -> datetime | None:
    """When the person's latest digest before `now` went out, if ever."""
    return await session.scalar(
        select(func.max(SentReport.sent_at)).where(
            SentReport.person_id == person.id, SentReport.kind == "digest", SentReport.sent_at < now
        )
    )


async def enqueue_digest(
    session: AsyncSession, now: datetime, desk: Desk, chat: Chat, language: str, since: datetime
) -> int | None:
    """Write the digest (its text and its chart) for one chat into the outbox."""
    found = await figures(session, now, desk.zone, since)
    return await enqueue(
        session,
        now,
        chat,
        "digest",
        language,
        params(found, desk.zone),
        file=chart(found, language),
    )


async def send_due(session: AsyncSession, now: datetime, desk: Desk, at: time) -> int:
    """Every digest and list due now and not yet sent; how many messages were written."""
    day = digest_day(now, desk.zone, at, desk.calendar.is_working_day)
    if day is None:
        return 0
    written = 0
    for person, chat in await leaders(session):
        language = person.language or desk.language
        report_id = await _claim_report(session, now, person, "digest", day.isoformat())
        if report_id is not None:
            since = since_last(await last_digest(session, person, now), now)
            outbox_id = await enqueue_digest(session, now, desk, chat, language, since)
            await _record(session, report_id, outbox_id)
            audit(session, now, "digest_sent", "person", person.id, day=day.isoformat())
            written += 1
        for kind in LIST_KINDS:
            label, inside = last_completed(now, desk.zone, kind)
            report_id = await _claim_report(session, now, person, kind, label)
            if report_id is None:
                continue
            view = await lists_params(session, inside, desk.zone, kind)
            outbox_id = await enqueue(session, now, chat, "lists", language, view)
            await _record(session, report_id, outbox_id)
            audit(session, now, "lists_sent", "person", person.id, period=label)
            written += 1
    return written


async def _record(session: AsyncSession, report_id: int, outbox_id: int | None) -> None:
    report = await session.get(SentReport, report_id)
    assert report is not None
    report.outbox_id = outbox_id


def _standing(s: Standing) -> dict[str, Any]:
    return {
        "name": s.name,
        "points": s.points,
        "on_time_rate": s.on_time_rate,
        "red": s.red,
        "satisfaction": round(s.satisfaction, 1) if s.satisfaction is not None else None,
        "position": s.position,
    }


async def lists_params(
    session: AsyncSession, inside: datetime, zone: ZoneInfo, kind: ListKind
) -> dict[str, Any]:
    """The red list (best) and the black list (worst) of departments for the period `inside`
    falls in, with their reasons."""
    view = await ranking(session, inside, zone, kind)
    best, worst = red_black_lists(view.departments)
    return {
        "lists_kind": kind,
        "lists_from": view.first_day.isoformat(),
        "lists_to": view.last_day.isoformat(),
        "lists_red": [_standing(s) for s in best],
        "lists_black": [_standing(s) for s in worst],
    }
