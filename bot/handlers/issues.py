"""The direct line at the edge: reports, cards, claims, answers, confirmations."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Message
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.edge import NodeApplication, Turn, transactional
from bot.handlers.basic import ROW_ID
from bot.handlers.hooks import CAPTION_COMMANDS, CONTINUATIONS, caption_command
from models.rules.permissions import Action
from models.rules.routing import find_issue_number
from models.services import issues
from models.services.dialogues import open_dialogue
from models.services.issues import Attachment, Outcome, Refusal, Report
from models.services.knowledge import find_similar_answered
from models.tables import ChatPurpose, Issue, IssueStatus
from models.texts import keywords

# "#问题" or "#issue" (templates/<language>/keywords.toml) marks a report.
TAG = re.compile(
    r"#(" + "|".join(re.escape(word) for word in sorted(keywords("issue_tag"))) + r")\b",
    re.IGNORECASE,
)


def refusal_params(outcome: Outcome, ref: str | None = None) -> dict[str, Any]:
    """Everything the refusal template may mention, so that none is ever undefined."""
    return {
        "reason": outcome.refused.value if outcome.refused else "",
        "ref": ref,
        "status": outcome.detail.get("status"),
        "limit": outcome.detail.get("limit"),
        "length": outcome.detail.get("length"),
    }


def text_after_command(message: Message) -> str:
    text = message.text or message.caption or ""
    entities = message.entities or message.caption_entities or ()
    for entity in entities:
        if entity.type == "bot_command" and entity.offset == 0:
            return text[entity.length :].strip()
    return text.strip()


def attachments_of(message: Message) -> list[Attachment]:
    found = []
    if message.photo:
        biggest = message.photo[-1]
        found.append(Attachment("photo", biggest.file_id, biggest.file_unique_id))
    if message.document:
        document = message.document
        found.append(
            Attachment("document", document.file_id, document.file_unique_id, document.file_name)
        )
    return found


async def _refuse(turn: Turn, outcome: Outcome, ref: str | None = None) -> None:
    await turn.answer("issue_refused", **refusal_params(outcome, ref))


async def _find_similar(session: AsyncSession, text: str, industry: str | None) -> int | None:
    hit = await find_similar_answered(session, text, industry)
    return hit.issue_id if hit else None


async def _file(turn: Turn, text: str, message: Message, attachments: list[Attachment]) -> None:
    assert turn.chat is not None
    report = Report(
        text=text,
        chat=turn.chat,
        reporter=turn.contact,
        message_id=message.message_id,
        attachments=attachments,
        source="private" if turn.chat.kind == "private" else "group",
    )
    outcome = await issues.report_issue(
        turn.session, turn.now, turn.edge.desk, report, _find_similar
    )
    if not outcome.ok:
        await _refuse(turn, outcome)


# --- commands ---------------------------------------------------------------------------------


@transactional
async def report(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    message = turn.update.effective_message
    assert message is not None
    await _report(turn, text_after_command(message))


async def _report(turn: Turn, text: str) -> None:
    """/report as a command, or as the caption of a photo or document (the file attaches)."""
    message = turn.update.effective_message
    assert message is not None
    attachments = attachments_of(message)
    if not text and not attachments:
        await turn.reply("issue_usage", command="report")
        return
    await _file(turn, text, message, attachments)


@transactional
async def file_on_behalf(turn: Turn) -> None:
    """/file <firm> <breakfast|visit|phone> <text>: an official records a firm's problem."""
    message = turn.update.effective_message
    assert message is not None and turn.chat is not None
    if not await turn.allowed(Action.FILE_ON_BEHALF):
        return
    assert turn.contact is not None
    parts = text_after_command(message).split(maxsplit=2)
    if len(parts) < 3:
        await turn.reply("issue_usage", command="file")
        return
    firm = await issues.firm_by_name(turn.session, parts[0])
    if firm is None:
        await _refuse(turn, issues.refuse(Refusal.UNKNOWN_FIRM))
        return
    filed = Report(
        text=parts[2],
        chat=turn.chat,
        reporter=None,
        message_id=message.message_id,
        source=parts[1].lower(),
        firm=firm,
        filed_by=turn.contact,
        skip_similar=True,
    )
    outcome = await issues.report_issue(turn.session, turn.now, turn.edge.desk, filed)
    if not outcome.ok:
        await _refuse(turn, outcome)


