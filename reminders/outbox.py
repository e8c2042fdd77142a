"""The outbox dispatcher: sends what services wrote, within Telegram's limits, losing nothing.

A message is marked sent only after Telegram accepted it, so a crash between the two sends it
again on restart; that is the one duplicate the bot cannot know about.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter

from models.clock import Clock
from models.rules.pacing import Pacer, Sending
from models.services.chats import mark_undeliverable, migrate_chat
from models.services.intake import forget_old_updates
from models.tables import Chat, OutboxFile, OutboxMessage, OutboxStatus
from models.texts import render, split_message
from reminders.locks import HeldLock, Work, engine_of, is_postgresql

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(minutes=5)
# A chat that must wait longer than this (a group's per-minute limit, a RetryAfter) is left for a
# later round, so one busy group does not hold up every other chat.
LONGEST_INLINE_WAIT = 1.5
# After a round that left chats waiting for their turn, the next one starts no sooner than this.
# Each round reads the backlog again, and every new message wakes the dispatcher: under a burst
# of reports (a card per report for a group Telegram lets hear 20 a minute) that was one read of
# the whole backlog per report, on the connection the reports wait for.
PACED_ROUND_GAP = 0.2
# Processes standing by NOTIFY the sender on this channel when their services wrote something.
WAKEUP_CHANNEL = "nodedesk_outbox"


@dataclass
class Round:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    undeliverable: int = 0
    deferred: int = 0


@dataclass
class _Job:
    message: OutboxMessage
    chat: Chat


@dataclass
class OutboxDispatcher:
    bot: Bot
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    default_language: str
    pacer: Pacer = field(default_factory=Pacer)
    # The pacer's clock and its sleep: real by default, a ticker in tests.
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    batch_size: int = 200
    concurrency: int = 16
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    # The sender's lock on PostgreSQL (see run_forever); None: this process alone sends.
    lock: HeldLock | None = None
    _pace_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _stopping: bool = False

    async def run_forever(self, interval: float) -> None:
        """Send until stopped (`stop`) or cancelled; wake on a new message or every `interval` s.

        On PostgreSQL one process sends at a time, across all of them: Telegram's limits are the
        bot's, not a process's, so more senders would not send more, and one keeps each chat's
        order and the pacer exact. The others stand by, try for the lock every `interval` s and
        pass their wake-ups on to the sender; when the sender dies, its connection closes, the
        lock is free, and one of them takes over.
        """
        engine = engine_of(self.sessions)
        if engine is not None and is_postgresql(engine):
            self.lock = HeldLock(engine, Work.OUTBOX, recheck_after=interval)
        try:
            while not self._stopping:
                if self.lock is not None and not await self._lead():
                    await self._stand_by(interval)
                    continue
                self.wakeup.clear()
                try:
                    done = await self.run_once()
                except Exception:
                    log.exception("outbox round failed; trying again")
                    done = Round()
                if done.sent or done.retried:
                    continue
                if done.deferred:
                    await self.sleep(PACED_ROUND_GAP)  # a wake-up meanwhile is kept for after
                await self._nap(interval)
        finally:
            if self.lock is not None:
                await asyncio.shield(self.lock.release())

    def stop(self) -> None:
        """Start no more sends: those on their way finish and are marked, then `run_forever`
        returns. Cancelled mid-send instead, a message Telegram accepted would go again."""
        self._stopping = True
        self.wakeup.set()

    async def _lead(self) -> bool:
        """Hold the sender's lock (taking it if free); on taking it, listen for wake-ups."""
        assert self.lock is not None
        was_held = self.lock.held
        if not await self.lock.take():
            return False
        if not was_held:
            return await self.lock.listen(WAKEUP_CHANNEL, self.wakeup.set)
        return True

    async def _stand_by(self, interval: float) -> None:
        """Wait for the next try; a local wake-up (a service wrote) goes on to the sender."""
        assert self.lock is not None
        deadline = asyncio.get_running_loop().time() + interval
        while True:
            # Also a wake-up that came while this process was trying for the lock.
            if self.wakeup.is_set():
                self.wakeup.clear()
                await self.lock.notify(WAKEUP_CHANNEL)
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            await self._nap(left)

    async def _nap(self, seconds: float) -> bool:
        """Sleep until woken or `seconds` pass; True if woken."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wakeup.wait(), timeout=seconds)
            return True
        return False

    async def run_once(self) -> Round:
        """One round: every due message, chats side by side, each chat's messages in order."""
        jobs = await self._due()
        by_chat: dict[int, list[_Job]] = {}
        for job in jobs:
            by_chat.setdefault(job.chat.id, []).append(job)
        result = Round()
        gate = asyncio.Semaphore(self.concurrency)

        async def one_chat(chat_jobs: list[_Job]) -> None:
            async with gate:
                for job in chat_jobs:
                    if not await self._deliver(job, result):
                        result.deferred += 1
                        break

        await asyncio.gather(*(one_chat(chat_jobs) for chat_jobs in by_chat.values()))
        return result

    async def _due(self) -> list[_Job]:
        now = self.clock.now()
        # A chat's messages keep their order: none overtakes one waiting to retry. Per chat, the
        # first message waiting (pending, not due yet) bounds what may go now; one GROUP BY over
        # the waiting ones, rather than a NOT EXISTS per due row (quadratic in the backlog).
        waiting = (
            select(
                OutboxMessage.chat_id.label("chat_id"),
                func.min(OutboxMessage.id).label("first_id"),
            )
            .where(
                OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at > now
            )
            .group_by(OutboxMessage.chat_id)
            .subquery()
        )
        async with self.sessions() as session:
            rows = await session.execute(
                select(OutboxMessage, Chat)
                .join(Chat, Chat.id == OutboxMessage.chat_id)
                .outerjoin(waiting, waiting.c.chat_id == OutboxMessage.chat_id)
                .where(
                    OutboxMessage.status == OutboxStatus.PENDING,
                    OutboxMessage.next_attempt_at <= now,
                    Chat.undeliverable_at.is_(None),
                    or_(waiting.c.first_id.is_(None), OutboxMessage.id < waiting.c.first_id),
                )
                .order_by(OutboxMessage.id)
                .limit(self.batch_size)
            )
            return [_Job(message, chat) for message, chat in rows.all()]

    async def _edit_target(self, message: OutboxMessage) -> int | Literal[False] | None:
        """The Telegram id of the message to edit; False if it will never exist, None if not yet."""
        if message.edit_message_id is not None:
            return message.edit_message_id
        async with self.sessions() as session:
            target = await session.get(OutboxMessage, message.edit_of_id)
        if target is None or target.status in (OutboxStatus.FAILED, OutboxStatus.UNDELIVERABLE):
            return False
        return target.telegram_message_id if target.status == OutboxStatus.SENT else None

    async def _deliver(self, job: _Job, result: Round) -> bool:
        """Send one message; False when its chat must wait for a later round."""
        message, chat = job.message, job.chat
        is_group = chat.kind != "private"
        if message.edit_of_id is not None:
            target = await self._edit_target(message)
            if target is False:
                await self._finish(message, OutboxStatus.FAILED, error="nothing to edit")
                result.failed += 1
                return True
            if target is None:
                return False  # the card itself has not gone out yet
            message.edit_message_id = target
        try:
            text_parts, markup = self._render(message)
        except Exception as exc:  # a template error is ours, and retrying will not mend it
            log.exception("outbox %s: cannot render %s", message.id, message.template)
            await self._finish(message, OutboxStatus.FAILED, error=f"render: {exc}")
            result.failed += 1
            return True
        file = await self._file(message)
        parts = [_Part(text) for text in text_parts]
        if file is not None and len(parts) == 1 and len(parts[0].text) <= CAPTION_LIMIT:
            parts = [_Part(parts[0].text, with_file=True)]  # the text is the file's caption
        elif file is not None:
            # A long text goes first; the file follows on its own, with the buttons.
            parts.append(_Part("", with_file=True))
        try:
            for index in range(message.parts_sent, len(parts)):
                sending = await self._pace(chat.telegram_id, is_group)
                if sending is None:
                    return False
                last = index == len(parts) - 1
                part = parts[index]
                try:
                    if part.with_file:
                        assert file is not None
                        sent_id = await self._send_file(message, chat, file, part.text, markup)
                    else:
                        sent_id = await self._send(
                            message, chat, part.text, markup if last else None
                        )
                finally:
                    # Telegram counted it somewhere before its answer: pace from the answer.
                    self.pacer.answered(sending, self.monotonic())
                if not last:
                    await self._part_sent(message, index + 1, sent_id)
            await self._finish(message, OutboxStatus.SENT, telegram_message_id=sent_id)
            result.sent += 1
        except RetryAfter as exc:
            seconds = _seconds(exc)
            self.pacer.pause(chat.telegram_id, seconds, self.monotonic())
            await self._retry_later(message, timedelta(seconds=seconds), str(exc), count=False)
            result.retried += 1
            return False
        except ChatMigrated as exc:
            await self._migrated(chat, exc.new_chat_id)
            result.retried += 1
            return False
        except Forbidden as exc:
            await self._undeliverable(chat, str(exc))
            result.undeliverable += 1
            return False
        except BadRequest as exc:
            if message.edit_message_id is not None and "not modified" in exc.message.lower():
                await self._finish(message, OutboxStatus.SENT)
                result.sent += 1
                return True
            log.warning("outbox %s refused by Telegram: %s", message.id, exc.message)
            await self._finish(message, OutboxStatus.FAILED, error=exc.message)
            result.failed += 1
        except NetworkError as exc:  # timeouts and 5xx: Telegram may come back
            delay = min(MAX_BACKOFF, timedelta(seconds=2 ** min(message.attempts + 1, 10)))
            await self._retry_later(message, delay, f"{type(exc).__name__}: {exc}", count=True)
            result.retried += 1
            return False
        return True

    async def _pace(self, chat_id: int, is_group: bool) -> Sending | None:
        """Wait for the chat's turn and take it (tell the pacer when Telegram answered); None
        when it must wait for a later round, when the dispatcher is stopping, or when this
        process is no longer the sender (its lock was lost: another may be sending)."""
        while True:
            if self._stopping:
                return None
            if self.lock is not None and not await self.lock.still_held():
                return None
            async with self._pace_lock:
                now = self.monotonic()
                wait = self.pacer.wait(chat_id, is_group, now)
                if wait <= 0:
                    return self.pacer.sent(chat_id, is_group, now)
            if wait > LONGEST_INLINE_WAIT:
                return None
            await self.sleep(wait)

    def _render(self, message: OutboxMessage) -> tuple[list[str], InlineKeyboardMarkup | None]:
        language = message.language or self.default_language
        text = render(message.template, language, message.params)
        parts = [text] if message.edit_message_id is not None else split_message(text)
        markup = None
        if message.buttons:
            markup = InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(
                            render(f"buttons/{button['key']}", language, button.get("params")),
                            callback_data=button["data"],
                        )
                        for button in row
                    ]
                    for row in message.buttons
                ]
            )
        return parts, markup

    async def _send(
        self,
        message: OutboxMessage,
        chat: Chat,
        text: str,
        markup: InlineKeyboardMarkup | None,
    ) -> int:
        if message.edit_message_id is not None:
            edited = await self.bot.edit_message_text(
                text,
                chat_id=chat.telegram_id,
                message_id=message.edit_message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
            )
            return message.edit_message_id if isinstance(edited, bool) else edited.message_id
        reply = None
        if message.reply_to_message_id is not None:
            reply = ReplyParameters(message.reply_to_message_id, allow_sending_without_reply=True)
        sent = await self.bot.send_message(
            chat.telegram_id,
            text,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            reply_parameters=reply,
        )
        return sent.message_id

    async def _file(self, message: OutboxMessage) -> OutboxFile | None:
        if not message.has_file:
            return None
        async with self.sessions() as session:
            return await session.scalar(
                select(OutboxFile).where(OutboxFile.outbox_id == message.id)
            )

    async def _send_file(
        self,
        message: OutboxMessage,
        chat: Chat,
        file: OutboxFile,
        caption: str,
        markup: InlineKeyboardMarkup | None,
    ) -> int:
        upload = InputFile(file.data, filename=file.file_name)
        reply = None
        if message.reply_to_message_id is not None:
            reply = ReplyParameters(message.reply_to_message_id, allow_sending_without_reply=True)
        send = self.bot.send_photo if file.kind == "photo" else self.bot.send_document
        sent = await send(
            chat.telegram_id,
            upload,
            caption=caption or None,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            reply_parameters=reply,
        )
        return sent.message_id

    async def _part_sent(self, message: OutboxMessage, parts_sent: int, sent_id: int) -> None:
        message.parts_sent = parts_sent
        await self._update(message.id, parts_sent=parts_sent, telegram_message_id=sent_id)

    async def _finish(
        self,
        message: OutboxMessage,
        status: OutboxStatus,
        *,
        telegram_message_id: int | None = None,
        error: str | None = None,
    ) -> None:
        values: dict[str, Any] = {"status": status, "attempts": message.attempts + 1}
        if status is OutboxStatus.SENT:
            values["sent_at"] = self.clock.now()
            if telegram_message_id is not None:
                values["telegram_message_id"] = telegram_message_id
        if error is not None:
            values["last_error"] = error[:500]
        await self._update(message.id, **values)

    async def _retry_later(
        self, message: OutboxMessage, delay: timedelta, error: str, *, count: bool
    ) -> None:
        attempts = message.attempts + (1 if count else 0)
        message.attempts = attempts
        await self._update(
            message.id,
            attempts=attempts,
            next_attempt_at=self.clock.now() + delay,
            last_error=error[:500],
        )

    async def _update(self, message_id: int, **values: Any) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.id == message_id).values(**values)
            )

    async def _migrated(self, chat: Chat, new_chat_id: int) -> None:
        async with self.sessions() as session, session.begin():
            await migrate_chat(session, self.clock.now(), chat.telegram_id, new_chat_id)
        log.info("chat %s moved to %s; sending there", chat.telegram_id, new_chat_id)

    async def _undeliverable(self, chat: Chat, reason: str) -> None:
        async with self.sessions() as session, session.begin():
            await mark_undeliverable(
                session, self.clock.now(), chat.id, reason, self.default_language
            )
        log.warning("chat %s refuses the bot: %s", chat.telegram_id, reason)
        self.wakeup.set()  # the coordinators' notice is waiting


# Telegram allows 1,024 characters in a caption, against 4,096 in a message.
CAPTION_LIMIT = 1024


@dataclass(frozen=True)
class _Part:
    """One Telegram message of an outbox message: text, or the file with `text` as caption."""

    text: str
    with_file: bool = False


def _seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB 22 warns that the int form is deprecated
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def forget_processed_updates(
    sessions: async_sessionmaker[AsyncSession], now: datetime
) -> int:
    async with sessions() as session, session.begin():
        return await forget_old_updates(session, now)
