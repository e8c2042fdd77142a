"""Benchmark of intake: issue reports posted to the bot's webhook, timed until committed.

The real bot runs as its own process (`python -m bot run`, webhook mode) against a sandbox Bot
API (`python -m sandbox`, another process), on a county loaded with `nodedesk import`: an
industry group of firms, a routing rule, a department with officials and a working chat, and a
knowledge base of answered problems (so that the similar-problem search before each report has
something to search). Each report is a Telegram `Update` posted to `/telegram` with the secret
header: a `#问题 …` message in the group from a firm member who has not reported before. The
webhook answers once the update is handled; "committed" is still read from the database, not
taken from the answer: the issue row and the outbox rows it caused (its cards), written in one
transaction. With --processes N (PostgreSQL), N bot processes share the database and the bench
posts to them in turn, as a load balancer would.

- throughput: REPORTS sent as fast as the server takes them (CONCURRENCY in flight), then
  reports/s = REPORTS / the time from the first send until the last report is committed;
- latency: reports at a fixed RATE for SECONDS, each timed from just before its request until
  a poller (every POLL_MS) sees its issue with its cards; p50, p95, p99;
- memory: the bot process's peak RSS over the whole run (VmHWM in /proc/<pid>/status; with
  several processes, the largest).

A warm-up of WARMUP reports comes first. A report whose update failed never commits: a run
stops waiting once nothing has committed for a minute and counts the rest as lost (the memory
line also counts the updates the bot logged as failed). Each result is one JSON line, with its
target and whether it was met.

Run from the repository root: python bench/intake.py [--reports 5000] [--rate 100]
[--seconds 20] [--database-url postgresql+asyncpg://… [--processes 2]] (default: a SQLite file
in a temporary folder; a PostgreSQL database's public schema is dropped and rebuilt).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from models.tables import Base
from sandbox import ControlClient

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456:BENCH-intake-token"
SECRET = "bench-intake-secret"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
GROUP_TITLE = "医药企业群"
INDUSTRY = "医药"
LEAD = "县供电公司"
LEAD_CHAT = "供电公司工作群"
FIRMS = 20
FIRST_MEMBER_ID = 7_000_001
OFFICIALS = (900011, 900012, 900013)
# Per report: the card in the group and the card in the department's working chat.
CARDS_PER_REPORT = 2
POLL_MS = 2.0
ATTEMPTS = 3  # posts of one update, when the connection fails
STALL_S = 60.0

# Reports about power (routed by the rule below); the answered problems are about other
# things, so that the search scores them all and none is similar enough to hold a report back.
REPORT = "#问题 {place}{n}号车间本周第{k}次停电，生产线停了，请尽快协调供电恢复"
PLACES = ("经开区", "高新区", "东城园区", "西城园区", "南部工业园")
KNOWLEDGE = (
    "我们{n}厂招工困难，{k}个技工岗位一直招不到人，能否帮忙对接",
    "新产品第{k}批需要申请商标注册，流程怎么走，{n}号材料缺什么",
    "企业{n}想申请技改贴息贷款{k}百万，需要哪些担保条件",
    "{n}号药品GMP认证复查时间能不能调整到{k}月以后",
    "员工社保缴费基数第{k}档调整后，{n}人的补缴怎么处理",
)


# --- the processes ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def _process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A child process, its output in `log`, stopped with SIGTERM (then SIGKILL) at the end."""
    with log.open("wb") as out:
        child = subprocess.Popen(args, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield child
        finally:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()


async def _until_up(url: str, child: subprocess.Popen[bytes], log: Path) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(600):
            if child.poll() is not None:
                raise _failed(f"{child.args!r} exited ({child.returncode})", log)
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url, timeout=1)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise _failed(f"{url} did not answer within 60 s", log)


def _failed(what: str, log: Path) -> SystemExit:
    return SystemExit(f"{what}:\n{log.read_text(encoding='utf-8', errors='replace')}")


