"""Benchmark of a broadcast: one general answer to 1,323 private chats within Telegram's limits.

The real bot runs as its own process (`python -m bot run`, polling) against a sandbox Bot API
(`python -m sandbox`, another process) that enforces Telegram's limits and answers 429 beyond
them (30 messages/s overall, 1/s per private chat). The county is loaded with `nodedesk import`:
the pharma industry group, a department with an official, a reporting firm member, and CHATS
firm members who have each started the bot in private and subscribed to the pharma industry
(`meet` and `subscribe`, the services behind /start and /subscribe).

Each run broadcasts one general answer the way people would: the firm member reports a problem
in the group, the official claims it by the card's button, answers by replying to the card and
marks the answer general, and the firm member presses [Solved]; the issue closes and its answer
goes to the group and to every subscriber in private.

- throughput: messages/s the sandbox accepted in private chats, from the first to the last
  (every private message of the bot in that time: the broadcast plus the one or two notices
  the closure causes), as a share of 30/s; and the 429 answers the sandbox gave meanwhile;
- kill: the bot is stopped with SIGKILL once about half the chats have it, then started again;
  each chat is counted by how many copies it received (0, 1, 2+). Before the restart the
  database is compared with the sandbox: a chat whose message the sandbox accepted but whose
  outbox row is still pending was in flight at the kill, and is the one duplicate the bot
  cannot rule out (reminders/outbox.py);
- term: the same with SIGTERM, a graceful stop.

Each result is one JSON line, with its target and whether it was met. The three runs share one
county, sandbox and database: each broadcast is a different issue, counted by its number.

Run from the repository root: python bench/broadcast.py [--chats 1323] [--runs throughput kill
term] [--database-url postgresql+asyncpg://…] (default: a SQLite file in a temporary folder; a
PostgreSQL database's public schema is dropped and rebuilt).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from intake import (
    _emit,
    _environment,
    _free_port,
    _import_county,
    _process,
    _reset,
    _until_up,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from models.db import create_engine, create_sessionmaker
from models.services.broadcasts import SubscriptionOutcome, subscribe
from models.services.contacts import ChatRef, Sender, meet
from sandbox import ControlClient

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456:BENCH-broadcast-token"
GROUP_TITLE = "医药企业群"
INDUSTRY = "医药"
LEAD = "县供电公司"
FIRM = "皖南药业有限公司"
COORDINATOR = 900001
OFFICIAL = 900011
REPORTER = 900101
FIRST_SUBSCRIBER = 7_000_001
LIMIT_PER_S = 30
TARGET_SHARE = 0.95
STALL_S = 60.0
POLL_S = 0.02
READERS = 16  # transcripts read side by side when counting copies

# One problem per run, each about power (routed by the rule below) but unlike the others, so
# that no report is held back as similar to the answer broadcast before it.
PROBLEMS = {
    "throughput": ("#问题 厂区本周第三次停电，生产线停了，请尽快协调恢复", "已安排抢修，今晚恢复"),
    "kill": ("#问题 新建车间要增加一台变压器，报装流程怎么走", "报装材料已发企业邮箱，三日内办结"),
    "term": ("#问题 园区线路老化，夜里电压不稳，设备经常跳闸", "线路改造列入本月计划，先加装稳压"),
}
NUMBER = re.compile(r"Q-\d{4}-\d{4}")


def _county(group_id: int, subscribers: int) -> dict[str, Any]:
    people: list[dict[str, Any]] = [
        {"id": COORDINATOR, "name": "王营商", "roles": ["coordinator"], "department": "县营商办"},
        {"id": OFFICIAL, "name": "赵电力", "roles": ["official"], "department": LEAD},
        {"id": REPORTER, "name": "陈药企", "firm": FIRM},
    ]
    people += [
        {"id": FIRST_SUBSCRIBER + k, "name": f"订阅成员{k}", "firm": FIRM}
        for k in range(subscribers)
    ]
    return {
        "departments": [{"name": "县营商办", "coordinator": True}, {"name": LEAD}],
        "people": people,
        "firms": [{"name": FIRM, "industry": INDUSTRY}],
        "groups": [{"id": group_id, "title": GROUP_TITLE, "industry": INDUSTRY}],
        "rules": [
            {"keywords": ["停电", "变压器", "电压"], "category": "水电气", "lead": LEAD},
        ],
    }


async def _people_in_sandbox(control: ControlClient, people: list[tuple[int, str]]) -> None:
    """Each person a sandbox user with a private chat with the bot, a few at a time."""
    gate = asyncio.Semaphore(READERS)

    async def one(user_id: int, name: str) -> None:
        async with gate:
            await control.create_user(name, id=user_id)
            await control.create_chat("private", user_id=user_id)

    await asyncio.gather(*(one(user_id, name) for user_id, name in people))


async def _started_and_subscribed(
    url: str, people: list[tuple[int, str]], subscribers: int
) -> None:
    """What /start and /subscribe 医药 would have written, by the services behind them."""
    engine = create_engine(url)
    try:
        sessions = create_sessionmaker(engine)
        async with sessions() as session, session.begin():
            now = datetime.now(UTC)
            for user_id, name in people:
                contact = await meet(
                    session, now, Sender(user_id, name), ChatRef(user_id, "private")
                )
                if user_id >= FIRST_SUBSCRIBER:
                    done = await subscribe(session, now, contact, INDUSTRY)
                    assert done.outcome is SubscriptionOutcome.SUBSCRIBED, done
        async with engine.connect() as conn:
            counted = await conn.scalar(text("SELECT count(*) FROM subscriptions"))
        assert counted == subscribers, f"{counted} subscriptions for {subscribers} subscribers"
    finally:
        await engine.dispose()


# --- the bot, stopped and started again ---------------------------------------------------------


@dataclass
class Bot:
    """The bot's process; a stop by signal leaves it stopped until `start` is called again."""

    env: dict[str, str]
    health_url: str
    folder: Path
    stack: contextlib.ExitStack  # where each process is stopped at the end, if still running
    child: subprocess.Popen[bytes] | None = None
    starts: int = 0

    async def start(self) -> None:
        self.starts += 1
        log = self.folder / f"bot-{self.starts}.log"
        args = [sys.executable, "-m", "bot", "run"]
        self.child = self.stack.enter_context(_process(args, self.env, log))
        await _until_up(self.health_url, self.child, log)

    async def stop(self, signum: signal.Signals) -> tuple[float, int]:
        """Send the signal and wait until the process is gone; the seconds that took and its
        exit status (0 after a graceful stop, minus the signal's number if it killed it)."""
        assert self.child is not None
        started = time.perf_counter()
        self.child.send_signal(signum)
        status = await asyncio.to_thread(self.child.wait)
        return time.perf_counter() - started, status


