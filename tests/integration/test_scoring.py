"""Scoring on a real database: points per card and weights (分类考核), kinds of unit, and the
rankings of departments and officials built from the points ledger and the firms' ratings."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.clock import FrozenClock
from models.rules.scoring import PointsPolicy, Weights
from models.services import scoring
from models.services.scoring import (
    MAX_POINTS,
    MAX_WEIGHT,
    Change,
    Refusal,
    parse_period,
    ranking_params,
)
from models.tables import (
    AuditEntry,
    Card,
    Deadline,
    Department,
    Issue,
    Person,
    PointsEntry,
    PointsRule,
    ScoreWeight,
)
from models.texts import render
from tests.conftest import Database
from tests.integration.county import County, build_county

SHANGHAI = ZoneInfo("Asia/Shanghai")
_subjects = count(1)


@pytest.fixture
async def county(db: Database, clock: FrozenClock) -> County:
    async with db.sessions() as session, session.begin():
        return await build_county(session, clock.now())


async def _audit(db: Database, action: str) -> list[AuditEntry]:
    async with db.sessions() as session:
        return list(
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )


# --- points per card --------------------------------------------------------------------------


async def test_the_county_sets_its_default_points_and_a_categorys_own(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        actor = await county.contact(session, county.coordinator)
        now = clock.now()
        default = await scoring.set_points(session, now, actor, "default", "2", "0", "-3")
        assert default.change is Change.CREATED
        assert default.detail == {
            "scoring_points": {"category": None, "green": 2.0, "yellow": 0.0, "red": -3.0}
        }
        land = await scoring.set_points(session, now, actor, "土地", 3, -0.5, -4)
        assert land.change is Change.CREATED
        assert land.detail["scoring_points"]["category"] == "land"
        same = await scoring.set_points(session, now, actor, "DEFAULT", "2.0", "-0", "-3")
        assert same.change is Change.UNCHANGED
        moved = await scoring.set_points(session, now, actor, "land", "３", "-1", "-4")
        assert moved.change is Change.UPDATED
    async with db.sessions() as session:
        policies, _ = await scoring.points_setup(session)
        assert policies == {
            None: PointsPolicy(2.0, 0.0, -3.0),
            "land": PointsPolicy(3.0, -1.0, -4.0),
        }
        assert len(list(await session.scalars(select(PointsRule)))) == 2
    changes = [e.detail["change"] for e in await _audit(db, "points_set")]
    assert changes == ["created", "created", "updated"]
    assert (await _audit(db, "points_set"))[0].actor_id == county.coordinator.id


@pytest.mark.parametrize(
    ("words", "refused", "value"),
    [
        (("default", "1", "1", "-1"), Refusal.WRONG_SIGN, None),
        (("default", "-1", "0", "-1"), Refusal.WRONG_SIGN, None),
        (("default", "1", "0", "2"), Refusal.WRONG_SIGN, None),
        (("default", "one", "0", "-1"), Refusal.BAD_POINTS, "one"),
        (("default", "1", "nan", "-1"), Refusal.BAD_POINTS, "nan"),
        (("default", "1", "0", "-inf"), Refusal.BAD_POINTS, "-inf"),
        (("default", "1", "0", f"-{MAX_POINTS + 1}"), Refusal.BAD_POINTS, f"-{MAX_POINTS + 1}"),
        (("nonsense", "1", "0", "-1"), Refusal.UNKNOWN_CATEGORY, "nonsense"),
    ],
)
async def test_points_that_make_no_sense_are_refused_and_nothing_is_written(
    db: Database,
    clock: FrozenClock,
    county: County,
    words: tuple[str, str, str, str],
    refused: Refusal,
    value: str | None,
) -> None:
    async with db.sessions() as session, session.begin():
        actor = await county.contact(session, county.coordinator)
        outcome = await scoring.set_points(session, clock.now(), actor, *words)
    assert outcome.refused is refused
    assert scoring.refusal_params(outcome)["scoring_value"] == value
    async with db.sessions() as session:
        assert list(await session.scalars(select(PointsRule))) == []
    assert await _audit(db, "points_set") == []


async def test_only_who_manages_the_county_sets_points_weights_and_kinds(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        for person in (county.electrician, county.head, county.leader, county.owner):
            actor = await county.contact(session, person)
            now = clock.now()
            outcomes = [
                await scoring.set_points(session, now, actor, "default", 1, 0, -1),
                await scoring.set_weight(session, now, actor, "category", "land", 2),
                await scoring.set_department_kind(session, now, actor, "供电公司", "国企"),
            ]
            assert {o.refused for o in outcomes} == {Refusal.NOT_ALLOWED}
    async with db.sessions() as session:
        assert list(await session.scalars(select(ScoreWeight))) == []
        power = await session.get(Department, county.power.id)
        assert power is not None and power.kind is None


# --- weights and kinds of unit ----------------------------------------------------------------


async def test_weights_by_category_and_by_kind_of_unit(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        actor = await county.contact(session, county.coordinator)
        now = clock.now()
        land = await scoring.set_weight(session, now, actor, "category", "土地", "1.5")
        assert land.change is Change.CREATED
        assert land.detail == {
            "scoring_weight": {"scope": "category", "key": "land", "weight": 1.5},
            "scoring_units": None,
        }
        towns = await scoring.set_weight(session, now, actor, "unit", "乡镇", "1.2")
        assert towns.detail["scoring_weight"]["scope"] == "unit_kind"
        assert towns.detail["scoring_units"] == 0
        await scoring.set_department_kind(session, now, actor, "供电", "乡镇")
        again = await scoring.set_weight(session, now, actor, "单位", "乡镇", 1.2)
        assert again.change is Change.UNCHANGED and again.detail["scoring_units"] == 1
        changed = await scoring.set_weight(session, now, actor, "类别", "land", 0)
        assert changed.change is Change.UPDATED
    async with db.sessions() as session:
        _, weights = await scoring.points_setup(session)
    assert weights == Weights({"land": 0.0}, {"乡镇": 1.2})
    assert [e.detail["change"] for e in await _audit(db, "weight_set")] == [
        "created",
        "created",
        "updated",
    ]


@pytest.mark.parametrize(
    ("scope", "key", "weight", "refused"),
    [
        ("project", "land", "1", Refusal.UNKNOWN_SCOPE),
        ("category", "nonsense", "1", Refusal.UNKNOWN_CATEGORY),
        ("unit", "乡镇", "-0.5", Refusal.BAD_WEIGHT),
        ("unit", "乡镇", str(MAX_WEIGHT + 1), Refusal.BAD_WEIGHT),
        ("unit", "乡镇", "heavy", Refusal.BAD_WEIGHT),
        ("unit", " ", "1", Refusal.EMPTY),
        ("unit", "乡" * 51, "1", Refusal.TOO_LONG),
    ],
)
async def test_weights_that_make_no_sense_are_refused(
    db: Database,
    clock: FrozenClock,
    county: County,
    scope: str,
    key: str,
    weight: str,
    refused: Refusal,
) -> None:
    async with db.sessions() as session, session.begin():
        actor = await county.contact(session, county.coordinator)
        outcome = await scoring.set_weight(session, clock.now(), actor, scope, key, weight)
    assert outcome.refused is refused
    async with db.sessions() as session:
        assert list(await session.scalars(select(ScoreWeight))) == []


async def test_a_department_gets_a_kind_of_unit_and_loses_it(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        actor = await county.contact(session, county.coordinator)
        now = clock.now()
        await scoring.set_weight(session, now, actor, "unit", "国企", "1.1")
        kind = await scoring.set_department_kind(session, now, actor, "供电公司", "国企")
        assert kind.change is Change.UPDATED
        assert kind.detail == {
            "scoring_kind": {
                "department": "供电公司",
                "kind": "国企",
                "previous": None,
                "weight": 1.1,
            }
        }
        same = await scoring.set_department_kind(session, now, actor, "供电公司", "国企")
        assert same.change is Change.UNCHANGED
        other = await scoring.set_department_kind(session, now, actor, "人社局", "部门")
        assert other.detail["scoring_kind"]["weight"] is None
        cleared = await scoring.set_department_kind(session, now, actor, "供电公司", "-")
        assert cleared.change is Change.UPDATED
        assert cleared.detail["scoring_kind"]["kind"] is None
        assert cleared.detail["scoring_kind"]["previous"] == "国企"
        unknown = await scoring.set_department_kind(session, now, actor, "水务局", "部门")
        assert unknown.refused is Refusal.UNKNOWN_DEPARTMENT
        assert scoring.refusal_params(unknown)["scoring_known"] == ["营商办", "供电公司", "人社局"]
        long = await scoring.set_department_kind(session, now, actor, "人社局", "类" * 51)
        assert long.refused is Refusal.TOO_LONG
    async with db.sessions() as session:
        kinds = {d.name: d.kind for d in await session.scalars(select(Department))}
    assert kinds == {"营商办": None, "供电公司": None, "人社局": "部门"}
    audited = await _audit(db, "department_kind_set")
    assert [(e.detail["kind"], e.detail["previous"]) for e in audited] == [
        ("国企", None),
        ("部门", None),
        (None, "国企"),
    ]


# --- rankings ---------------------------------------------------------------------------------


async def _book(
    session: AsyncSession,
    department: Department | None,
    person: Person | None,
    colour: str,
    points: float,
    at: datetime,
) -> None:
    """One card and its ledger entry, as the deadline sweep books them."""
    deadline = Deadline(
        subject_type="node",
        subject_id=next(_subjects),
        kind="node",
        label="节点",
        department_id=department.id if department else None,
        owner_id=person.id if person else None,
        due_at=at,
        created_at=at,
        updated_at=at,
    )
    session.add(deadline)
    await session.flush()
    card = Card(deadline_id=deadline.id, colour=colour, raised_at=at)
    session.add(card)
    await session.flush()
    session.add(
        PointsEntry(
            card_id=card.id,
            department_id=department.id if department else None,
            person_id=person.id if person else None,
            colour=colour,
            points=points,
            reason=f"{colour} card",
            at=at,
        )
    )


async def _rated(
    session: AsyncSession,
    county: County,
    department: Department,
    person: Person,
    stars: int,
    at: datetime,
) -> None:
    session.add(
        Issue(
            number=f"Q-2026-{next(_subjects):04d}",
            status="closed",
            text="停电",
            department_id=department.id,
            claimed_by_id=person.id,
            reporter_id=county.owner.id,
            rating=stars,
            closed_at=at,
            created_at=at,
            updated_at=at,
        )
    )


async def test_the_months_ranking_of_departments_and_officials(
    db: Database, clock: FrozenClock, county: County
) -> None:
    now = clock.now()  # Monday 2 March 2026, 09:00 in the county
    this_month = now - timedelta(hours=1)
    last_month = datetime(2026, 2, 28, 15, 59, tzinfo=UTC)  # 23:59 on 28 February locally
    async with db.sessions() as session, session.begin():
        await _book(session, county.power, county.electrician, "green", 2, this_month)
        await _book(session, county.power, county.lineman, "yellow", 0, this_month)
        await _book(session, county.hr, county.recruiter, "green", 1.5, this_month)
        await _book(session, county.hr, None, "green", 1, this_month)
        await _book(session, county.power, county.lineman, "red", -3, last_month)
        await _rated(session, county, county.power, county.electrician, 5, this_month)
        await _rated(session, county, county.power, county.lineman, 4, this_month)
        await _rated(session, county, county.hr, county.recruiter, 1, last_month)
        session.add(Department(name="自然资源局", created_at=now))
    async with db.sessions() as session:
        view = await scoring.ranking(session, now, SHANGHAI, "month")
    assert (view.period, view.first_day, view.last_day) == (
        "month",
        date(2026, 3, 1),
        date(2026, 3, 31),
    )
    table = [(s.position, s.name, s.points, s.green, s.yellow, s.red) for s in view.departments]
    assert table == [
        (1, "人社局", 2.5, 2, 0, 0),
        (2, "供电公司", 2.0, 1, 1, 0),
        (3, "自然资源局", 0.0, 0, 0, 0),
    ]
    power = view.departments[1]
    assert power.on_time_rate == 0.5 and power.satisfaction == 4.5
    assert view.departments[0].satisfaction is None  # its rating was last month
    people = [(s.position, s.name, s.points, s.satisfaction) for s in view.officials]
    assert people == [(1, "赵电力", 2.0, 5.0), (2, "孙人社", 1.5, None), (3, "钱电工", 0.0, 4.0)]


async def test_the_quarter_and_the_year_take_in_earlier_months(
    db: Database, clock: FrozenClock, county: County
) -> None:
    now = clock.now()
    async with db.sessions() as session, session.begin():
        await _book(session, county.power, county.lineman, "yellow", 0, now)
        await _book(
            session, county.power, county.lineman, "red", -3, datetime(2026, 1, 5, tzinfo=UTC)
        )
        await _book(
            session, county.hr, county.recruiter, "green", 1, datetime(2025, 12, 31, tzinfo=UTC)
        )
    async with db.sessions() as session:
        quarter = await scoring.ranking(session, now, SHANGHAI, "quarter")
        year = await scoring.ranking(session, now, SHANGHAI, "year")
    assert (quarter.first_day, quarter.last_day) == (date(2026, 1, 1), date(2026, 3, 31))
    assert [(s.name, s.points, s.red) for s in quarter.departments] == [
        ("人社局", 0.0, 0),
        ("供电公司", -3.0, 1),
    ]
    assert [(s.name, s.on_time_rate) for s in quarter.officials] == [("钱电工", 0.0)]
    assert (year.first_day, year.last_day) == (date(2026, 1, 1), date(2026, 12, 31))
    # 31 December 2025 at 08:00 in the county belongs to last year.
    assert all(s.name != "孙人社" for s in year.officials)
    params = ranking_params(quarter)
    assert params["ranking_quarter"] == 1 and params["ranking_to"] == "2026-03-31"


async def test_two_officials_of_one_name_are_told_apart(
    db: Database, clock: FrozenClock, county: County
) -> None:
    now = clock.now()
    async with db.sessions() as session, session.begin():
        twin = Person(
            telegram_id=777, full_name="赵电力", department_id=county.hr.id, created_at=now
        )
        session.add(twin)
        await session.flush()
        await _book(session, county.power, county.electrician, "green", 1, now)
        await _book(session, county.hr, twin, "green", 1, now)
    async with db.sessions() as session:
        view = await scoring.ranking(session, now, SHANGHAI, "month")
    assert sorted(s.name for s in view.officials) == ["赵电力 (人社局)", "赵电力 (供电公司)"]
    assert [s.position for s in view.officials] == [1, 1]


async def test_an_empty_county_still_lists_its_departments(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session:
        view = await scoring.ranking(session, clock.now(), SHANGHAI, "month")
    assert [(s.name, s.position) for s in view.departments] == [("人社局", 1), ("供电公司", 1)]
    assert view.officials == ()
    for language in ("zh_CN", "en"):
        text = render("ranking_table", language, ranking_params(view))
        assert "人社局" in text and "营商办" not in text


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("", "month"),
        ("month", "month"),
        (" Quarter ", "quarter"),
        ("季度", "quarter"),
        ("年", "year"),
        ("week", None),
        ("month year", None),
    ],
)
def test_periods_in_either_language(text: str, period: str | None) -> None:
    assert parse_period(text) == period


@pytest.mark.parametrize("language", ["zh_CN", "en"])
@pytest.mark.parametrize("reason", [r.value for r in Refusal])
def test_every_refusal_has_its_own_answer(language: str, reason: str) -> None:
    params = {
        "scoring_reason": reason,
        "scoring_value": "X-VALUE",
        "scoring_limit": 10.0,
        "scoring_known": ["供电公司"],
        "scoring_categories": ["land"],
    }
    text = render("scoring_refused", language, params)
    not_allowed = render("not_allowed", language)
    assert (text == not_allowed) == (reason == "not_allowed")
    if reason in ("unknown_category", "unknown_scope", "unknown_department", "bad_points"):
        assert "X-VALUE" in text


@pytest.mark.parametrize("language", ["zh_CN", "en"])
@pytest.mark.parametrize("command", ["setpoints", "setweight", "deptkind"])
def test_every_command_has_its_usage(language: str, command: str) -> None:
    text = render(
        "scoring_usage", language, {"scoring_command": command, "scoring_categories": ["land"]}
    )
    assert f"/{command}" in text


@pytest.mark.parametrize("language", ["zh_CN", "en"])
@pytest.mark.parametrize(
    ("kind", "previous", "weight"),
    [("国企", None, 1.2), ("国企", "部门", None), (None, "国企", None), (None, None, None)],
)
def test_every_kind_answer_renders(
    language: str, kind: str | None, previous: str | None, weight: float | None
) -> None:
    detail = {"department": "供电公司", "kind": kind, "previous": previous, "weight": weight}
    text = render(
        "scoring_kind_set", language, {"scoring_change": "updated", "scoring_kind": detail}
    )
    assert "供电公司" in text
    assert ("1.2" in text) == (weight is not None)
