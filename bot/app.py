"""Wiring: the PTB Application, its lifecycle, the web server (webhook, /healthz, /screen)."""

from __future__ import annotations

import asyncio
import gc
import hmac
import logging
import signal
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from datetime import timedelta
from typing import Any, TypeVar

import uvicorn
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import BotCommand, Update
from telegram.ext import ApplicationBuilder, ContextTypes
from telegram.request import HTTPXRequest

from bot import handlers, screen
from bot.edge import Edge, NodeApplication, NodeContext, read_update
from bot.polling import Poller
from models.clock import Clock
from models.config import Mode, Settings
from models.db import create_engine, create_sessionmaker
from models.rules.permissions import commands_for
from models.rules.worktime import (
    ChineseCalendarSource,
    OfficeHours,
    WorkCalendar,
    parse_office_hours,
)
from models.services.calendar import load_exceptions
from models.services.common import enqueue
from models.services.contacts import ChatRef, chat_of
from models.services.issues import Desk
from models.texts import LANGUAGES, render
from reminders.digest import send_reports
from reminders.issues import close_unconfirmed_issues
from reminders.outbox import OutboxDispatcher, forget_processed_updates
from reminders.sweep import SweepTotals, sweep_deadlines

log = logging.getLogger(__name__)

T = TypeVar("T")

WEBHOOK_PATH = "/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# How long a stopping bot waits for the outbox's messages on their way (its requests time out
# after 15 s) before it cancels them.
OUTBOX_GRACE = 20.0


def make_calendar(settings: Settings) -> WorkCalendar:
    return WorkCalendar(OfficeHours(parse_office_hours(settings.office_hours), settings.zone))


def build_application(settings: Settings, clock: Clock) -> NodeApplication:
    """The bot, not yet started: handlers registered, database and outbox born in post_init."""
    if settings.token is None:
        raise ValueError("NODEDESK_TOKEN is not set")
    builder = (
        ApplicationBuilder()
        .token(settings.token.get_secret_value())
        .base_url(settings.api_base_url)
        .base_file_url(settings.api_base_file_url)
        .context_types(ContextTypes(context=NodeContext))
        .request(HTTPXRequest(connection_pool_size=32, read_timeout=15, write_timeout=15))
        .get_updates_request(HTTPXRequest(read_timeout=40))
        .concurrent_updates(True)
        # Updates come through bot/polling.py or the webhook below, each confirmed to Telegram
        # only once handled; PTB's Updater would confirm them before.
        .updater(None)
    )
    application: NodeApplication = builder.build()
    engine = create_engine(settings.database_url)
    desk = Desk(make_calendar(settings), settings.zone, settings.language.value)
    application.bot_data["edge"] = Edge(settings, clock, engine, create_sessionmaker(engine), desk)
    handlers.register(application)
    application.add_error_handler(_on_error)
    return application


async def _born(application: NodeApplication) -> None:
    edge: Edge = application.bot_data["edge"]
    await _load_calendar(edge)
    edge.dispatcher = OutboxDispatcher(
        application.bot, edge.sessions, edge.clock, edge.settings.language.value
    )
    interval = edge.settings.outbox_interval
    edge.extras["outbox_task"] = asyncio.create_task(
        edge.dispatcher.run_forever(interval), name="outbox"
    )
    if application.job_queue is not None:
        application.job_queue.run_repeating(
            _housekeeping, interval=timedelta(hours=6), first=timedelta(seconds=30)
        )
        application.job_queue.run_repeating(
            # Soon after start: a bot that restarts often must still sweep.
            _sweep,
            interval=edge.settings.sweep_interval,
            first=timedelta(seconds=1),
        )
    await _publish_commands(application)


