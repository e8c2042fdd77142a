"""What every handler gets: the settings, the clock, a session for this update, the outbox."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackContext, ExtBot

from bot.group_commit import GroupCommit
from models.clock import Clock
from models.config import Settings
from models.rules.permissions import Action, can
from models.services.common import enqueue
from models.services.contacts import ChatRef, Contact, Sender, chat_of, meet
from models.services.intake import claim_update, claim_updates
from models.services.issues import Desk
from models.tables import Chat
from models.texts import plain, render
from reminders.outbox import OutboxDispatcher

log = logging.getLogger(__name__)

# Telegram's stand-ins for people who post as a chat: anonymous group admins and channels.
ANONYMOUS_SENDER_IDS = frozenset({1087968824, 136817688})

# PostgreSQL's text cannot hold NUL, which Telegram passes on; the replacement character has the
# same length in UTF-16, so the offsets of the message's entities (commands, mentions) still hold.
NUL, NUL_STAND_IN = "\x00", "\ufffd"


def read_update(data: Any, bot: Any) -> Update:
    """An update as Telegram sent it (decoded JSON), every NUL in its strings replaced."""
    return Update.de_json(_without_nul(data), bot)


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(NUL, NUL_STAND_IN) if NUL in value else value
    if isinstance(value, dict):
        return {key: _without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    return value


@dataclass
class Edge:
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    desk: Desk
    dispatcher: OutboxDispatcher | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    turns: GroupCommit = field(init=False)

    def __post_init__(self) -> None:
        self.turns = GroupCommit(self.sessions, prepare=_claim_together)

    def wake_outbox(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.wakeup.set()


class NodeContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """PTB's context with the edge at hand."""

    @property
    def edge(self) -> Edge:
        edge: Edge = self.application.bot_data["edge"]
        return edge


NodeApplication = Application[
    ExtBot[None], NodeContext, dict[Any, Any], dict[Any, Any], dict[Any, Any], Any
]


@dataclass
class Turn:
    """One update being handled: its session, its time, who sent it and where."""

    update: Update
    context: NodeContext
    session: AsyncSession
    now: datetime
    contact: Contact | None
    chat: Chat | None
    callback_answer: str | None = None
    # What the handler asked Telegram before its transaction began (see transactional_after).
    told: Any = None

    @property
    def edge(self) -> Edge:
        return self.context.edge

    @property
    def language(self) -> str:
        """Private chats speak the person's language; groups the county's."""
        default = self.edge.settings.language.value
        if self.contact is not None and self.contact.chat.kind == "private":
            return self.contact.person.language or default
        return default

    @property
    def args(self) -> list[str]:
        return list(self.context.args or [])

    async def answer(self, template: str, **params: Any) -> None:
        """Answer a button press on the button, anything else with a message."""
        if self.update.callback_query is not None:
            self.callback_answer = render(template, self.language, params)
        else:
            await self.reply(template, **params)

    async def needs_person(self) -> bool:
        """Acting needs a person behind the update: not an anonymous admin, not a channel."""
        if self.contact is None:
            await self.answer("anonymous")
            return False
        return True

    async def allowed(self, action: Action) -> bool:
        """A person whose roles allow `action`; anyone else is told, and False comes back."""
        if not await self.needs_person():
            return False
        assert self.contact is not None
        if not can(self.contact.roles, action):
            await self.answer("not_allowed")
            return False
        return True

    async def reply(
        self, template: str, buttons: list[list[dict[str, Any]]] | None = None, **params: Any
    ) -> None:
        """Answer in the chat the update came from, through the outbox."""
        if self.chat is None:
            return
        message = self.update.effective_message
        in_group = self.chat.kind != "private"
        await enqueue(
            self.session,
            self.now,
            self.chat,
            template,
            self.language,
            params,
            buttons=buttons,
            reply_to_message_id=message.message_id if (message and in_group) else None,
        )


TurnHandler = Callable[[Turn], Awaitable[None]]


