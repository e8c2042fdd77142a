"""The Sandbox: one bot, the people and chats around it, and everything they said."""

from __future__ import annotations

import bisect
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from .errors import SandboxError, bad_request, chat_migrated, forbidden
from .faults import FaultConfig, FaultInjector
from .files import FileKind, FileStore
from .model import (
    CHANNEL_BOT_ID,
    GROUP_ANONYMOUS_BOT_ID,
    JSON,
    CallbackRecord,
    Chat,
    ChatType,
    Member,
    MemberStatus,
    StoredFile,
    StoredMessage,
    User,
)
from .notify import Pulse
from .ratelimit import RateLimiter, RateLimits
from .stats import Stats
from .textfmt import detect_entities
from .updates import UpdateQueue, Webhook

ClockAdvance = Callable[[float], Awaitable[datetime]]
ClockNow = Callable[[], datetime]

DEFAULT_TOKEN = "123456:TEST"
_FIRST_USER_ID = 100_000_001
_FIRST_GROUP_ID = -4_000_000_001
_FIRST_SUPERGROUP_ID = -1_002_000_000_001
_CHAT_KIND = {"group": "group chat", "supergroup": "supergroup chat", "channel": "channel chat"}


def bot_id_from_token(token: str) -> int:
    head, sep, tail = token.partition(":")
    if not (sep and head.isdigit() and tail):
        raise ValueError(f"a bot token looks like 123456:SECRET, not {token!r}")
    return int(head)