def _failures(log: Path) -> int:
    """Updates the bot logged as failed (bot/app.py `_on_error`): reports it lost."""
    said = log.read_text(encoding="utf-8", errors="replace")
    return sum(" ERROR bot.app: update " in line for line in said.splitlines())


async def _import_county(county: Path, env: dict[str, str]) -> None:
    """`nodedesk import county` with `env`, as an operator would; stops the bench if it fails."""
    imported = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot", "import", str(county)),
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    said, _ = await imported.communicate()
    if imported.returncode != 0:
        raise SystemExit(f"nodedesk import failed:\n{said.decode()}")


def _environment(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NODEDESK_")}
    env.update({f"NODEDESK_{name.upper()}": value for name, value in settings.items()})
    return env


def _memory_mb(pid: int, field: str) -> float:
    """VmRSS (resident now) or VmHWM (its high-water mark) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


# --- the county ---------------------------------------------------------------------------------


def _county(group_id: int, department_chat_id: int, members: int) -> dict[str, Any]:
    firms = [{"name": f"皖南第{f}药业有限公司", "industry": INDUSTRY} for f in range(1, FIRMS + 1)]
    people: list[dict[str, Any]] = [
        {
            "id": 900001,
            "name": "王营商",
            "roles": ["coordinator", "admin"],
            "department": "县营商办",
        }
    ]
    people += [
        {"id": official, "name": f"电力干部{n}", "roles": ["official"], "department": LEAD}
        for n, official in enumerate(OFFICIALS, 1)
    ]
    people += [
        {"id": FIRST_MEMBER_ID + k, "name": _member_name(k), "firm": firms[k % FIRMS]["name"]}
        for k in range(members)
    ]
    return {
        "departments": [{"name": "县营商办", "coordinator": True}, {"name": LEAD}],
        "people": people,
        "firms": firms,
        "groups": [{"id": group_id, "title": GROUP_TITLE, "industry": INDUSTRY}],
        "department_chats": [{"id": department_chat_id, "title": LEAD_CHAT, "department": LEAD}],
        "rules": [{"keywords": ["停电", "用电", "供电"], "category": "水电气", "lead": LEAD}],
        "policies": [
            {
                "category": "default",
                "priority": "normal",
                "close_working_days": 5,
                "confirm_days": 3,
            }
        ],
    }


def _member_name(k: int) -> str:
    return f"企业成员{k}"


async def _reset(url: str) -> None:
    if not url.startswith("postgresql"):
        return
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def _seed_knowledge(engine: AsyncEngine, count: int) -> None:
    """Answered, closed problems of last year: the knowledge base the bot searches per report."""
    if not count:
        return
    then = datetime.now(UTC) - timedelta(days=200)
    async with engine.begin() as conn:
        department = await conn.scalar(
            text("SELECT id FROM departments WHERE name = :n"), {"n": LEAD}
        )
        await conn.execute(
            Base.metadata.tables["issues"].insert(),
            [
                {
                    "number": f"Q-2025-{n:04d}",
                    "status": "closed",
                    "text": KNOWLEDGE[n % len(KNOWLEDGE)].format(n=n, k=n % 17 + 1),
                    "category": "其他",
                    "industry": INDUSTRY,
                    "priority": "normal",
                    "source": "group",
                    "is_private": False,
                    "verified": True,
                    "department_id": department,
                    "assist_department_ids": [],
                    "routing_reason": "",
                    "answer": f"已协调处理，第{n}号答复：请按县里的办事指南准备材料。",
                    "answered_at": then,
                    "is_general": n % 3 == 0,
                    "name_consent": False,
                    "reopen_count": 0,
                    "close_kind": "confirmed",
                    "closed_at": then,
                    "created_at": then,
                    "updated_at": then,
                }
                for n in range(1, count + 1)
            ],
        )


# --- the reports --------------------------------------------------------------------------------


class Reporter:
    """Posts reports to the webhook; each from a new firm member, with unique ids.

    With several bot processes it takes them in turn, as a round-robin load balancer would.
    `http` holds, per bot process, clients of one connection each, also taken in turn: one
    client with a pool of 64 connections spent most of the bench's CPU (which the bot's host
    shares) choosing a connection for each request, and left the bot 30 % slower.
    """

    def __init__(self, http: list[list[httpx.AsyncClient]], group_id: int) -> None:
        self.http = http
        self.group_id = group_id
        self.next = 0
        self.sent_at: dict[int, float] = {}  # message id -> perf_counter just before its request

    async def post(self) -> None:
        k = self.next
        self.next += 1
        message_id = 1000 + k
        body = {
            "update_id": 100_000 + k,
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": self.group_id, "type": "supergroup", "title": GROUP_TITLE},
                "from": {"id": FIRST_MEMBER_ID + k, "is_bot": False, "first_name": _member_name(k)},
                "text": REPORT.format(place=PLACES[k % len(PLACES)], n=k, k=k % 7 + 1),
            },
        }
        content = json.dumps(body, ensure_ascii=False).encode()
        self.sent_at[message_id] = time.perf_counter()
        for attempt in range(1, ATTEMPTS + 1):
            # As Telegram does, an update whose request failed is posted again (a keep-alive
            # connection the server closed just as it was reused); the bot skips it if handled.
            try:
                bot = self.http[k % len(self.http)]
                answer = await bot[k // len(self.http) % len(bot)].post(
                    "/telegram", content=content, headers=HEADERS
                )
                break
            except httpx.TransportError:
                if attempt == ATTEMPTS:
                    raise
        if answer.status_code != 200:
            raise RuntimeError(f"the webhook answered {answer.status_code}: {answer.text[:200]}")


class Watcher:
    """Reads from the database which reports are committed (issue row and its cards)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.floor = 0  # every issue id up to here has been seen
        self.seen: dict[int, float] = {}  # origin message id -> perf_counter when first seen
        self._ids: set[int] = set()

    async def start(self) -> None:
        async with self.engine.connect() as conn:
            self.floor = int(await conn.scalar(text("SELECT coalesce(max(id), 0) FROM issues")))

    async def poll(self) -> None:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT i.id, i.origin_message_id, count(c.id) FROM issues i "
                    "LEFT JOIN issue_cards c ON c.issue_id = i.id WHERE i.id > :floor "
                    "GROUP BY i.id, i.origin_message_id"
                ),
                {"floor": self.floor},
            )
            found = rows.all()
        now = time.perf_counter()
        for issue_id, message_id, cards in found:
            if issue_id in self._ids:
                continue
            assert cards >= CARDS_PER_REPORT, f"issue {issue_id} committed with {cards} cards"
            self._ids.add(issue_id)
            self.seen[message_id] = now
        # Ids can commit out of order on PostgreSQL: the floor moves only over an unbroken run.
        while self.floor + 1 in self._ids:
            self.floor += 1
            self._ids.discard(self.floor)

    async def until(self, count: int, every: float) -> float:
        """Poll until `count` reports are seen, or none has been for STALL_S (a report whose
        update failed never will be); the perf_counter when the last one was."""
        last_seen, progress = len(self.seen), time.perf_counter()
        while len(self.seen) < count and time.perf_counter() - progress < STALL_S:
            await self.poll()
            if len(self.seen) > last_seen:
                last_seen, progress = len(self.seen), time.perf_counter()
            await asyncio.sleep(every)
        return max(self.seen.values(), default=progress)


