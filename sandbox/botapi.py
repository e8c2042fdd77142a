"""The Bot API: /bot<token>/<method> and /file/bot<token>/<path>, in Telegram's wire format."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from .errors import NOT_FOUND, UNAUTHORIZED, ApiError, bad_request, conflict, too_many_requests
from .files import FileKind
from .model import JSON, Chat, Member, StoredFile, StoredMessage
from .params import Params, UploadedFile, parse_body
from .state import Sandbox
from .textfmt import MAX_CAPTION_LENGTH, MAX_TEXT_LENGTH, Entity, check_length, format_text

Handler = Callable[["BotApi", Params], Awaitable[Any]]
_METHODS: dict[str, tuple[str, Handler]] = {}


def api_method(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        # Telegram matches method names case-insensitively.
        _METHODS[name.lower()] = (name, handler)
        return handler

    return register


def method_names() -> list[str]:
    return sorted(name for name, _ in _METHODS.values())


_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
_BUTTON_ACTIONS = frozenset(
    {
        "callback_data",
        "url",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
)
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


class BotApi:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox

    # -- shared checks ------------------------------------------------------------------

    def _chat(self, p: Params, *, allow_blocked: bool = False) -> Chat:
        return self.sb.chat_for_bot(p.chat_ref(), allow_blocked=allow_blocked)

    def _writable_chat(self, p: Params) -> Chat:
        chat = self._chat(p)
        if chat.type == "channel" and not chat.members[self.sb.bot.id].is_admin:
            raise bad_request("need administrator rights in the channel chat")
        return chat

    def _admit(self, chat: Chat) -> None:
        retry_after = self.sb.rate_limiter.acquire(chat.id, chat.is_private)
        if retry_after is not None:
            self.sb.stats.rate_limited += 1
            raise too_many_requests(retry_after)

    def _reply_target(self, chat: Chat, p: Params) -> StoredMessage | None:
        reply = p.obj("reply_parameters")
        if isinstance(reply, dict):
            message_id, allow_missing = (
                reply.get("message_id"),
                reply.get("allow_sending_without_reply"),
            )
        else:
            message_id = p.integer("reply_to_message_id")
            allow_missing = p.flag("allow_sending_without_reply")
        if message_id is None:
            return None
        target = self.sb.message(chat, int(message_id))
        if target is None and not allow_missing:
            raise bad_request("message to be replied not found")
        return target

    def _markup(self, p: Params) -> JSON | None:
        error = "can't parse reply keyboard markup JSON object"
        markup = p.obj("reply_markup", error)
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request(error)
        if "inline_keyboard" not in markup:
            return markup  # reply keyboards, ForceReply, ReplyKeyboardRemove: kept as sent
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise bad_request("can't parse inline keyboard button: Text must be non-empty")
                if not _BUTTON_ACTIONS & set(button):
                    raise bad_request(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise bad_request("BUTTON_DATA_INVALID")
                url = button.get("url")
                if url is not None and urlsplit(str(url)).scheme not in ("http", "https", "tg"):
                    raise bad_request(f"inline keyboard button URL '{url}' is invalid")
        return markup

    @staticmethod
    def _entities(p: Params, name: str) -> list[Entity] | None:
        value = p.obj(name)
        if value is None:
            return None
        keys = {"type", "offset", "length"}
        if not isinstance(value, list) or not all(
            isinstance(e, dict) and keys <= e.keys() for e in value
        ):
            raise bad_request(f"can't parse {name} JSON object")
        return value

    def _body_text(self, p: Params) -> tuple[str, str, list[Entity]]:
        source = p.text("text") or ""
        text, entities = format_text(source, p.text("parse_mode"), self._entities(p, "entities"))
        if not text.strip():
            raise bad_request("message text is empty")
        check_length(text, MAX_TEXT_LENGTH, bad_request("message is too long"))
        return source, text, entities

    def _caption(self, p: Params) -> tuple[str | None, str | None, list[Entity]]:
        source = p.text("caption")
        if source is None:
            return None, None, []
        caption, entities = format_text(
            source, p.text("parse_mode"), self._entities(p, "caption_entities")
        )
        check_length(caption, MAX_CAPTION_LENGTH, bad_request("message caption is too long"))
        return source, caption, entities

    def _input_file(self, p: Params, kind: FileKind) -> StoredFile:
        value = p.input_file(kind)
        if value is None:
            raise bad_request(f"there is no {kind} in the request")
        if isinstance(value, UploadedFile):
            if not value.data:
                raise bad_request("file must be non-empty")
            return self.sb.files.add(
                kind, value.data, file_name=value.filename, mime_type=value.content_type
            )
        if value.startswith(("http://", "https://")):
            # The sandbox never fetches: it records the URL and serves a placeholder.
            name = PurePosixPath(urlsplit(value).path).name or None
            return self.sb.files.add(kind, None, file_name=name, source_url=value)
        stored = self.sb.files.get(value)
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return stored

    def _bot_message(self, p: Params, not_found: str) -> StoredMessage:
        if p.has("inline_message_id"):
            raise bad_request("inline messages are not supported by the sandbox")
        chat = self._chat(p)
        message_id = p.integer("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        message = self.sb.message(chat, message_id)
        if message is None:
            raise bad_request(not_found)
        if not message.from_bot:
            raise bad_request("message can't be edited")
        return message

    def _post(
        self, chat: Chat, p: Params, *, reply_markup: JSON | None, **fields: Any
    ) -> StoredMessage:
        reply_to = self._reply_target(chat, p)
        self._admit(chat)
        return self.sb.post_as_bot(
            chat,
            reply_to=reply_to,
            reply_markup=reply_markup,
            disable_notification=p.flag("disable_notification"),
            **fields,
        )

    # -- bot and updates ----------------------------------------------------------------

    @api_method("getMe")
    async def get_me(self, p: Params) -> JSON:
        return {
            **self.sb.bot.to_api(),
            "can_join_groups": True,
            "can_read_all_group_messages": not self.sb.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    @api_method("getUpdates")
    async def get_updates(self, p: Params) -> list[JSON]:
        sb = self.sb
        if sb.webhook is not None:
            raise conflict(
                "can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first"
            )
        limit = max(1, min(p.integer("limit") or 100, 100))
        timeout = max(0.0, min(p.number("timeout") or 0.0, 50.0))
        allowed = p.obj("allowed_updates")
        if isinstance(allowed, list):
            sb.updates.set_allowed([str(kind) for kind in allowed])
        offset = p.integer("offset")
        if offset:
            sb.updates.confirm(offset)
        sb.poll_generation += 1
        ticket = sb.poll_generation
        sb.pulse.fire()
        await sb.pulse.wait_until(
            lambda: (
                ticket != sb.poll_generation
                or sb.closed
                or sb.webhook is not None
                or len(sb.updates) > 0
            ),
            timeout,
        )
        if ticket != sb.poll_generation:
            raise conflict(
                "terminated by other getUpdates request; "
                "make sure that only one bot instance is running"
            )
        updates = sb.updates.take(limit)
        if updates:
            sb.mark_activity()
        return updates

    @api_method("setWebhook")
    async def set_webhook(self, p: Params) -> bool:
        url = p.text("url") or ""
        if p.flag("drop_pending_updates"):
            self.sb.updates.clear()
        if not url:
            await self.sb.delete_webhook()
            return True
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise bad_request("bad webhook: invalid webhook URL specified")
        secret = p.text("secret_token")
        if secret is not None and not _SECRET_TOKEN.match(secret):
            raise bad_request("secret token contains unallowed characters")
        allowed = p.obj("allowed_updates")
        if isinstance(allowed, list):
            self.sb.updates.set_allowed([str(kind) for kind in allowed])
        await self.sb.set_webhook(
            url, secret_token=secret, max_connections=p.integer("max_connections") or 40
        )
        return True

    @api_method("deleteWebhook")
    async def delete_webhook(self, p: Params) -> bool:
        if p.flag("drop_pending_updates"):
            self.sb.updates.clear()
        await self.sb.delete_webhook()
        return True

    @api_method("getWebhookInfo")
    async def get_webhook_info(self, p: Params) -> JSON:
        if self.sb.webhook is not None:
            return self.sb.webhook.info()
        return {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.sb.updates),
        }

    # -- sending ------------------------------------------------------------------------

    @api_method("sendMessage")
    async def send_message(self, p: Params) -> JSON:
        chat = self._writable_chat(p)
        source, text, entities = self._body_text(p)
        message = self._post(
            chat,
            p,
            reply_markup=self._markup(p),
            text=text,
            entities=entities,
            source=source,
            parse_mode=p.text("parse_mode"),
        )
        return message.to_api()

    async def _send_media(self, p: Params, kind: FileKind) -> JSON:
        chat = self._writable_chat(p)
        stored = self._input_file(p, kind)
        source, caption, entities = self._caption(p)
        message = self._post(
            chat,
            p,
            reply_markup=self._markup(p),
            caption=caption,
            entities=entities,
            source=source,
            parse_mode=p.text("parse_mode"),
            **{kind: stored},
        )
        return message.to_api()

    @api_method("sendPhoto")
    async def send_photo(self, p: Params) -> JSON:
        return await self._send_media(p, "photo")

    @api_method("sendDocument")
    async def send_document(self, p: Params) -> JSON:
        return await self._send_media(p, "document")

    def _source_message(self, p: Params, not_found: str) -> StoredMessage:
        source_chat = self.sb.chat_for_bot(p.chat_ref("from_chat_id"))
        message_id = p.integer("message_id")
        original = self.sb.message(source_chat, message_id) if message_id is not None else None
        if original is None or original.service:
            raise bad_request(not_found)
        return original

    @api_method("forwardMessage")
    async def forward_message(self, p: Params) -> JSON:
        original = self._source_message(p, "message to forward not found")
        chat = self._writable_chat(p)
        origin: JSON
        if original.sender_chat is not None and original.sender_chat.type == "channel":
            origin = {
                "type": "channel",
                "chat": original.sender_chat.to_api(),
                "message_id": original.message_id,
                "date": original.date,
            }
        elif original.sender_chat is not None:
            origin = {
                "type": "chat",
                "sender_chat": original.sender_chat.to_api(),
                "date": original.date,
            }
        else:
            assert original.sender is not None
            origin = {
                "type": "user",
                "sender_user": original.sender.to_api(),
                "date": original.date,
            }
        message = self._post(
            chat,
            p,
            reply_markup=None,
            text=original.text,
            caption=original.caption,
            entities=list(original.entities),
            photo=original.photo,
            document=original.document,
            forward_origin=origin,
        )
        return message.to_api()

    @api_method("copyMessage")
    async def copy_message(self, p: Params) -> JSON:
        original = self._source_message(p, "message to copy not found")
        chat = self._writable_chat(p)
        caption, entities, source = original.caption, list(original.entities), original.source
        if original.has_media and p.text("caption") is not None:
            source, caption, entities = self._caption(p)
        message = self._post(
            chat,
            p,
            reply_markup=self._markup(p),
            text=original.text,
            caption=caption,
            entities=entities,
            source=source,
            photo=original.photo,
            document=original.document,
        )
        return {"message_id": message.message_id}

    @api_method("sendChatAction")
    async def send_chat_action(self, p: Params) -> bool:
        self._writable_chat(p)
        if p.text("action") not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    # -- editing and deleting -----------------------------------------------------------

    @api_method("editMessageText")
    async def edit_message_text(self, p: Params) -> JSON:
        message = self._bot_message(p, "message to edit not found")
        if message.text is None:
            raise bad_request("there is no text in the message to edit")
        source, text, entities = self._body_text(p)
        # As on Telegram, an edit without reply_markup removes the inline keyboard.
        markup = self._markup(p)
        if (text, entities, markup) == (message.text, message.entities, message.reply_markup):
            raise bad_request(_NOT_MODIFIED)
        message.record_edit(self.sb.now_unix())
        message.text, message.entities, message.source = text, entities, source
        message.parse_mode, message.reply_markup = p.text("parse_mode"), markup
        self.sb.bot_changed(message)
        return message.to_api()

    @api_method("editMessageCaption")
    async def edit_message_caption(self, p: Params) -> JSON:
        message = self._bot_message(p, "message to edit not found")
        if not message.has_media:
            raise bad_request("there is no caption in the message to edit")
        source, caption, entities = self._caption(p)
        markup = self._markup(p)
        current = (message.caption, message.entities, message.reply_markup)
        if (caption, entities, markup) == current:
            raise bad_request(_NOT_MODIFIED)
        message.record_edit(self.sb.now_unix())
        message.caption, message.entities, message.source = caption, entities, source
        message.parse_mode, message.reply_markup = p.text("parse_mode"), markup
        self.sb.bot_changed(message)
        return message.to_api()

    @api_method("editMessageReplyMarkup")
    async def edit_message_reply_markup(self, p: Params) -> JSON:
        message = self._bot_message(p, "message to edit not found")
        markup = self._markup(p)
        if markup == message.reply_markup:
            raise bad_request(_NOT_MODIFIED)
        message.record_edit(self.sb.now_unix())
        message.reply_markup = markup
        self.sb.bot_changed(message)
        return message.to_api()

    def _delete(self, chat: Chat, message_id: int) -> bool:
        message = self.sb.message(chat, message_id)
        if message is None:
            return False
        bot = chat.members.get(self.sb.bot.id)
        if not (message.from_bot or chat.is_private or (bot is not None and bot.is_admin)):
            raise bad_request("message can't be deleted")
        message.deleted = True
        self.sb.bot_changed(message)
        return True

    @api_method("deleteMessage")
    async def delete_message(self, p: Params) -> bool:
        chat = self._chat(p)
        message_id = p.integer("message_id")
        if message_id is None or not self._delete(chat, message_id):
            raise bad_request("message to delete not found")
        return True

    @api_method("deleteMessages")
    async def delete_messages(self, p: Params) -> bool:
        chat = self._chat(p)
        ids = p.obj("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise bad_request("message_ids must be a list of 1-100 message identifiers")
        deleted = [self._delete(chat, int(message_id)) for message_id in ids]
        if not any(deleted):
            raise bad_request("message to delete not found")
        return True

    @api_method("answerCallbackQuery")
    async def answer_callback_query(self, p: Params) -> bool:
        query_id = p.required_text("callback_query_id", "query_id is empty")
        record = self.sb.callbacks.get(query_id)
        if record is None or record.answer is not None:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        self.sb.add_callback_answer(
            record,
            {
                "text": p.text("text"),
                "show_alert": p.flag("show_alert"),
                "url": p.text("url"),
                "cache_time": p.integer("cache_time") or 0,
            },
        )
        return True

    # -- chats and members --------------------------------------------------------------

    @api_method("getChat")
    async def get_chat(self, p: Params) -> JSON:
        return self._chat(p, allow_blocked=True).full_info()

    @api_method("getChatMember")
    async def get_chat_member(self, p: Params) -> JSON:
        chat = self._chat(p, allow_blocked=True)
        user_id = p.integer("user_id")
        user = self.sb.users.get(user_id) if user_id is not None else None
        if user is None:
            raise bad_request("user not found")
        return (chat.member(user.id) or Member(user, "left")).to_api(chat.type)

    @api_method("getChatAdministrators")
    async def get_chat_administrators(self, p: Params) -> list[JSON]:
        chat = self._chat(p, allow_blocked=True)
        if chat.is_private:
            raise bad_request("there are no administrators in the private chat")
        return [m.to_api(chat.type) for m in chat.members.values() if m.is_admin]

    @api_method("getChatMemberCount")
    async def get_chat_member_count(self, p: Params) -> int:
        chat = self._chat(p, allow_blocked=True)
        return sum(1 for m in chat.members.values() if m.present)

    @api_method("leaveChat")
    async def leave_chat(self, p: Params) -> bool:
        self.sb.leave(self._chat(p))
        return True

    @api_method("pinChatMessage")
    async def pin_chat_message(self, p: Params) -> bool:
        chat = self._chat(p)
        message_id = p.integer("message_id")
        message = self.sb.message(chat, message_id) if message_id is not None else None
        if message is None:
            raise bad_request("message to pin not found")
        bot = chat.members.get(self.sb.bot.id)
        if not chat.is_private and not (bot is not None and bot.is_admin):
            raise bad_request("not enough rights to manage pinned messages in the chat")
        chat.pinned_message_id = message.message_id
        self.sb.bot_changed(message)
        return True

    @api_method("unpinChatMessage")
    async def unpin_chat_message(self, p: Params) -> bool:
        chat = self._chat(p)
        chat.pinned_message_id = None
        return True

    @api_method("unpinAllChatMessages")
    async def unpin_all_chat_messages(self, p: Params) -> bool:
        self._chat(p).pinned_message_id = None
        return True

    # -- commands, profile and files ----------------------------------------------------

    @staticmethod
    def _commands_key(p: Params) -> str:
        scope = p.obj("scope") or {"type": "default"}
        if not isinstance(scope, dict):
            raise bad_request("can't parse BotCommandScope JSON object")
        parts = [f"{key}={scope[key]}" for key in sorted(scope)]
        return ";".join([*parts, f"lang={p.text('language_code') or ''}"])

    @api_method("setMyCommands")
    async def set_my_commands(self, p: Params) -> bool:
        commands = p.obj("commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        cleaned = []
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND_NAME.match(
                str(command.get("command"))
            ):
                raise bad_request("BOT_COMMAND_INVALID")
            description = str(command.get("description") or "")
            if not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": command["command"], "description": description})
        self.sb.commands[self._commands_key(p)] = cleaned
        return True

    @api_method("getMyCommands")
    async def get_my_commands(self, p: Params) -> list[JSON]:
        return self.sb.commands.get(self._commands_key(p), [])

    @api_method("deleteMyCommands")
    async def delete_my_commands(self, p: Params) -> bool:
        self.sb.commands.pop(self._commands_key(p), None)
        return True

    def _profile_setting(self, field: str, p: Params) -> bool:
        key = f"{field}:{p.text('language_code') or ''}"
        self.sb.bot_settings[key] = p.text(field) or ""
        return True

    def _profile_value(self, field: str, p: Params, default: str) -> JSON:
        return {
            field: self.sb.bot_settings.get(f"{field}:{p.text('language_code') or ''}", default)
        }

    @api_method("setMyName")
    async def set_my_name(self, p: Params) -> bool:
        return self._profile_setting("name", p)

    @api_method("getMyName")
    async def get_my_name(self, p: Params) -> JSON:
        return self._profile_value("name", p, self.sb.bot.first_name)

    @api_method("setMyDescription")
    async def set_my_description(self, p: Params) -> bool:
        return self._profile_setting("description", p)

    @api_method("getMyDescription")
    async def get_my_description(self, p: Params) -> JSON:
        return self._profile_value("description", p, "")

    @api_method("setMyShortDescription")
    async def set_my_short_description(self, p: Params) -> bool:
        return self._profile_setting("short_description", p)

    @api_method("getMyShortDescription")
    async def get_my_short_description(self, p: Params) -> JSON:
        return self._profile_value("short_description", p, "")

    @api_method("setChatMenuButton")
    async def set_chat_menu_button(self, p: Params) -> bool:
        self.sb.bot_settings[f"menu_button:{p.text('chat_id') or ''}"] = p.obj("menu_button")
        return True

    @api_method("getChatMenuButton")
    async def get_chat_menu_button(self, p: Params) -> JSON:
        stored = self.sb.bot_settings.get(f"menu_button:{p.text('chat_id') or ''}")
        return stored if isinstance(stored, dict) else {"type": "default"}

    @api_method("setMyDefaultAdministratorRights")
    async def set_my_default_administrator_rights(self, p: Params) -> bool:
        return True

    @api_method("getFile")
    async def get_file(self, p: Params) -> JSON:
        stored = self.sb.files.get(p.required_text("file_id"))
        if stored is None:
            raise bad_request("invalid file_id")
        return stored.file_info()

    @api_method("logOut")
    async def log_out(self, p: Params) -> bool:
        return True

    @api_method("close")
    async def close(self, p: Params) -> bool:
        return True


# -- HTTP ---------------------------------------------------------------------------------


def _respond(sb: Sandbox, status: int, body: JSON) -> JSONResponse:
    sb.stats.responses[status] += 1
    return JSONResponse(body, status_code=status)


def _error(sb: Sandbox, error: ApiError) -> JSONResponse:
    return _respond(sb, error.code, error.to_json())


async def _hold(sb: Sandbox, request: Request, seconds: float) -> None:
    """Sit on a request, as a stalled Telegram would, until the client gives up."""
    gone = False

    async def watch_disconnect() -> None:
        nonlocal gone
        while (await request.receive())["type"] != "http.disconnect":
            pass
        gone = True
        sb.pulse.fire()

    watcher = asyncio.create_task(watch_disconnect())
    try:
        await sb.pulse.wait_until(lambda: gone or sb.closed, seconds)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def bot_endpoint(request: Request) -> Response:
    sb: Sandbox = request.app.state.sandbox
    api: BotApi = request.app.state.bot_api
    if request.path_params["token"] != sb.token:
        return _error(sb, UNAUTHORIZED)
    found = _METHODS.get(request.path_params["method"].lower())
    sb.stats.calls[found[0] if found else request.path_params["method"]] += 1
    if found is None:
        return _error(sb, NOT_FOUND)
    name, handler = found
    try:
        body = await request.body()
    except ClientDisconnect:
        return Response(status_code=400)  # nobody is left to read it
    try:
        values, files = parse_body(body, request.headers.get("content-type", ""))
    except ValueError:
        return _error(sb, bad_request("can't parse request body"))
    params = Params({**request.query_params, **values}, files)

    async def run() -> JSONResponse:
        try:
            result = await handler(api, params)
        except ApiError as error:
            return _error(sb, error)
        return _respond(sb, 200, {"ok": True, "result": result})

    # A long poll is the bot waiting, not the bot working (see Sandbox.wait_idle).
    working = name != "getUpdates"
    if working:
        sb.call_started()
    try:
        fault = sb.faults.draw(name, params.chat_hint())
        if fault is None:
            return await run()
        if fault.kind == "server_error":
            sb.stats.injected_server_errors += 1
            phrase = HTTPStatus(fault.status).phrase
            return _error(sb, ApiError(fault.status, phrase))
        if fault.kind == "flood":
            sb.stats.injected_flood += 1
            return _error(sb, too_many_requests(fault.retry_after))
        sb.stats.injected_timeouts += 1
        if fault.delivered:
            response = await run()
        else:
            response = _error(sb, ApiError(504, "Gateway Timeout"))
        await _hold(sb, request, fault.hold_seconds)
        return response
    finally:
        if working:
            sb.call_finished()


async def file_endpoint(request: Request) -> Response:
    sb: Sandbox = request.app.state.sandbox
    if request.path_params["token"] != sb.token:
        return JSONResponse(UNAUTHORIZED.to_json(), status_code=401)
    stored = sb.files.by_path(request.path_params["path"])
    if stored is None:
        return JSONResponse(NOT_FOUND.to_json(), status_code=404)
    return Response(stored.data, media_type=stored.mime_type or "application/octet-stream")
