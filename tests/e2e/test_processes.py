"""Three bot processes on one PostgreSQL, behind a round-robin load balancer.

Each process is the real bot (`python -m bot run`, webhook mode) with its own web server; the
sandbox posts every update to a small balancer on loopback, which hands them to the processes in
turn (skipping a dead one, as a load balancer's health check would). All three read their time
from one file, so moving it makes every process's sweep race for the same cards, reminders,
closings and digests. Afterwards nothing may be missing or doubled: issues, cards, points,
digests, and the messages Telegram received.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.app import SECRET_HEADER, WEBHOOK_PATH
from models.clock import FileClock
from models.db import create_engine
from models.migrate import alembic_config
from models.tables import (
    AuditEntry,
    Card,
    Chat,
    Deadline,
    Issue,
    IssueCard,
    OutboxMessage,
    PointsEntry,
    SentReport,
)
from reminders.locks import NAMESPACE, Work
from sandbox import ControlClient, Sandbox
from sandbox import running as sandbox_running
from sandbox.server import serve_app
from tests.conftest import PG_URL, Database, drop_schema
from tests.e2e.conftest import free_port, import_county

pytestmark = pytest.mark.skipif(
    not (PG_URL or "").startswith("postgresql"),
    reason="several processes share one PostgreSQL: set NODEDESK_TEST_DATABASE_URL to one",
)

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456:PROCESSES-token-for-the-sandbox"
SECRET = "several-processes-secret"
PROCESSES = 3
# Monday 2 March 2026, 08:00 in the county: a working day, before office hours and the digest.
MONDAY_8 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)

COORDINATOR = 900001
LEADERS = (900002, 900003)
# department: (its officials, the keyword that routes to it). Six departments and four groups
# keep every chat under Telegram's 20 messages a minute per group, which the bot obeys.
DEPARTMENTS = {
    "县供电公司": ((900011, 900012), "停电"),
    "县人社局": ((900021, 900022), "招工"),
    "县自然资源局": ((900031, 900032), "用地"),
    "县水务局": ((900041, 900042), "停水"),
    "县金融办": ((900051, 900052), "贷款"),
    "县交通局": ((900061, 900062), "道路"),
}
INDUSTRIES = ("医药", "茶叶", "工业", "食品")
MEMBERS_PER_GROUP = 3
REPORTS_PER_MEMBER = 2
FIRST_MEMBER = 7_100_001
PLACES = ("经开区", "高新区", "东城园区", "西城园区", "南部工业园", "北部新区")
TOPICS = {
    "停电": "{place}{n}号车间本周第{k}次停电，生产线停了，请协调尽快恢复供电",
    "招工": "{place}{n}号厂区缺{k}十名熟练技工，招工一直招不到人，请帮忙对接劳务",
    "用地": "{place}{n}号地块扩建需要新增用地{k}十亩，规划手续怎么办理",
    "停水": "{place}{n}号园区第{k}次停水，锅炉无法运行，请尽快处理",
    "贷款": "{place}{n}号企业申请技改贷款{k}百万，银行迟迟不放款，请帮忙协调",
    "道路": "{place}{n}号厂门口道路破损{k}处，货车进出困难，请安排维修",
}


# --- the processes and the balancer -------------------------------------------------------------


def _environment(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NODEDESK_")}
    env.update({f"NODEDESK_{name.upper()}": value for name, value in settings.items()})
    return env


@dataclass
class Bot:
    """One bot process: its web server's URL, its output."""

    url: str
    log: Path
    child: subprocess.Popen[bytes] | None = None

    def said(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def _started(bots: list[Bot], env: dict[str, str]) -> Iterator[None]:
    try:
        for bot in bots:
            port = bot.url.rpartition(":")[2]
            with bot.log.open("wb") as out:
                bot.child = subprocess.Popen(
                    [sys.executable, "-m", "bot", "run"],
                    env={**env, "NODEDESK_LISTEN": f"127.0.0.1:{port}"},
                    cwd=ROOT,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
        yield
    finally:
        for bot in bots:
            if bot.child is not None and bot.child.poll() is None:
                bot.child.send_signal(signal.SIGTERM)
        for bot in bots:
            if bot.child is None:
                continue
            try:
                bot.child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                bot.child.kill()
                bot.child.wait()


@dataclass
class Balancer:
    """Round robin over the bots; a bot that does not answer is skipped."""

    backends: list[str] = field(default_factory=list)
    handled: Counter[str] = field(default_factory=Counter)
    _turn: Iterator[int] = field(default_factory=itertools.count)

    def app(self, http: httpx.AsyncClient) -> Starlette:
        async def forward(request: Request) -> Response:
            body = await request.body()
            headers = {
                SECRET_HEADER: request.headers.get(SECRET_HEADER, ""),
                "Content-Type": "application/json",
            }
            for _ in self.backends:
                backend = self.backends[next(self._turn) % len(self.backends)]
                try:
                    answer = await http.post(backend + WEBHOOK_PATH, content=body, headers=headers)
                except httpx.TransportError:
                    continue
                self.handled[backend] += 1
                return Response(answer.content, status_code=answer.status_code)
            return Response(status_code=502)

        return Starlette(routes=[Route(WEBHOOK_PATH, forward, methods=["POST"])])


async def _until(
    what: str,
    condition: Callable[[], Awaitable[bool]],
    timeout: float = 30.0,  # noqa: ASYNC109
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.05)


# --- the county ---------------------------------------------------------------------------------


@dataclass
class World:
    groups: dict[str, int]  # industry -> Telegram chat id
    department_chats: dict[str, int]  # department -> Telegram chat id
    members: dict[int, str]  # member id -> industry


def _county(world: World) -> dict[str, Any]:
    firms = [
        {"name": f"{industry}第{m}企业有限公司", "industry": industry}
        for industry in INDUSTRIES
        for m in range(MEMBERS_PER_GROUP)
    ]
    people: list[dict[str, Any]] = [
        {
            "id": COORDINATOR,
            "name": "王营商",
            "roles": ["coordinator", "admin"],
            "department": "县营商办",
        }
    ]
    people += [{"id": leader, "name": f"县领导{leader}", "roles": ["leader"]} for leader in LEADERS]
    people += [
        {"id": official, "name": f"干部{official}", "roles": ["official"], "department": name}
        for name, (officials, _) in DEPARTMENTS.items()
        for official in officials
    ]
    members = sorted(world.members)
    people += [
        {"id": member, "name": f"企业成员{member}", "firm": firms[n]["name"]}
        for n, member in enumerate(members)
    ]
    return {
        "departments": [
            {"name": "县营商办", "coordinator": True},
            *({"name": name} for name in DEPARTMENTS),
        ],
        "people": people,
        "firms": firms,
        "groups": [
            {"id": chat, "title": f"{industry}企业群", "industry": industry}
            for industry, chat in world.groups.items()
        ],
        "department_chats": [
            {"id": chat, "title": f"{name}工作群", "department": name}
            for name, chat in world.department_chats.items()
        ],
        "rules": [
            {"keywords": [keyword], "category": "其他", "lead": name}
            for name, (_, keyword) in DEPARTMENTS.items()
        ],
        "policies": [
            {
                "category": "default",
                "priority": "normal",
                "close_working_days": 5,
                "confirm_days": 3,
                "claim_hours": "eod",
                "reminder_hours": [24, 2],
                "quiet_hours": "off",
            }
        ],
    }


async def _world(control: ControlClient) -> World:
    for person in (COORDINATOR, *LEADERS):
        await control.create_user(f"person {person}", id=person)
    # Everyone has a private chat with the bot, so that it can reach them there.
    for person in (COORDINATOR, *LEADERS):
        await control.create_chat("private", user_id=person)
    department_chats = {}
    for name, (officials, _) in DEPARTMENTS.items():
        for official in officials:
            await control.create_user(f"official {official}", id=official)
            await control.create_chat("private", user_id=official)
        chat = await control.create_chat("supergroup", title=f"{name}工作群", members=officials)
        department_chats[name] = int(chat["id"])
    groups, members = {}, {}
    ids = itertools.count(FIRST_MEMBER)
    for industry in INDUSTRIES:
        in_group = [next(ids) for _ in range(MEMBERS_PER_GROUP)]
        for member in in_group:
            await control.create_user(f"member {member}", id=member)
            await control.create_chat("private", user_id=member)
            members[member] = industry
        chat = await control.create_chat(
            "supergroup", title=f"{industry}企业群", members=in_group, creator_id=COORDINATOR
        )
        groups[industry] = int(chat["id"])
    return World(groups, department_chats, members)


# --- reading the outcome ------------------------------------------------------------------------


async def _scalar(db: Database, statement: Any) -> Any:
    async with db.sessions() as session:
        return await session.scalar(statement)


async def _settled(db: Database, now: datetime) -> bool:
    """Nothing owed at `now`: no card, reminder or closing due, nothing waiting to be sent."""
    owed = await _scalar(
        db,
        select(func.count())
        .select_from(Deadline)
        .where((Deadline.card_due_at < now) | (Deadline.next_reminder_at <= now)),
    )
    unconfirmed = await _scalar(
        db,
        select(func.count())
        .select_from(Issue)
        .where(Issue.status == "answered", Issue.confirm_due_at <= now),
    )
    pending = await _scalar(
        db,
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending"),
    )
    return bool(owed == 0 and unconfirmed == 0 and pending == 0)


async def _state(db: Database) -> str:
    """What is waiting, for the report of a failure."""
    async with db.sessions() as session:
        waiting = await session.execute(
            select(
                OutboxMessage.id,
                OutboxMessage.template,
                OutboxMessage.chat_id,
                OutboxMessage.next_attempt_at,
                OutboxMessage.last_error,
            ).where(OutboxMessage.status == "pending")
        )
        owed = await session.execute(
            select(Deadline.label, Deadline.kind, Deadline.card_due_at, Deadline.next_reminder_at)
        )
        return f"pending: {waiting.all()}\ndeadlines: {owed.all()}"


async def _sender_pid(db: Database) -> int | None:
    """The database backend holding the outbox lock, if any."""
    pid: int | None = await _scalar(
        db,
        text(
            "SELECT l.pid FROM pg_locks l"
            " JOIN pg_database d ON d.oid = l.database AND d.datname = current_database()"
            f" WHERE l.locktype = 'advisory' AND l.granted AND l.classid = {NAMESPACE}"
            f" AND l.objid = {int(Work.OUTBOX)}"
        ),
    )
    return pid


def _sender(bots: list[Bot]) -> Bot:
    """The one bot among `bots` that took the outbox lock (each says so in its log)."""
    (taking,) = [b for b in bots if "this process now does the outbox work" in b.said()]
    return taking


# --- the test -----------------------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_three_processes_lose_nothing_and_double_nothing(
    db: Database, tmp_path: Path
) -> None:
    clock_file = tmp_path / "clock"
    FileClock.write(clock_file, MONDAY_8)
    balancer = Balancer()
    async with (
        sandbox_running(Sandbox(TOKEN, seed=20260302)) as sb,
        httpx.AsyncClient(timeout=10) as http,
        serve_app(balancer.app(http)) as balancer_url,
    ):
        control = sb.client
        world = await _world(control)
        county = tmp_path / "county.yaml"
        county.write_text(yaml.safe_dump(_county(world), allow_unicode=True), encoding="utf-8")
        env = _environment(
            token=TOKEN,
            database_url=db.url,
            mode="webhook",
            webhook_url=balancer_url,
            webhook_secret=SECRET,
            api_base_url=sb.base_url,
            api_base_file_url=sb.base_file_url,
            clock_file=str(clock_file),
            outbox_interval="0.2",
            sweep_interval="0.5",
            digest_time="08:30",
            language="en",
        )
        await import_county(county, env)

        bots = [
            Bot(f"http://127.0.0.1:{free_port()}", tmp_path / f"bot{n}.log")
            for n in range(PROCESSES)
        ]
        balancer.backends = [bot.url for bot in bots]
        with _started(bots, env):
            try:
                await _scenario(db, control, world, bots, balancer, clock_file, http)
            except BaseException:
                for bot in bots:
                    print(f"--- {bot.url} ---\n{bot.said()[-6000:]}")
                print(await _state(db))
                raise
            for bot in bots:
                problems = [
                    line
                    for line in bot.said().splitlines()
                    if " ERROR " in line or "Traceback" in line or "deadlock" in line
                ]
                assert problems == [], f"{bot.url}:\n" + "\n".join(problems)


async def _scenario(
    db: Database,
    control: ControlClient,
    world: World,
    bots: list[Bot],
    balancer: Balancer,
    clock_file: Path,
    http: httpx.AsyncClient,
) -> None:
    async def healthy() -> bool:
        for bot in bots:
            assert bot.child is not None and bot.child.poll() is None, bot.said()
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(bot.url + "/healthz")).status_code == 200:
                    continue
            return False
        return True

    await _until("all three bots answer /healthz", healthy, timeout=60)
    now = MONDAY_8

    async def settled() -> bool:
        return await _settled(db, now)

    # The leaders start a private chat, so that digests can reach them.
    for leader in LEADERS:
        cursor = await control.cursor()
        await control.send_text(leader, "/start", from_user_id=leader)
        await control.wait_for_bot_messages(1, chat_id=leader, after_seq=cursor)

    # Reports: every member twice, in their industry's group, spread over the departments.
    reports: list[tuple[int, int]] = []  # (group, message id) of each report
    keywords = itertools.cycle([keyword for _, keyword in DEPARTMENTS.values()])
    for k, (member, industry) in enumerate(sorted(world.members.items()) * REPORTS_PER_MEMBER):
        topic = TOPICS[next(keywords)]
        body = topic.format(place=PLACES[k % len(PLACES)], n=k + 1, k=k % 7 + 2)
        group = world.groups[industry]
        sent = await control.send_text(group, f"#问题 {body}", from_user_id=member)
        reports.append((group, int(sent["message_id"])))
    total = len(reports)

    async def all_filed() -> bool:
        filed = await _scalar(db, select(func.count()).select_from(Issue))
        return bool(filed == total) and await settled()

    await _until("every report filed and its cards sent", all_filed)
    assert all(balancer.handled[bot.url] >= 5 for bot in bots), balancer.handled

    # Claims (buttons on the department's card) and answers (/answer) by the officials.
    async with db.sessions() as session:
        filed = await session.execute(
            select(Issue, Chat.telegram_id)
            .join(Chat, Chat.id == Issue.origin_chat_id)
            .order_by(Issue.id)
        )
        origin = {}  # issue id -> (group, report's message id)
        issues = []
        for issue, group in filed.all():
            issues.append(issue)
            origin[issue.id] = (int(group), int(issue.origin_message_id or 0))
        cards = await session.execute(
            select(IssueCard.issue_id, OutboxMessage.telegram_message_id)
            .join(OutboxMessage, OutboxMessage.id == IssueCard.outbox_id)
            .where(IssueCard.role == "department")
        )
        department_cards = {issue_id: int(message_id or 0) for issue_id, message_id in cards.all()}
        departments = {
            d: n for n, d in (await session.execute(text("SELECT name, id FROM departments"))).all()
        }
    claimer: dict[int, int] = {}
    claimed = [issue for n, issue in enumerate(issues) if n % 3 != 2]  # two in three
    for n, issue in enumerate(claimed):
        name = departments[int(issue.department_id or 0)]
        officials, _ = DEPARTMENTS[name]
        claimer[issue.id] = officials[n % 2]
        pressed = await control.press_button(
            world.department_chats[name],
            department_cards[issue.id],
            data=f"v1:claim:{issue.id}",
            from_user_id=claimer[issue.id],
            wait=10,
        )
        assert pressed["answered"], pressed

    async def answer(issue: Issue) -> None:
        chat = world.department_chats[departments[int(issue.department_id or 0)]]
        await control.send_text(
            chat,
            f"/answer {issue.number} 已协调处理：{issue.number}",
            from_user_id=claimer[issue.id],
        )

    answered = claimed[: len(claimed) // 2]
    for issue in answered[:-3]:
        await answer(issue)
    await _until("claims and answers handled", settled)

    async def confirmations_asked() -> bool:
        count = await _scalar(
            db,
            select(func.count()).select_from(Issue).where(Issue.status == "answered"),
        )
        return bool(count == len(answered) - 3) and await settled()

    await _until("every answer delivered", confirmations_asked)
    # Two firms confirm: [Solved] under the answer, which reached the reporter in private.
    for issue in answered[:2]:
        reporter = int(
            await _scalar(
                db, text(f"SELECT telegram_id FROM people WHERE id = {issue.reporter_id}")
            )
        )
        (prompt,) = [
            m
            for m in await control.messages(reporter)
            if any(
                b.get("callback_data") == f"v1:confirm:{issue.id}:yes"
                for row in (m["reply_markup"] or {}).get("inline_keyboard", [])
                for b in row
            )
        ]
        pressed = await control.press_button(
            reporter, prompt["message_id"], data=f"v1:confirm:{issue.id}:yes", wait=10
        )
        assert pressed["answered"], pressed
    await _until("confirmations handled", settled)

    # The sender dies (SIGKILL: no goodbye, its connections simply close); another takes over.
    first_pid = await _sender_pid(db)
    assert first_pid is not None
    dead = _sender(bots)
    assert dead.child is not None
    dead.child.kill()
    dead.child.wait()

    async def taken_over() -> bool:
        pid = await _sender_pid(db)
        return pid is not None and pid != first_pid

    # Within a few outbox intervals (0.2 s each) of the death.
    await _until("another process takes the outbox lock", taken_over, timeout=5)
    for issue in answered[-3:]:
        await answer(issue)
    await _until("the new sender sends the last answers", settled)
    alive = [bot for bot in bots if bot is not dead]
    assert _sender(alive) is not dead

    # Time moves; every live process's sweep races for what fell due.
    days = set()
    for moved in (
        MONDAY_8 + HOUR,  # 09:00: the digest
        MONDAY_8 + 10 * HOUR,  # 18:00: claim limits missed
        MONDAY_8 + timedelta(days=3, hours=1),  # Thursday 09:00: answers unconfirmed close
        MONDAY_8 + timedelta(days=8, hours=1),  # next Tuesday 09:00: close limits missed
    ):
        now = moved
        FileClock.write(clock_file, now)
        days.add(now.date())

        async def moved_on() -> bool:
            sent = await _scalar(
                db,
                select(func.count()).select_from(SentReport).where(SentReport.kind == "digest"),
            )
            return bool(sent == len(days) * len(LEADERS)) and await settled()

        await _until(f"the sweep done at {now:%a %H:%M}", moved_on)

    await _check(db, control, world, reports, origin, issues, claimed, answered, len(days))


async def _check(
    db: Database,
    control: ControlClient,
    world: World,
    reports: list[tuple[int, int]],
    origin: dict[int, tuple[int, int]],
    issues: list[Issue],
    claimed: list[Issue],
    answered: list[Issue],
    days: int,
) -> None:
    # Every report filed exactly once.
    assert sorted(origin.values()) == sorted(reports)
    async with db.sessions() as session:
        reported = await session.execute(
            select(AuditEntry.subject_id, func.count())
            .where(AuditEntry.action == "issue_reported")
            .group_by(AuditEntry.subject_id)
        )
        assert sorted(reported.all()) == [(issue.id, 1) for issue in issues]
        # Every issue closed at most once, each unconfirmed answer closed.
        closings = Counter(
            await session.scalars(
                select(AuditEntry.subject_id).where(AuditEntry.action == "issue_closed")
            )
        )
        assert set(closings.values()) == {1}
        assert set(closings) == {issue.id for issue in answered}
        # Every card once, with one points entry and one audit entry.
        cards = list(await session.scalars(select(Card)))
        assert len({(c.deadline_id, c.colour) for c in cards}) == len(cards)
        points = Counter(await session.scalars(select(PointsEntry.card_id)))
        assert points == Counter(c.id for c in cards)
        raised = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "card_raised")
        )
        assert raised == len(cards)
        colours = Counter(
            (kind, colour)
            for kind, colour in (
                await session.execute(
                    select(Deadline.kind, Card.colour).join(
                        Deadline, Deadline.id == Card.deadline_id
                    )
                )
            ).all()
        )
        # Claimed in time: green; never claimed: yellow on the claim limit and the close limit;
        # claimed, never answered: yellow on the close limit; answered in time: green.
        unclaimed = len(issues) - len(claimed)
        assert colours[("claim#1", "green")] == len(claimed)
        assert colours[("claim#1", "yellow")] == unclaimed
        assert colours[("close", "green")] == len(answered)
        assert colours[("close", "yellow")] == len(issues) - len(answered)
        # The outbox sent everything, and Telegram holds each sent message exactly once.
        statuses = Counter(await session.scalars(select(OutboxMessage.status)))
        assert set(statuses) == {"sent"}, statuses
        rows = (
            await session.execute(
                select(OutboxMessage, Chat.telegram_id).join(Chat, Chat.id == OutboxMessage.chat_id)
            )
        ).all()
    posted = [
        (chat, row.telegram_message_id)
        for row, chat in rows
        if row.edit_of_id is None and row.edit_message_id is None
    ]
    assert all(row.parts_sent == 0 for row, _ in rows)  # one Telegram message per row
    seen: list[tuple[int, int]] = []
    texts: dict[int, list[str]] = {}
    for record in await control.chats():
        for message in await control.messages(record["id"]):
            if message["is_bot"]:
                seen.append((record["id"], message["message_id"]))
                texts.setdefault(record["id"], []).append(
                    message["text"] or message["caption"] or ""
                )
    assert Counter(seen) == Counter(posted)  # none missing, none twice, none unknown
    # Each issue's card once in its group, as the reply to its report, and once in its
    # department's chat; each unclaimed issue in a yellow notice in its department's chat.
    for issue in issues:
        group, report = origin[issue.id]
        cards_in_group = [
            m
            for m in await control.messages(group)
            if m["is_bot"] and m["reply_to"] == report and issue.number in m["text"]
        ]
        assert len(cards_in_group) == 1, issue.number
    # Each yellow card told its item's owner once (the claimer in private, else the department's
    # chat): the claim limit of an issue never claimed, the close limit of one never answered.
    claimed_ids = {issue.id for issue in claimed}
    answered_ids = {issue.id for issue in answered}
    lines = [line for said in texts.values() for t in said for line in t.splitlines()]
    for issue in issues:
        told = [line for line in lines if "Yellow card" in line and issue.number in line]
        expected = (issue.id not in claimed_ids) + (issue.id not in answered_ids)
        assert len(told) == expected, (issue.number, told)
    # Each leader: one digest (with its chart) per working day the clock stopped on after 08:30,
    # and the lists of the month and the quarter before, once each.
    for leader in LEADERS:
        said = [m for m in await control.messages(leader) if m["is_bot"]]
        assert len([m for m in said if m["photo"]]) == days
        assert len(said) == 1 + days + 2  # the answer to /start, the digests, the two lists


def test_three_processes_upgrading_a_fresh_database_at_once_all_start(postgres_url: str) -> None:
    """`nodedesk run` upgrades the schema first; started together, they must take turns."""

    drop_schema(postgres_url)
    env = _environment(database_url=postgres_url)
    upgrades = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "db", "upgrade"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(PROCESSES)
    ]
    said = [upgrade.communicate(timeout=120)[0].decode() for upgrade in upgrades]
    assert [upgrade.returncode for upgrade in upgrades] == [0] * PROCESSES, "\n".join(said)
    head = ScriptDirectory.from_config(alembic_config(postgres_url)).get_current_head()

    async def version() -> str | None:
        engine = create_engine(postgres_url)
        async with engine.connect() as conn:
            found = await conn.scalar(text("SELECT version_num FROM alembic_version"))
        await engine.dispose()
        return str(found) if found is not None else None

    assert asyncio.run(version()) == head
