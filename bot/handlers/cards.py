"""Cards at the edge: re-committing a missed deadline, the leader's decision, supervision."""

from __future__ import annotations

import re
from typing import Any

from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.edge import NodeApplication, Turn, transactional
from bot.handlers.basic import ROW_ID
from bot.handlers.hooks import CONTINUATIONS
from models.rules.dates import parse_moment, split_moment
from models.rules.permissions import Action
from models.services import deadlines, issues
from models.services.deadlines import Outcome, Refusal, local_time
from models.services.dialogues import ask
from models.tables import Deadline, Department, Dialogue, Node

NODE_REF = re.compile(r"^[Nn]-?(\d{1,9})$")
USAGE = {
    "recommit": "/recommit Q-2026-0001|N-7 YYYY-MM-DD [HH:MM] reason",
    "approve": "/approve Q-2026-0001|N-7",
    "reject": "/reject Q-2026-0001|N-7 [reason]",
}


async def _subject(turn: Turn, ref: str) -> tuple[str, int] | None:
    """("issue", id) or ("node", id) for "Q-2026-0001" or "N-7", if it exists."""
    found = NODE_REF.match(ref)
    if found is not None:
        node = await turn.session.get(Node, int(found.group(1)))
        return ("node", node.id) if node else None
    issue = await issues.issue_by_number(turn.session, ref)
    return ("issue", issue.id) if issue else None


async def _refuse(turn: Turn, reason: str, **params: Any) -> None:
    await turn.answer(
        "cards_refused", reason=reason, ref=params.get("ref"), usage=params.get("usage")
    )


async def _item(turn: Turn, command: str, waiting: str) -> tuple[Deadline, list[str]] | None:
    """The deadline a command names, among those `waiting` on this step, and the words after."""
    words = turn.args
    if not words:
        await _refuse(turn, "usage", usage=USAGE[command])
        return None
    ref = words[0][:32]
    subject = await _subject(turn, ref)
    if subject is None:
        await _refuse(turn, "unknown_item", ref=ref)
        return None
    if waiting == "yellow":
        rows = await deadlines.open_items(turn.session, *subject)
    else:
        rows = await deadlines.awaiting_decision(turn.session, *subject)
    if not rows:
        await _refuse(turn, "no_yellow" if waiting == "yellow" else "no_pending", ref=ref)
        return None
    return rows[0], words[1:]


async def _outcome(turn: Turn, outcome: Outcome, step: str) -> None:
    if not outcome.ok:
        assert outcome.refused is not None
        await _refuse(turn, outcome.refused.value)
        return
    row = outcome.deadline
    assert row is not None
    new_due = local_time(row.recommit_due_at, turn.edge.desk.zone) if row.recommit_due_at else None
    await turn.answer("cards_done", step=step, label=row.label, new_due=new_due)


# --- re-commitment: by command, or by button and a short dialogue -----------------------------


@transactional
async def recommit(turn: Turn) -> None:
    if not await turn.allowed(Action.RECOMMIT):
        return
    assert turn.contact is not None
    found = await _item(turn, "recommit", "yellow")
    if found is None:
        return
    row, words = found
    if not words:
        await _ask_reason(turn, row)
        return
    when, reason = split_moment(words)
    await _propose(turn, row.id, " ".join(reason), when)


async def _propose(turn: Turn, deadline_id: int, reason: str, when: str) -> None:
    assert turn.contact is not None
    desk = turn.edge.desk
    new_due = parse_moment(when, desk.zone, desk.calendar.office_hours.closing)
    outcome = await deadlines.propose_recommit(
        turn.session, turn.now, desk.zone, desk.language, turn.contact, deadline_id, reason, new_due
    )
    await _outcome(turn, outcome, "proposed")


async def _ask_reason(turn: Turn, row: Deadline) -> None:
    assert turn.contact is not None
    if not deadlines.may_recommit(turn.contact, row):
        await _refuse(turn, Refusal.NOT_ALLOWED.value)
        return
    await ask(
        turn.session,
        turn.now,
        turn.contact,
        "recommit_reason",
        turn.language,
        {"deadline_id": row.id},
        {"label": row.label},
    )
    await turn.answer("cards_done", step="asked", label=row.label, new_due=None)


