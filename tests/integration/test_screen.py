"""The big screen's figures on a real database: a seeded county, every number checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from models.clock import FrozenClock
from models.services import deadlines, screen, sweep
from models.tables import Card, Deadline, Department, Issue, Node, Project
from tests.conftest import START, Database
from tests.integration.county import County, build_county

ZONE = ZoneInfo("Asia/Shanghai")
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# Tuesday 10 March 2026, 09:00 in the county: when the screen is looked at.
NOW = START + 8 * DAY
# Midnight of 1 March in the county, in UTC: where "this month" begins.
MONTH_START = datetime(2026, 2, 28, 16, 0, tzinfo=UTC)
LONG_TEXT = "园区道路年久失修，货车进出困难，雨天积水严重，影响原料运输和产品发货，希望尽快安排维修"


def _issue(county: County, number: int, created: datetime, **fields: Any) -> Issue:
    values: dict[str, Any] = {
        "number": f"Q-2026-{number:04d}",
        "status": "routed",
        "text": f"问题{number}",
        "department_id": county.power.id,
        "created_at": created,
        "updated_at": created,
    }
    values.update(fields)
    return Issue(**values)


async def _sweep(db: Database, clock: FrozenClock, to: datetime) -> None:
    clock.advance(to - clock.now())
    async with db.sessions() as session, session.begin():
        await sweep.sweep(session, clock.now(), ZONE, "zh_CN")


async def _recommit(
    db: Database, clock: FrozenClock, county: County, row: Deadline, new_due: datetime
) -> None:
    """The HR bureau re-commits to `new_due`; the leader approves it."""
    async with db.sessions() as session, session.begin():
        who = await county.contact(session, county.recruiter)
        proposed = await deadlines.propose_recommit(
            session, clock.now(), ZONE, "zh_CN", who, row.id, "设备到货晚", new_due
        )
        assert proposed.ok, proposed.refused
        leader = await county.contact(session, county.leader)
        decided = await deadlines.decide_recommit(
            session, clock.now(), ZONE, "zh_CN", leader, row.id, approve=True
        )
        assert decided.ok, decided.refused


async def seed(db: Database, clock: FrozenClock) -> County:
    """A county as of NOW: issues across the month's edge, cards raised by the real sweep,
    overdue and finished deadlines, projects with nodes. The clock ends at NOW."""
    async with db.sessions() as session, session.begin():
        county = await build_county(session, clock.now())
        power, hr = county.power.id, county.hr.id
        session.add_all(
            [
                # Reported and closed in February.
                _issue(
                    county,
                    1,
                    datetime(2026, 2, 10, 2, tzinfo=UTC),
                    status="closed",
                    closed_at=datetime(2026, 2, 12, 2, tzinfo=UTC),
                ),
                # Reported in the last minute of February (county time), still open.
                _issue(county, 2, MONTH_START - timedelta(minutes=1), status="claimed"),
                # Reported at midnight on 1 March, closed this month.
                _issue(
                    county,
                    3,
                    MONTH_START,
                    status="closed",
                    closed_at=START + 2 * HOUR,
                    rating=4,
                    department_id=hr,
                ),
                # Private: its text never reaches the hall.
                _issue(
                    county,
                    4,
                    START,
                    status="closed",
                    closed_at=START + DAY,
                    rating=5,
                    is_private=True,
                    text="私密：税务问题",
                ),
                _issue(county, 5, START, status="routed"),
                _issue(county, 6, START + HOUR, status="new", department_id=None),
                _issue(
                    county,
                    7,
                    START + 2 * DAY,
                    status="closed",
                    closed_at=START + 3 * DAY,
                    text=LONG_TEXT,
                ),
            ]
        )
        industry = Project(name="新材料产业园", category="工业项目", created_at=clock.now())
        invest = Project(name="招商大厦", category="招商引资", created_at=clock.now())
        empty = Project(name="空项目", category="空类别", created_at=clock.now())
        session.add_all([industry, invest, empty])
        await session.flush()
        for project, statuses in (
            (industry, ["done", "requested", "open"]),
            (invest, ["done"] * 2),
        ):
            for index, status in enumerate(statuses):
                session.add(
                    Node(
                        project_id=project.id,
                        title=f"节点{index}",
                        deadline=START + 30 * DAY,
                        status=status,
                        created_at=clock.now(),
                    )
                )

        async def track(subject: str, subject_id: int, kind: str, label: str, **kw: Any) -> int:
            row = await deadlines.track(
                session,
                clock.now(),
                ZONE,
                subject_type=subject,
                subject_id=subject_id,
                kind=kind,
                label=label,
                **kw,
            )
            return row.id

        await track(
            "issue", 5, "claim#1", "Q-2026-0005 · 问题5", due=START + HOUR, department_id=power
        )
        met = await track(
            "issue", 7, "close", "Q-2026-0007 · 道路", due=START + DAY, department_id=power
        )
        await track(
            "issue",
            4,
            "claim#1",
            "Q-2026-0004 · 私密：税务问题",
            due=START + 3 * HOUR,
            department_id=hr,
        )
        node_red = await track(
            "node", 1, "node", "N-1 新材料产业园 · 通电", due=START + 2 * DAY, department_id=hr
        )
        pending = await track(
            "node", 2, "node", "N-2 新材料产业园 · 环评", due=START + 5 * DAY, department_id=hr
        )
        approved_ahead = await track(
            "node", 3, "node", "N-3 招商大厦 · 签约", due=START + 4 * DAY, department_id=hr
        )
        await track(
            "node", 4, "node", "N-4 招商大厦 · 供地", due=NOW - HOUR / 2, department_id=power
        )
        await track("node", 5, "node", "N-5 · 准时", due=NOW, department_id=power)
        await track("issue", 6, "claim#1", "Q-2026-0006 · 撤回", due=START, department_id=power)
        await deadlines.cancel(session, clock.now(), "issue", 6, "claim#1")
        await deadlines.finish(session, clock.now(), ZONE, "issue", 7, "close", START + 12 * HOUR)
        # A card from February, not this month's.
        session.add(Card(deadline_id=met, colour="yellow", raised_at=MONTH_START - HOUR))

    await _sweep(db, clock, START + DAY + HOUR)  # the two claims yellow; the road green
    await _sweep(db, clock, START + 2 * DAY + HOUR)  # node_red yellow
    async with db.sessions() as session:
        node_row = await session.get(Deadline, node_red)
        assert node_row is not None
    await _recommit(db, clock, county, node_row, START + 3 * DAY)
    await _sweep(db, clock, START + 3 * DAY + HOUR)  # node_red red
    await _sweep(db, clock, START + 5 * DAY + HOUR)  # approved_ahead and pending yellow
    async with db.sessions() as session:
        ahead = await session.get(Deadline, approved_ahead)
        waiting = await session.get(Deadline, pending)
        assert ahead is not None and waiting is not None
    await _recommit(db, clock, county, ahead, START + 10 * DAY)
    async with db.sessions() as session, session.begin():
        # Proposed, not yet approved: the first date still counts.
        who = await county.contact(session, county.recruiter)
        proposed = await deadlines.propose_recommit(
            session, clock.now(), ZONE, "zh_CN", who, waiting.id, "审批慢", START + 20 * DAY
        )
        assert proposed.ok
    clock.advance(NOW - clock.now())
    return county


async def _figures(db: Database, now: datetime = NOW) -> dict[str, Any]:
    async with db.sessions() as session:
        return await screen.figures(session, now, ZONE)


async def test_the_screen_shows_the_countys_figures(db: Database, clock: FrozenClock) -> None:
    await seed(db, clock)
    shown = await _figures(db)

    assert shown["updated"] == "2026-03-10 09:00:00"
    assert (shown["year"], shown["month"]) == (2026, 3)
    # March: 3 to 7 reported, 3 of them closed; 3, 4 and 7 closed. Ever: 7, 3 open, 4 closed.
    assert shown["totals"] == {
        "month": {"reported": 5, "open": 2, "closed": 3},
        "all": {"reported": 7, "open": 3, "closed": 4},
    }
    # Green: the road closed in time. Yellow: two claims, three nodes. Red: the node re-missed.
    assert shown["cards"] == {"green": 1, "yellow": 5, "red": 1}
    assert shown["nodes"] == [
        {"category": "工业项目", "done": 1, "total": 3, "percent": 33},
        {"category": "招商引资", "done": 2, "total": 2, "percent": 100},
    ]


async def test_the_overdue_list_counts_from_the_date_that_holds_most_late_first(
    db: Database, clock: FrozenClock
) -> None:
    await seed(db, clock)
    shown = await _figures(db)

    assert shown["overdue_count"] == 5
    assert [
        (i["label"], i["card"], i["department"], i["due"], i["late_minutes"])
        for i in shown["overdue"]
    ] == [
        ("Q-2026-0005 · 问题5", "yellow", "供电公司", "03-02 10:00", 8 * 24 * 60 - 60),
        # A private issue shows its number only.
        ("Q-2026-0004", "yellow", "人社局", "03-02 12:00", 8 * 24 * 60 - 180),
        # Red: late from the approved re-committed date, not the first one.
        ("N-1 新材料产业园 · 通电", "red", "人社局", "03-05 09:00", 5 * 24 * 60),
        # A re-commitment awaiting approval does not move the date.
        ("N-2 新材料产业园 · 环评", "yellow", "人社局", "03-07 09:00", 3 * 24 * 60),
        # Past due, not swept yet: no card so far.
        ("N-4 招商大厦 · 供地", None, "供电公司", "03-10 08:30", 30),
    ]
    assert [(i["subject"], i["kind"]) for i in shown["overdue"]] == [
        ("issue", "claim#1"),
        ("issue", "claim#1"),
        ("node", "node"),
        ("node", "node"),
        ("node", "node"),
    ]


async def test_the_ranking_is_the_months_and_the_closures_the_latest(
    db: Database, clock: FrozenClock
) -> None:
    await seed(db, clock)
    shown = await _figures(db)

    # Default points: green +1, yellow 0, red -1; satisfaction from this month's ratings.
    assert [
        (r["position"], r["name"], r["points"], r["green"], r["yellow"], r["red"])
        for r in shown["ranking"]
    ] == [(1, "供电公司", 1.0, 1, 1, 0), (2, "人社局", -1.0, 0, 4, 1)]
    assert shown["ranking"][0]["on_time"] == 0.5
    assert shown["ranking"][1]["satisfaction"] == 4.0
    assert shown["closures"] == [
        {
            "number": "Q-2026-0007",
            "department": "供电公司",
            "closed_at": "03-05 09:00",
            "text": LONG_TEXT[:39] + "…",
            "rating": None,
        },
        {
            "number": "Q-2026-0004",
            "department": "供电公司",
            "closed_at": "03-03 09:00",
            "text": None,
            "rating": 5,
        },
        {
            "number": "Q-2026-0003",
            "department": "人社局",
            "closed_at": "03-02 11:00",
            "text": "问题3",
            "rating": 4,
        },
        {
            "number": "Q-2026-0001",
            "department": "供电公司",
            "closed_at": "02-12 10:00",
            "text": "问题1",
            "rating": None,
        },
    ]


async def test_an_empty_county_shows_zeros(db: Database, clock: FrozenClock) -> None:
    shown = await _figures(db, clock.now())

    assert shown["totals"] == {
        "month": {"reported": 0, "open": 0, "closed": 0},
        "all": {"reported": 0, "open": 0, "closed": 0},
    }
    assert shown["cards"] == {"green": 0, "yellow": 0, "red": 0}
    assert shown["nodes"] == shown["overdue"] == shown["ranking"] == shown["closures"] == []
    assert shown["overdue_count"] == 0


async def test_long_lists_are_cut_to_what_the_screen_holds(
    db: Database, clock: FrozenClock
) -> None:
    now = clock.now()
    async with db.sessions() as session, session.begin():
        county = await build_county(session, now)
        for index in range(12):
            session.add(Department(name=f"乡镇{index:02d}", created_at=now))
        for index in range(25):
            session.add(
                Deadline(
                    subject_type="node",
                    subject_id=index,
                    kind="node",
                    label=f"N-{index}",
                    department_id=county.power.id,
                    due_at=now - (index + 1) * HOUR,
                    cards="yellow",
                    created_at=now,
                    updated_at=now,
                )
            )
            closed = now - DAY + index * timedelta(minutes=1)
            session.add(_issue(county, index + 1, closed, status="closed", closed_at=closed))

    shown = await _figures(db, now)

    assert shown["overdue_count"] == 25
    assert [i["label"] for i in shown["overdue"]] == [f"N-{i}" for i in range(24, 4, -1)]
    # Every department but the coordinator office is ranked; the screen shows ten.
    assert len(shown["ranking"]) == 10
    assert [c["number"] for c in shown["closures"]] == [
        f"Q-2026-{n:04d}" for n in range(25, 15, -1)
    ]