async def _load_calendar(edge: Edge) -> None:
    """The local exceptions into the working calendar; a warning if holiday data runs out."""
    calendar = edge.desk.calendar
    if isinstance(calendar, WorkCalendar):
        async with edge.sessions() as session:
            await load_exceptions(session, calendar)
    this_year = edge.clock.now().astimezone(edge.settings.zone).year
    known = ChineseCalendarSource.years()
    missing = [year for year in (this_year, this_year + 1) if year not in known]
    if missing:
        # Until the package is upgraded those years count only weekends as days off.
        log.warning(
            "the national holiday calendar (chinese-calendar) covers %d-%d, not %s: "
            "upgrade the package or set the holidays with /holiday and /workday",
            known.start,
            known.stop - 1,
            ", ".join(str(year) for year in missing),
        )


async def _dies(application: NodeApplication) -> None:
    edge: Edge = application.bot_data["edge"]
    task: asyncio.Task[None] | None = edge.extras.pop("outbox_task", None)
    if task is not None:
        assert edge.dispatcher is not None
        # Messages on their way finish and are marked sent (a request times out after 15 s).
        edge.dispatcher.stop()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=OUTBOX_GRACE)
        except TimeoutError:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
    await edge.engine.dispose()


async def _publish_commands(application: NodeApplication) -> None:
    """The command menu shows what everyone may do; /help shows each person their own."""
    edge: Edge = application.bot_data["edge"]
    names = [command.name for command in commands_for(())]
    for language in LANGUAGES:
        commands = []
        for line in render("command_menu", language, {"commands": names}).splitlines():
            name, _, description = line.partition(" - ")
            commands.append(BotCommand(name.strip(), description.strip()))
        is_default = language == edge.settings.language.value
        code = None if is_default else language.split("_")[0]
        try:
            await application.bot.set_my_commands(commands, language_code=code)
        except Exception:  # the menu is a convenience; the bot works without it
            log.warning("could not publish the command menu for %s", language, exc_info=True)


async def _sweep(context: NodeContext) -> None:
    await periodic_work(context.edge)


async def periodic_work(edge: Edge) -> None:
    """The sweep: unconfirmed answers close, then every card and reminder due is issued.

    The calendar's local exceptions are read again first, so a change made through another
    process counts here within one sweep.
    """
    calendar = edge.desk.calendar
    if isinstance(calendar, WorkCalendar):
        async with edge.sessions() as session:
            await load_exceptions(session, calendar)
    closed = await _apart(
        "closing unconfirmed answers",
        close_unconfirmed_issues(edge.sessions, edge.clock, edge.desk),
        0,
    )
    swept = await _apart(
        "the sweep", sweep_deadlines(edge.sessions, edge.clock, edge.desk), SweepTotals()
    )
    reported = await _apart(
        "the digest",
        send_reports(edge.sessions, edge.clock, edge.desk, edge.settings.digest_at),
        0,
    )
    if closed or swept.messages or reported:
        edge.wake_outbox()


async def _apart(what: str, work: Coroutine[Any, Any, T], otherwise: T) -> T:
    """One piece of periodic work; its failure is logged and does not stop the others."""
    try:
        return await work
    except Exception:
        log.exception("%s failed; the rest of the periodic work goes on", what)
        return otherwise


async def _housekeeping(context: NodeContext) -> None:
    edge = context.edge
    forgotten = await forget_processed_updates(edge.sessions, edge.clock.now())
    log.info("housekeeping: forgot %d old update ids", forgotten)


