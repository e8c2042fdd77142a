"""An async Python client for the control API (see docs/sandbox.md for the shapes)."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from datetime import datetime
from types import TracebackType
from typing import Any, Literal

import httpx

JSON = dict[str, Any]
_WAIT_MARGIN = 5.0


class ControlError(Exception):
    """The control API refused a request."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


def _media(name: str | None, data: bytes | None, mime_type: str | None) -> JSON:
    spec: JSON = {"name": name}
    if data is not None:
        spec["data_base64"] = base64.b64encode(data).decode("ascii")
    if mime_type is not None:
        spec["mime_type"] = mime_type
    return spec


def _drop_none(values: dict[str, Any]) -> JSON:
    return {key: value for key, value in values.items() if value is not None}


class ControlClient:
    def __init__(self, control_url: str, *, timeout: float = 30.0) -> None:
        self._http = httpx.AsyncClient(base_url=control_url.rstrip("/"), timeout=timeout)

    async def __aenter__(self) -> ControlClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: JSON | None = None,
        params: JSON | None = None,
        wait: float = 0.0,
    ) -> Any:
        # A waiting request may legitimately take `wait` seconds; don't time it out earlier.
        timeout = httpx.USE_CLIENT_DEFAULT if not wait else wait + _WAIT_MARGIN
        response = await self._http.request(
            method,
            path,
            json=json,
            params=_drop_none(params) if params else None,
            timeout=timeout,
        )
        if response.status_code == 408:
            raise TimeoutError(response.json().get("error", "timed out"))
        if response.is_error:
            try:
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            raise ControlError(response.status_code, message)
        return response.json()

    async def _object(self, method: str, path: str, **kwargs: Any) -> JSON:
        result = await self._call(method, path, **kwargs)
        if not isinstance(result, dict):
            raise ControlError(200, f"expected a JSON object from {path}")
        return result

    async def _array(self, method: str, path: str, **kwargs: Any) -> list[JSON]:
        result = await self._call(method, path, **kwargs)
        if not isinstance(result, list):
            raise ControlError(200, f"expected a JSON array from {path}")
        return result

    # -- world ------------------------------------------------------------------------

    async def reset(self) -> None:
        await self._call("POST", "/reset")

    async def bot(self) -> JSON:
        return await self._object("GET", "/bot")

    async def create_user(
        self,
        first_name: str = "User",
        *,
        id: int | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        is_premium: bool = False,
    ) -> JSON:
        body = _drop_none(
            {
                "first_name": first_name,
                "id": id,
                "last_name": last_name,
                "username": username,
                "language_code": language_code,
                "is_premium": is_premium,
            }
        )
        return await self._object("POST", "/users", json=body)

    async def users(self) -> list[JSON]:
        return await self._array("GET", "/users")

    async def create_chat(
        self,
        type: Literal["private", "group", "supergroup", "channel"],
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
    ) -> JSON:
        body = _drop_none(
            {
                "type": type,
                "title": title,
                "user_id": user_id,
                "username": username,
                "description": description,
                "creator_id": creator_id,
                "members": list(members),
                "admins": list(admins),
                "with_bot": with_bot,
                "bot_admin": bot_admin,
            }
        )
        return await self._object("POST", "/chats", json=body)

    async def private_chat(self, first_name: str = "User", **user: Any) -> tuple[JSON, JSON]:
        """A new user who has started the bot: (user, chat)."""
        created = await self.create_user(first_name, **user)
        chat = await self.create_chat("private", user_id=created["id"])
        return created, chat

    async def chat(self, chat_id: int) -> JSON:
        return await self._object("GET", f"/chats/{chat_id}")

    async def chats(self) -> list[JSON]:
        return await self._array("GET", "/chats")

    async def add_member(self, chat_id: int, user_id: int, *, by: int | None = None) -> JSON:
        body = _drop_none({"user_id": user_id, "by": by})
        return await self._object("POST", f"/chats/{chat_id}/members", json=body)

    async def remove_member(
        self, chat_id: int, user_id: int, *, by: int | None = None, ban: bool = False
    ) -> JSON:
        params = {"by": by, "ban": "true" if ban else None}
        return await self._object("DELETE", f"/chats/{chat_id}/members/{user_id}", params=params)

    async def promote(
        self,
        chat_id: int,
        user_id: int,
        *,
        custom_title: str | None = None,
        is_anonymous: bool = False,
        by: int | None = None,
    ) -> JSON:
        body = _drop_none({"custom_title": custom_title, "is_anonymous": is_anonymous, "by": by})
        path = f"/chats/{chat_id}/members/{user_id}/promote"
        return await self._object("POST", path, json=body)

    async def demote(self, chat_id: int, user_id: int, *, by: int | None = None) -> JSON:
        path = f"/chats/{chat_id}/members/{user_id}/demote"
        return await self._object("POST", path, json=_drop_none({"by": by}))

    async def kick_bot(self, chat_id: int, *, by: int | None = None) -> JSON:
        return await self._object("POST", f"/chats/{chat_id}/kick-bot", json=_drop_none({"by": by}))

    async def block_bot(self, user_id: int) -> JSON:
        return await self._object("POST", f"/users/{user_id}/block-bot")

    async def unblock_bot(self, user_id: int) -> JSON:
        return await self._object("POST", f"/users/{user_id}/unblock-bot")

    async def migrate(self, chat_id: int, *, by: int | None = None) -> JSON:
        """Upgrade a group to a supergroup: {"old_chat_id", "new_chat_id", "chat"}."""
        return await self._object("POST", f"/chats/{chat_id}/migrate", json=_drop_none({"by": by}))

    # -- acting as people ---------------------------------------------------------------

    async def send_text(
        self,
        chat_id: int,
        text: str,
        *,
        from_user_id: int | None = None,
        reply_to: int | None = None,
        sender_chat_id: int | None = None,
        anonymous_admin: bool = False,
    ) -> JSON:
        body = _drop_none(
            {
                "text": text,
                "from_user_id": from_user_id,
                "reply_to": reply_to,
                "sender_chat_id": sender_chat_id,
                "anonymous_admin": anonymous_admin or None,
            }
        )
        return await self._object("POST", f"/chats/{chat_id}/messages", json=body)

    async def send_photo(
        self,
        chat_id: int,
        *,
        from_user_id: int | None = None,
        data: bytes | None = None,
        name: str = "photo.jpg",
        caption: str | None = None,
        reply_to: int | None = None,
    ) -> JSON:
        body = _drop_none(
            {
                "photo": _media(name, data, None),
                "caption": caption,
                "from_user_id": from_user_id,
                "reply_to": reply_to,
            }
        )
        return await self._object("POST", f"/chats/{chat_id}/messages", json=body)

    async def send_document(
        self,
        chat_id: int,
        *,
        from_user_id: int | None = None,
        data: bytes | None = None,
        name: str = "document.pdf",
        mime_type: str | None = None,
        caption: str | None = None,
        reply_to: int | None = None,
    ) -> JSON:
        body = _drop_none(
            {
                "document": _media(name, data, mime_type),
                "caption": caption,
                "from_user_id": from_user_id,
                "reply_to": reply_to,
            }
        )
        return await self._object("POST", f"/chats/{chat_id}/messages", json=body)

    async def edit_text(self, chat_id: int, message_id: int, text: str) -> JSON:
        path = f"/chats/{chat_id}/messages/{message_id}"
        return await self._object("PATCH", path, json={"text": text})

    async def press_button(
        self,
        chat_id: int,
        message_id: int,
        *,
        data: str | None = None,
        text: str | None = None,
        from_user_id: int | None = None,
        wait: float = 0.0,
    ) -> JSON:
        """Press a callback button; with wait > 0, return once the bot answered (or not)."""
        body = _drop_none({"data": data, "text": text, "from_user_id": from_user_id, "wait": wait})
        path = f"/chats/{chat_id}/messages/{message_id}/press"
        return await self._object("POST", path, json=body, wait=wait)

    async def callback_answer(self, callback_query_id: str, *, wait: float = 0.0) -> JSON:
        path = f"/callbacks/{callback_query_id}"
        return await self._object("GET", path, params={"wait": wait or None}, wait=wait)

    # -- reading and waiting ------------------------------------------------------------

    async def transcript(
        self,
        chat_id: int,
        *,
        after: int | None = None,
        since_version: int | None = None,
        wait: float = 0.0,
    ) -> JSON:
        params = {"after": after, "since_version": since_version, "wait": wait or None}
        return await self._object("GET", f"/chats/{chat_id}/messages", params=params, wait=wait)

    async def messages(
        self, chat_id: int, *, after: int | None = None, wait: float = 0.0
    ) -> list[JSON]:
        messages: list[JSON] = (await self.transcript(chat_id, after=after, wait=wait))["messages"]
        return messages

    async def cursor(self) -> int:
        """The seq of the newest message anywhere; pass it as after_seq to wait for replies."""
        return int((await self._object("GET", "/cursor"))["seq"])

    async def wait_for_bot_messages(
        self,
        count: int = 1,
        *,
        chat_id: int | None = None,
        after_seq: int = 0,
        # The deadline travels (to the server, into the error message), so it is a
        # parameter rather than the caller's asyncio.timeout().
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> list[JSON]:
        """The bot's messages after seq `after_seq`, once there are `count`; else TimeoutError."""
        body = _drop_none(
            {"count": count, "chat_id": chat_id, "after_seq": after_seq, "timeout": timeout}
        )
        found = await self._object("POST", "/wait/bot-messages", json=body, wait=timeout)
        messages: list[JSON] = found["messages"]
        return messages

    async def wait_idle(self, *, quiet: float = 0.2, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        body = {"quiet": quiet, "timeout": timeout}
        await self._call("POST", "/wait/idle", json=body, wait=timeout)

    async def updates(self) -> JSON:
        return await self._object("GET", "/updates")

    # -- stats, faults, limits, clock ---------------------------------------------------

    async def stats(self) -> JSON:
        return await self._object("GET", "/stats")

    async def reset_stats(self) -> JSON:
        return await self._object("POST", "/stats/reset")

    async def set_faults(self, **config: Any) -> JSON:
        """Replace the random fault config (FaultConfig fields, plus an optional seed)."""
        return await self._object("PUT", "/faults", json=config)

    async def add_fault(
        self,
        kind: Literal["server_error", "timeout", "flood"],
        *,
        method: str | None = None,
        chat_id: int | None = None,
        status: int | None = None,
        retry_after: int | None = None,
        timeout_seconds: float | None = None,
        delivered: bool | None = None,
    ) -> JSON:
        """Queue a one-shot fault for the next matching Bot API request."""
        body = _drop_none(
            {
                "kind": kind,
                "method": method,
                "chat_id": chat_id,
                "status": status,
                "retry_after": retry_after,
                "timeout_seconds": timeout_seconds,
                "delivered": delivered,
            }
        )
        return await self._object("POST", "/faults/once", json=body)

    async def clear_faults(self) -> JSON:
        return await self._object("DELETE", "/faults")

    async def rate_limits(self) -> JSON:
        return await self._object("GET", "/rate-limits")

    async def set_rate_limits(self, **changes: Any) -> JSON:
        """E.g. set_rate_limits(enabled=False) or private={"count": 1, "seconds": 1}."""
        return await self._object("PUT", "/rate-limits", json=changes)

    async def clock_now(self) -> datetime:
        return datetime.fromisoformat((await self._object("GET", "/clock"))["now"])

    async def advance_clock(self, seconds: float) -> datetime:
        moved = await self._object("POST", "/clock", json={"advance_seconds": seconds})
        return datetime.fromisoformat(moved["now"])
