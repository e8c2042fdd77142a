"""Key projects and their nodes at the edge: adding them, binding a project's group, progress
with evidence, asking for acceptance, the leader's decision, the timeline."""

from __future__ import annotations

import re

from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.edge import NodeApplication, Turn, transactional, transactional_after
from bot.handlers.basic import ROW_ID
from bot.handlers.hooks import CAPTION_COMMANDS, CONTINUATIONS
from bot.handlers.issues import attachments_of, text_after_command
from bot.handlers.setup import ask_chat_admin
from models.services import nodes
from models.services.issues import Attachment
from models.services.nodes import NodeArgs, Outcome, Refusal
from models.tables import Dialogue
from models.texts import is_keyword

BUTTONS = rf"^v1:(na|nr):{ROW_ID}$"
_BAR = re.compile(r"[|｜]")


def _parts(text: str) -> list[str]:
    """ "a | b｜c" → ["a", "b", "c"]: the fields of /addproject and /addnode."""
    return [part.strip() for part in _BAR.split(text)]


def _text(turn: Turn) -> str:
    message = turn.update.effective_message
    assert message is not None
    return text_after_command(message)


async def _refuse(turn: Turn, outcome: Outcome) -> None:
    await turn.answer("node_refused", refusal=nodes.refusal_params(outcome))


async def _usage(turn: Turn, command: str) -> None:
    await turn.reply("node_usage", usage_command=command)


async def _node_id(turn: Turn, ref: str) -> int | None:
    """The node a reference names, or None once the person is told it names none."""
    node_id = nodes.parse_node_ref(ref)
    if node_id is None:
        await _refuse(turn, nodes.refuse(Refusal.UNKNOWN_NODE, ref=ref[:32]))
    return node_id


async def _ack(turn: Turn, outcome: Outcome, action: str) -> None:
    if not outcome.ok:
        await _refuse(turn, outcome)
    else:
        await turn.answer("node_ack", node_action=action, node_view=outcome.detail["node"])


# --- projects and nodes -----------------------------------------------------------------------


@transactional
async def addproject(turn: Turn) -> None:
    """/addproject name | category | department | [@leader]"""
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    parts = _parts(_text(turn))
    if len(parts) not in (3, 4) or not parts[0]:
        await _usage(turn, "addproject")
        return
    leader = parts[3] if len(parts) == 4 else None
    outcome = await nodes.add_project(
        turn.session, turn.now, turn.contact, parts[0], parts[1], parts[2], leader
    )
    if not outcome.ok:
        await _refuse(turn, outcome)
    else:
        await turn.reply("project_added", project_view=outcome.detail["project"])


@transactional
async def addnode(turn: Turn) -> None:
    """/addnode project | title | department | @owner or - | YYYY-MM-DD [HH:MM] | weight |
    closing standard"""
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    parts = _parts(_text(turn))
    if len(parts) < 7:
        await _usage(turn, "addnode")
        return
    # A closing standard may hold a bar of its own.
    project, title, department, owner, deadline, weight = parts[:6]
    args = NodeArgs(project, title, department, owner, deadline, weight, "|".join(parts[6:]))
    outcome = await nodes.add_node(turn.session, turn.now, turn.edge.desk, turn.contact, args)
    if not outcome.ok:
        await _refuse(turn, outcome)
    else:
        await turn.reply("node_added", node_view=outcome.detail["node"])


