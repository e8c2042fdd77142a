"""Benchmark of the leaders' digest: its figures and its chart on a big county.

A fresh database gets ISSUES issues (a year's worth, a tenth still open) and NODES nodes in 60
departments, each with its tracked limits (claim and close per issue, one per node), a card on
every settled limit (a fifth yellow, some red) and its points. Then the digest is computed for
one leader as the daily job does (figures since yesterday, the on-time rates of the month, the
overdue items by department, the key-supervision list, satisfaction) and its chart drawn;
each is timed (median of REPEAT runs, warm). One JSON line per figure.

Run from the repository root: python bench/digest.py [--issues 100000] [--nodes 50000]
[--database-url postgresql+asyncpg://…] (default: a SQLite file in a temporary folder).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from models.db import create_engine, create_sessionmaker
from models.migrate import upgrade
from models.services import digest
from models.tables import Base

NOW = datetime(2026, 6, 15, 1, tzinfo=UTC)  # a Monday, 09:00 in the county
ZONE = ZoneInfo("Asia/Shanghai")
DEPARTMENTS = 60
CHUNK = 10_000
CATEGORIES = ("financing", "utilities", "labour", "subsidies", "land", "construction", "sales")


async def _reset(url: str) -> None:
    if url.startswith("postgresql"):
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
    await upgrade(url)


async def _insert(sessions: Any, table: str, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        async with sessions() as session, session.begin():
            await session.execute(Base.metadata.tables[table].insert(), rows[start : start + CHUNK])


async def _seed(url: str, issues: int, nodes: int) -> None:
    rng = random.Random(7)
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    await _insert(
        sessions,
        "departments",
        [
            {"id": d, "name": f"部门{d}", "is_coordinator": False, "created_at": NOW}
            for d in range(1, DEPARTMENTS + 1)
        ],
    )
    await _insert(
        sessions,
        "projects",
        [
            {"id": p, "name": f"项目{p}", "category": "工业项目", "created_at": NOW}
            for p in range(1, 501)
        ],
    )
    issue_rows, node_rows, deadline_rows = [], [], []
    for n in range(1, issues + 1):
        created = NOW - timedelta(minutes=rng.randrange(365 * 24 * 60))
        is_open = rng.random() < 0.1
        department = rng.randrange(1, DEPARTMENTS + 1)
        category = rng.choice(CATEGORIES)
        issue_rows.append(
            {
                "id": n,
                "number": f"Q-{created.year}-{n:06d}",
                "status": "claimed" if is_open else "closed",
                "text": "用电报装迟迟没有接电",
                "category": category,
                "priority": "normal",
                "source": "group",
                "is_private": False,
                "verified": True,
                "department_id": department,
                "assist_department_ids": [],
                "routing_reason": "",
                "is_general": False,
                "name_consent": False,
                "reopen_count": 0,
                "claimed_at": created + timedelta(hours=2),
                "closed_at": None if is_open else created + timedelta(days=3),
                "rating": None if is_open else rng.randrange(3, 6),
                "claim_due_at": created + timedelta(hours=8),
                "close_due_at": created + timedelta(days=5),
                "created_at": created,
                "updated_at": created,
            }
        )
        for kind, due, done in (
            ("claim#1", created + timedelta(hours=8), created + timedelta(hours=2)),
            (
                "close",
                created + timedelta(days=5),
                None if is_open else created + timedelta(days=3),
            ),
        ):
            deadline_rows.append(_deadline(rng, "issue", n, kind, department, category, due, done))
    for n in range(1, nodes + 1):
        due = NOW + timedelta(days=rng.randrange(-300, 200))
        department = rng.randrange(1, DEPARTMENTS + 1)
        done = due - timedelta(days=1) if due < NOW and rng.random() < 0.8 else None
        node_rows.append(
            {
                "id": n,
                "project_id": rng.randrange(1, 501),
                "title": f"节点{n}",
                "department_id": department,
                "deadline": due,
                "closing_standard": "",
                "weight": 1,
                "status": "done" if done else "open",
                "progress": 100 if done else 50,
                "created_at": NOW - timedelta(days=365),
            }
        )
        deadline_rows.append(_deadline(rng, "node", n, "node", department, "工业项目", due, done))
    await _insert(sessions, "issues", issue_rows)
    await _insert(sessions, "nodes", node_rows)
    await _insert(sessions, "deadlines", deadline_rows)
    card_rows, point_rows = [], []
    for d, row in enumerate(deadline_rows, start=1):
        for colour in filter(None, row["cards"].split(",")):
            card_rows.append(
                {
                    "id": len(card_rows) + 1,
                    "deadline_id": d,
                    "colour": colour,
                    "raised_at": min(NOW, (row["done_at"] or row["due_at"]) + timedelta(minutes=1)),
                    "notices": [],
                }
            )
            point_rows.append(
                {
                    "card_id": len(card_rows),
                    "department_id": row["department_id"],
                    "colour": colour,
                    "points": {"green": 1.0, "yellow": 0.0, "red": -1.0}[colour],
                    "reason": colour,
                    "at": card_rows[-1]["raised_at"],
                }
            )
    await _insert(sessions, "cards", card_rows)
    await _insert(sessions, "points_ledger", point_rows)
    await engine.dispose()


def _deadline(
    rng: random.Random,
    subject: str,
    subject_id: int,
    kind: str,
    department: int,
    category: str,
    due: datetime,
    done: datetime | None,
) -> dict[str, Any]:
    """A tracked limit with the cards the sweep would have raised on it by NOW."""
    late = (done or NOW) > due
    settled = done is not None or due < NOW
    cards = ""
    if settled:
        cards = "yellow" if late else "green"
        if late and done is None and rng.random() < 0.3:
            cards = "yellow,red"
    return {
        "subject_type": subject,
        "subject_id": subject_id,
        "kind": kind,
        "label": f"{subject}-{subject_id}",
        "department_id": department,
        "category": category,
        "urgent": False,
        "weight": 1.0,
        "due_at": due,
        "done_at": done,
        "cards": cards,
        "card_due_at": None if settled else due,
        "next_reminder_at": None,
        "supervised_at": NOW - timedelta(days=1) if cards.endswith("red") else None,
        "created_at": due - timedelta(days=5),
        "updated_at": due,
    }


async def _time_digest(url: str, repeat: int) -> tuple[list[float], list[float], digest.Figures]:
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    figure_times, chart_times = [], []
    found: digest.Figures | None = None
    for _ in range(repeat + 1):  # the first run warms the process up, as a running bot is
        started = time.perf_counter()
        async with sessions() as session:
            found = await digest.figures(session, NOW, ZONE, NOW - timedelta(hours=24))
        figured = time.perf_counter()
        digest.chart(found, "zh_CN")
        figure_times.append(figured - started)
        chart_times.append(time.perf_counter() - figured)
    await engine.dispose()
    assert found is not None
    return figure_times[1:], chart_times[1:], found


async def run(url: str | None, issues: int, nodes: int, repeat: int) -> None:
    backend = "postgresql" if url and url.startswith("postgresql") else "sqlite"
    with tempfile.TemporaryDirectory() as folder:
        target = url or f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}"
        await _reset(target)
        seeded = time.perf_counter()
        await _seed(target, issues, nodes)
        seed_seconds = time.perf_counter() - seeded
        figure_times, chart_times, found = await _time_digest(target, repeat)
    figures_ms = statistics.median(figure_times) * 1000
    chart_ms = statistics.median(chart_times) * 1000
    print(
        json.dumps(
            {
                "bench": "digest",
                "backend": backend,
                "issues": issues,
                "nodes": nodes,
                "departments": DEPARTMENTS,
                "figures_ms": round(figures_ms, 1),
                "chart_ms": round(chart_ms, 1),
                "total_ms": round(figures_ms + chart_ms, 1),
                "target": "under 1 s",
                "overdue": found.overdue,
                "supervised": found.supervised_count,
                "new": found.new,
                "seed_s": round(seed_seconds, 1),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=100_000)
    parser.add_argument("--nodes", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    asyncio.run(run(args.database_url, args.issues, args.nodes, args.repeat))


if __name__ == "__main__":
    main()