async def _flood(reporter: Reporter, count: int, concurrency: int) -> float:
    """Send `count` reports as fast as the server takes them; the seconds it took."""
    started = time.perf_counter()
    left = iter(range(count))

    async def worker() -> None:
        for _ in left:
            await reporter.post()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def _paced(reporter: Reporter, rate: float, seconds: float) -> int:
    """Send at a fixed rate, each request on its own; how many were sent."""
    count = int(rate * seconds)
    started = time.perf_counter()
    tasks = []
    for n in range(count):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(reporter.post()))
    await asyncio.gather(*tasks)
    return count


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


# --- the run ------------------------------------------------------------------------------------


@dataclass
class Stack:
    engine: AsyncEngine  # the bench's own, for reading what is committed
    bot_pids: list[int]
    bot_urls: list[str]
    group_id: int
    start_rss_mb: float  # the largest of the bot processes'
    logs: list[Path]


@contextlib.asynccontextmanager
async def _stack(
    url: str, members: int, knowledge: int, folder: Path, processes: int
) -> AsyncIterator[Stack]:
    """Sandbox and bot process(es) running on a loaded county, ready for reports."""
    sandbox_port, bot_ports = _free_port(), [_free_port() for _ in range(processes)]
    bot_port = bot_ports[0]
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    sandbox_args = [sys.executable, "-m", "sandbox", "--port", str(sandbox_port), "--token", TOKEN]
    sandbox_log = folder / "sandbox.log"
    with _process([*sandbox_args, "--log-level", "warning"], _environment(), sandbox_log) as sb:
        await _until_up(f"{sandbox_url}/control/bot", sb, sandbox_log)
        async with ControlClient(f"{sandbox_url}/control") as control:
            group = int((await control.create_chat("supergroup", title=GROUP_TITLE))["id"])
            department_chat = int((await control.create_chat("supergroup", title=LEAD_CHAT))["id"])
        county = folder / "county.yaml"
        county.write_text(
            yaml.safe_dump(_county(group, department_chat, members), allow_unicode=True),
            encoding="utf-8",
        )
        await _reset(url)
        env = _environment(
            token=TOKEN,
            database_url=url,
            mode="webhook",
            webhook_url=f"http://127.0.0.1:{bot_port}",
            webhook_secret=SECRET,
            listen=f"127.0.0.1:{bot_port}",
            api_base_url=f"{sandbox_url}/bot",
            api_base_file_url=f"{sandbox_url}/file/bot",
        )
        await _import_county(county, env)
        engine = create_async_engine(url)
        try:
            await _seed_knowledge(engine, knowledge)
            with contextlib.ExitStack() as running:
                bots, logs, urls = [], [], []
                for n, port in enumerate(bot_ports, 1):
                    bot_log = folder / f"bot{n}.log"
                    bot_env = {**env, "NODEDESK_LISTEN": f"127.0.0.1:{port}"}
                    bot = running.enter_context(
                        _process([sys.executable, "-m", "bot", "run"], bot_env, bot_log)
                    )
                    await _until_up(f"http://127.0.0.1:{port}/healthz", bot, bot_log)
                    bots.append(bot)
                    logs.append(bot_log)
                    urls.append(f"http://127.0.0.1:{port}")
                start_rss = max(_memory_mb(bot.pid, "VmRSS") for bot in bots)
                yield Stack(engine, [bot.pid for bot in bots], urls, group, start_rss, logs)
        finally:
            await engine.dispose()


