"""The control API under /control/: play the people, read transcripts, inject trouble."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .errors import SandboxError
from .faults import FaultConfig, OneShotFault
from .files import FileKind
from .model import CHAT_TYPES, JSON, StoredFile
from .state import Sandbox

Endpoint = Callable[[Request, Sandbox], Awaitable[Any]]
_MAX_WAIT = 300.0


def _endpoint(handler: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        sandbox: Sandbox = request.app.state.sandbox
        try:
            result = await handler(request, sandbox)
        except SandboxError as error:
            return JSONResponse({"error": error.message}, status_code=error.status)
        except (ValueError, TypeError, KeyError) as error:
            return JSONResponse({"error": f"bad request: {error}"}, status_code=400)
        except TimeoutError as error:
            return JSONResponse({"error": str(error)}, status_code=408)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is left to read it
        if isinstance(result, Response):
            return result
        return JSONResponse(result)

    return endpoint


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _path_id(request: Request, name: str) -> int:
    # Starlette's int convertor rejects the minus sign every group id starts with.
    try:
        return int(request.path_params[name])
    except ValueError:
        raise SandboxError(f"{name} must be an integer", 404) from None


def _opt_int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def _wait_seconds(value: Any) -> float:
    return min(max(float(value or 0), 0.0), _MAX_WAIT)


# -- bot, users, chats -----------------------------------------------------------------------


async def reset(request: Request, sb: Sandbox) -> JSON:
    await sb.reset()
    return {"ok": True}


async def bot(request: Request, sb: Sandbox) -> JSON:
    return {
        **sb.bot.to_api(),
        "token": sb.token,
        "privacy_mode": sb.privacy_mode,
        "webhook": sb.webhook.info() if sb.webhook else None,
        "pending_updates": len(sb.updates),
        "commands": sb.commands,
        "has_clock": sb.clock_now is not None or sb.on_clock_advance is not None,
    }


async def list_users(request: Request, sb: Sandbox) -> list[JSON]:
    return [u.to_api() for u in sb.users.values()]


async def create_user(request: Request, sb: Sandbox) -> JSON:
    body = await _body(request)
    user = sb.create_user(
        str(body.get("first_name") or "User"),
        id=_opt_int(body.get("id")),
        last_name=body.get("last_name"),
        username=body.get("username"),
        language_code=body.get("language_code"),
        is_premium=bool(body.get("is_premium", False)),
    )
    return user.to_api()


async def get_user(request: Request, sb: Sandbox) -> JSON:
    return sb.user(_path_id(request, "user_id")).to_api()


async def block_bot(request: Request, sb: Sandbox) -> JSON:
    return sb.block_bot(_path_id(request, "user_id")).to_record()


async def unblock_bot(request: Request, sb: Sandbox) -> JSON:
    return sb.unblock_bot(_path_id(request, "user_id")).to_record()


async def list_chats(request: Request, sb: Sandbox) -> list[JSON]:
    return [c.to_record() for c in sb.chats.values()]


async def create_chat(request: Request, sb: Sandbox) -> JSON:
    body = await _body(request)
    chat_type = body.get("type", "private")
    if chat_type not in CHAT_TYPES:
        raise ValueError(f"type must be one of {list(CHAT_TYPES)}")
    chat = sb.create_chat(
        chat_type,
        title=body.get("title"),
        user_id=_opt_int(body.get("user_id")),
        username=body.get("username"),
        description=body.get("description"),
        creator_id=_opt_int(body.get("creator_id")),
        members=[int(m) for m in body.get("members", [])],
        admins=[int(m) for m in body.get("admins", [])],
        with_bot=bool(body.get("with_bot", True)),
        bot_admin=bool(body.get("bot_admin", False)),
    )
    return chat.to_record()


async def get_chat(request: Request, sb: Sandbox) -> JSON:
    return sb.chat(_path_id(request, "chat_id")).to_record()


async def add_member(request: Request, sb: Sandbox) -> JSON:
    body = await _body(request)
    member = sb.add_member(
        _path_id(request, "chat_id"), int(body["user_id"]), by=_opt_int(body.get("by"))
    )
    return {"user_id": member.user.id, "status": member.status}


async def remove_member(request: Request, sb: Sandbox) -> JSON:
    query = request.query_params
    member = sb.remove_member(
        _path_id(request, "chat_id"),
        _path_id(request, "user_id"),
        by=_opt_int(query.get("by")),
        ban=query.get("ban", "").lower() in ("1", "true"),
    )
    return {"user_id": member.user.id, "status": member.status}


async def promote(request: Request, sb: Sandbox) -> JSON:
    body = await _body(request)
    member = sb.promote(
        _path_id(request, "chat_id"),
        _path_id(request, "user_id"),
        custom_title=body.get("custom_title"),
        is_anonymous=bool(body.get("is_anonymous", False)),
        by=_opt_int(body.get("by")),
    )
    return {"user_id": member.user.id, "status": member.status}


async def demote(request: Request, sb: Sandbox) -> JSON:
    body = await _body(request)
    member = sb.demote(
        _path_id(request, "chat_id"), _path_id(request, "user_id"), by=_opt_int(body.get("by"))
    )
    return {"user_id": member.user.id, "status": member.status}


async def kick_bot(request: Request, sb: Sandbox) -> JSON:
    body = await _body(request)
    member = sb.kick_bot(_path_id(request, "chat_id"), by=_opt_int(body.get("by")))
    return {"user_id": member.user.id, "status": member.status}


async def migrate(request: Request, sb: Sandbox) -> JSON:
    body = await _body(request)
    old_id = _path_id(request, "chat_id")
    new = sb.migrate(old_id, by=_opt_int(body.get("by")))
    return {"old_chat_id": old_id, "new_chat_id": new.id, "chat": new.to_record()}


# -- messages ---------------------------------------------------------------------------------


def _media(sb: Sandbox, kind: FileKind, spec: Any) -> StoredFile | None:
    """A file given as a name, {"file_id"}, or {"name", "data_base64", "mime_type"}."""
    if spec is None:
        return None
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict):
        raise ValueError(f"{kind} must be a name or an object")
    if "file_id" in spec:
        existing = sb.files.get(str(spec["file_id"]))
        if existing is None:
            raise SandboxError(f"no file {spec['file_id']}", 404)
        return existing
    data = None
    if spec.get("data_base64") is not None:
        try:
            data = base64.b64decode(spec["data_base64"], validate=True)
        except binascii.Error:
            raise ValueError("data_base64 is not valid base64") from None
    return sb.upload(kind, data, file_name=spec.get("name"), mime_type=spec.get("mime_type"))


async def transcript(request: Request, sb: Sandbox) -> JSON:
    chat = sb.chat(_path_id(request, "chat_id"))
    query = request.query_params
    after = _opt_int(query.get("after"))
    since_version = _opt_int(query.get("since_version"))
    wait = _wait_seconds(query.get("wait"))

    def fresh() -> bool:
        if after is not None:
            return bool(chat.messages) and chat.messages[-1].message_id > after
        if since_version is not None:
            # "Differs", not "greater": after a reset a chat id can come back at version 1.
            return chat.version != since_version
        return True

    if wait:
        await sb.pulse.wait_until(fresh, wait)
    messages = [m for m in chat.messages if after is None or m.message_id > after]
    return {
        "chat": chat.to_record(),
        "version": chat.version,
        "messages": [m.to_record() for m in messages],
        "callback_answers": chat.callback_answers,
    }


async def send_message(request: Request, sb: Sandbox) -> JSON:
    body = await _body(request)
    message = sb.send_as_user(
        _path_id(request, "chat_id"),
        from_user_id=_opt_int(body.get("from_user_id")),
        text=body.get("text"),
        caption=body.get("caption"),
        photo=_media(sb, "photo", body.get("photo")),
        document=_media(sb, "document", body.get("document")),
        reply_to=_opt_int(body.get("reply_to")),
        sender_chat_id=_opt_int(body.get("sender_chat_id")),
        anonymous_admin=bool(body.get("anonymous_admin", False)),
    )
    return message.to_record()


async def edit_message(request: Request, sb: Sandbox) -> JSON:
    body = await _body(request)
    message = sb.edit_as_user(
        _path_id(request, "chat_id"), _path_id(request, "message_id"), str(body["text"])
    )
    return message.to_record()


async def press_button(request: Request, sb: Sandbox) -> JSON:
    body = await _body(request)
    record = sb.press_button(
        _path_id(request, "chat_id"),
        _path_id(request, "message_id"),
        from_user_id=_opt_int(body.get("from_user_id")),
        data=body.get("data"),
        text=body.get("text"),
    )
    wait = _wait_seconds(body.get("wait"))
    if wait:
        await sb.pulse.wait_until(lambda: record.answer is not None, wait)
    return record.to_json()


async def callback(request: Request, sb: Sandbox) -> JSON:
    record = sb.callback(request.path_params["callback_query_id"])
    wait = _wait_seconds(request.query_params.get("wait"))
    if wait:
        await sb.pulse.wait_until(lambda: record.answer is not None, wait)
    return record.to_json()


async def file_content(request: Request, sb: Sandbox) -> Response:
    stored = sb.files.get(request.path_params["file_id"])
    if stored is None:
        raise SandboxError("no such file", 404)
    return Response(stored.data, media_type=stored.mime_type or "application/octet-stream")


# -- waiting ----------------------------------------------------------------------------------


async def cursor(request: Request, sb: Sandbox) -> JSON:
    return {"seq": sb.log[-1].seq if sb.log else 0}


async def wait_bot_messages(request: Request, sb: Sandbox) -> JSON:
    body = await _body(request)
    found = await sb.wait_for_bot_messages(
        int(body.get("count", 1)),
        chat_id=_opt_int(body.get("chat_id")),
        after_seq=int(body.get("after_seq", 0)),
        timeout=_wait_seconds(body.get("timeout", 10)),
    )
    return {"messages": [m.to_record() for m in found]}


async def wait_idle(request: Request, sb: Sandbox) -> JSON:
    body = await _body(request)
    await sb.wait_idle(
        quiet=float(body.get("quiet", 0.2)), timeout=_wait_seconds(body.get("timeout", 10))
    )
    return {"idle": True}


async def updates(request: Request, sb: Sandbox) -> JSON:
    return {
        "pending": sb.updates.take(100),
        "pending_count": len(sb.updates),
        "allowed_updates": sorted(sb.updates.allowed) if sb.updates.allowed else None,
        "webhook": sb.webhook.info() if sb.webhook else None,
    }


# -- stats, faults, rate limits, clock --------------------------------------------------------


async def stats(request: Request, sb: Sandbox) -> JSON:
    return sb.stats.to_json()


async def reset_stats(request: Request, sb: Sandbox) -> JSON:
    sb.stats.reset()
    return sb.stats.to_json()


def _faults_json(sb: Sandbox) -> JSON:
    return {
        "config": sb.faults.config.to_json(),
        "pending": [fault.to_json() for fault in sb.faults.pending],
    }


async def get_faults(request: Request, sb: Sandbox) -> JSON:
    return _faults_json(sb)


async def set_faults(request: Request, sb: Sandbox) -> JSON:
    body = await _body(request)
    sb.faults.configure(FaultConfig.from_json(body), seed=_opt_int(body.get("seed")))
    return _faults_json(sb)


async def add_fault(request: Request, sb: Sandbox) -> JSON:
    body = await _body(request)
    sb.faults.pending.append(OneShotFault.from_json(body))
    return _faults_json(sb)


async def clear_faults(request: Request, sb: Sandbox) -> JSON:
    sb.faults.clear()
    return _faults_json(sb)


async def get_rate_limits(request: Request, sb: Sandbox) -> JSON:
    return sb.rate_limiter.limits.to_json()


async def set_rate_limits(request: Request, sb: Sandbox) -> JSON:
    body = await _body(request)
    sb.rate_limiter.configure(sb.rate_limiter.limits.updated(body))
    return sb.rate_limiter.limits.to_json()


async def get_clock(request: Request, sb: Sandbox) -> JSON:
    return {"now": sb.clock().isoformat()}


async def advance_clock(request: Request, sb: Sandbox) -> JSON:
    body = await _body(request)
    moved = await sb.advance_clock(float(body["advance_seconds"]))
    return {"now": moved.isoformat()}


def control_routes() -> list[Route]:
    def route(path: str, handler: Endpoint, *methods: str) -> Route:
        return Route(f"/control{path}", _endpoint(handler), methods=list(methods))

    return [
        route("/reset", reset, "POST"),
        route("/bot", bot, "GET"),
        route("/users", list_users, "GET"),
        route("/users", create_user, "POST"),
        route("/users/{user_id}", get_user, "GET"),
        route("/users/{user_id}/block-bot", block_bot, "POST"),
        route("/users/{user_id}/unblock-bot", unblock_bot, "POST"),
        route("/chats", list_chats, "GET"),
        route("/chats", create_chat, "POST"),
        route("/chats/{chat_id}", get_chat, "GET"),
        route("/chats/{chat_id}/members", add_member, "POST"),
        route("/chats/{chat_id}/members/{user_id}", remove_member, "DELETE"),
        route("/chats/{chat_id}/members/{user_id}/promote", promote, "POST"),
        route("/chats/{chat_id}/members/{user_id}/demote", demote, "POST"),
        route("/chats/{chat_id}/kick-bot", kick_bot, "POST"),
        route("/chats/{chat_id}/migrate", migrate, "POST"),
        route("/chats/{chat_id}/messages", transcript, "GET"),
        route("/chats/{chat_id}/messages", send_message, "POST"),
        route("/chats/{chat_id}/messages/{message_id}", edit_message, "PATCH"),
        route("/chats/{chat_id}/messages/{message_id}/press", press_button, "POST"),
        route("/callbacks/{callback_query_id}", callback, "GET"),
        route("/files/{file_id}", file_content, "GET"),
        route("/cursor", cursor, "GET"),
        route("/wait/bot-messages", wait_bot_messages, "POST"),
        route("/wait/idle", wait_idle, "POST"),
        route("/updates", updates, "GET"),
        route("/stats", stats, "GET"),
        route("/stats/reset", reset_stats, "POST"),
        route("/faults", get_faults, "GET"),
        route("/faults", set_faults, "PUT"),
        route("/faults", clear_faults, "DELETE"),
        route("/faults/once", add_fault, "POST"),
        route("/rate-limits", get_rate_limits, "GET"),
        route("/rate-limits", set_rate_limits, "PUT"),
        route("/clock", get_clock, "GET"),
        route("/clock", advance_clock, "POST"),
    ]
