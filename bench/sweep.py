"""Benchmark of the deadline sweep: its cost follows what is due, not what is open.

A fresh database gets OPEN deadlines far from due (open issues' and nodes' limits) and two sets
of DUE deadlines whose limits have just passed, spread over 60 departments whose officials the
bot can reach in private. A first sweep takes the earlier set (warming the process up as a
running bot is: statements compiled, policies read); the second is timed, commit included (it
raises a yellow card on each due row, books its points and writes one batched message per
official). The same is done with 10,000 and with 1,000,000 open rows and the ratio printed.
Each result is one JSON line.

Run from the repository root: python bench/sweep.py [--open 10000 1000000] [--due 1000]
[--database-url postgresql+asyncpg://…] (default: a SQLite file in a temporary folder).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import text

from models.db import create_engine, create_sessionmaker
from models.migrate import upgrade
from models.services.sweep import sweep
from models.tables import Base

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)
ZONE = ZoneInfo("Asia/Shanghai")
DEPARTMENTS = 60
CHUNK = 20_000


async def _reset(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        if url.startswith("postgresql"):
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    await upgrade(url)


async def _seed(url: str, open_rows: int, due_rows: int) -> None:
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    tables = Base.metadata.tables
    async with sessions() as session, session.begin():
        await session.execute(
            tables["departments"].insert(),
            [
                {"id": d, "name": f"部门{d}", "is_coordinator": False, "created_at": NOW}
                for d in range(1, DEPARTMENTS + 1)
            ],
        )
        await session.execute(
            tables["people"].insert(),
            [
                {
                    "id": d,
                    "telegram_id": 1000 + d,
                    "full_name": f"干部{d}",
                    "department_id": d,
                    "created_at": NOW,
                }
                for d in range(1, DEPARTMENTS + 1)
            ],
        )
        await session.execute(
            tables["person_roles"].insert(),
            [{"person_id": d, "role": "official"} for d in range(1, DEPARTMENTS + 1)],
        )
        await session.execute(
            tables["chats"].insert(),
            [
                {
                    "telegram_id": 1000 + d,
                    "kind": "private",
                    "purpose": "private",
                    "tags": [],
                    "created_at": NOW,
                }
                for d in range(1, DEPARTMENTS + 1)
            ],
        )
    far = NOW + timedelta(days=30)
    total = open_rows + 2 * due_rows
    for start in range(0, total, CHUNK):
        rows = []
        for n in range(start, min(start + CHUNK, total)):
            due = n >= open_rows
            # The warm-up set fell due 10 minutes ago, the timed set 5 minutes ago.
            passed = NOW - timedelta(minutes=10 if n < open_rows + due_rows else 5)
            rows.append(
                {
                    "subject_type": "node",
                    "subject_id": n + 1,
                    "kind": "node",
                    "label": f"N-{n + 1} 项目 · 节点",
                    "department_id": n % DEPARTMENTS + 1,
                    "owner_id": None,
                    "category": "工业项目",
                    "urgent": False,
                    "weight": 1.0,
                    "due_at": passed if due else far,
                    "cards": "",
                    "card_due_at": passed if due else far,
                    "next_reminder_at": None if due else far - timedelta(hours=24),
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            )
        async with sessions() as session, session.begin():
            await session.execute(tables["deadlines"].insert(), rows)
    await engine.dispose()


async def _sweep_once(url: str, due_rows: int) -> dict[str, float]:
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    async with sessions() as session, session.begin():
        warm = await sweep(session, NOW - timedelta(minutes=7), ZONE, "zh_CN", limit=due_rows)
    started = time.perf_counter()
    async with sessions() as session, session.begin():
        swept = await sweep(session, NOW, ZONE, "zh_CN", limit=due_rows)
    elapsed = time.perf_counter() - started
    await engine.dispose()
    assert len(warm.cards) == len(swept.cards) == due_rows, (len(swept.cards), due_rows)
    return {"seconds": elapsed, "cards": len(swept.cards), "messages": swept.messages}


async def run(url: str | None, opens: list[int], due_rows: int, repeat: int) -> None:
    backend = "postgresql" if url and url.startswith("postgresql") else "sqlite"
    results: dict[int, float] = {}
    for open_rows in opens:
        times = []
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as folder:
                target = url or f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}"
                await _reset(target)
                seeded = time.perf_counter()
                await _seed(target, open_rows, due_rows)
                seed_seconds = time.perf_counter() - seeded
                result = await _sweep_once(target, due_rows)
            times.append(result["seconds"])
            print(
                json.dumps(
                    {
                        "bench": "sweep",
                        "backend": backend,
                        "open": open_rows,
                        "due": due_rows,
                        "sweep_ms": round(result["seconds"] * 1000, 1),
                        "cards": result["cards"],
                        "messages": result["messages"],
                        "seed_s": round(seed_seconds, 1),
                    }
                ),
                flush=True,
            )
        results[open_rows] = statistics.median(times)
    if len(opens) >= 2:
        small, large = results[min(opens)], results[max(opens)]
        print(
            json.dumps(
                {
                    "bench": "sweep",
                    "backend": backend,
                    "median_ms": {str(k): round(v * 1000, 1) for k, v in results.items()},
                    "ratio": round(large / small, 2),
                    "target": "under 200 ms, ratio at most 1.5",
                }
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    asyncio.run(run(args.database_url, args.open, args.due, args.repeat))


if __name__ == "__main__":
    main()