async def _issue_from_args(
    turn: Turn, command: str, min_parts: int
) -> tuple[Issue, list[str]] | None:
    message = turn.update.effective_message
    assert message is not None
    parts = text_after_command(message).split(maxsplit=min_parts - 1)
    if len(parts) < min_parts:
        await turn.reply("issue_usage", command=command)
        return None
    issue = await issues.issue_by_number(turn.session, parts[0])
    if issue is None:
        await _refuse(turn, issues.refuse(Refusal.UNKNOWN_ISSUE), ref=parts[0][:32])
        return None
    return issue, parts[1:]


@transactional
async def answer(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    found = await _issue_from_args(turn, "answer", 2)
    if found is not None:
        message = turn.update.effective_message
        assert message is not None
        await _answer(turn, found[0], found[1][0], attachments_of(message))


async def _answer(turn: Turn, issue: Issue, text: str, attachments: list[Attachment]) -> None:
    assert turn.contact is not None
    outcome = await issues.answer_issue(
        turn.session, turn.now, turn.edge.desk, turn.contact, issue.id, text, attachments
    )
    if not outcome.ok:
        await _refuse(turn, outcome)
        return
    await turn.reply(
        "issue_answered_ack",
        buttons=[[{"key": "general", "data": f"v1:general:{issue.id}"}]],
        number=issue.number,
    )


@transactional
async def claim(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    found = await _issue_from_args(turn, "claim", 1)
    if found is not None:
        await _claim(turn, found[0].id)


async def _claim(turn: Turn, issue_id: int) -> None:
    assert turn.contact is not None
    outcome = await issues.claim_issue(
        turn.session, turn.now, turn.edge.desk, turn.contact, issue_id
    )
    if not outcome.ok:
        await _refuse(turn, outcome)
    elif outcome.issue is not None:
        await _done(turn, "claimed", outcome.issue.number)


async def _done(turn: Turn, what: str, number: str | None = None) -> None:
    await turn.answer("issue_done", what=what, number=number)


@transactional
async def stage(turn: Turn) -> None:
    """An official records a stage of a "1124"-style limit done."""
    if not await turn.needs_person():
        return
    found = await _issue_from_args(turn, "stage", 2)
    if found is None:
        return
    assert turn.contact is not None
    issue, (name,) = found
    outcome = await issues.finish_stage(
        turn.session, turn.now, turn.edge.desk, turn.contact, issue.id, name
    )
    await (_done(turn, "stage", issue.number) if outcome.ok else _refuse(turn, outcome))


@transactional
async def transfer(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    found = await _issue_from_args(turn, "transfer", 3)
    if found is None:
        return
    issue, (department_name, reason) = found
    assert turn.contact is not None
    department = await issues.department_by_name(turn.session, department_name)
    outcome = await issues.transfer_issue(
        turn.session, turn.now, turn.edge.desk, turn.contact, issue.id, department, reason
    )
    if not outcome.ok:
        await _refuse(turn, outcome)
    else:
        await _done(turn, "transferred", issue.number)


@transactional
async def callback_result(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    found = await _issue_from_args(turn, "callback", 2)
    if found is None:
        return
    assert turn.contact is not None
    outcome = await issues.record_callback(
        turn.session, turn.now, turn.contact, found[0].id, found[1][0]
    )
    if not outcome.ok:
        await _refuse(turn, outcome)
    else:
        await _done(turn, "callback", found[0].number)


@transactional
async def reopen(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    found = await _issue_from_args(turn, "reopen", 2)
    if found is None:
        return
    assert turn.contact is not None
    outcome = await issues.reopen_issue(
        turn.session, turn.now, turn.edge.desk, turn.contact, found[0].id, found[1][0]
    )
    if not outcome.ok:
        await _refuse(turn, outcome)
    else:
        await _done(turn, "reopened", found[0].number)


@transactional
async def history(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    found = await _issue_from_args(turn, "history", 1)
    if found is None:
        return
    issue = found[0]
    assert turn.contact is not None
    if not issues.may_see(turn.contact, issue):
        await _refuse(turn, issues.refuse(Refusal.NOT_ALLOWED))
        return
    zone = turn.edge.desk.zone
    entries = [
        {
            "at": entry.at.astimezone(zone).strftime("%m-%d %H:%M"),
            "actor": actor,
            "action": entry.action,
            "note": entry.detail.get("reason")
            or entry.detail.get("to")
            or entry.detail.get("result"),
        }
        for entry, actor in await issues.history(turn.session, issue)
    ]
    await turn.reply("issue_history", number=issue.number, entries=entries)


@transactional
async def queue(turn: Turn) -> None:
    if not await turn.allowed(Action.VIEW_QUEUE):
        return
    assert turn.contact is not None
    zone = turn.edge.desk.zone
    rows = []
    for issue in await issues.queue(turn.session, turn.contact):
        due = issue.claim_due_at if issue.status == IssueStatus.ROUTED else issue.close_due_at
        rows.append(
            {
                "number": issue.number,
                "status": issue.status,
                "due": due.astimezone(zone).strftime("%m-%d %H:%M") if due else None,
                "text": issue.text[:40],
            }
        )
    await turn.reply("issue_queue", issues=rows)


# --- messages: reports by tag or reply, answers and details by reply, dialogues ---------------


@transactional
async def message(turn: Turn) -> None:
    """Every plain message the bot sees, in a group or in private; most need no answer."""
    message = turn.update.effective_message
    assert message is not None and turn.chat is not None
    text = (message.text or message.caption or "").strip()
    attachments = attachments_of(message)
    in_private = turn.chat.kind == "private"
    tagged = bool(TAG.search(text))
    replied = message.reply_to_message
    to_bot = (
        replied is not None
        and replied.from_user is not None
        and (replied.from_user.id == turn.context.bot.id)
    )
    # Captions carry no command entities, so "/report …" under a photo arrives here.
    captioned = caption_command(text) if (message.photo or message.document) else None
    if turn.contact is None:
        if tagged or to_bot or captioned:
            await turn.reply("anonymous")
        return
    if captioned is not None:
        await CAPTION_COMMANDS[captioned[0]](turn, captioned[1])
        return
    dialogue = await open_dialogue(turn.session, turn.now, turn.contact)
    if dialogue is not None and text and dialogue.kind in CONTINUATIONS:
        await CONTINUATIONS[dialogue.kind](turn, dialogue, text)
        return
    if dialogue is not None and text:
        outcome = await issues.answer_dialogue(
            turn.session, turn.now, turn.edge.desk, turn.contact, dialogue, text
        )
        if not outcome.ok:
            await _refuse(turn, outcome)
        elif outcome.issue is not None:
            what = "reopened" if dialogue.kind == "reopen_reason" else "transferred"
            await _done(turn, what, outcome.issue.number)
        return
    if replied is not None:
        issue = await issues.issue_by_card(turn.session, turn.chat, replied.message_id)
        if issue is None and to_bot:
            # The card may be so fresh that its message id is not stored yet; it shows its number.
            number = find_issue_number(replied.text or replied.caption or "")
            issue = await issues.issue_by_number(turn.session, number) if number else None
        if issue is not None and not tagged:
            await _reply_to_card(turn, issue, text, attachments)
            return
    if tagged or (to_bot and not in_private and turn.chat.purpose == ChatPurpose.INDUSTRY):
        await _file(turn, TAG.sub("", text).strip(), message, attachments)
    elif in_private:
        await turn.reply("private_hint")


async def _reply_to_card(
    turn: Turn, issue: Issue, text: str, attachments: list[Attachment]
) -> None:
    """On a card, the firm adds details; the lead department's official answers."""
    assert turn.contact is not None
    contact = turn.contact
    if issues.may_answer(contact, issue):
        await _answer(turn, issue, text, attachments)
        return
    outcome = await issues.add_detail(
        turn.session, turn.now, turn.edge.desk, contact, issue, text, attachments
    )
    if not outcome.ok:
        await _refuse(turn, outcome)
    else:
        await _done(turn, "detail")


@transactional
async def edited(turn: Turn) -> None:
    """An edited report does not change what was filed; the firm is told how to add to it."""
    message = turn.update.edited_message
    assert message is not None and turn.chat is not None
    issue = await issues.issue_by_card(turn.session, turn.chat, message.message_id)
    if issue is not None and turn.contact is not None:
        await _done(turn, "edited")


# --- buttons ----------------------------------------------------------------------------------


def _ids(turn: Turn) -> list[str]:
    query = turn.update.callback_query
    assert query is not None
    return (query.data or "").split(":")[1:]


@transactional
async def button(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    verb, *rest = _ids(turn)
    numbers = [int(part) for part in rest if part.isdigit()]
    flag = rest[-1] if rest else ""
    desk, session, now, who = turn.edge.desk, turn.session, turn.now, turn.contact
    outcome: Outcome
    if verb == "claim":
        await _claim(turn, numbers[0])
        return
    if verb == "transfer":
        outcome, choices = await issues.transfer_choices(session, who, numbers[0])
        if outcome.ok and outcome.issue is not None:
            await turn.reply("issue_transfer_choose", buttons=choices, number=outcome.issue.number)
            turn.callback_answer = None
        else:
            await _refuse(turn, outcome)
        return
    if verb == "tr":
        outcome = await issues.ask_transfer_reason(session, now, desk, who, numbers[0], numbers[1])
        await (_done(turn, "asked") if outcome.ok else _refuse(turn, outcome))
        return
    if verb == "assign":
        outcome = await issues.assign_issue(session, now, desk, who, numbers[0], numbers[1])
        number = outcome.issue.number if outcome.issue else None
        await (_done(turn, "assigned", number) if outcome.ok else _refuse(turn, outcome))
        return
    if verb == "confirm":
        outcome = await issues.confirm_issue(session, now, desk, who, numbers[0], flag == "yes")
        if not outcome.ok:
            await _refuse(turn, outcome)
        else:
            await _done(turn, "confirmed" if flag == "yes" else "asked")
        return
    if verb == "rate":
        outcome = await issues.rate_issue(session, now, who, numbers[0], numbers[1])
        await (_done(turn, "rated") if outcome.ok else _refuse(turn, outcome))
        return
    if verb == "consent":
        outcome = await issues.consent_to_name(session, now, who, numbers[0])
        await (_done(turn, "consent") if outcome.ok else _refuse(turn, outcome))
        return
    if verb == "general":
        outcome = await issues.mark_general(session, now, desk, who, numbers[0])
        if outcome.ok and outcome.issue is not None:
            await turn.answer("issue_general_ack", number=outcome.issue.number)
        else:
            await _refuse(turn, outcome)
        return
    if verb == "draft":
        outcome = await issues.resolve_draft(
            session, now, desk, who, numbers[0], flag == "yes", _find_similar
        )
        if not outcome.ok:
            await _refuse(turn, outcome)
        elif flag == "yes":
            await _done(turn, "draft_solved")


BUTTONS = (
    rf"^v1:(claim|transfer|consent|general):{ROW_ID}$"
    rf"|^v1:(tr|assign):{ROW_ID}:{ROW_ID}$"
    rf"|^v1:rate:{ROW_ID}:[1-5]$"
    rf"|^v1:(confirm|draft):{ROW_ID}:(yes|no)$"
)


def register(application: NodeApplication) -> None:
    application.add_handler(CommandHandler("report", report))
    CAPTION_COMMANDS["report"] = _report
    application.add_handler(CommandHandler("file", file_on_behalf))
    application.add_handler(CommandHandler("answer", answer))
    application.add_handler(CommandHandler("claim", claim))
    application.add_handler(CommandHandler("transfer", transfer))
    application.add_handler(CommandHandler("stage", stage))
    application.add_handler(CommandHandler("callback", callback_result))
    application.add_handler(CommandHandler("reopen", reopen))
    application.add_handler(CommandHandler("history", history))
    application.add_handler(CommandHandler("queue", queue))
    application.add_handler(CallbackQueryHandler(button, pattern=BUTTONS))
    application.add_handler(
        MessageHandler(filters.UpdateType.EDITED_MESSAGE & ~filters.COMMAND, edited)
    )
    application.add_handler(
        MessageHandler(
            filters.UpdateType.MESSAGE
            & ~filters.COMMAND
            & ~filters.StatusUpdate.ALL
            & (filters.TEXT | filters.PHOTO | filters.Document.ALL),
            message,
        )
    )
