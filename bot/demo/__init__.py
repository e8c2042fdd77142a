"""`nodedesk demo`: the sandbox, the bot and the web chat, on a fresh sample county."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from bot.app import build_application, periodic_work, running
from bot.edge import Edge, NodeApplication
from models.clock import MovableClock
from models.config import Mode, Settings
from models.migrate import upgrade
from models.services.county import load_county
from sandbox import ControlClient, Sandbox
from sandbox import running as sandbox_running

COUNTY = Path(__file__).with_name("county.yaml")
DEMO_TOKEN = "123456:DEMO-sandbox-token"


@dataclass
class Demo:
    """A running demo: what the script (or a person in the browser) acts on."""

    control: ControlClient
    application: NodeApplication
    clock: MovableClock
    url: str
    county: dict[str, Any]

    @property
    def edge(self) -> Edge:
        edge: Edge = self.application.bot_data["edge"]
        return edge


@contextlib.asynccontextmanager
async def demo_running(
    settings: Settings, host: str, port: int, database: str | None
) -> AsyncIterator[Demo]:
    """Start everything on a fresh SQLite file seeded with the sample county."""
    folder = None if database else tempfile.TemporaryDirectory(prefix="nodedesk-demo-")
    path = Path(database) if database else Path(folder.name) / "demo.sqlite3"  # type: ignore[union-attr]
    path.unlink(missing_ok=True)
    url = f"sqlite+aiosqlite:///{path}"
    clock = MovableClock()
    holder: dict[str, Demo] = {}

    async def advance(seconds: float) -> datetime:
        # The web chat's clock control: move time, then let the periodic work see it at once.
        moved = clock.advance(timedelta(seconds=seconds))
        demo = holder.get("demo")
        if demo is not None:
            await periodic_work(demo.edge)
        return moved

    sandbox = Sandbox(DEMO_TOKEN, on_clock_advance=advance, clock_now=clock.now)
    try:
        async with sandbox_running(sandbox, host=host, port=port) as sb:
            county = await _seed_sandbox(sb.client, yaml.safe_load(COUNTY.read_text("utf-8")))
            await upgrade(url)
            demo_settings = settings.model_copy(
                update={
                    "token": SecretStr(DEMO_TOKEN),
                    "database_url": url,
                    "mode": Mode.POLLING,
                    "api_base_url": sb.base_url,
                    "api_base_file_url": sb.base_file_url,
                    "outbox_interval": 0.2,
                }
            )
            application = build_application(demo_settings, clock)
            edge: Edge = application.bot_data["edge"]
            async with edge.sessions() as session, session.begin():
                await load_county(session, clock.now(), county, edge.desk)
            async with running(application):
                bot_id = int((await sb.client.bot())["id"])
                for group in county["groups"]:
                    await sb.client.add_member(group["id"], bot_id, by=_first_admin(county))
                demo = Demo(sb.client, application, clock, sb.url, county)
                holder["demo"] = demo
                yield demo
    finally:
        if folder is not None:
            folder.cleanup()


def _first_admin(county: dict[str, Any]) -> int:
    return next(int(p["id"]) for p in county["people"] if "admin" in p.get("roles", []))


async def _seed_sandbox(control: ControlClient, county: dict[str, Any]) -> dict[str, Any]:
    """Make the county's people and groups in the sandbox; the groups get the sandbox's ids."""
    for person in county["people"]:
        await control.create_user(person["name"], id=person["id"], username=person.get("username"))
        await control.create_chat("private", user_id=person["id"])
    firms = {f["name"]: f for f in county["firms"]}
    for group in county["groups"]:
        members = [
            int(p["id"])
            for p in county["people"]
            if "firm" in p and firms[p["firm"]]["industry"] == group["industry"]
        ]
        members.append(_first_admin(county))
        created = await control.create_chat(
            "supergroup",
            title=group["title"],
            members=members,
            admins=[_first_admin(county)],
            with_bot=False,
        )
        group["id"] = int(created["id"])
    return county


async def run_demo(
    settings: Settings, host: str, port: int, *, script: bool, database: str | None
) -> int:
    async with demo_running(settings, host, port, database) as demo:
        if script:
            from bot.demo.script import run_script

            return await run_script(demo)
        print(f"Nodedesk demo: open {demo.url}/ in a browser (Ctrl-C to stop).", flush=True)
        print("Act as any firm member, official or leader of the sample county;", flush=True)
        print("the clock control moves time forward.", flush=True)
        await _until_interrupted()
    return 0


async def _until_interrupted() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    print("stopping", file=sys.stderr)