class Sandbox:
    """A fake Telegram for one bot.

    Everything runs on one asyncio loop and no mutation awaits halfway, so each method is
    atomic with respect to the others; waiters are woken through `pulse`.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "nodedesk_bot",
        bot_first_name: str = "Nodedesk",
        privacy_mode: bool = False,
        rate_limits: RateLimits | None = None,
        faults: FaultConfig | None = None,
        seed: int | None = None,
        webhook_retry_delays: Sequence[float] = (0.5, 1.0, 2.0),
        webhook_timeout: float = 10.0,
        on_clock_advance: ClockAdvance | None = None,
        clock_now: ClockNow | None = None,
    ) -> None:
        self.token = token
        self.bot_id = bot_id_from_token(token)
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        # Off by default, as if turned off in BotFather: the bot sees every group message.
        self.privacy_mode = privacy_mode
        self.webhook_retry_delays = tuple(webhook_retry_delays)
        self.webhook_timeout = webhook_timeout
        self.on_clock_advance = on_clock_advance
        self.clock_now = clock_now
        self._initial_rate_limits = rate_limits or RateLimits()
        self._initial_faults = faults or FaultConfig()
        self._seed = seed

        self.pulse = Pulse()
        self.stats = Stats()
        self.faults = FaultInjector(seed)
        self.faults.configure(self._initial_faults)
        self.rate_limiter = RateLimiter(self._initial_rate_limits)
        self.updates = UpdateQueue(self.pulse, self.stats)
        self.webhook: Webhook | None = None
        self.closed = False
        # Each getUpdates call takes a ticket; an older long poll that sees a newer ticket
        # answers 409, as Telegram does when two instances of a bot poll at once.
        self.poll_generation = 0
        self.inflight = 0
        self.last_activity = time.monotonic()
        # Like update ids, message seqs survive a reset: a cursor taken before it stays valid.
        self._seq = 0
        self._reset_world()

    def _reset_world(self) -> None:
        self.users: dict[int, User] = {}
        self.chats: dict[int, Chat] = {}
        self.files = FileStore()
        self.callbacks: dict[str, CallbackRecord] = {}
        self.commands: dict[str, list[JSON]] = {}
        self.bot_settings: dict[str, Any] = {}
        self.log: list[StoredMessage] = []
        self._next_user_id = _FIRST_USER_ID
        self._next_group_id = _FIRST_GROUP_ID
        self._next_supergroup_id = _FIRST_SUPERGROUP_ID
        self._next_callback = 1
        self.bot = User(self.bot_id, self.bot_first_name, username=self.bot_username, is_bot=True)
        self.users[self.bot.id] = self.bot

    async def reset(self) -> None:
        """Forget every user, chat, message, update, fault and counter."""
        await self.delete_webhook()
        # The queue object (and its update_id counter) survives: see UpdateQueue.
        self.updates.clear()
        self.updates.set_allowed(())
        self.stats.reset()
        self.faults = FaultInjector(self._seed)
        self.faults.configure(self._initial_faults)
        self.rate_limiter = RateLimiter(self._initial_rate_limits)
        self._reset_world()
        self.pulse.fire()

    async def close(self) -> None:
        """Stop background work and release anything held (long polls, timeout holds)."""
        self.closed = True
        await self.delete_webhook()
        self.pulse.fire()

    # -- time -------------------------------------------------------------------------

    def now(self) -> datetime:
        """The time stamped on messages: the bot's clock when the sandbox was given one."""
        return self.clock_now() if self.clock_now is not None else datetime.now(UTC)

    def now_unix(self) -> int:
        return int(self.now().timestamp())

    def clock(self) -> datetime:
        if self.clock_now is None:
            raise SandboxError(
                "no clock: this sandbox was started without a clock_now hook "
                "(the bot's clock lives in the bot process; `nodedesk demo` wires it)",
                404,
            )
        return self.clock_now()

    async def advance_clock(self, seconds: float) -> datetime:
        if self.on_clock_advance is None:
            raise SandboxError(
                "no clock: this sandbox was started without an on_clock_advance hook "
                "(the bot's clock lives in the bot process; `nodedesk demo` wires it)",
                404,
            )
        if seconds < 0:
            raise SandboxError("the clock only moves forward")
        moved = await self.on_clock_advance(seconds)
        self.pulse.fire()
        return moved

    # -- activity (for wait_idle) -----------------------------------------------------

    def call_started(self) -> None:
        self.inflight += 1

    def call_finished(self) -> None:
        self.inflight -= 1
        self.mark_activity()

    def mark_activity(self) -> None:
        self.last_activity = time.monotonic()
        self.pulse.fire()

    def busy(self) -> bool:
        delivering = self.webhook is not None and self.webhook.delivering
        return self.inflight > 0 or len(self.updates) > 0 or delivering

    # -- webhook ----------------------------------------------------------------------

    async def set_webhook(
        self, url: str, *, secret_token: str | None, max_connections: int
    ) -> None:
        await self.delete_webhook()
        self.webhook = Webhook(
            url,
            secret_token=secret_token,
            max_connections=max_connections,
            queue=self.updates,
            pulse=self.pulse,
            stats=self.stats,
            retry_delays=self.webhook_retry_delays,
            timeout=self.webhook_timeout,
            now_unix=self.now_unix,
        )
        self.webhook.start()

    async def delete_webhook(self) -> None:
        if self.webhook is not None:
            webhook, self.webhook = self.webhook, None
            await webhook.stop()

    # -- users ------------------------------------------------------------------------

    def user(self, user_id: int) -> User:
        try:
            return self.users[user_id]
        except KeyError:
            raise SandboxError(f"no user {user_id}", 404) from None

    def create_user(
        self,
        first_name: str = "User",
        *,
        id: int | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        is_premium: bool = False,
    ) -> User:
        if id is None:
            while self._next_user_id in self.users:
                self._next_user_id += 1
            id = self._next_user_id
            self._next_user_id += 1
        if id <= 0:
            raise SandboxError("user ids are positive")
        if id in self.users:
            raise SandboxError(f"user {id} already exists", 409)
        if username and self._username_taken(username):
            raise SandboxError(f"username @{username} is taken", 409)
        user = User(
            id,
            first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            is_premium=is_premium,
        )
        self.users[id] = user
        self.pulse.fire()
        return user

    def _username_taken(self, username: str) -> bool:
        wanted = username.lower()
        return any((u.username or "").lower() == wanted for u in self.users.values()) or any(
            (c.username or "").lower() == wanted for c in self.chats.values()
        )

    def _service_user(self, user_id: int, first_name: str, username: str) -> User:
        user = self.users.get(user_id)
        if user is None:
            user = User(user_id, first_name, username=username, is_bot=True)
            self.users[user_id] = user
        return user

    # -- chats ------------------------------------------------------------------------

    def chat(self, chat_id: int) -> Chat:
        try:
            return self.chats[chat_id]
        except KeyError:
            raise SandboxError(f"no chat {chat_id}", 404) from None

    def create_chat(
        self,
        type: ChatType,
        *,
        title: str | None = None,
        user_id: int | None = None,
        username: str | None = None,
        description: str | None = None,
        creator_id: int | None = None,
        members: Iterable[int] = (),
        admins: Iterable[int] = (),
        with_bot: bool = True,
        bot_admin: bool = False,
    ) -> Chat:
        """Create a chat with the bot in it (unless with_bot=False).

        A private chat is one the user has opened, so the bot may write to them; no /start
        is sent for it: send one with send_as_user if the bot should see it.
        """
        if type == "private":
            if user_id is None:
                raise SandboxError("a private chat needs user_id")
            user = self.user(user_id)
            if user.is_bot:
                raise SandboxError("bots cannot have private chats with the bot")
            if user_id in self.chats:
                raise SandboxError(f"user {user_id} already has a private chat", 409)
            chat = Chat(user_id, "private", user=user)
            chat.members = {user.id: Member(user), self.bot.id: Member(self.bot)}
            self.chats[chat.id] = chat
            self.pulse.fire()
            return chat
        if type not in _CHAT_KIND:
            raise SandboxError(f"unknown chat type {type!r}")
        if username and self._username_taken(username):
            raise SandboxError(f"username @{username} is taken", 409)
        if type == "group":
            chat_id, self._next_group_id = self._next_group_id, self._next_group_id - 1
        else:
            chat_id, self._next_supergroup_id = (
                self._next_supergroup_id,
                self._next_supergroup_id - 1,
            )
        chat = Chat(
            chat_id,
            type,
            title=title or f"{type.capitalize()} {abs(chat_id) % 10_000}",
            username=username,
            description=description,
        )
        admin_ids = set(admins)
        # Admins are members too; the bot joins through with_bot, never through the lists.
        member_ids = [m for m in dict.fromkeys([*members, *admins]) if m != self.bot.id]
        if creator_id is None and member_ids:
            creator_id = member_ids[0]
        if creator_id is not None:
            chat.members[creator_id] = Member(self.user(creator_id), "creator")
        for member_id in member_ids:
            if member_id not in chat.members:
                status: MemberStatus = "administrator" if member_id in admin_ids else "member"
                chat.members[member_id] = Member(self.user(member_id), status)
        self.chats[chat.id] = chat
        if with_bot:
            actor = self.users[creator_id] if creator_id is not None else self.bot
            status = "administrator" if bot_admin or type == "channel" else "member"
            self._set_status(chat, self.bot, status, actor)
            if type == "group":
                # Telegram announces a new basic group to the bots that are in it.
                self._post_service(chat, actor, {"group_chat_created": True})
        self._touch(chat)
        return chat

    def _group(self, chat_id: int) -> Chat:
        chat = self.chat(chat_id)
        if chat.is_private:
            raise SandboxError("private chats have no membership to change")
        if chat.migrated_to is not None:
            raise SandboxError(f"chat {chat_id} was migrated to {chat.migrated_to}", 409)
        return chat

    def add_member(self, chat_id: int, user_id: int, *, by: int | None = None) -> Member:
        """Add a user (or the bot) to a group; `by` adds them, else they join by link."""
        chat = self._group(chat_id)
        user = self.user(user_id)
        if chat.is_present(user_id):
            raise SandboxError(f"user {user_id} is already in chat {chat_id}", 409)
        actor = self.user(by) if by is not None else user
        status: MemberStatus = (
            "administrator" if user.id == self.bot.id and chat.type == "channel" else "member"
        )
        member = self._set_status(chat, user, status, actor)
        if chat.type != "channel":
            self._post_service(chat, actor, {"new_chat_members": [user.to_api()]})
        return member

    def remove_member(
        self, chat_id: int, user_id: int, *, by: int | None = None, ban: bool = False
    ) -> Member:
        """Remove a user (or the bot) from a group: they leave, or `by` removes them."""
        chat = self._group(chat_id)
        user = self.user(user_id)
        member = chat.member(user_id)
        if member is None or not member.present:
            raise SandboxError(f"user {user_id} is not in chat {chat_id}", 409)
        if member.status == "creator":
            raise SandboxError("the creator cannot be removed")
        actor = self.user(by) if by is not None else user
        removed = self._set_status(chat, user, "kicked" if ban else "left", actor)
        if chat.type != "channel":
            self._post_service(chat, actor, {"left_chat_member": user.to_api()})
        return removed

    def kick_bot(self, chat_id: int, *, by: int | None = None) -> Member:
        chat = self._group(chat_id)
        if by is None:
            admins = (m for m in chat.members.values() if m.is_admin and not m.user.is_bot)
            by = next((m.user.id for m in admins), None)
        if by is None:
            raise SandboxError("someone must kick the bot: give `by` or add an admin")
        return self.remove_member(chat_id, self.bot.id, by=by, ban=True)

    def promote(
        self,
        chat_id: int,
        user_id: int,
        *,
        custom_title: str | None = None,
        is_anonymous: bool = False,
        by: int | None = None,
    ) -> Member:
        return self._change_rank(
            chat_id,
            user_id,
            "administrator",
            by,
            custom_title=custom_title,
            is_anonymous=is_anonymous,
        )

    def demote(self, chat_id: int, user_id: int, *, by: int | None = None) -> Member:
        return self._change_rank(chat_id, user_id, "member", by)

    def _change_rank(
        self,
        chat_id: int,
        user_id: int,
        status: MemberStatus,
        by: int | None,
        **extra: Any,
    ) -> Member:
        chat = self._group(chat_id)
        member = chat.member(user_id)
        if member is None or not member.present:
            raise SandboxError(f"user {user_id} is not in chat {chat_id}", 409)
        if member.status == "creator":
            raise SandboxError("the creator's rank cannot change")
        if by is None:
            by = next((m.user.id for m in chat.members.values() if m.status == "creator"), None)
        actor = self.user(by) if by is not None else member.user
        return self._set_status(chat, member.user, status, actor, **extra)

    def block_bot(self, user_id: int) -> Chat:
        """The user blocks the bot; sends to them answer 403 from now on."""
        return self._set_blocked(user_id, True)

    def unblock_bot(self, user_id: int) -> Chat:
        return self._set_blocked(user_id, False)

    def _set_blocked(self, user_id: int, blocked: bool) -> Chat:
        chat = self.chat(user_id)
        if not chat.is_private or chat.user is None:
            raise SandboxError("only a user's private chat with the bot can be (un)blocked")
        if chat.bot_blocked != blocked:
            chat.bot_blocked = blocked
            self._set_status(chat, self.bot, "kicked" if blocked else "member", chat.user)
        return chat

    def migrate(self, chat_id: int, *, by: int | None = None) -> Chat:
        """Upgrade a basic group to a supergroup, as Telegram does: a new -100… chat."""
        old = self._group(chat_id)
        if old.type != "group":
            raise SandboxError("only basic groups can be upgraded to supergroups")
        if by is None:
            by = next((m.user.id for m in old.members.values() if m.status == "creator"), None)
        actor = self.user(by) if by is not None else self.bot
        new_id, self._next_supergroup_id = self._next_supergroup_id, self._next_supergroup_id - 1
        new = Chat(
            new_id,
            "supergroup",
            title=old.title,
            description=old.description,
            members={
                uid: Member(m.user, m.status, m.custom_title, m.is_anonymous)
                for uid, m in old.members.items()
            },
            migrated_from=old.id,
        )
        self.chats[new.id] = new
        old.migrated_to = new.id
        self._post_service(old, actor, {"migrate_to_chat_id": new.id})
        self._post_service(new, actor, {"migrate_from_chat_id": old.id})
        return new

    def _set_status(
        self,
        chat: Chat,
        user: User,
        status: MemberStatus,
        actor: User,
        *,
        custom_title: str | None = None,
        is_anonymous: bool = False,
    ) -> Member:
        old = chat.members.get(user.id) or Member(user, "left")
        new = Member(user, status, custom_title, is_anonymous)
        chat.members[user.id] = new
        change = {
            "chat": chat.to_api(),
            "from": actor.to_api(),
            "date": self.now_unix(),
            "old_chat_member": old.to_api(chat.type),
            "new_chat_member": new.to_api(chat.type),
        }
        if user.id == self.bot.id:
            self._deliver("my_chat_member", change)
        else:
            bot = chat.member(self.bot.id)
            # Telegram tells only admin bots about other members (and only on request).
            if bot is not None and bot.is_admin:
                self._deliver("chat_member", change)
        self._touch(chat)
        return new

    # -- messages ---------------------------------------------------------------------

    def _touch(self, chat: Chat) -> None:
        chat.version += 1
        self.pulse.fire()

    def _new_message(
        self, chat: Chat, sender: User | None, *, from_bot: bool = False, **fields: Any
    ) -> StoredMessage:
        self._seq += 1
        message = StoredMessage(
            chat=chat,
            message_id=chat.next_message_id,
            seq=self._seq,
            date=self.now_unix(),
            sender=sender,
            from_bot=from_bot,
            **fields,
        )
        chat.next_message_id += 1
        chat.messages.append(message)
        chat.by_id[message.message_id] = message
        self.log.append(message)
        self._touch(chat)
        return message

    def _post_service(self, chat: Chat, actor: User, service: JSON) -> StoredMessage:
        message = self._new_message(chat, actor, service=service)
        self._deliver_message(message)
        return message

    def _deliver(self, kind: str, payload: JSON) -> None:
        if self.updates.push(kind, payload) is not None:
            self.mark_activity()

    def bot_in_chat(self, chat: Chat) -> bool:
        """Whether the bot can currently hear from this chat at all."""
        if chat.is_private:
            return not chat.bot_blocked
        return chat.is_present(self.bot.id)

    def bot_sees(self, message: StoredMessage) -> bool:
        chat = message.chat
        if chat.is_private:
            return self.bot_in_chat(chat)
        if not self.bot_in_chat(chat):
            return False
        bot = chat.members[self.bot.id]
        if chat.type == "channel":
            return bot.is_admin
        if not self.privacy_mode or bot.is_admin or message.service:
            return True
        text = message.text or message.caption or ""
        replied_to_bot = message.reply_to is not None and message.reply_to.from_bot
        mentioned = f"@{self.bot.username}".lower() in text.lower()
        return text.startswith("/") or mentioned or replied_to_bot

    def _deliver_message(self, message: StoredMessage, *, edited: bool = False) -> None:
        if message.from_bot or not self.bot_sees(message):
            return
        kind = "channel_post" if message.chat.type == "channel" else "message"
        self._deliver(f"edited_{kind}" if edited else kind, message.to_api())

    def message(self, chat: Chat, message_id: int) -> StoredMessage | None:
        found = chat.by_id.get(message_id)
        return found if found is not None and not found.deleted else None

    def _user_chat(self, chat_id: int) -> Chat:
        """The chat a user acts in; a user's first private message starts the chat."""
        chat = self.chats.get(chat_id)
        if chat is None and chat_id in self.users and not self.users[chat_id].is_bot:
            chat = self.create_chat("private", user_id=chat_id)
        if chat is None:
            raise SandboxError(f"no chat {chat_id}", 404)
        if chat.migrated_to is not None:
            raise SandboxError(f"chat {chat_id} was migrated to {chat.migrated_to}", 409)
        return chat

    def send_as_user(
        self,
        chat_id: int,
        *,
        from_user_id: int | None = None,
        text: str | None = None,
        caption: str | None = None,
        photo: StoredFile | None = None,
        document: StoredFile | None = None,
        reply_to: int | None = None,
        sender_chat_id: int | None = None,
        anonymous_admin: bool = False,
    ) -> StoredMessage:
        """Post a message as a person (or on behalf of a channel or anonymous admin)."""
        if (text is None) == (photo is None and document is None):
            raise SandboxError("send either text or a photo/document")
        chat = self._user_chat(chat_id)
        sender: User | None
        sender_chat: Chat | None = None
        signature: str | None = None
        if chat.is_private:
            assert chat.user is not None
            if from_user_id not in (None, chat.user.id):
                raise SandboxError(f"only user {chat.user.id} writes in this private chat")
            sender = chat.user
            if chat.bot_blocked:
                # Writing to a blocked bot is pressing "Restart", which unblocks it.
                self.unblock_bot(chat.user.id)
        else:
            if from_user_id is None:
                raise SandboxError("from_user_id is required outside private chats")
            member = chat.member(from_user_id)
            if member is None or not member.present:
                raise SandboxError(f"user {from_user_id} is not in chat {chat.id}", 403)
            if chat.type == "channel":
                if not member.is_admin:
                    raise SandboxError("only channel admins can post")
                sender, sender_chat = None, chat
                signature = member.user.full_name
            elif anonymous_admin:
                if not member.is_admin:
                    raise SandboxError("only admins can post anonymously")
                sender = self._service_user(GROUP_ANONYMOUS_BOT_ID, "Group", "GroupAnonymousBot")
                sender_chat, signature = chat, member.custom_title
            elif sender_chat_id is not None:
                channel = self.chat(sender_chat_id)
                if channel.type != "channel":
                    raise SandboxError(f"chat {sender_chat_id} is not a channel")
                sender = self._service_user(CHANNEL_BOT_ID, "Channel", "Channel_Bot")
                sender_chat = channel
            else:
                sender = member.user
        replied = None
        if reply_to is not None:
            replied = self.message(chat, reply_to)
            if replied is None:
                raise SandboxError(f"no message {reply_to} in chat {chat.id}", 404)
        body = text if text is not None else caption
        message = self._new_message(
            chat,
            sender,
            sender_chat=sender_chat,
            author_signature=signature,
            text=text,
            caption=caption,
            entities=detect_entities(body) if body else [],
            photo=photo,
            document=document,
            reply_to=replied,
        )
        self._deliver_message(message)
        return message

    def upload(
        self,
        kind: FileKind,
        data: bytes | None,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> StoredFile:
        return self.files.add(kind, data, file_name=file_name, mime_type=mime_type)

    def edit_as_user(self, chat_id: int, message_id: int, text: str) -> StoredMessage:
        """The author edits a message's text (or caption); the bot gets edited_message."""
        chat = self.chat(chat_id)
        message = self.message(chat, message_id)
        if message is None:
            raise SandboxError(f"no message {message_id} in chat {chat_id}", 404)
        if message.from_bot or message.service:
            raise SandboxError("only people's own messages can be edited here")
        message.record_edit(self.now_unix())
        if message.has_media:
            message.caption = text
        else:
            message.text = text
        message.entities = detect_entities(text)
        self._touch(chat)
        self._deliver_message(message, edited=True)
        return message

    def press_button(
        self,
        chat_id: int,
        message_id: int,
        *,
        from_user_id: int | None = None,
        data: str | None = None,
        text: str | None = None,
    ) -> CallbackRecord:
        """Press an inline button of a bot message, found by its label or its callback_data.

        Data that matches no button is still sent, as a forged press: that is how a test
        checks that the bot validates callback data (a modified client can send anything).
        """
        chat = self.chat(chat_id)
        message = self.message(chat, message_id)
        if message is None or not message.from_bot:
            raise SandboxError(f"no bot message {message_id} in chat {chat_id}", 404)
        rows = (message.reply_markup or {}).get("inline_keyboard") or []
        buttons = [button for row in rows for button in row]
        if text is not None:
            matching = [b for b in buttons if b.get("text") == text]
            if not matching:
                labels = [b.get("text") for b in buttons]
                raise SandboxError(f"no button {text!r} on message {message_id}: {labels}", 404)
            if "callback_data" not in matching[0]:
                raise SandboxError(f"button {text!r} is not a callback button")
            data = str(matching[0]["callback_data"])
        elif data is None:
            raise SandboxError("say which button: data or text")
        # Anyone may be named as the presser, even in someone else's private chat (which
        # Telegram would not allow), so tests can check that the bot checks who pressed.
        if from_user_id is not None:
            user = self.user(from_user_id)
        elif chat.user is not None:
            user = chat.user
        else:
            raise SandboxError("from_user_id is required outside private chats")
        record = CallbackRecord(
            id=f"{self.bot.id}{self._next_callback:012d}",
            message=message,
            from_user=user,
            data=data,
        )
        self._next_callback += 1
        self.callbacks[record.id] = record
        if self.bot_in_chat(chat):
            self._deliver(
                "callback_query",
                {
                    "id": record.id,
                    "from": user.to_api(),
                    "message": message.to_api(),
                    # Stable per chat, as Telegram's is; games use it, bots rarely do.
                    "chat_instance": str((chat.id * 2_654_435_761) % 2**63),
                    "data": record.data,
                },
            )
        return record

    def callback(self, callback_query_id: str) -> CallbackRecord:
        try:
            return self.callbacks[callback_query_id]
        except KeyError:
            raise SandboxError(f"no callback query {callback_query_id}", 404) from None

    # -- the Bot API side ---------------------------------------------------------------

    def chat_for_bot(self, ref: int | str, *, allow_blocked: bool = False) -> Chat:
        """Resolve a Bot API chat_id and refuse what Telegram refuses."""
        chat: Chat | None
        if isinstance(ref, str):
            wanted = ref.removeprefix("@").lower()
            chat = next(
                (c for c in self.chats.values() if (c.username or "").lower() == wanted), None
            )
        else:
            chat = self.chats.get(ref)
            if chat is None and ref in self.users and not self.users[ref].is_bot:
                raise forbidden("bot can't initiate conversation with a user")
        if chat is None:
            raise bad_request("chat not found")
        if chat.migrated_to is not None:
            raise chat_migrated(chat.migrated_to)
        if chat.is_private:
            if chat.bot_blocked and not allow_blocked:
                raise forbidden("bot was blocked by the user")
            return chat
        bot = chat.member(self.bot.id)
        if bot is None or bot.status == "left":
            raise forbidden(f"bot is not a member of the {_CHAT_KIND[chat.type]}")
        if bot.status == "kicked":
            raise forbidden(f"bot was kicked from the {_CHAT_KIND[chat.type]}")
        return chat

    def post_as_bot(self, chat: Chat, **fields: Any) -> StoredMessage:
        # In channels a post speaks for the channel, so it carries sender_chat, not from.
        if chat.type == "channel":
            message = self._new_message(chat, None, from_bot=True, sender_chat=chat, **fields)
        else:
            message = self._new_message(chat, self.bot, from_bot=True, **fields)
        self.stats.accepted(chat.is_private)
        return message

    def bot_changed(self, message: StoredMessage) -> None:
        self._touch(message.chat)

    def leave(self, chat: Chat) -> None:
        if chat.is_private:
            raise bad_request("chat member status can't be changed in private chats")
        self._set_status(chat, self.bot, "left", self.bot)
        if chat.type != "channel":
            self._post_service(chat, self.bot, {"left_chat_member": self.bot.to_api()})

    def add_callback_answer(self, record: CallbackRecord, answer: JSON) -> None:
        record.answer = answer
        record.message.chat.callback_answers.append(record.to_json())
        self._touch(record.message.chat)

    # -- waiting ----------------------------------------------------------------------

    def bot_messages_after(self, after_seq: int, chat_id: int | None = None) -> list[StoredMessage]:
        start = bisect.bisect_right(self.log, after_seq, key=lambda m: m.seq)
        return [
            m for m in self.log[start:] if m.from_bot and (chat_id is None or m.chat.id == chat_id)
        ]

    async def wait_for_bot_messages(
        self,
        count: int = 1,
        *,
        chat_id: int | None = None,
        after_seq: int = 0,
        # The deadline travels (to the server, into the error message), so it is a
        # parameter rather than the caller's asyncio.timeout().
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> list[StoredMessage]:
        """Wait until `count` bot messages exist after seq `after_seq` (in one chat, or any)."""

        def enough() -> list[StoredMessage] | None:
            found = self.bot_messages_after(after_seq, chat_id)
            return found if len(found) >= count else None

        found = await self.pulse.wait_until(enough, timeout)
        if found is None:
            have = len(self.bot_messages_after(after_seq, chat_id))
            raise TimeoutError(f"waited {timeout}s for {count} bot message(s), saw {have}")
        return found

    async def wait_idle(self, quiet: float = 0.2, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until no update is pending or in flight and the bot made no call for `quiet` s."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            idle_for = now - self.last_activity
            if not self.busy() and idle_for >= quiet:
                return
            if now >= deadline:
                raise TimeoutError(f"the bot was not idle for {quiet}s within {timeout}s")
            pause = deadline - now if self.busy() else min(quiet - idle_for, deadline - now)
            await self.pulse.wait(pause)
