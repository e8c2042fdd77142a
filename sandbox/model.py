"""The sandbox's world (users, chats, members, messages, files) and its Bot API shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .textfmt import Entity, to_safe_html

JSON = dict[str, Any]
ChatType = Literal["private", "group", "supergroup", "channel"]
CHAT_TYPES: tuple[ChatType, ...] = ("private", "group", "supergroup", "channel")
MemberStatus = Literal["creator", "administrator", "member", "left", "kicked"]
PRESENT_STATUSES: frozenset[str] = frozenset({"creator", "administrator", "member"})

# Telegram's own service accounts, seen as `from` of messages sent on behalf of a chat.
GROUP_ANONYMOUS_BOT_ID = 1087968824
CHANNEL_BOT_ID = 136817688


@dataclass(eq=False)
class User:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False
    is_premium: bool = False

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name

    def to_api(self) -> JSON:
        data: JSON = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        if self.is_premium:
            data["is_premium"] = True
        return data


def _admin_rights(chat_type: ChatType) -> JSON:
    rights: JSON = {
        "can_be_edited": False,
        "can_manage_chat": True,
        "can_delete_messages": True,
        "can_manage_video_chats": True,
        "can_restrict_members": True,
        "can_promote_members": False,
        "can_change_info": True,
        "can_invite_users": True,
        "can_post_stories": True,
        "can_edit_stories": True,
        "can_delete_stories": True,
    }
    if chat_type == "channel":
        rights.update(can_post_messages=True, can_edit_messages=True)
    else:
        rights["can_pin_messages"] = True
    if chat_type == "supergroup":
        rights["can_manage_topics"] = False
    return rights


@dataclass(eq=False)
class Member:
    user: User
    status: MemberStatus = "member"
    custom_title: str | None = None
    is_anonymous: bool = False

    @property
    def present(self) -> bool:
        return self.status in PRESENT_STATUSES

    @property
    def is_admin(self) -> bool:
        return self.status in ("creator", "administrator")

    def to_api(self, chat_type: ChatType) -> JSON:
        data: JSON = {"status": self.status, "user": self.user.to_api()}
        if self.status == "creator":
            data["is_anonymous"] = self.is_anonymous
        elif self.status == "administrator":
            data["is_anonymous"] = self.is_anonymous
            data.update(_admin_rights(chat_type))
        elif self.status == "kicked":
            data["until_date"] = 0
        if self.custom_title and self.is_admin:
            data["custom_title"] = self.custom_title
        return data


@dataclass(eq=False)
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: Literal["photo", "document"]
    file_path: str
    data: bytes
    file_name: str | None = None
    mime_type: str | None = None
    width: int = 0
    height: int = 0
    # A photo or document the bot sent by URL: the sandbox never fetches it.
    source_url: str | None = None

    def photo_sizes(self) -> list[JSON]:
        return [
            {
                "file_id": self.file_id,
                "file_unique_id": self.file_unique_id,
                "width": self.width,
                "height": self.height,
                "file_size": len(self.data),
            }
        ]

    def document(self) -> JSON:
        data: JSON = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
        }
        if self.file_name:
            data["file_name"] = self.file_name
        if self.mime_type:
            data["mime_type"] = self.mime_type
        return data

    def file_info(self) -> JSON:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }

    def to_record(self) -> JSON:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_name": self.file_name,
            "mime_type": self.mime_type,
            "file_size": len(self.data),
            "width": self.width or None,
            "height": self.height or None,
            "source_url": self.source_url,
            "url": f"/control/files/{self.file_id}",
        }


@dataclass(eq=False)
class Chat:
    id: int
    type: ChatType
    title: str | None = None
    username: str | None = None
    # The other party of a private chat.
    user: User | None = None
    description: str | None = None
    members: dict[int, Member] = field(default_factory=dict)
    messages: list[StoredMessage] = field(default_factory=list, repr=False)
    by_id: dict[int, StoredMessage] = field(default_factory=dict, repr=False)
    callback_answers: list[JSON] = field(default_factory=list, repr=False)
    next_message_id: int = 1
    # Bumped on every change to the transcript, so readers can wait for "anything new".
    version: int = 0
    migrated_to: int | None = None
    migrated_from: int | None = None
    bot_blocked: bool = False
    pinned_message_id: int | None = None

    @property
    def is_private(self) -> bool:
        return self.type == "private"

    def member(self, user_id: int) -> Member | None:
        return self.members.get(user_id)

    def is_present(self, user_id: int) -> bool:
        member = self.members.get(user_id)
        return member is not None and member.present

    def to_api(self) -> JSON:
        data: JSON = {"id": self.id, "type": self.type}
        if self.user is not None:
            data["first_name"] = self.user.first_name
            if self.user.last_name:
                data["last_name"] = self.user.last_name
            if self.user.username:
                data["username"] = self.user.username
        else:
            data["title"] = self.title or ""
            if self.username:
                data["username"] = self.username
        return data

    def full_info(self) -> JSON:
        data = self.to_api()
        data.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        if self.description:
            data["description"] = self.description
        pinned = self.by_id.get(self.pinned_message_id or 0)
        if pinned is not None and not pinned.deleted:
            data["pinned_message"] = pinned.to_api(nested=True)
        if self.migrated_from is not None:
            data["migrated_from_chat_id"] = self.migrated_from
        return data

    def to_record(self) -> JSON:
        return {
            **self.to_api(),
            "members": [
                {**m.user.to_api(), "status": m.status, "custom_title": m.custom_title}
                for m in self.members.values()
            ],
            "message_count": len(self.messages),
            "version": self.version,
            "migrated_to_chat_id": self.migrated_to,
            "migrated_from_chat_id": self.migrated_from,
            "bot_blocked": self.bot_blocked,
        }


@dataclass(eq=False)
class StoredMessage:
    chat: Chat = field(repr=False)
    message_id: int
    # Sandbox-wide order of creation, so waiters can say "after this point" across chats.
    seq: int
    date: int
    sender: User | None
    from_bot: bool = False
    sender_chat: Chat | None = field(default=None, repr=False)
    author_signature: str | None = None
    text: str | None = None
    caption: str | None = None
    entities: list[Entity] = field(default_factory=list)
    # The text or caption exactly as the bot sent it, before parse_mode was applied.
    source: str | None = None
    parse_mode: str | None = None
    photo: StoredFile | None = None
    document: StoredFile | None = None
    reply_to: StoredMessage | None = field(default=None, repr=False)
    reply_markup: JSON | None = None
    forward_origin: JSON | None = None
    service: JSON = field(default_factory=dict)
    disable_notification: bool = False
    edit_date: int | None = None
    edits: list[JSON] = field(default_factory=list)
    deleted: bool = False

    @property
    def has_media(self) -> bool:
        return self.photo is not None or self.document is not None

    def record_edit(self, now: int) -> None:
        """Keep the current version in `edits` before it is changed."""
        self.edits.append(
            {
                "text": self.text,
                "caption": self.caption,
                "reply_markup": self.reply_markup,
                "date": self.edit_date or self.date,
            }
        )
        self.edit_date = now

    def to_api(self, *, nested: bool = False) -> JSON:
        data: JSON = {"message_id": self.message_id, "date": self.date, "chat": self.chat.to_api()}
        if self.sender is not None:
            data["from"] = self.sender.to_api()
        if self.sender_chat is not None:
            data["sender_chat"] = self.sender_chat.to_api()
        if self.author_signature:
            data["author_signature"] = self.author_signature
        if self.forward_origin:
            data["forward_origin"] = self.forward_origin
        # Telegram nests one level only: a replied-to message carries no reply of its own.
        if self.reply_to is not None and not nested and not self.reply_to.deleted:
            data["reply_to_message"] = self.reply_to.to_api(nested=True)
        if self.edit_date:
            data["edit_date"] = self.edit_date
        if self.text is not None:
            data["text"] = self.text
            if self.entities:
                data["entities"] = self.entities
        if self.photo is not None:
            data["photo"] = self.photo.photo_sizes()
        if self.document is not None:
            data["document"] = self.document.document()
        if self.caption is not None:
            data["caption"] = self.caption
            if self.entities:
                data["caption_entities"] = self.entities
        # Only inline keyboards belong to a message; reply keyboards live in the client.
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            data["reply_markup"] = {"inline_keyboard": self.reply_markup["inline_keyboard"]}
        data.update(self.service)
        return data

    def to_record(self) -> JSON:
        """The transcript view: everything a test or the web chat wants to look at."""
        body = self.text if self.text is not None else self.caption
        return {
            "seq": self.seq,
            "chat_id": self.chat.id,
            "message_id": self.message_id,
            "date": self.date,
            "from": self.sender.to_api() if self.sender else None,
            "sender_chat": self.sender_chat.to_api() if self.sender_chat else None,
            "author_signature": self.author_signature,
            "is_bot": self.from_bot,
            "text": self.text,
            "caption": self.caption,
            "entities": self.entities,
            "html": to_safe_html(body, self.entities) if body is not None else None,
            "source": self.source,
            "parse_mode": self.parse_mode,
            "photo": self.photo.to_record() if self.photo else None,
            "document": self.document.to_record() if self.document else None,
            "reply_to": self.reply_to.message_id if self.reply_to else None,
            "reply_markup": self.reply_markup,
            "forward_origin": self.forward_origin,
            "service": self.service or None,
            "disable_notification": self.disable_notification,
            "edited": self.edit_date is not None,
            "edit_date": self.edit_date,
            "edits": self.edits,
            "deleted": self.deleted,
        }


@dataclass(eq=False)
class CallbackRecord:
    id: str
    message: StoredMessage
    from_user: User
    data: str | None
    answer: JSON | None = None

    def to_json(self) -> JSON:
        return {
            "callback_query_id": self.id,
            "chat_id": self.message.chat.id,
            "message_id": self.message.message_id,
            "from_user_id": self.from_user.id,
            "data": self.data,
            "answered": self.answer is not None,
            "answer": self.answer,
        }
