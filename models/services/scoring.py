"""Scoring: the points rules and weights the county set, and the rankings built on the ledger.

Setting the rules (分类考核: points per card by category, weights by category and by kind of
unit) is the county's to manage; every change is audited. Points already in the ledger keep
the value they were booked with: a new rule counts from the next card on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, get_args
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.rules.cards import Colour
from models.rules.categories import CATEGORIES
from models.rules.permissions import Action, can
from models.rules.scoring import (
    LedgerEntry,
    Period,
    PointsPolicy,
    Rating,
    Standing,
    Weights,
    period_bounds,
    rank,
)
from models.services.common import audit
from models.services.contacts import Contact
from models.services.setup import (
    DEFAULT_POLICY,
    Change,
    category_of,
    clean,
    department_names,
    find_department,
)
from models.tables import Department, Issue, Person, PointsEntry, PointsRule, ScoreWeight

KIND_LIMIT = 50  # departments.kind
MAX_POINTS = 100.0
MAX_WEIGHT = 10.0
CATEGORY = "category"
UNIT_KIND = "unit_kind"
# The words /setweight takes for a scope, in either language.
SCOPE_WORDS = {"category": CATEGORY, "类别": CATEGORY, "unit": UNIT_KIND, "单位": UNIT_KIND}
NO_KIND = "-"
PERIODS: tuple[Period, ...] = get_args(Period)
PERIOD_WORDS: dict[str, Period] = {
    **{p: p for p in PERIODS},
    "月": "month",
    "月度": "month",
    "季": "quarter",
    "季度": "quarter",
    "年": "year",
    "年度": "year",
}


async def points_setup(
    session: AsyncSession,
) -> tuple[dict[str | None, PointsPolicy], Weights]:
    """The points per colour by category (None: the county's default) and the weights."""
    policies = {
        rule.category: PointsPolicy(rule.green, rule.yellow, rule.red)
        for rule in await session.scalars(select(PointsRule))
    }
    by_category: dict[str, float] = {}
    by_unit_kind: dict[str, float] = {}
    for weight in await session.scalars(select(ScoreWeight)):
        (by_category if weight.scope == CATEGORY else by_unit_kind)[weight.key] = weight.weight
    return policies, Weights(by_category, by_unit_kind)


# --- setting the rules ------------------------------------------------------------------------


class Refusal(StrEnum):
    NOT_ALLOWED = "not_allowed"
    UNKNOWN_CATEGORY = "unknown_category"
    UNKNOWN_SCOPE = "unknown_scope"
    UNKNOWN_DEPARTMENT = "unknown_department"
    BAD_POINTS = "bad_points"
    WRONG_SIGN = "wrong_sign"
    BAD_WEIGHT = "bad_weight"
    EMPTY = "empty"
    TOO_LONG = "too_long"


@dataclass(frozen=True)
class ScoringOutcome:
    """What a scoring use case did (`change`), or why it refused; `detail` is what to tell."""

    change: Change | None = None
    refused: Refusal | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.refused is None


def refusal_params(outcome: ScoringOutcome) -> dict[str, Any]:
    """Every parameter the refusal template may mention, so that none is ever undefined."""
    return {
        "scoring_reason": outcome.refused.value if outcome.refused else "",
        "scoring_value": outcome.detail.get("value"),
        "scoring_limit": outcome.detail.get("limit"),
        "scoring_known": outcome.detail.get("known") or [],
        "scoring_categories": list(CATEGORIES),
    }


def _refuse(reason: Refusal, **detail: Any) -> ScoringOutcome:
    return ScoringOutcome(refused=reason, detail=detail)


def _number(value: float | str, limit: float) -> float | None:
    """A finite number no larger than `limit` either way, from a word or a number."""
    if isinstance(value, str):
        try:
            value = float(clean(value))
        except ValueError:
            return None
    if not math.isfinite(value) or abs(value) > limit:
        return None
    return value + 0.0  # -0.0 reads as 0


async def _points_rule(session: AsyncSession, category: str | None) -> PointsRule | None:
    # A NULL category is not caught by the unique key, so the default row is looked up first.
    condition = (
        PointsRule.category.is_(None) if category is None else PointsRule.category == category
    )
    return await session.scalar(select(PointsRule).where(condition))


async def set_points(
    session: AsyncSession,
    now: datetime,
    actor: Contact,
    category_or_default: str,
    green: float | str,
    yellow: float | str,
    red: float | str,
) -> ScoringOutcome:
    """/setpoints: points per green, yellow and red card for a category (or the default)."""
    if not can(actor.roles, Action.MANAGE_COUNTY):
        return _refuse(Refusal.NOT_ALLOWED)
    category: str | None = None
    if clean(category_or_default).lower() != DEFAULT_POLICY:
        category = category_of(category_or_default)
        if category is None:
            return _refuse(Refusal.UNKNOWN_CATEGORY, value=category_or_default)
    values = []
    for word in (green, yellow, red):
        number = _number(word, MAX_POINTS)
        if number is None:
            return _refuse(Refusal.BAD_POINTS, value=str(word), limit=MAX_POINTS)
        values.append(number)
    try:
        policy = PointsPolicy(*values)
    except ValueError:
        return _refuse(Refusal.WRONG_SIGN)
    view = {
        "category": category,
        "green": policy.green,
        "yellow": policy.yellow,
        "red": policy.red,
    }
    row = await _points_rule(session, category)
    if row is None:
        row = PointsRule(category=category, created_at=now)
        session.add(row)
        change = Change.CREATED
    elif (row.green, row.yellow, row.red) == (policy.green, policy.yellow, policy.red):
        return ScoringOutcome(Change.UNCHANGED, detail={"scoring_points": view})
    else:
        change = Change.UPDATED
    row.green, row.yellow, row.red = policy.green, policy.yellow, policy.red
    await session.flush()
    audit(
        session,
        now,
        "points_set",
        "points_rule",
        row.id,
        actor_id=actor.person.id,
        change=change.value,
        **view,
    )
    return ScoringOutcome(change, detail={"scoring_points": view})


async def set_weight(
    session: AsyncSession,
    now: datetime,
    actor: Contact,
    scope: str,
    key: str,
    weight: float | str,
) -> ScoringOutcome:
    """/setweight: how much a category, or a kind of unit, counts (1 when never set).

    `scope` is "category" or "unit_kind", or a command word for either (unit, 类别, 单位).
    """
    if not can(actor.roles, Action.MANAGE_COUNTY):
        return _refuse(Refusal.NOT_ALLOWED)
    scope_key = SCOPE_WORDS.get(clean(scope).lower(), clean(scope).lower())
    if scope_key not in (CATEGORY, UNIT_KIND):
        return _refuse(Refusal.UNKNOWN_SCOPE, value=scope)
    if scope_key == CATEGORY:
        found = category_of(key)
        if found is None:
            return _refuse(Refusal.UNKNOWN_CATEGORY, value=key)
        key = found
    else:
        key = clean(key)
        if not key:
            return _refuse(Refusal.EMPTY)
        if len(key) > KIND_LIMIT:
            return _refuse(Refusal.TOO_LONG, limit=KIND_LIMIT)
    number = _number(weight, MAX_WEIGHT)
    if number is None or number < 0:
        return _refuse(Refusal.BAD_WEIGHT, value=str(weight), limit=MAX_WEIGHT)
    view: dict[str, Any] = {"scope": scope_key, "key": key, "weight": number}
    units = None
    if scope_key == UNIT_KIND:
        # Said in the answer, so that a misspelt kind does not go unnoticed.
        units = await session.scalar(
            select(func.count()).select_from(Department).where(Department.kind == key)
        )
    detail = {"scoring_weight": view, "scoring_units": units}
    row = await session.scalar(
        select(ScoreWeight).where(ScoreWeight.scope == scope_key, ScoreWeight.key == key)
    )
    if row is None:
        row = ScoreWeight(scope=scope_key, key=key, weight=number, created_at=now)
        session.add(row)
        change = Change.CREATED
    elif row.weight == number:
        return ScoringOutcome(Change.UNCHANGED, detail=detail)
    else:
        row.weight = number
        change = Change.UPDATED
    await session.flush()
    audit(
        session,
        now,
        "weight_set",
        "score_weight",
        row.id,
        actor_id=actor.person.id,
        change=change.value,
        **view,
    )
    return ScoringOutcome(change, detail=detail)


async def set_department_kind(
    session: AsyncSession,
    now: datetime,
    actor: Contact,
    department_name: str,
    kind: str,
) -> ScoringOutcome:
    """/deptkind: the department's kind of unit (乡镇, 部门, 国企…) for weights; "-" clears it."""
    if not can(actor.roles, Action.MANAGE_COUNTY):
        return _refuse(Refusal.NOT_ALLOWED)
    department = await find_department(session, department_name)
    if department is None:
        return _refuse(
            Refusal.UNKNOWN_DEPARTMENT,
            value=department_name,
            known=await department_names(session),
        )
    new_kind: str | None = clean(kind)
    if new_kind == NO_KIND:
        new_kind = None
    elif not new_kind:
        return _refuse(Refusal.EMPTY)
    elif len(new_kind) > KIND_LIMIT:
        return _refuse(Refusal.TOO_LONG, limit=KIND_LIMIT)
    weight = None
    if new_kind is not None:
        weight = await session.scalar(
            select(ScoreWeight.weight).where(
                ScoreWeight.scope == UNIT_KIND, ScoreWeight.key == new_kind
            )
        )
    previous = department.kind
    detail = {
        "scoring_kind": {
            "department": department.name,
            "kind": new_kind,
            "previous": previous,
            "weight": weight,
        }
    }
    if previous == new_kind:
        return ScoringOutcome(Change.UNCHANGED, detail=detail)
    department.kind = new_kind
    await session.flush()
    audit(
        session,
        now,
        "department_kind_set",
        "department",
        department.id,
        actor_id=actor.person.id,
        kind=new_kind,
        previous=previous,
    )
    return ScoringOutcome(Change.UPDATED, detail=detail)


# --- rankings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RankingView:
    """The departments' and the officials' tables for one period of the county's calendar."""

    period: Period
    first_day: date
    last_day: date
    departments: tuple[Standing, ...]
    officials: tuple[Standing, ...]


def parse_period(text: str) -> Period | None:
    """month, quarter or year (or 月, 季度, 年); nothing means the month."""
    text = clean(text).lower()
    return PERIOD_WORDS.get(text) if text else "month"


async def ranking(
    session: AsyncSession, now: datetime, zone: ZoneInfo, period: Period
) -> RankingView:
    """Points, cards, on-time rate and satisfaction per department and official, this period.

    Every department but the coordinator office is listed, with nothing if need be; officials
    appear once something is booked or rated for them.
    """
    start, end = period_bounds(period, now, zone)
    departments = {d.id: d for d in await session.scalars(select(Department))}
    entries = list(
        await session.scalars(
            select(PointsEntry).where(PointsEntry.at >= start, PointsEntry.at < end)
        )
    )
    rated = list(
        await session.scalars(
            select(Issue).where(
                Issue.rating.is_not(None), Issue.closed_at >= start, Issue.closed_at < end
            )
        )
    )
    person_ids = {e.person_id for e in entries} | {i.claimed_by_id for i in rated}
    people = await _official_names(session, {p for p in person_ids if p is not None}, departments)

    def unit(department_id: int | None) -> str:
        return departments[department_id].name if department_id in departments else ""

    ledger = [
        LedgerEntry(
            unit(e.department_id), people.get(e.person_id), e.points, Colour(e.colour), e.at
        )
        for e in entries
    ]
    ratings = [
        Rating(unit(i.department_id), people.get(i.claimed_by_id), i.rating, i.closed_at)
        for i in rated
        if i.rating is not None and i.closed_at is not None
    ]
    listed = [d.name for d in departments.values() if not d.is_coordinator]
    by_unit = rank(
        [e for e in ledger if e.unit],
        [r for r in ratings if r.unit],
        by="unit",
        names=listed,
    )
    by_person = rank(ledger, ratings, by="person")
    local_start, local_end = start.astimezone(zone).date(), end.astimezone(zone).date()
    return RankingView(
        period,
        local_start,
        local_end - timedelta(days=1),
        tuple(by_unit),
        tuple(by_person),
    )


async def _official_names(
    session: AsyncSession, ids: set[int], departments: dict[int, Department]
) -> dict[int | None, str]:
    """Each person's full name; two people of one name are told apart by department (or id)."""
    if not ids:
        return {}
    rows = list(await session.scalars(select(Person).where(Person.id.in_(ids))))
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.full_name] = counts.get(row.full_name, 0) + 1
    names: dict[int | None, str] = {}
    taken: set[str] = set()
    for row in sorted(rows, key=lambda r: r.id):
        name = row.full_name
        if counts[name] > 1:
            department = departments.get(row.department_id) if row.department_id else None
            name = f"{name} ({department.name})" if department is not None else name
            if name in taken:
                name = f"{row.full_name} (#{row.id})"
        taken.add(name)
        names[row.id] = name
    return names


def standing_params(standing: Standing) -> dict[str, Any]:
    return {
        "name": standing.name,
        "points": standing.points,
        "green": standing.green,
        "yellow": standing.yellow,
        "red": standing.red,
        "on_time": standing.on_time_rate,
        "satisfaction": standing.satisfaction,
        "position": standing.position,
    }


def ranking_params(view: RankingView) -> dict[str, Any]:
    """What the ranking template shows."""
    return {
        "ranking_period": view.period,
        "ranking_year": view.first_day.year,
        "ranking_month": view.first_day.month,
        "ranking_quarter": (view.first_day.month - 1) // 3 + 1,
        "ranking_from": view.first_day.isoformat(),
        "ranking_to": view.last_day.isoformat(),
        "ranking_departments": [standing_params(s) for s in view.departments],
        "ranking_officials": [standing_params(s) for s in view.officials],
    }
