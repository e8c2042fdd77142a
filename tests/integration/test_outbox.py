"""The dispatcher against a recording stand-in for the Bot: every Telegram answer it must handle."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import exists, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import aliased
from telegram import InlineKeyboardMarkup
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from models.clock import FrozenClock
from models.db import create_engine, create_sessionmaker
from models.rules.pacing import Pacer, SendLimits
from models.services.common import OutgoingFile, enqueue
from models.services.contacts import ChatRef, Sender, chat_of, meet
from models.tables import Chat, OutboxMessage
from reminders.locks import NAMESPACE, Work
from reminders.outbox import OutboxDispatcher
from tests.conftest import Database


@dataclass
class Sent:
    chat_id: int
    text: str
    markup: InlineKeyboardMarkup | None
    reply_to: int | None
    message_id: int


@dataclass
class RecordingBot:
    """Keeps a transcript; answers with the errors queued for a chat before succeeding."""

    sent: list[Sent] = field(default_factory=list)
    edits: list[tuple[int, int, str]] = field(default_factory=list)
    files: list[tuple[str, int, str, bytes, str | None]] = field(default_factory=list)
    faults: dict[int, list[Exception]] = field(default_factory=dict)
    next_id: int = 100

    async def send_message(self, chat_id: int, text: str, **kwargs: Any) -> Any:
        queued = self.faults.get(chat_id)
        if queued:
            raise queued.pop(0)
        self.next_id += 1
        reply = kwargs.get("reply_parameters")
        self.sent.append(
            Sent(
                chat_id, text, kwargs.get("reply_markup"), reply and reply.message_id, self.next_id
            )
        )
        return _Message(self.next_id)

    async def send_photo(self, chat_id: int, photo: Any, **kwargs: Any) -> Any:
        return self._file("photo", chat_id, photo, kwargs)

    async def send_document(self, chat_id: int, document: Any, **kwargs: Any) -> Any:
        return self._file("document", chat_id, document, kwargs)

    def _file(self, kind: str, chat_id: int, upload: Any, kwargs: dict[str, Any]) -> Any:
        self.next_id += 1
        data = upload.input_file_content
        self.files.append((kind, chat_id, upload.filename, data, kwargs.get("caption")))
        return _Message(self.next_id)

    async def edit_message_text(self, text: str, **kwargs: Any) -> Any:
        queued = self.faults.get(kwargs["chat_id"])
        if queued:
            raise queued.pop(0)
        self.edits.append((kwargs["chat_id"], kwargs["message_id"], text))
        return _Message(kwargs["message_id"])


@dataclass
class _Message:
    message_id: int


class Ticker:
    """A monotonic clock for the pacer that moves only when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


def dispatcher(db: Database, clock: FrozenClock, bot: RecordingBot) -> OutboxDispatcher:
    ticker = Ticker()
    return OutboxDispatcher(
        bot,  # type: ignore[arg-type]
        db.sessions,
        clock,
        "zh_CN",
        pacer=Pacer(SendLimits(margin=0)),
        monotonic=ticker,
        sleep=ticker.sleep,
    )


async def _chat(db: Database, clock: FrozenClock, telegram_id: int, kind: str) -> Chat:
    async with db.sessions() as session, session.begin():
        return await chat_of(
            session, clock.now(), ChatRef(telegram_id, kind, f"chat {telegram_id}")
        )


async def _enqueue(db: Database, clock: FrozenClock, chat: Chat, **kwargs: Any) -> None:
    template = kwargs.pop("template", "unknown_command")
    params = kwargs.pop("params", {"command": "x"})
    async with db.sessions() as session, session.begin():
        await enqueue(session, clock.now(), chat, template, "en", params, **kwargs)


async def _rows(db: Database) -> list[OutboxMessage]:
    async with db.sessions() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


async def test_messages_are_rendered_sent_in_order_and_marked_sent(
    db: Database, clock: FrozenClock
) -> None:
    bot = RecordingBot()
    chat = await _chat(db, clock, -10, "group")
    buttons = [[{"key": "help", "data": "v1:help"}]]
    await _enqueue(db, clock, chat, params={"command": "<a>"}, reply_to_message_id=5)
    await _enqueue(db, clock, chat, template="start", params={"name": "Li"}, buttons=buttons)
    done = await dispatcher(db, clock, bot).run_once()
    assert done.sent == 2
    assert bot.sent[0].text.startswith("There is no /&lt;a&gt; command")
    assert bot.sent[0].reply_to == 5
    markup = bot.sent[1].markup
    assert markup is not None
    assert markup.inline_keyboard[0][0].text == "Help"
    assert markup.inline_keyboard[0][0].callback_data == "v1:help"
    rows = await _rows(db)
    assert [(r.status, r.telegram_message_id, r.sent_at) for r in rows] == [
        ("sent", 101, clock.now()),
        ("sent", 102, clock.now()),
    ]
    assert (await dispatcher(db, clock, bot).run_once()).sent == 0  # nothing twice


