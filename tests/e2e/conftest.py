"""End to end: the real Application, over HTTP, against the sandbox Bot API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import build_application, running
from bot.edge import Edge, NodeApplication
from models.clock import MovableClock
from models.config import Settings
from models.tables import Chat, OutboxMessage
from sandbox import ControlClient, RunningSandbox, Sandbox
from sandbox import running as sandbox_running
from tests.conftest import Database

TOKEN = "123456:TEST-token-for-the-sandbox"
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