async def _reason_given(turn: Turn, dialogue: Dialogue, text: str) -> None:
    """The reason came; now the date."""
    assert turn.contact is not None
    dialogue.status = "answered"
    payload = {"deadline_id": int(dialogue.payload["deadline_id"]), "reason": text[:600]}
    await ask(turn.session, turn.now, turn.contact, "recommit_date", turn.language, payload)


async def _date_given(turn: Turn, dialogue: Dialogue, text: str) -> None:
    """The date came: put the re-commitment to the leader, or ask again for a real date."""
    desk = turn.edge.desk
    if parse_moment(text, desk.zone, desk.calendar.office_hours.closing) is None:
        await _refuse(turn, Refusal.BAD_DATE.value)
        return  # the question stays open: the next message is another try
    dialogue.status = "answered"
    payload = dialogue.payload
    await _propose(turn, int(payload["deadline_id"]), str(payload["reason"]), text)


# --- the leader's decision --------------------------------------------------------------------


@transactional
async def approve(turn: Turn) -> None:
    await _decide_by_command(turn, "approve", approve=True)


@transactional
async def reject(turn: Turn) -> None:
    await _decide_by_command(turn, "reject", approve=False)


async def _decide_by_command(turn: Turn, command: str, approve: bool) -> None:
    if not await turn.allowed(Action.APPROVE_RECOMMIT):
        return
    assert turn.contact is not None
    found = await _item(turn, command, "pending")
    if found is not None:
        row, words = found
        await _decide(turn, row.id, approve, " ".join(words)[:500])


async def _decide(turn: Turn, deadline_id: int, approve: bool, note: str = "") -> None:
    assert turn.contact is not None
    desk = turn.edge.desk
    outcome = await deadlines.decide_recommit(
        turn.session, turn.now, desk.zone, desk.language, turn.contact, deadline_id, approve, note
    )
    await _outcome(turn, outcome, "approved" if approve else "rejected")


# --- the key-supervision list -----------------------------------------------------------------


@transactional
async def supervision(turn: Turn) -> None:
    if not await turn.allowed(Action.VIEW_NODES):
        return
    assert turn.contact is not None
    zone = turn.edge.desk.zone
    items = []
    for row in await deadlines.supervision_list(turn.session):
        department = (
            await turn.session.get(Department, row.department_id) if row.department_id else None
        )
        items.append(
            {
                "label": row.label,
                "deadline": row.kind,
                "department": department.name if department else None,
                "due": local_time(row.due_at, zone),
                "new_due": local_time(row.recommit_due_at, zone) if row.recommit_due_at else None,
                "done": local_time(row.done_at, zone) if row.done_at else None,
            }
        )
    await turn.reply("supervision_list", items=items)


# --- buttons ----------------------------------------------------------------------------------


@transactional
async def button(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    query = turn.update.callback_query
    assert query is not None and query.data is not None and turn.contact is not None
    _, verb, number = query.data.split(":")
    row = await deadlines.load(turn.session, int(number))
    if row is None:
        await _refuse(turn, Refusal.UNKNOWN_ITEM.value)
        return
    if verb == "rc":
        if row not in await deadlines.open_items(turn.session, row.subject_type, row.subject_id):
            await _refuse(turn, Refusal.MOVED_ON.value)
            return
        await _ask_reason(turn, row)
        return
    await _decide(turn, row.id, approve=verb == "ra")


BUTTONS = rf"^v1:(rc|ra|rj):{ROW_ID}$"


def register(application: NodeApplication) -> None:
    application.add_handler(CommandHandler("recommit", recommit))
    application.add_handler(CommandHandler("approve", approve))
    application.add_handler(CommandHandler("reject", reject))
    application.add_handler(CommandHandler("supervision", supervision))
    application.add_handler(CallbackQueryHandler(button, pattern=BUTTONS))
    CONTINUATIONS["recommit_reason"] = _reason_given
    CONTINUATIONS["recommit_date"] = _date_given
