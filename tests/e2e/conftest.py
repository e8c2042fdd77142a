"""End to end: the real Application, over HTTP, against the sandbox Bot API."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.app import build_application, running
from bot.edge import Edge, NodeApplication
from models.clock import MovableClock
from models.config import Settings
from models.tables import Chat, OutboxMessage
from sandbox import ControlClient, RunningSandbox, Sandbox
from sandbox import running as sandbox_running
from tests.conftest import Database
from tests.integration.county import County, build_county

TOKEN = "123456:TEST-token-for-the-sandbox"
# The repository: where `python -m bot` runs from.
ROOT = Path(__file__).resolve().parents[2]
ADMIN_ID = 500001

# A Monday morning in the county; the clock runs on in real time from there.
MONDAY_MORNING = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)


@dataclass
class Stack:
    sandbox: RunningSandbox
    control: ControlClient
    application: NodeApplication
    clock: MovableClock
    db: Database

    @property
    def edge(self) -> Edge:
        edge: Edge = self.application.bot_data["edge"]
        return edge

    async def say(self, chat_id: int, user_id: int, text: str, **kwargs: Any) -> dict[str, Any]:
        """Send as a person and wait for the bot's first answer in that chat."""
        cursor = await self.control.cursor()
        await self.control.send_text(chat_id, text, from_user_id=user_id, **kwargs)
        return (await self.replies(chat_id, cursor))[0]

    async def replies(self, chat_id: int, after: int, count: int = 1) -> list[dict[str, Any]]:
        return await self.control.wait_for_bot_messages(count, chat_id=chat_id, after_seq=after)

    async def press(self, chat_id: int, message_id: int, data: str, user_id: int) -> str | None:
        """Press a button and return the text the bot answered the press with."""
        pressed = await self.control.press_button(
            chat_id, message_id, data=data, from_user_id=user_id, wait=10
        )
        answer = pressed.get("answer") or {}
        text: str | None = answer.get("text")
        return text

    async def group(
        self, title: str, members: list[int], admins: tuple[int, ...] = (), kind: str = "supergroup"
    ) -> int:
        """A group with the bot in it, once the bot has said hello."""
        cursor = await self.control.cursor()
        chat = await self.control.create_chat(
            kind,
            title=title,
            members=members,
            admins=admins,  # type: ignore[arg-type]
        )
        await self.replies(chat["id"], cursor)
        return int(chat["id"])

    async def quiet(self, timeout: float = 20.0) -> None:  # noqa: ASYNC109
        """Wait until the bot has nothing more to say: the outbox is empty and Telegram idle."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            self.edge.wake_outbox()
            await self.control.wait_idle(quiet=0.3, timeout=timeout)
            async with self.db.sessions() as session:
                waiting = await session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .join(Chat, Chat.id == OutboxMessage.chat_id)
                    .where(OutboxMessage.status == "pending", Chat.undeliverable_at.is_(None))
                )
            if not waiting:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{waiting} messages still waiting in the outbox")
            await asyncio.sleep(0.1)


def settings_for(sandbox: RunningSandbox, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "token": TOKEN,
        "database_url": database_url,
        "api_base_url": sandbox.base_url,
        "api_base_file_url": sandbox.base_file_url,
        "admin_ids": [ADMIN_ID],
        "outbox_interval": 0.2,
        "language": "en",
        # Leaders' digests would arrive in the middle of other tests' conversations; the digest's
        # own tests send them at 08:30 explicitly.
        "digest_time": "23:59",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def stack(db: Database) -> AsyncIterator[Stack]:
    clock = MovableClock(MONDAY_MORNING - datetime.now(UTC))
    async with sandbox_running(Sandbox(TOKEN)) as sb:
        application = build_application(settings_for(sb, db.url), clock)
        async with running(application):
            yield Stack(sb, sb.client, application, clock, db)


# --- the sample county in the sandbox: its people, the pharma group, the HR department's chat


@dataclass
class Line:
    stack: Stack
    county: County
    group: int
    hr_chat: int

    def uid(self, who: str) -> int:
        return int(getattr(self.county, who).telegram_id)

    async def card_in(self, chat_id: int, after: int) -> dict[str, Any]:
        """The newest bot message in a chat that shows an issue card."""
        for message in await self.stack.replies(chat_id, after):
            if "Q-2026-" in (message["text"] or ""):
                return message
        raise AssertionError("no card")

    async def with_button(self, chat_id: int, prefix: str) -> dict[str, Any]:
        """The bot's message in a chat that carries a button whose data starts with `prefix`."""
        await self.stack.quiet()
        for message in reversed(await self.stack.control.messages(chat_id)):
            keyboard = (message["reply_markup"] or {}).get("inline_keyboard", [])
            if any(b.get("callback_data", "").startswith(prefix) for row in keyboard for b in row):
                return message
        raise AssertionError(f"no message with a {prefix} button")

    async def latest(self, chat_id: int, message_id: int) -> dict[str, Any]:
        for message in await self.stack.control.messages(chat_id):
            if message["message_id"] == message_id:
                return message
        raise AssertionError("message gone")


