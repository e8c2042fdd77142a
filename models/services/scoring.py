"""Scoring: the points rules and weights the county set, and the rankings built on the ledger."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.rules.scoring import PointsPolicy, Weights
from models.tables import PointsRule, ScoreWeight


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
        (by_category if weight.scope == "category" else by_unit_kind)[weight.key] = weight.weight
    return policies, Weights(by_category, by_unit_kind)
