"""Webhook mode: Telegram posts updates to our web server, which checks its secret header."""

from __future__ import annotations

import asyncio
import gc
from datetime import UTC, datetime

import httpx
import uvicorn

from bot.app import (
    GC_THRESHOLDS,
    WEBHOOK_PATH,
    _collect_less,
    build_application,
    running,
    web_app,
)
from models.clock import MovableClock
from models.tables import ProcessedUpdate
from sandbox import Sandbox
from sandbox import running as sandbox_running
from tests.conftest import Database
from tests.e2e.conftest import MONDAY_MORNING, TOKEN, free_port, settings_for

SECRET = "the-webhook-secret_42"


async def test_updates_arrive_by_webhook_and_forged_posts_are_refused(db: Database) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    clock = MovableClock(MONDAY_MORNING - datetime.now(UTC))
    async with sandbox_running(Sandbox(TOKEN)) as sb:
        settings = settings_for(
            sb,
            db.url,
            mode="webhook",
            webhook_url=base,
            webhook_secret=SECRET,
            listen=f"127.0.0.1:{port}",
        )
        application = build_application(settings, clock)
        server = uvicorn.Server(
            uvicorn.Config(
                web_app(application),
                host="127.0.0.1",
                port=port,
                log_level="warning",
                lifespan="off",
            )
        )
        serving = asyncio.create_task(server.serve())
        try:
            while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
                await asyncio.sleep(0.01)
            async with running(application), httpx.AsyncClient(base_url=base) as http:
                user, chat = await sb.client.private_chat("Webhook user")
                cursor = await sb.client.cursor()
                await sb.client.send_text(chat["id"], "/whoami", from_user_id=user["id"])
                (answer,) = await sb.client.wait_for_bot_messages(
                    1, chat_id=chat["id"], after_seq=cursor
                )
                assert f"User id: {user['id']}" in answer["text"]

                update = {
                    "update_id": 99,
                    "message": {
                        "message_id": 1,
                        "date": 0,
                        "chat": {"id": 1, "type": "private"},
                        "text": "/start",
                    },
                }
                for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                    refused = await http.post(WEBHOOK_PATH, json=update, headers=headers)
                    assert refused.status_code == 403
                garbled = await http.post(
                    WEBHOOK_PATH,
                    content=b"{not json",
                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                )
                assert garbled.status_code == 400
                # The answer comes once the update is handled and saved: a crash before it would
                # leave the update unanswered, and Telegram would post it again.
                handled = {
                    "update_id": 100,
                    "message": {
                        "message_id": 2,
                        "date": 0,
                        "chat": {"id": user["id"], "type": "private"},
                        "from": {"id": user["id"], "is_bot": False, "first_name": "Webhook"},
                        "text": "/whoami",
                    },
                }
                accepted = await http.post(
                    WEBHOOK_PATH, json=handled, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
                )
                assert accepted.status_code == 200
                async with db.sessions() as session:
                    saved = await session.get(ProcessedUpdate, 100)
                assert saved is not None and saved.message_id == 2
                health = await http.get("/healthz")
                assert health.status_code == 200
                assert health.json() == {"ok": True, "mode": "webhook"}
        finally:
            server.should_exit = True
            await serving


async def test_polling_mode_serves_health_but_no_webhook(db: Database) -> None:
    async with sandbox_running(Sandbox(TOKEN)) as sb:
        application = build_application(settings_for(sb, db.url), MovableClock())
        transport = httpx.ASGITransport(app=web_app(application))
        async with httpx.AsyncClient(transport=transport, base_url="http://bot") as http:
            assert (await http.get("/healthz")).json() == {"ok": True, "mode": "polling"}
            assert (await http.post(WEBHOOK_PATH, json={})).status_code == 404
        await application.bot_data["edge"].engine.dispose()


def test_once_serving_the_bot_collects_garbage_less_often() -> None:
    before = gc.get_threshold()
    try:
        _collect_less()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert GC_THRESHOLDS[0] > before[0]
        assert gc.get_freeze_count() > 0  # what start-up loaded is no longer walked
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