# --- acting as the people -----------------------------------------------------------------------


@dataclass
class People:
    control: ControlClient
    group: int

    async def button(
        self, chat_id: int, after_seq: int, pattern: str, within: float = 60.0
    ) -> tuple[dict[str, Any], str]:
        """The bot's first message in a chat after `after_seq` with a button whose data matches."""
        wanted = re.compile(pattern)
        deadline = time.perf_counter() + within
        while time.perf_counter() < deadline:
            for message in await self.control.messages(chat_id):
                if message["seq"] <= after_seq or not message["is_bot"]:
                    continue
                for row in (message["reply_markup"] or {}).get("inline_keyboard", []):
                    for button in row:
                        if wanted.match(button.get("callback_data", "")):
                            return message, str(button["callback_data"])
            # A report held back as similar to an answered one is filed all the same.
            if chat_id != self.group:
                with contextlib.suppress(LookupError):
                    held, data = self._found(await self.control.messages(self.group), after_seq)
                    await self.control.press_button(
                        self.group, held["message_id"], data=data, from_user_id=REPORTER, wait=10
                    )
            await asyncio.sleep(0.1)
        raise TimeoutError(f"no button {pattern} in chat {chat_id}")

    @staticmethod
    def _found(messages: list[dict[str, Any]], after_seq: int) -> tuple[dict[str, Any], str]:
        for message in messages:
            if message["seq"] <= after_seq or not message["is_bot"]:
                continue
            for row in (message["reply_markup"] or {}).get("inline_keyboard", []):
                for button in row:
                    data = str(button.get("callback_data", ""))
                    if re.match(r"^v1:draft:\d+:no$", data):
                        return message, data
        raise LookupError("no report held back")

    async def press(self, chat_id: int, message_id: int, data: str, user_id: int) -> None:
        await self.control.press_button(
            chat_id, message_id, data=data, from_user_id=user_id, wait=10
        )

    async def general_answer(
        self, problem: str, answer: str
    ) -> tuple[str, Callable[[], Awaitable[None]]]:
        """Report, claim, answer and mark general; the issue's number and the press on [Solved],
        which closes the issue and so starts the broadcast."""
        control = self.control
        cursor = await control.cursor()
        await control.send_text(self.group, problem, from_user_id=REPORTER)
        card, claim = await self.button(OFFICIAL, cursor, r"^v1:claim:\d+$")
        found = NUMBER.search(card["text"] or "")
        assert found is not None, card["text"]
        number = found.group(0)
        await self.press(OFFICIAL, card["message_id"], claim, OFFICIAL)
        cursor = await control.cursor()
        await control.send_text(
            OFFICIAL, answer, from_user_id=OFFICIAL, reply_to=card["message_id"]
        )
        ack, general = await self.button(OFFICIAL, cursor, r"^v1:general:\d+$")
        await self.press(OFFICIAL, ack["message_id"], general, OFFICIAL)
        notice, solved = await self.button(REPORTER, cursor, r"^v1:confirm:\d+:yes$")

        async def press_solved() -> None:
            await self.press(REPORTER, notice["message_id"], solved, REPORTER)

        return number, press_solved