async def _on_error(update: object, context: NodeContext) -> None:
    """Log the failure with its update id and apologise; the bot keeps running."""
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("update %s failed", update_id, exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    chat = update.effective_chat
    edge = context.edge
    try:
        now = edge.clock.now()
        async with edge.sessions() as session, session.begin():
            row = await chat_of(session, now, ChatRef(chat.id, chat.type, chat.title))
            await enqueue(
                session,
                now,
                row,
                "error",
                edge.settings.language.value,
                dedupe_key=f"error:{update_id}",
            )
        edge.wake_outbox()
    except Exception:
        log.exception("could not even apologise for update %s", update_id)
    if update.callback_query is not None:
        with suppress(Exception):
            await update.callback_query.answer()


def web_app(application: NodeApplication) -> Starlette:
    """The ASGI app: Telegram's webhook (when in webhook mode), /healthz and the big screen."""
    edge: Edge = application.bot_data["edge"]
    secret = edge.settings.webhook_secret

    async def webhook(request: Request) -> Response:
        sent = request.headers.get(SECRET_HEADER, "")
        if secret is None or not hmac.compare_digest(sent, secret.get_secret_value()):
            return Response(status_code=403)
        try:
            payload: Any = await request.json()
            update = read_update(payload, application.bot)
        except Exception:
            return Response(status_code=400)
        # Answered once handled (its outcome saved, or the error handler told the chat), so an
        # update a crash interrupts is not acknowledged and Telegram posts it again; the claim of
        # its id in the handling transaction skips it if it was saved after all.
        await application.process_update(update)
        return Response()

    async def healthz(_: Request) -> Response:
        try:
            async with edge.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as exc:
            return JSONResponse({"ok": False, "database": str(exc)[:200]}, status_code=503)
        return JSONResponse({"ok": True, "mode": edge.settings.mode.value})

    routes = [Route("/healthz", healthz, methods=["GET"])]
    if edge.settings.mode is Mode.WEBHOOK:
        routes.append(Route(WEBHOOK_PATH, webhook, methods=["POST"]))
    routes.extend(screen.routes(edge))
    return Starlette(routes=routes)


@asynccontextmanager
async def running(application: NodeApplication) -> AsyncIterator[NodeApplication]:
    """The bot started: polling or webhook registered; stopped cleanly on exit."""
    edge: Edge = application.bot_data["edge"]
    settings = edge.settings
    # PTB calls post_init only from run_polling/run_webhook; we run the pieces ourselves.
    async with application:
        await _born(application)
        await application.start()
        if settings.mode is Mode.WEBHOOK:
            assert settings.webhook_url and settings.webhook_secret
            await application.bot.set_webhook(
                settings.webhook_url.rstrip("/") + WEBHOOK_PATH,
                secret_token=settings.webhook_secret.get_secret_value(),
                allowed_updates=Update.ALL_TYPES,
            )
        else:
            poller = edge.extras["poller"] = Poller(application)
            await poller.start()
        try:
            yield application
        finally:
            poller = edge.extras.pop("poller", None)
            if poller is not None:
                await poller.stop()
            await application.stop()
            await _dies(application)


async def serve(application: NodeApplication) -> None:
    """Run until SIGINT or SIGTERM: the bot and its web server, in either mode."""
    edge: Edge = application.bot_data["edge"]
    config = uvicorn.Config(
        web_app(application),
        host=edge.settings.listen_host,
        port=edge.settings.listen_port,
        log_level="warning",
        lifespan="off",
        http="httptools",
    )
    async with running(application):
        _collect_less()
        await _WebServer(config).serve()


# Python's cyclic garbage collector runs a young-generation pass every 700 net allocations; each
# update allocates thousands (PTB's objects, the ORM's), so under load it ran some 90 times a
# second, and its passes over the older generations walked everything loaded at start. Measured
# in bench/intake.py: 0.5 s of the bot's 15 went to collecting, 0.1 s with these thresholds;
# with them and what start-up loaded set aside (`gc.freeze`), 425–435 reports/s against 417
# (peak RSS 132 MB against 131). Reference cycles are still collected, a few times a minute.
GC_THRESHOLDS = (20_000, 20, 20)


def _collect_less() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class _WebServer(uvicorn.Server):
    """uvicorn's server, except that SIGINT and SIGTERM only ask it to stop.

    uvicorn raises a signal it caught again once it has stopped, which ends the process there,
    before the bot has stopped: its outbox would be cut off mid-send like a SIGKILL's.
    """

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.handle_exit, signum, None)
        try:
            yield
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