@pytest.fixture
async def line(stack: Stack) -> Line:
    control = stack.control
    async with stack.db.sessions() as session, session.begin():
        county = await build_county(session, stack.clock.now())
    people = [
        "coordinator",
        "electrician",
        "lineman",
        "recruiter",
        "owner",
        "stranger",
        "leader",
        "head",
    ]
    for name in people:
        person = getattr(county, name)
        await control.create_user(person.full_name, id=person.telegram_id)
        await control.create_chat("private", user_id=person.telegram_id)
    members = [county.owner.telegram_id, county.stranger.telegram_id]
    group = (
        await control.create_chat(
            "supergroup",
            title="医药企业群",
            members=members,
            creator_id=county.coordinator.telegram_id,
            admins=[county.owner.telegram_id],
            with_bot=False,
        )
    )["id"]
    hr_chat = (
        await control.create_chat(
            "supergroup", title="人社工作群", members=[county.recruiter.telegram_id], with_bot=False
        )
    )["id"]
    async with stack.db.sessions() as session, session.begin():
        # The county was set up before the sandbox chose its group ids: point the rows at them.
        for row_id, telegram_id in ((county.group.id, group), (county.hr_chat.id, hr_chat)):
            await session.execute(
                update(Chat).where(Chat.id == row_id).values(telegram_id=telegram_id)
            )
    bot_id = int((await control.bot())["id"])
    for chat in (group, hr_chat):
        await control.add_member(chat, bot_id, by=county.coordinator.telegram_id)
    await stack.quiet()
    return Line(stack, county, group, hr_chat)


async def report(
    line: Line, text: str = "#问题 厂区经常停电，影响生产"
) -> tuple[dict[str, Any], int]:
    stack = line.stack
    cursor = await stack.control.cursor()
    sent = await stack.control.send_text(line.group, text, from_user_id=line.uid("owner"))
    card = await line.card_in(line.group, cursor)
    assert card["reply_to"] == sent["message_id"]
    return card, cursor


async def bound(line: Line) -> None:
    async with line.stack.db.sessions() as session, session.begin():
        await session.execute(
            update(Chat)
            .where(Chat.telegram_id == line.group)
            .values(purpose="industry", industry="医药")
        )


def button_data(message: dict[str, Any], prefix: str) -> str:
    """The callback data of the message's first button whose data starts with `prefix`."""
    for row in message["reply_markup"]["inline_keyboard"]:
        for button in row:
            if button["callback_data"].startswith(prefix):
                return str(button["callback_data"])
    raise AssertionError(f"no {prefix} button")


# --- the bot as a process: what the suites that start `python -m bot` share ------------------


def free_port() -> int:
    """A loopback port free at this moment."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def import_county(county: Path, env: dict[str, str]) -> None:
    """`nodedesk import county` in a process of its own with `env`, as an operator would."""
    imported = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot", "import", str(county)),
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    said, _ = await imported.communicate()
    assert imported.returncode == 0, said.decode()
