"""Scoring: points for cards, weighted by category and kind of unit (分类考核, 差异化权重), and the
rankings and red/black lists built from them.

The ledger holds one entry per card raised, so a deadline that ends red scores its yellow and
its red. A deadline's green counts it as met on time, its yellow as missed: the on-time rate
is green / (green + yellow), red being the same deadline missed again.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

from models.rules.cards import Colour
from models.rules.worktime import as_utc

Period = Literal["month", "quarter", "year"]
RankBy = Literal["unit", "person"]


@dataclass(frozen=True)
class PointsPolicy:
    """Points per card before weights: a yellow gives nothing or costs, a red costs."""

    green: float = 1.0
    yellow: float = 0.0
    red: float = -1.0

    def __post_init__(self) -> None:
        if not all(math.isfinite(p) for p in (self.green, self.yellow, self.red)):
            raise ValueError("points must be finite numbers")
        if self.green < 0 or self.yellow > 0 or self.red > 0:
            raise ValueError("a green cannot cost points, nor a yellow or a red earn them")

    def value(self, colour: Colour) -> float:
        return {Colour.GREEN: self.green, Colour.YELLOW: self.yellow, Colour.RED: self.red}[colour]


@dataclass(frozen=True)
class Weights:
    """How much a category and a kind of unit count; whatever is not listed counts `default`."""

    by_category: Mapping[str, float] = field(default_factory=dict)
    by_unit_kind: Mapping[str, float] = field(default_factory=dict)
    default: float = 1.0

    def __post_init__(self) -> None:
        for weight in (*self.by_category.values(), *self.by_unit_kind.values(), self.default):
            _check_weight(weight)

    def of_category(self, category: str | None) -> float:
        return self._look_up(self.by_category, category)

    def of_unit_kind(self, unit_kind: str | None) -> float:
        return self._look_up(self.by_unit_kind, unit_kind)

    def _look_up(self, weights: Mapping[str, float], key: str | None) -> float:
        return weights.get(key, self.default) if key is not None else self.default


def points_for(
    colour: Colour,
    item_weight: float,
    category: str | None,
    unit_kind: str | None,
    policies: Mapping[str | None, PointsPolicy],
    weights: Weights,
) -> float:
    """The card's points: its category's policy value (else the None key's, else the default
    policy's) × the item's weight × the category's weight × the unit kind's, to 2 decimals."""
    _check_weight(item_weight)
    policy = policies.get(category) or policies.get(None) or PointsPolicy()
    raw = (
        policy.value(colour)
        * item_weight
        * weights.of_category(category)
        * weights.of_unit_kind(unit_kind)
    )
    return _points(raw)


@dataclass(frozen=True)
class LedgerEntry:
    """Points booked for one card, against a unit and, when someone owned the item, a person."""

    unit: str
    person: str | None
    points: float
    colour: Colour
    at: datetime

    def __post_init__(self) -> None:
        as_utc(self.at)
        # Rows come back from the database as plain strings.
        object.__setattr__(self, "colour", Colour(self.colour))


@dataclass(frozen=True)
class Rating:
    """A firm's satisfaction with an answer, 1 to 5 stars."""

    unit: str
    person: str | None
    stars: int
    at: datetime

    def __post_init__(self) -> None:
        as_utc(self.at)
        if not 1 <= self.stars <= 5:
            raise ValueError(f"a rating has 1 to 5 stars, not {self.stars}")


@dataclass(frozen=True)
class Tally:
    """One unit's or person's totals over a period."""

    name: str
    points: float = 0.0
    green: int = 0
    yellow: int = 0
    red: int = 0
    stars: int = 0
    ratings: int = 0

    @property
    def on_time_rate(self) -> float | None:
        settled = self.green + self.yellow
        return self.green / settled if settled else None

    @property
    def satisfaction(self) -> float | None:
        return self.stars / self.ratings if self.ratings else None


@dataclass(frozen=True)
class Standing:
    name: str
    points: float
    green: int
    yellow: int
    red: int
    on_time_rate: float | None
    satisfaction: float | None
    position: int


def tally(
    entries: Iterable[LedgerEntry],
    ratings: Iterable[Rating] = (),
    *,
    by: RankBy = "unit",
    within: tuple[datetime, datetime] | None = None,
    names: Iterable[str] = (),
) -> list[Tally]:
    """Totals per unit (or per person, leaving out what no person owned), by name.

    `within` keeps what happened from its start (inclusive) to its end (exclusive); `names`
    are listed even with nothing to count, so a unit with nothing due still appears.
    """
    points: dict[str, list[float]] = {name: [] for name in names}
    cards: dict[str, dict[Colour, int]] = {}
    stars: dict[str, list[int]] = {}
    for entry in entries:
        name = _name(entry.unit, entry.person, by)
        if name is None or not _within(entry.at, within):
            continue
        points.setdefault(name, []).append(entry.points)
        counts = cards.setdefault(name, dict.fromkeys(Colour, 0))
        counts[entry.colour] += 1
    for rating in ratings:
        name = _name(rating.unit, rating.person, by)
        if name is None or not _within(rating.at, within):
            continue
        points.setdefault(name, [])
        stars.setdefault(name, []).append(rating.stars)
    totals = []
    for name in sorted(points):
        counts = cards.get(name, dict.fromkeys(Colour, 0))
        given = stars.get(name, [])
        totals.append(
            Tally(
                name,
                _points(math.fsum(points[name])),
                counts[Colour.GREEN],
                counts[Colour.YELLOW],
                counts[Colour.RED],
                sum(given),
                len(given),
            )
        )
    return totals


def rank(
    entries: Iterable[LedgerEntry],
    ratings: Iterable[Rating] = (),
    *,
    by: RankBy = "unit",
    within: tuple[datetime, datetime] | None = None,
    names: Iterable[str] = (),
) -> list[Standing]:
    """The table: most points first, then the higher on-time rate (none counts lowest), then
    fewer reds, then by name. Equals on all but the name share a position: 1, 1, 3."""
    totals = tally(entries, ratings, by=by, within=within, names=names)

    def merit(t: Tally) -> tuple[float, float, int]:
        rate = t.on_time_rate
        return (-t.points, -rate if rate is not None else 1.0, t.red)

    totals.sort(key=lambda t: (merit(t), t.name))
    standings: list[Standing] = []
    for index, t in enumerate(totals):
        if standings and merit(totals[index - 1]) == merit(t):
            position = standings[-1].position
        else:
            position = index + 1
        standings.append(
            Standing(
                t.name,
                t.points,
                t.green,
                t.yellow,
                t.red,
                t.on_time_rate,
                t.satisfaction,
                position,
            )
        )
    return standings


def period_bounds(period: Period, now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The month, quarter or year `now` falls in by the county's calendar: start (inclusive)
    and end (exclusive), in UTC."""
    today = as_utc(now).astimezone(zone).date()
    if period == "month":
        first_month, months = today.month, 1
    elif period == "quarter":
        first_month, months = 3 * ((today.month - 1) // 3) + 1, 3
    elif period == "year":
        first_month, months = 1, 12
    else:
        raise ValueError(f"unknown period: {period!r}")
    start = date(today.year, first_month, 1)
    after = first_month - 1 + months
    end = date(today.year + after // 12, after % 12 + 1, 1)
    return _midnight(start, zone), _midnight(end, zone)


def red_black_lists(
    standings: Iterable[Standing], size: int = 3
) -> tuple[list[Standing], list[Standing]]:
    """The red list (the best, best first) and the black list (the worst, worst first).

    Each list holds at most `size`, and at most half of all standings, so no one is on both.
    Standings sharing a position are never split: a tie that does not fit is left off whole,
    leaving the list shorter.
    """
    if size < 0:
        raise ValueError("size must not be negative")
    table = list(standings)
    room = min(size, len(table) // 2)
    best = _whole_ties(sorted(table, key=lambda s: (s.position, s.name)), room)
    worst = _whole_ties(sorted(table, key=lambda s: (-s.position, s.name)), room)
    return best, worst


def _whole_ties(table: list[Standing], room: int) -> list[Standing]:
    """The first `room` of `table` or fewer, cut where the position changes."""
    if room >= len(table):
        return table[:]
    cut = room
    while cut > 0 and table[cut - 1].position == table[cut].position:
        cut -= 1
    return table[:cut]


def _name(unit: str, person: str | None, by: RankBy) -> str | None:
    return unit if by == "unit" else person


def _within(at: datetime, within: tuple[datetime, datetime] | None) -> bool:
    return within is None or within[0] <= at < within[1]


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return as_utc(datetime.combine(day, time(), tzinfo=zone))


def _check_weight(weight: float) -> None:
    if not math.isfinite(weight) or weight < 0:
        raise ValueError(f"a weight must be a finite number, not negative: {weight}")


def _points(value: float) -> float:
    # Adding 0.0 turns -0.0 (a zero weight times a deduction) into 0.0.
    return round(value, 2) + 0.0