async def test_stopping_lets_a_send_on_its_way_finish_and_be_marked_and_starts_no_other(
    db: Database, clock: FrozenClock
) -> None:
    """Cancelled mid-send, a message Telegram accepted would stay pending and go out again."""
    bot = RecordingBot()
    chats = [await _chat(db, clock, 20 + n, "private") for n in range(3)]
    for chat in chats:
        await _enqueue(db, clock, chat)
    on_its_way, go_on = asyncio.Event(), asyncio.Event()
    send = bot.send_message

    async def slow(chat_id: int, text: str, **kwargs: Any) -> Any:
        on_its_way.set()
        await go_on.wait()
        return await send(chat_id, text, **kwargs)

    bot.send_message = slow  # type: ignore[method-assign]
    sender = dispatcher(db, clock, bot)
    sender.concurrency = 1  # one chat at a time: the others wait for their turn
    running = asyncio.create_task(sender.run_forever(interval=0.05))
    await asyncio.wait_for(on_its_way.wait(), 5)
    sender.stop()
    go_on.set()
    await asyncio.wait_for(running, 5)
    rows = await _rows(db)
    assert [r.status for r in rows] == ["sent", "pending", "pending"]
    assert [s.chat_id for s in bot.sent] == [chats[0].telegram_id]


async def test_an_over_long_message_goes_out_in_parts_once_each(
    db: Database, clock: FrozenClock
) -> None:
    bot = RecordingBot()
    chat = await _chat(db, clock, 77, "private")
    bot.faults[77] = []
    await _enqueue(db, clock, chat, template="help", params={"commands": ["start"] * 200})
    long_text = "\n".join(["x" * 60] * 200)
    async with db.sessions() as session, session.begin():
        row = await session.scalar(select(OutboxMessage))
        assert row is not None
        row.template, row.params = "unknown_command", {"command": long_text}
    # The second part fails once: the first must not go out again on the retry.
    sender = dispatcher(db, clock, bot)
    original = bot.send_message
    calls = {"n": 0}

    async def flaky(chat_id: int, text: str, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise TimedOut()
        return await original(chat_id, text, **kwargs)

    bot.send_message = flaky  # type: ignore[method-assign]
    assert (await sender.run_once()).retried == 1
    clock.advance(timedelta(seconds=5))
    sender.monotonic.now += 5  # type: ignore[attr-defined]
    assert (await sender.run_once()).sent == 1
    assert len(bot.sent) >= 2
    assert all(len(s.text) <= 4096 for s in bot.sent)
    joined = "".join(s.text for s in bot.sent)
    assert joined.count("x" * 60) == 200


async def test_retry_after_waits_as_told_and_loses_nothing(
    db: Database, clock: FrozenClock
) -> None:
    bot = RecordingBot(faults={-20: [RetryAfter(timedelta(seconds=30))]})
    chat = await _chat(db, clock, -20, "group")
    await _enqueue(db, clock, chat)
    sender = dispatcher(db, clock, bot)
    assert (await sender.run_once()).retried == 1
    row = (await _rows(db))[0]
    assert (row.status, row.attempts, row.next_attempt_at) == (
        "pending",
        0,
        clock.now() + timedelta(seconds=30),
    )
    assert (await sender.run_once()).sent == 0  # not due yet
    clock.advance(timedelta(seconds=30))
    sender.monotonic.now += 30  # type: ignore[attr-defined]
    assert (await sender.run_once()).sent == 1
    assert len(bot.sent) == 1


async def test_a_migrated_group_is_followed(db: Database, clock: FrozenClock) -> None:
    bot = RecordingBot(faults={-30: [ChatMigrated(-100300)]})
    chat = await _chat(db, clock, -30, "group")
    await _enqueue(db, clock, chat)
    sender = dispatcher(db, clock, bot)
    await sender.run_once()
    await sender.run_once()
    assert [s.chat_id for s in bot.sent] == [-100300]
    async with db.sessions() as session:
        moved = await session.get(Chat, chat.id)
        assert moved is not None and moved.telegram_id == -100300


async def test_forbidden_marks_the_chat_and_tells_the_coordinator_once(
    db: Database, clock: FrozenClock
) -> None:
    async with db.sessions() as session, session.begin():
        await meet(session, clock.now(), Sender(9, "Admin"), ChatRef(9, "private"), {9})
    group = await _chat(db, clock, -40, "group")
    bot = RecordingBot(faults={-40: [Forbidden("Forbidden: bot was kicked from the group chat")]})
    await _enqueue(db, clock, group)
    await _enqueue(db, clock, group)
    sender = dispatcher(db, clock, bot)
    await sender.run_once()
    await sender.run_once()
    await _enqueue(db, clock, group)  # written later: not sent to a chat known to refuse
    await sender.run_once()
    assert [(s.chat_id, "kicked" in s.text) for s in bot.sent] == [(9, True)]
    statuses = [(r.chat_id == group.id, r.status) for r in await _rows(db)]
    assert statuses.count((True, "undeliverable")) == 2
    assert statuses.count((True, "pending")) == 1


async def test_timeouts_and_server_errors_back_off_and_retry(
    db: Database, clock: FrozenClock
) -> None:
    bot = RecordingBot(faults={50: [TimedOut(), NetworkError("Bad Gateway")]})
    chat = await _chat(db, clock, 50, "private")
    await _enqueue(db, clock, chat)
    sender = dispatcher(db, clock, bot)
    await sender.run_once()
    first = (await _rows(db))[0]
    assert (first.attempts, first.next_attempt_at) == (1, clock.now() + timedelta(seconds=2))
    clock.advance(timedelta(seconds=2))
    sender.monotonic.now += 2  # type: ignore[attr-defined]
    await sender.run_once()
    second = (await _rows(db))[0]
    assert (second.attempts, second.next_attempt_at) == (2, clock.now() + timedelta(seconds=4))
    clock.advance(timedelta(seconds=4))
    sender.monotonic.now += 4  # type: ignore[attr-defined]
    await sender.run_once()
    assert [(r.status, r.attempts) for r in await _rows(db)] == [("sent", 3)]


async def test_a_message_telegram_refuses_is_failed_not_retried(
    db: Database, clock: FrozenClock
) -> None:
    bot = RecordingBot(faults={60: [BadRequest("Bad Request: can't parse entities")]})
    chat = await _chat(db, clock, 60, "private")
    await _enqueue(db, clock, chat)
    await dispatcher(db, clock, bot).run_once()
    row = (await _rows(db))[0]
    assert (row.status, row.last_error) == ("failed", "Can't parse entities")


async def test_an_edit_replaces_the_text_in_place(db: Database, clock: FrozenClock) -> None:
    bot = RecordingBot()
    chat = await _chat(db, clock, -70, "group")
    await _enqueue(db, clock, chat, edit_message_id=555)
    bot.faults[-70] = [BadRequest("Message is not modified")]
    await _enqueue(db, clock, chat, edit_message_id=556)
    await dispatcher(db, clock, bot).run_once()
    # "Not modified" means the message already shows this text: done, not failed.
    assert [(chat_id, message_id) for chat_id, message_id, _ in bot.edits] == [(-70, 556)]
    assert bot.edits[0][2].startswith("There is no /x command")
    assert bot.sent == []
    assert [r.status for r in await _rows(db)] == ["sent", "sent"]


async def test_an_edit_of_a_card_waits_for_the_card_and_uses_its_message_id(
    db: Database, clock: FrozenClock
) -> None:
    bot = RecordingBot()
    chat = await _chat(db, clock, -80, "group")
    await _enqueue(db, clock, chat)
    card = (await _rows(db))[0]
    await _enqueue(db, clock, chat, params={"command": "y"}, edit_of_id=card.id)
    bot.faults[-80] = [TimedOut()]  # the card is late; its edit must wait for it
    sender = dispatcher(db, clock, bot)
    await sender.run_once()
    assert bot.edits == []
    clock.advance(timedelta(seconds=2))
    await sender.run_once()
    await sender.run_once()
    assert [(c, m) for c, m, _ in bot.edits] == [(-80, bot.sent[0].message_id)]
    assert "/y" in bot.edits[0][2]


async def test_a_file_goes_with_its_text_as_caption(db: Database, clock: FrozenClock) -> None:
    bot = RecordingBot()
    chat = await _chat(db, clock, 78, "private")
    chart = OutgoingFile("photo", "chart.png", b"\x89PNG fake")
    await _enqueue(db, clock, chat, template="start", params={"name": "Li"}, file=chart)
    assert (await dispatcher(db, clock, bot).run_once()).sent == 1
    assert bot.sent == []
    ((kind, chat_id, name, data, caption),) = bot.files
    assert (kind, chat_id, name, data) == ("photo", 78, "chart.png", b"\x89PNG fake")
    assert caption is not None and "Li" in caption
    rows = await _rows(db)
    assert (rows[0].status, rows[0].telegram_message_id) == ("sent", 101)


async def test_a_long_text_goes_first_and_its_file_after_it(
    db: Database, clock: FrozenClock
) -> None:
    bot = RecordingBot()
    chat = await _chat(db, clock, 79, "private")
    ledger = OutgoingFile("document", "ledger.xlsx", b"PK fake")
    await _enqueue(db, clock, chat, params={"command": "y" * 2000}, file=ledger)
    assert (await dispatcher(db, clock, bot).run_once()).sent == 1
    assert len(bot.sent) == 1 and "y" * 2000 in bot.sent[0].text
    ((kind, _, name, _, caption),) = bot.files
    assert (kind, name, caption) == ("document", "ledger.xlsx", None)


async def test_no_message_overtakes_an_earlier_one_of_its_chat_waiting_to_retry(
    db: Database, clock: FrozenClock
) -> None:
    bot = RecordingBot(faults={-90: [TimedOut()]})
    waiting = await _chat(db, clock, -90, "group")
    other = await _chat(db, clock, -91, "group")
    for n in range(3):
        await _enqueue(db, clock, waiting, params={"command": f"w{n}"})
    await _enqueue(db, clock, other, params={"command": "o"})
    sender = dispatcher(db, clock, bot)
    await sender.run_once()  # w0 times out and waits 2 s; w1 and w2 must wait behind it
    assert [s.text.split()[3] for s in bot.sent] == ["/o"]
    assert (await sender.run_once()).sent == 0
    clock.advance(timedelta(seconds=2))
    sender.monotonic.now += 2  # type: ignore[attr-defined]
    await sender.run_once()
    assert [s.text.split()[3] for s in bot.sent] == ["/o", "/w0", "/w1", "/w2"]


async def test_the_due_messages_are_those_no_waiting_message_of_their_chat_precedes(
    db: Database, clock: FrozenClock
) -> None:
    """The GROUP BY form of the ordering rule picks exactly what the NOT EXISTS form did."""
    rng = random.Random(20260302)
    chats = [await _chat(db, clock, 1000 + n, "private") for n in range(12)]
    async with db.sessions() as session, session.begin():
        for _ in range(300):
            chat = rng.choice(chats)
            await enqueue(session, clock.now(), chat, "unknown_command", "en", {"command": "x"})
        for row in await session.scalars(select(OutboxMessage)):
            row.status = rng.choice(["pending"] * 4 + ["sent", "failed"])
            row.next_attempt_at = clock.now() + timedelta(seconds=rng.choice([-5, 0, 0, 0, 5]))
    earlier = aliased(OutboxMessage)
    async with db.sessions() as session:
        expected = list(
            await session.scalars(
                select(OutboxMessage.id)
                .where(
                    OutboxMessage.status == "pending",
                    OutboxMessage.next_attempt_at <= clock.now(),
                    ~exists().where(
                        earlier.chat_id == OutboxMessage.chat_id,
                        earlier.status == "pending",
                        earlier.id < OutboxMessage.id,
                        earlier.next_attempt_at > clock.now(),
                    ),
                )
                .order_by(OutboxMessage.id)
            )
        )
    sender = dispatcher(db, clock, RecordingBot())
    sender.batch_size = 1000
    assert 20 < len(expected) < 200  # some blocked, some not: the case is a real one
    assert [job.message.id for job in await sender._due()] == expected


# --- several processes on one PostgreSQL: one sender at a time ---------------------------------


@dataclass
class Process:
    """A dispatcher with its own engine (its own connections), as another process has."""

    bot: RecordingBot
    sender: OutboxDispatcher
    engine: AsyncEngine
    task: asyncio.Task[None] | None = None

    def start(self, interval: float) -> None:
        self.task = asyncio.create_task(self.sender.run_forever(interval))

    async def stop(self) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.engine.dispose()


@contextlib.asynccontextmanager
async def processes(
    db: Database, clock: FrozenClock, count: int, interval: float
) -> AsyncIterator[list[Process]]:
    started = []
    for _ in range(count):
        engine = create_engine(db.url)
        bot = RecordingBot()
        sender = dispatcher(Database(db.url, engine, create_sessionmaker(engine)), clock, bot)
        started.append(Process(bot, sender, engine))
    for process in started:
        process.start(interval)
    try:
        yield started
    finally:
        for process in started:
            await process.stop()


async def _until(condition: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("the condition did not come true in time")
        await asyncio.sleep(0.02)


async def _all_sent(db: Database) -> bool:
    return all(row.status == "sent" for row in await _rows(db))


def _texts(team: list[Process]) -> list[str]:
    return sorted(s.text for p in team for s in p.bot.sent)


async def _holder(team: list[Process]) -> Process:
    (holder,) = [p for p in team if p.sender.lock is not None and p.sender.lock.held]
    return holder


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_one_process_sends_and_another_takes_over_when_it_dies(
    db: Database, clock: FrozenClock
) -> None:
    chats = [await _chat(db, clock, 2000 + n, "private") for n in range(4)]
    async with processes(db, clock, 3, interval=0.05) as team:
        for n in range(40):
            await _enqueue(db, clock, chats[n % 4], params={"command": f"a{n:02}"})
        await _until(lambda: _all_sent(db))
        holder = await _holder(team)
        assert [len(p.bot.sent) for p in team].count(0) == 2  # the others stood by
        # The sender dies: its connections close, the lock is free, a process standing by sends.
        team.remove(holder)
        await holder.stop()
        for n in range(40, 60):
            await _enqueue(db, clock, chats[n % 4], params={"command": f"a{n:02}"})
        await _until(lambda: _all_sent(db))
        successor = await _holder(team)
        assert len(successor.bot.sent) == 20
        everything = _texts([holder, *team])
    assert everything == sorted({text for text in everything})  # nothing twice
    assert len(everything) == 60


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_sender_whose_lock_connection_is_lost_stops_and_the_lock_is_taken_again(
    db: Database, clock: FrozenClock
) -> None:
    chat = await _chat(db, clock, 3000, "private")
    async with processes(db, clock, 2, interval=0.05) as team:
        await _enqueue(db, clock, chat, params={"command": "before"})
        await _until(lambda: _all_sent(db))
        holder = await _holder(team)
        lock = holder.sender.lock
        assert lock is not None
        async with db.engine.begin() as conn:
            killed = await conn.scalar(
                text(
                    "SELECT pg_terminate_backend(l.pid) FROM pg_locks l"
                    " JOIN pg_database d ON d.oid = l.database AND d.datname = current_database()"
                    f" WHERE l.locktype = 'advisory' AND l.classid = {NAMESPACE}"
                    f" AND l.objid = {int(Work.OUTBOX)}"
                )
            )
        assert killed

        async def noticed() -> bool:
            return not lock.held or not await lock.still_held()

        await _until(noticed)
        await _enqueue(db, clock, chat, params={"command": "after"})
        await _until(lambda: _all_sent(db))
        await _holder(team)  # someone holds it again
        assert [text.split()[3] for text in _texts(team)] == ["/after", "/before"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_process_standing_by_wakes_the_sender_when_it_wrote_something(
    db: Database, clock: FrozenClock
) -> None:
    chat = await _chat(db, clock, 4000, "private")
    # Rounds every 30 s: the message can only go out at once if the wake-up reaches the sender.
    async with processes(db, clock, 2, interval=30) as team:
        await _until(lambda: _any_holder(team))
        holder = await _holder(team)
        (standby,) = [p for p in team if p is not holder]
        await asyncio.sleep(0.2)  # the sender's first round is done; it naps for 30 s
        await _enqueue(db, clock, chat, params={"command": "woken"})
        standby.sender.wakeup.set()  # what the edge does after a handler's commit
        await _until(lambda: _all_sent(db), timeout=5)
        assert [s.text.split()[3] for s in holder.bot.sent] == ["/woken"]


async def _any_holder(team: list[Process]) -> bool:
    return any(p.sender.lock is not None and p.sender.lock.held for p in team)