# --- what arrived -------------------------------------------------------------------------------


async def _broadcast_id(engine: AsyncEngine, number: str) -> int:
    deadline = time.perf_counter() + STALL_S
    while time.perf_counter() < deadline:
        async with engine.connect() as conn:
            found = await conn.scalar(
                text(
                    "SELECT b.id FROM broadcasts b JOIN issues i ON i.id = b.issue_id "
                    "WHERE i.number = :number"
                ),
                {"number": number},
            )
        if found is not None:
            return int(found)
        await asyncio.sleep(POLL_S)
    raise TimeoutError(f"{number} was not broadcast")


async def _pending(engine: AsyncEngine, broadcast_id: int) -> set[int]:
    """Telegram ids of the private chats whose copy the outbox has not marked sent."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT c.telegram_id FROM broadcast_recipients r "
                "JOIN outbox o ON o.id = r.outbox_id JOIN chats c ON c.id = r.chat_id "
                "WHERE r.broadcast_id = :b AND c.kind = 'private' AND o.status <> 'sent'"
            ),
            {"b": broadcast_id},
        )
        return {int(telegram_id) for (telegram_id,) in rows.all()}


async def _until_sent(engine: AsyncEngine, broadcast_id: int) -> set[int]:
    """Wait until every copy is marked sent, or nothing moved for STALL_S; what is left."""
    left = await _pending(engine, broadcast_id)
    progress = time.perf_counter()
    while left and time.perf_counter() - progress < STALL_S:
        await asyncio.sleep(0.2)
        now_left = await _pending(engine, broadcast_id)
        if len(now_left) < len(left):
            progress = time.perf_counter()
        left = now_left
    return left


async def _copies(control: ControlClient, chats: list[int], number: str) -> Counter[int]:
    """How many copies of the broadcast of `number` each chat holds, as the sandbox saw them."""
    gate = asyncio.Semaphore(READERS)
    counted: Counter[int] = Counter()

    async def one(chat_id: int) -> None:
        async with gate:
            messages = await control.messages(chat_id)
        counted[chat_id] = sum(
            1
            for m in messages
            if m["is_bot"] and number in (m["text"] or "") and "共性问题答复" in m["text"]
        )

    await asyncio.gather(*(one(chat_id) for chat_id in chats))
    return counted


# --- the runs -----------------------------------------------------------------------------------


@dataclass
class Stage:
    control: ControlClient
    engine: AsyncEngine
    bot: Bot
    people: People
    subscribers: list[int]
    backend: str


async def _throughput(stage: Stage) -> None:
    number, press_solved = await stage.people.general_answer(*PROBLEMS["throughput"])
    await stage.control.wait_idle(quiet=0.5, timeout=30)
    await stage.control.reset_stats()
    await press_solved()
    broadcast = await _broadcast_id(stage.engine, number)
    left = await _until_sent(stage.engine, broadcast)
    await stage.control.wait_idle(quiet=0.5, timeout=30)
    stats = await stage.control.stats()
    copies = await _copies(stage.control, stage.subscribers, number)
    sent = stats["private_accepted"]
    span = stats["last_private_at"] - stats["first_private_at"]
    rate = (sent - 1) / span if span > 0 else 0.0
    share = rate / LIMIT_PER_S
    too_many = stats["too_many_requests"]
    _emit(
        bench="broadcast_throughput",
        backend=stage.backend,
        chats=len(stage.subscribers),
        private_messages=sent,
        seconds=round(span, 2),
        messages_per_s=round(rate, 2),
        share_of_limit=round(share, 3),
        too_many_requests=too_many,
        **_tally(copies),
        not_marked_sent=len(left),
        target=f"at least {TARGET_SHARE:.0%} of {LIMIT_PER_S} messages/s, no 429, each chat once",
        met=share >= TARGET_SHARE and too_many == 0 and _exactly_once(copies) and not left,
    )


async def _stopped_halfway(stage: Stage, run: str, signum: signal.Signals) -> None:
    control = stage.control
    number, press_solved = await stage.people.general_answer(*PROBLEMS[run])
    await control.wait_idle(quiet=0.5, timeout=30)
    await control.reset_stats()
    await press_solved()
    broadcast = await _broadcast_id(stage.engine, number)
    half = len(stage.subscribers) // 2
    # The sandbox is another process: asked every POLL_S how far the broadcast has come.
    while True:
        if int((await control.stats())["private_accepted"]) >= half:
            break
        await asyncio.sleep(POLL_S)
    stop_s, exit_status = await stage.bot.stop(signum)
    # The bot is down: what the sandbox holds against what the database says was sent.
    before = await _copies(control, stage.subscribers, number)
    pending = await _pending(stage.engine, broadcast)
    in_flight = {chat for chat, n in before.items() if n and chat in pending}
    delivered_before = sum(1 for n in before.values() if n)
    await stage.bot.start()
    left = await _until_sent(stage.engine, broadcast)
    await control.wait_idle(quiet=0.5, timeout=30)
    copies = await _copies(control, stage.subscribers, number)
    duplicated = {chat for chat, n in copies.items() if n > 1}
    too_many = (await control.stats())["too_many_requests"]
    _emit(
        bench=f"broadcast_{run}",
        backend=stage.backend,
        chats=len(stage.subscribers),
        signal=signum.name,
        stop_s=round(stop_s, 2),
        exit_status=exit_status,
        delivered_before_stop=delivered_before,
        in_flight_at_stop=len(in_flight),
        **_tally(copies),
        duplicates_were_in_flight=duplicated <= in_flight,
        not_marked_sent=len(left),
        too_many_requests=too_many,
        target="every chat exactly once, no 429",
        met=_exactly_once(copies) and too_many == 0 and not left,
    )


def _tally(copies: Counter[int]) -> dict[str, int]:
    return {
        "chats_0": sum(1 for n in copies.values() if n == 0),
        "chats_1": sum(1 for n in copies.values() if n == 1),
        "chats_2_or_more": sum(1 for n in copies.values() if n > 1),
    }


def _exactly_once(copies: Counter[int]) -> bool:
    return all(n == 1 for n in copies.values())


@contextlib.asynccontextmanager
async def _stage(url: str, subscribers: int, folder: Path) -> AsyncIterator[Stage]:
    """Sandbox and bot running on a loaded county whose subscribers have started the bot."""
    sandbox_port, bot_port = _free_port(), _free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    sandbox_args = [sys.executable, "-m", "sandbox", "--port", str(sandbox_port), "--token", TOKEN]
    sandbox_log = folder / "sandbox.log"
    backend = "postgresql" if url.startswith("postgresql") else "sqlite"
    with (
        _process([*sandbox_args, "--log-level", "warning"], _environment(), sandbox_log) as sb,
        contextlib.ExitStack() as bots,
    ):
        await _until_up(f"{sandbox_url}/control/bot", sb, sandbox_log)
        async with ControlClient(f"{sandbox_url}/control", timeout=60) as control:
            people = [(COORDINATOR, "王营商"), (OFFICIAL, "赵电力"), (REPORTER, "陈药企")]
            chats = [FIRST_SUBSCRIBER + k for k in range(subscribers)]
            people += [(user_id, f"订阅成员{user_id - FIRST_SUBSCRIBER}") for user_id in chats]
            await _people_in_sandbox(control, people)
            group = int(
                (await control.create_chat("supergroup", title=GROUP_TITLE, members=[REPORTER]))[
                    "id"
                ]
            )
            county = folder / "county.yaml"
            county.write_text(
                yaml.safe_dump(_county(group, subscribers), allow_unicode=True), encoding="utf-8"
            )
            await _reset(url)
            env = _environment(
                token=TOKEN,
                database_url=url,
                mode="polling",
                listen=f"127.0.0.1:{bot_port}",
                api_base_url=f"{sandbox_url}/bot",
                api_base_file_url=f"{sandbox_url}/file/bot",
            )
            await _import_county(county, env)
            await _started_and_subscribed(url, people, subscribers)
            bot = Bot(env, f"http://127.0.0.1:{bot_port}/healthz", folder, bots)
            await bot.start()
            engine = create_engine(url)
            try:
                yield Stage(control, engine, bot, People(control, group), chats, backend)
            finally:
                await engine.dispose()


async def run(args: argparse.Namespace) -> None:
    # Stopped with SIGTERM, the bench still stops its bot and sandbox on the way out.
    main = asyncio.current_task()
    assert main is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
    with tempfile.TemporaryDirectory(prefix="nodedesk-bench-") as name:
        folder = Path(name)
        url = args.database_url or f"sqlite+aiosqlite:///{folder / 'bench.sqlite3'}"
        async with _stage(url, args.chats, folder) as stage:
            for run_name in args.runs:
                if run_name == "throughput":
                    await _throughput(stage)
                else:
                    signum = signal.SIGKILL if run_name == "kill" else signal.SIGTERM
                    await _stopped_halfway(stage, run_name, signum)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=1_323, help="subscribers reached in private")
    parser.add_argument(
        "--runs",
        nargs="+",
        choices=list(PROBLEMS),
        default=list(PROBLEMS),
        help="which runs, in order (default: all three)",
    )
    parser.add_argument("--database-url", help="postgresql+asyncpg://… (default: a SQLite file)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