@transactional
async def projects(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    outcome = await nodes.list_projects(turn.session, turn.contact)
    if not outcome.ok:
        await _refuse(turn, outcome)
    else:
        await turn.reply("project_list", project_list=outcome.detail["projects"])


@transactional_after(ask_chat_admin)
async def bindproject(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    name = _text(turn)
    if not name:
        await _usage(turn, "bindproject")
        return
    outcome = await nodes.bind_project_chat(
        turn.session, turn.now, turn.contact, bool(turn.told), name
    )
    if not outcome.ok:
        await _refuse(turn, outcome)
    else:
        await turn.reply(
            "project_bound",
            project_view=outcome.detail["project"],
            change=outcome.detail["change"],
        )


# --- progress, completion, acceptance ---------------------------------------------------------


@transactional
async def progress(turn: Turn) -> None:
    """/progress N-7 60 [note]"""
    if not await turn.needs_person():
        return
    await _progress(turn, _text(turn), None)


async def _progress_caption(turn: Turn, text: str) -> None:
    """A photo or document captioned "/progress N-7 60 note": the file is the evidence."""
    message = turn.update.effective_message
    assert message is not None
    found = attachments_of(message)
    await _progress(turn, text, found[0] if found else None)


async def _progress(turn: Turn, text: str, attachment: Attachment | None) -> None:
    assert turn.contact is not None
    parts = text.split(maxsplit=2)
    if len(parts) < 2:
        await _usage(turn, "progress")
        return
    node_id = await _node_id(turn, parts[0])
    if node_id is None:
        return
    percent = nodes.parse_percent(parts[1])
    if percent is None:
        await _refuse(turn, nodes.refuse(Refusal.BAD_PERCENT, value=parts[1][:20]))
        return
    outcome = await nodes.report_progress(
        turn.session,
        turn.now,
        turn.edge.desk,
        turn.contact,
        node_id,
        percent,
        parts[2] if len(parts) == 3 else "",
        attachment,
    )
    await _ack(turn, outcome, "progress")


@transactional
async def done(turn: Turn) -> None:
    """/done N-7 [note]: the closing standard is met, the leader in charge is asked to accept."""
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    parts = _text(turn).split(maxsplit=1)
    if not parts:
        await _usage(turn, "done")
        return
    node_id = await _node_id(turn, parts[0])
    if node_id is None:
        return
    note = parts[1] if len(parts) == 2 else ""
    outcome = await nodes.request_completion(
        turn.session, turn.now, turn.edge.desk, turn.contact, node_id, note
    )
    await _ack(turn, outcome, "requested")


@transactional
async def accept(turn: Turn) -> None:
    """/accept N-7"""
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    parts = _text(turn).split()
    if len(parts) != 1:
        await _usage(turn, "accept")
        return
    node_id = await _node_id(turn, parts[0])
    if node_id is not None:
        outcome = await nodes.accept_completion(
            turn.session, turn.now, turn.edge.desk, turn.contact, node_id
        )
        await _ack(turn, outcome, "accepted")


@transactional
async def sendback(turn: Turn) -> None:
    """/sendback N-7 reason; without a reason, the bot asks for it."""
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    parts = _text(turn).split(maxsplit=1)
    if not parts:
        await _usage(turn, "sendback")
        return
    node_id = await _node_id(turn, parts[0])
    if node_id is None:
        return
    desk = turn.edge.desk
    if len(parts) == 1:
        asked = await nodes.ask_return_reason(turn.session, turn.now, desk, turn.contact, node_id)
        if not asked.ok:
            await _refuse(turn, asked)
        return
    outcome = await nodes.return_completion(
        turn.session, turn.now, desk, turn.contact, node_id, parts[1]
    )
    await _ack(turn, outcome, "returned")


async def _reason_given(turn: Turn, dialogue: Dialogue, text: str) -> None:
    """The leader's reply to "why does it go back?" sends the node back."""
    assert turn.contact is not None
    dialogue.status = "answered"
    message_id = dialogue.payload.get("message_id")
    outcome = await nodes.return_completion(
        turn.session,
        turn.now,
        turn.edge.desk,
        turn.contact,
        int(dialogue.payload["node_id"]),
        text,
        message_id=int(message_id) if message_id is not None else None,
    )
    await _ack(turn, outcome, "returned")


@transactional
async def button(turn: Turn) -> None:
    """[Accept] / [Send back] on a node awaiting acceptance."""
    if not await turn.needs_person():
        return
    query = turn.update.callback_query
    assert query is not None and turn.contact is not None
    _, verb, number = (query.data or "").split(":")
    message_id = query.message.message_id if query.message is not None else None
    desk, session, now, who = turn.edge.desk, turn.session, turn.now, turn.contact
    if verb == "na":
        outcome = await nodes.accept_completion(
            session, now, desk, who, int(number), message_id=message_id
        )
        await _ack(turn, outcome, "accepted")
        return
    outcome = await nodes.ask_return_reason(
        session, now, desk, who, int(number), message_id=message_id
    )
    await _ack(turn, outcome, "asked")


# --- the timeline -----------------------------------------------------------------------------


@transactional
async def timeline(turn: Turn) -> None:
    """/timeline project [publish]"""
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    words = _text(turn).split()
    publish = bool(words) and is_keyword(words[-1], "publish")
    name = " ".join(words[:-1] if publish else words)
    if not name:
        await _usage(turn, "timeline")
        return
    desk = turn.edge.desk
    if publish:
        outcome = await nodes.publish_timeline(turn.session, turn.now, desk, turn.contact, name)
        if not outcome.ok:
            await _refuse(turn, outcome)
        else:
            project = outcome.detail["project_view"]["name"]
            await turn.reply("node_ack", node_action="published", node_view={"project": project})
        return
    outcome = await nodes.timeline(turn.session, desk, turn.contact, name)
    if not outcome.ok:
        await _refuse(turn, outcome)
    else:
        await turn.reply("timeline_view", **outcome.detail)


def register(application: NodeApplication) -> None:
    for name, handler in (
        ("addproject", addproject),
        ("addnode", addnode),
        ("projects", projects),
        ("bindproject", bindproject),
        ("progress", progress),
        ("done", done),
        ("accept", accept),
        ("sendback", sendback),
        ("timeline", timeline),
    ):
        application.add_handler(CommandHandler(name, handler))
    application.add_handler(CallbackQueryHandler(button, pattern=BUTTONS))
    CAPTION_COMMANDS["progress"] = _progress_caption
    CONTINUATIONS["node_return_reason"] = _reason_given