def transactional(
    handler: TurnHandler,
) -> Callable[[Update, NodeContext], Coroutine[Any, Any, None]]:
    """Run a handler in one transaction, once per update, and let the outbox know."""

    @functools.wraps(handler)
    async def handle(update: Update, context: NodeContext) -> None:
        await _in_transaction(handler, update, context, None)

    return handle


Ask = Callable[[Update, NodeContext], Awaitable[Any]]


def transactional_after(
    ask: Ask,
) -> Callable[[TurnHandler], Callable[[Update, NodeContext], Coroutine[Any, Any, None]]]:
    """Like `transactional`, asking Telegram something first, outside the transaction.

    A transaction holds the database's write lock; waiting on Telegram inside it would keep every
    other writer waiting too. The answer reaches the handler as `turn.told`.
    """

    def wrap(handler: TurnHandler) -> Callable[[Update, NodeContext], Coroutine[Any, Any, None]]:
        @functools.wraps(handler)
        async def handle(update: Update, context: NodeContext) -> None:
            await _in_transaction(handler, update, context, await ask(update, context))

        return handle

    return wrap


async def _in_transaction(
    handler: TurnHandler, update: Update, context: NodeContext, told: Any
) -> None:
    edge = context.edge
    turn = await edge.turns.run(_Turning(handler, update, context, told))
    query = update.callback_query
    if turn is None:
        log.info("update %s was handled before; skipping it", update.update_id)
        if query is not None:
            # Handled before a restart, answered perhaps not: the button stops spinning now.
            with contextlib.suppress(TelegramError):
                await query.answer()
        return
    edge.wake_outbox()
    if query is not None:
        await query.answer(plain(turn.callback_answer) if turn.callback_answer else None)


@dataclass(frozen=True)
class _Turning:
    """An update to handle, as work for `Edge.turns`: handled in the transaction it is given,
    returning its Turn, or None if it was handled before."""

    handler: TurnHandler
    update: Update
    context: NodeContext
    told: Any

    async def __call__(self, session: AsyncSession) -> Turn | None:
        edge = self.context.edge
        now = edge.clock.now()
        claimed: set[int] | None = session.info.get(_CLAIMED)
        if claimed is not None:
            # Taken from the set: an update that came twice into one batch is handled once.
            first_time = self.update.update_id in claimed
            claimed.discard(self.update.update_id)
        else:
            first_time = await claim_update(session, now, *_claim(self.update))
        if not first_time:
            return None
        update = self.update
        turn = Turn(update, self.context, session, now, *await _who(update, session, edge, now))
        turn.told = self.told
        await self.handler(turn)
        return turn


def _claim(update: Update) -> tuple[int, int | None, int | None]:
    message = update.message
    return (
        update.update_id,
        message.chat_id if message else None,
        message.message_id if message else None,
    )


async def _claim_together(session: AsyncSession, batch: list[_Turning]) -> None:
    """The updates of a batch claimed in one statement, before any is handled."""
    now = batch[0].context.edge.clock.now()
    session.info[_CLAIMED] = await claim_updates(session, now, [_claim(t.update) for t in batch])


_CLAIMED = "nodedesk.claimed"  # the batch's updates seen for the first time (Session.info)


async def _who(
    update: Update, session: AsyncSession, edge: Edge, now: datetime
) -> tuple[Contact | None, Chat | None]:
    user, chat = update.effective_user, update.effective_chat
    if chat is None:
        return None, None
    ref = ChatRef(chat.id, chat.type, chat.title)
    message = update.effective_message
    anonymous = message is not None and message.sender_chat is not None
    if user is None or user.is_bot or user.id in ANONYMOUS_SENDER_IDS or anonymous:
        return None, await chat_of(session, now, ref)
    sender = Sender(user.id, user.full_name, user.username)
    contact = await meet(session, now, sender, ref, edge.settings.admin_ids)
    return contact, contact.chat