async def run(args: argparse.Namespace) -> None:
    # Stopped with SIGTERM, the bench still stops its bot and sandbox on the way out.
    main = asyncio.current_task()
    assert main is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
    backend = "postgresql" if args.database_url else "sqlite"
    paced = int(args.rate * args.seconds)
    with tempfile.TemporaryDirectory(prefix="nodedesk-bench-") as name:
        folder = Path(name)
        url = args.database_url or f"sqlite+aiosqlite:///{folder / 'bench.sqlite3'}"
        members = args.warmup + args.reports + paced
        async with (
            _stack(url, members, args.knowledge, folder, args.processes) as stack,
            contextlib.AsyncExitStack() as clients,
        ):
            http = [
                [
                    await clients.enter_async_context(
                        httpx.AsyncClient(
                            base_url=bot_url, limits=httpx.Limits(max_connections=1), timeout=60
                        )
                    )
                    for _ in range(args.concurrency)
                ]
                for bot_url in stack.bot_urls
            ]
            reporter = Reporter(http, stack.group_id)
            watcher = Watcher(stack.engine)
            await watcher.start()
            every = POLL_MS / 1000

            await _flood(reporter, args.warmup, min(args.concurrency, 8))
            await watcher.until(args.warmup, every)

            watcher.seen.clear()
            started = time.perf_counter()
            accept = await _flood(reporter, args.reports, args.concurrency)
            last = await watcher.until(args.reports, 0.02)
            rate = len(watcher.seen) / (last - started)
            _emit(
                bench="intake_throughput",
                backend=backend,
                processes=args.processes,
                reports=args.reports,
                concurrency=args.concurrency,
                knowledge=args.knowledge,
                accept_s=round(accept, 2),
                commit_s=round(last - started, 2),
                reports_per_s=round(rate, 1),
                lost=args.reports - len(watcher.seen),
                target="at least 500 reports/s",
                met=rate >= 500 and len(watcher.seen) == args.reports,
            )

            await asyncio.sleep(1.0)
            watcher.seen.clear()
            first = 1000 + reporter.next
            # The poller runs while the reports go out: each is timed when it is first seen.
            watching = asyncio.create_task(watcher.until(paced, every))
            await _paced(reporter, args.rate, args.seconds)
            await watching
            latencies = [
                (watcher.seen[message_id] - sent) * 1000
                for message_id, sent in reporter.sent_at.items()
                if message_id >= first and message_id in watcher.seen
            ]
            p99 = _percentile(latencies, 0.99)
            _emit(
                bench="intake_latency",
                backend=backend,
                processes=args.processes,
                rate=args.rate,
                seconds=args.seconds,
                reports=paced,
                knowledge=args.knowledge,
                poll_ms=POLL_MS,
                p50_ms=round(_percentile(latencies, 0.50), 1),
                p95_ms=round(_percentile(latencies, 0.95), 1),
                p99_ms=round(p99, 1),
                max_ms=round(max(latencies), 1),
                lost=paced - len(latencies),
                target="p99 under 50 ms at 100 reports/s",
                # The target is at 100 reports/s; a slower run is a figure, not the target met.
                met=args.rate >= 100 and p99 < 50 and len(latencies) == paced,
            )

            peak = max(_memory_mb(pid, "VmHWM") for pid in stack.bot_pids)
            async with stack.engine.connect() as conn:
                counted = await conn.execute(
                    text(
                        "SELECT (SELECT count(*) FROM issues WHERE status <> 'closed'),"
                        " (SELECT count(*) FROM issue_drafts), (SELECT count(*) FROM outbox)"
                    )
                )
                issues, drafts, outbox = counted.one()
            _emit(
                bench="intake_memory",
                backend=backend,
                processes=args.processes,
                start_rss_mb=round(stack.start_rss_mb, 1),
                peak_rss_mb=round(peak, 1),
                issues=issues,
                drafts=drafts,
                outbox_rows=outbox,
                failed_updates=sum(_failures(log) for log in stack.logs),
                target="peak RSS under 200 MB",
                met=peak < 200,
            )


def _emit(**fields: object) -> None:
    print(json.dumps(fields, ensure_ascii=False), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=5_000, help="reports for the throughput run")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight then")
    parser.add_argument("--rate", type=float, default=100.0, help="reports/s for the latency run")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the latency run")
    parser.add_argument("--warmup", type=int, default=200, help="reports before either run")
    parser.add_argument(
        "--knowledge", type=int, default=1_000, help="answered problems in the knowledge base"
    )
    parser.add_argument("--database-url", help="postgresql+asyncpg://… (default: a SQLite file)")
    parser.add_argument(
        "--processes", type=int, default=1, help="bot processes, taken in turn (PostgreSQL only)"
    )
    args = parser.parse_args()
    if args.processes > 1 and not args.database_url:
        parser.error("several bot processes need PostgreSQL (--database-url)")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
