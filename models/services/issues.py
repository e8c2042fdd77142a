"""The direct line: a firm's problem from report to closure.

Each function is one use case: it loads what it needs, applies the rules, writes the state, its
audit entries and the messages it causes in the caller's transaction, and says what happened.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Insert, Table, bindparam, event, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from models.rules.permissions import Action, Role, can
from models.rules.routing import Rule, issue_number, parse_issue_number, route
from models.rules.worktime import OfficeHours
from models.services import deadlines
from models.services.broadcasts import broadcast_answer
from models.services.common import (
    audit,
    dialect_insert,
    enqueue,
    read_mostly,
    service_policy,
    write_at_commit,
    write_waiting,
)
from models.services.contacts import Contact
from models.services.dialogues import ask
from models.tables import (
    AuditEntry,
    Chat,
    ChatPurpose,
    Counter,
    Deadline,
    Department,
    Dialogue,
    Firm,
    Issue,
    IssueAttachment,
    IssueCard,
    IssueDraft,
    IssueStatus,
    OutboxMessage,
    Person,
    PersonRole,
    RoutingRule,
)

MAX_REPORT_LENGTH = 2000
# A card is edited in place, so it must stay one message (4,096 characters) whatever it holds;
# the full text is in the report and the answer notice.
CARD_TEXT_LIMIT = 1200
DEFAULT_CLOSE_WORKING_DAYS = 5
DEFAULT_CONFIRM_DAYS = 3
OPEN_STATUSES = (IssueStatus.NEW, IssueStatus.ROUTED, IssueStatus.CLAIMED, IssueStatus.REOPENED)
SOURCES = ("group", "private", "breakfast", "visit", "phone")


class Calendar(Protocol):
    office_hours: OfficeHours

    def end_of_working_day(self, moment: datetime) -> datetime: ...

    def add_working_days(self, moment: datetime, days: int) -> datetime: ...

    def add_working_hours(self, moment: datetime, hours: float) -> datetime: ...

    def is_working_day(self, day: date) -> bool: ...


@dataclass(frozen=True)
class Desk:
    """What the direct-line use cases need besides the session and the time."""

    calendar: Calendar
    zone: ZoneInfo
    language: str


class Refusal(StrEnum):
    EMPTY = "empty"
    TOO_LONG = "too_long"
    UNBOUND_CHAT = "unbound_chat"
    NOT_ALLOWED = "not_allowed"
    UNKNOWN_ISSUE = "unknown_issue"
    MOVED_ON = "moved_on"
    NO_REASON = "no_reason"
    UNKNOWN_DEPARTMENT = "unknown_department"
    SAME_DEPARTMENT = "same_department"
    UNKNOWN_STAGE = "unknown_stage"
    UNKNOWN_FIRM = "unknown_firm"
    BAD_SOURCE = "bad_source"
    BAD_RATING = "bad_rating"


@dataclass(frozen=True)
class Attachment:
    kind: str  # photo or document
    file_id: str
    file_unique_id: str | None = None
    file_name: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What a use case did: the issue it touched, or why it refused."""

    issue: Issue | None = None
    refused: Refusal | None = None
    draft: IssueDraft | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.refused is None


def refuse(reason: Refusal, issue: Issue | None = None, **detail: Any) -> Outcome:
    return Outcome(issue=issue, refused=reason, detail=detail)


# --- finding things ---------------------------------------------------------------------------


async def issue_by_number(session: AsyncSession, text: str) -> Issue | None:
    number = parse_issue_number(text)
    if number is None:
        return None
    return await session.scalar(select(Issue).where(Issue.number == number))


async def issue_by_card(session: AsyncSession, chat: Chat, message_id: int) -> Issue | None:
    """The issue whose card (or the report message itself) is `message_id` in `chat`."""
    found = await session.scalar(
        select(Issue)
        .join(IssueCard, IssueCard.issue_id == Issue.id)
        .join(OutboxMessage, OutboxMessage.id == IssueCard.outbox_id)
        .where(IssueCard.chat_id == chat.id, OutboxMessage.telegram_message_id == message_id)
    )
    if found is not None:
        return found
    return await session.scalar(
        select(Issue).where(Issue.origin_chat_id == chat.id, Issue.origin_message_id == message_id)
    )


async def department_by_name(session: AsyncSession, name: str) -> Department | None:
    name = name.strip()
    exact = await session.scalar(select(Department).where(Department.name == name))
    if exact is not None or not name:
        return exact
    rows = list(await session.scalars(select(Department).where(Department.name.contains(name))))
    return rows[0] if len(rows) == 1 else None


async def firm_by_name(session: AsyncSession, text: str) -> Firm | None:
    text = text.strip()
    found = await session.scalar(
        select(Firm).where(or_(Firm.name == text, Firm.credit_code == text.upper()))
    )
    if found is not None or not text:
        return found
    rows = list(await session.scalars(select(Firm).where(Firm.name.contains(text))))
    return rows[0] if len(rows) == 1 else None


# --- intake -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """ReportIssue: a problem as it arrived."""

    text: str
    chat: Chat
    reporter: Contact | None
    message_id: int | None = None
    attachments: Sequence[Attachment] = ()
    source: str = "group"
    firm: Firm | None = None
    filed_by: Contact | None = None
    skip_similar: bool = False


class SimilarFinder(Protocol):
    """Finds an answered issue very like a new report: its id, or None."""

    async def __call__(
        self, session: AsyncSession, text: str, industry: str | None
    ) -> int | None: ...


async def report_issue(
    session: AsyncSession,
    now: datetime,
    desk: Desk,
    report: Report,
    find_similar: SimilarFinder | None = None,
) -> Outcome:
    """File a problem, or first show a similar answered one and hold the report as a draft."""
    text = report.text.strip()
    if not text and not report.attachments:
        return refuse(Refusal.EMPTY)
    if len(text) > MAX_REPORT_LENGTH:
        return refuse(Refusal.TOO_LONG, limit=MAX_REPORT_LENGTH, length=len(text))
    chat = report.chat
    if chat.kind != "private" and chat.purpose != ChatPurpose.INDUSTRY:
        return refuse(Refusal.UNBOUND_CHAT)
    if report.filed_by is not None and not can(report.filed_by.roles, Action.FILE_ON_BEHALF):
        return refuse(Refusal.NOT_ALLOWED)
    if report.source not in SOURCES:
        return refuse(Refusal.BAD_SOURCE)

    firm = report.firm
    if firm is None and report.reporter is not None and report.reporter.person.firm_id:
        firm = await session.get(Firm, report.reporter.person.firm_id)
    industry = chat.industry or (firm.industry if firm else None)

    if find_similar is not None and not report.skip_similar and report.reporter is not None:
        matched_id = await find_similar(session, text, industry)
        if matched_id is not None:
            return await _hold_as_draft(session, now, desk, report, text, matched_id)

    issue = Issue(
        status=IssueStatus.NEW,
        text=text or "-",
        # Set now, not by the column's default at INSERT: placing the issue reads its policy.
        priority="normal",
        industry=industry,
        source=report.source,
        is_private=chat.kind == "private" and report.filed_by is None,
        verified=firm is not None and (report.filed_by is not None or _member_of(report, firm)),
        firm_id=firm.id if firm else None,
        reporter_id=report.reporter.person.id if report.reporter else None,
        filed_by_id=report.filed_by.person.id if report.filed_by else None,
        origin_chat_id=chat.id,
        origin_message_id=report.message_id,
        assist_department_ids=[],
        created_at=now,
        updated_at=now,
    )
    # Placed before it is written, so that the issue is inserted once, already routed.
    placement = await _place(session, desk, issue)
    issue.number = await _next_number(session, now, desk)
    session.add(issue)
    await session.flush()
    actor = report.filed_by or report.reporter
    audit(
        session,
        now,
        "issue_reported",
        "issue",
        issue.id,
        actor_id=actor.person.id if actor else None,
        source=issue.source,
        verified=issue.verified,
        private=issue.is_private,
    )
    await _attach(session, now, issue, report.attachments, "report", actor)
    await _record_placement(session, now, desk, issue, placement)
    # Every card and notice of the new issue shows the same thing: gathered once.
    card = await card_params(session, desk, issue, new=True)
    await _post_origin_card(session, now, desk, issue, chat, report.message_id, card)
    await _notify_routed(session, now, desk, issue, card=card)
    await _tell_liaison(session, now, desk, issue, firm, card)
    return Outcome(issue=issue)


def _member_of(report: Report, firm: Firm) -> bool:
    return report.reporter is not None and report.reporter.person.firm_id == firm.id


async def _hold_as_draft(
    session: AsyncSession, now: datetime, desk: Desk, report: Report, text: str, matched_id: int
) -> Outcome:
    assert report.reporter is not None
    draft = IssueDraft(
        person_id=report.reporter.person.id,
        chat_id=report.chat.id,
        message_id=report.message_id,
        text=text,
        attachments=[a.__dict__ for a in report.attachments],
        matched_issue_id=matched_id,
        status="open",
        created_at=now,
    )
    session.add(draft)
    await session.flush()
    matched = await session.get(Issue, matched_id)
    assert matched is not None
    department = await _department_name(session, matched.department_id)
    await enqueue(
        session,
        now,
        report.chat,
        "issue_similar",
        _language_for(report.chat, report.reporter, desk),
        {
            "number": matched.number,
            "question": matched.text,
            "answer": matched.answer or "",
            "department": department,
        },
        buttons=[
            [
                {"key": "draft_solved", "data": f"v1:draft:{draft.id}:yes"},
                {"key": "draft_file", "data": f"v1:draft:{draft.id}:no"},
            ]
        ],
        reply_to_message_id=report.message_id if report.chat.kind != "private" else None,
    )
    audit(
        session,
        now,
        "similar_shown",
        "draft",
        draft.id,
        actor_id=report.reporter.person.id,
        issue=matched.number,
    )
    return Outcome(draft=draft, detail={"matched": matched.number})


async def resolve_draft(
    session: AsyncSession,
    now: datetime,
    desk: Desk,
    who: Contact,
    draft_id: int,
    solved: bool,
    find_similar: SimilarFinder | None = None,
) -> Outcome:
    """The firm looked at the similar answer: it solved the problem, or file the report anyway."""
    draft = await session.get(IssueDraft, draft_id, with_for_update=True)
    if draft is None:
        return refuse(Refusal.UNKNOWN_ISSUE)
    if draft.person_id != who.person.id:
        return refuse(Refusal.NOT_ALLOWED)
    if draft.status != "open":
        return refuse(Refusal.MOVED_ON)
    if solved:
        draft.status = "solved"
        audit(session, now, "similar_accepted", "draft", draft.id, actor_id=who.person.id)
        return Outcome(draft=draft)
    draft.status = "filed"
    chat = await session.get(Chat, draft.chat_id)
    assert chat is not None
    attachments = [Attachment(**a) for a in draft.attachments]
    report = Report(
        draft.text,
        chat,
        who,
        draft.message_id,
        attachments,
        source="private" if chat.kind == "private" else "group",
        skip_similar=True,
    )
    outcome = await report_issue(session, now, desk, report, find_similar)
    return Outcome(issue=outcome.issue, refused=outcome.refused, draft=draft)


@functools.cache
def _counting(dialect: str) -> Insert:
    """Add one to a counter, making it at 1; built once (see `common.prepared_insert`)."""
    table = Counter.__table__
    return (
        dialect_insert(dialect, table)
        .values(name=bindparam("counter"), value=1)
        .on_conflict_do_update(index_elements=[table.c.name], set_={"value": table.c.value + 1})
        .returning(table.c.value)
    )


async def _next_number(session: AsyncSession, now: datetime, desk: Desk) -> str:
    year = now.astimezone(desk.zone).year
    name = f"issue:{year}"
    # The year's first report makes the row; the next ones count on it, holding its write lock
    # until they commit, so two reports never get the same number. Holding it, a transaction
    # counts its further reports itself (reports handled together share one,
    # bot/group_commit.py), and writes where it got to when it commits.
    taken: dict[str, list[int]] = session.info.setdefault(_NUMBERS, {})
    if name in taken:
        taken[name][1] += 1
    else:
        statement = _counting(session.get_bind().dialect.name)
        value = await session.scalar(statement, {"counter": name})
        assert value is not None
        taken[name] = [value, value]
    return issue_number(year, taken[name][1])


_NUMBERS = "nodedesk.numbers"  # per counter, the first and last number taken (Session.info)
_COUNTERS = cast(Table, Counter.__table__)
_COUNTED = (
    _COUNTERS.update().where(_COUNTERS.c.name == bindparam("counter")).values(value=bindparam("to"))
)


@event.listens_for(Session, "before_commit")
def _write_numbers(session: Session) -> None:
    for name, (first, last) in session.info.pop(_NUMBERS, {}).items():
        if last != first:
            session.connection().execute(_COUNTED, {"counter": name, "to": last})


@event.listens_for(Session, "after_transaction_end")
def _forget_numbers(session: Session, transaction: SessionTransaction) -> None:
    # Only the transaction's own end: a savepoint rolled back leaves a gap, never a number twice.
    if transaction.parent is None:
        session.info.pop(_NUMBERS, None)


async def _attach(
    session: AsyncSession,
    now: datetime,
    issue: Issue,
    attachments: Sequence[Attachment],
    stage: str,
    who: Contact | None,
) -> None:
    for item in attachments:
        session.add(
            IssueAttachment(
                issue_id=issue.id,
                kind=item.kind,
                file_id=item.file_id,
                file_unique_id=item.file_unique_id,
                file_name=item.file_name,
                stage=stage,
                added_by_id=who.person.id if who else None,
                added_at=now,
            )
        )
    if attachments:
        audit(
            session,
            now,
            "attachments_added",
            "issue",
            issue.id,
            actor_id=who.person.id if who else None,
            count=len(attachments),
            stage=stage,
        )


# --- routing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Placement:
    """Where a new issue went by the routing rules, and the limits it is held to."""

    policy: Policy
    lead: Department | None
    rule_id: int | None
    keyword: str | None


_RULES = select(RoutingRule).order_by(RoutingRule.id)


async def _place(session: AsyncSession, desk: Desk, issue: Issue) -> _Placement:
    """Route a new issue, not yet written, and set its limits from its category's policy."""
    rows = await read_mostly(session, _RULES)
    rules = [
        Rule(
            r.id,
            tuple(r.keywords),
            r.category,
            r.lead_department_id,
            tuple(r.assist_department_ids),
            r.industry,
            r.priority,
        )
        for r in rows
    ]
    routing = route(issue.text, issue.industry, rules)
    policy = await _policy(session, routing.category, issue.priority, desk)
    lead = await session.get(Department, routing.lead) if routing.placed else None
    issue.category = routing.category
    issue.close_due_at = desk.calendar.add_working_days(issue.created_at, policy.close_working_days)
    placement = _Placement(policy, lead, routing.rule_id, routing.keyword)
    if lead is None:
        issue.routing_reason = ""
        return placement
    issue.department_id = lead.id
    issue.assist_department_ids = list(routing.assists)
    issue.routing_reason = f"{routing.keyword} → {lead.name}"
    issue.status = IssueStatus.ROUTED
    issue.claim_due_at = _claim_by(desk, issue.created_at, policy)
    return placement


async def _record_placement(
    session: AsyncSession, now: datetime, desk: Desk, issue: Issue, placement: _Placement
) -> None:
    """The new issue, written, starts its limits; the audit log says where it went."""
    if placement.lead is None:
        audit(session, now, "issue_to_triage", "issue", issue.id)
        return
    # A new issue has no deadlines yet: none to read.
    await _track(session, now, desk, issue, placement.policy, known={})
    audit(
        session,
        now,
        "issue_routed",
        "issue",
        issue.id,
        department=placement.lead.name,
        rule=placement.rule_id,
        keyword=placement.keyword,
    )


@dataclass(frozen=True)
class Policy:
    """The service limits that apply to an issue."""

    close_working_days: int = DEFAULT_CLOSE_WORKING_DAYS
    confirm_days: int = DEFAULT_CONFIRM_DAYS
    claim_hours: float | None = None
    stage_limits: tuple[tuple[str, float], ...] = ()
    # The reminders of the issue's deadlines, from the same row (read with a desk's zone).
    timing: deadlines.Timing | None = None


async def _policy(
    session: AsyncSession, category: str | None, priority: str, desk: Desk | None = None
) -> Policy:
    """The category's policy for this priority, else the default row, else the built-in one."""
    row = await service_policy(session, category, priority)
    # The deadlines look their reminders up by urgent or not, which is the priority when it is
    # one of those two.
    timing = None
    if desk is not None and priority in ("urgent", "normal"):
        timing = deadlines.timing_of(row, desk.zone)
    if row is None:
        return Policy(timing=timing)
    return Policy(
        row.close_working_days,
        row.confirm_days,
        row.claim_hours,
        tuple((str(name), float(hours)) for name, hours in row.stage_limits),
        timing,
    )


def _claim_by(desk: Desk, now: datetime, policy: Policy) -> datetime:
    """Claim within the policy's office hours, else by the end of the (next) working day."""
    if policy.claim_hours is not None:
        return desk.calendar.add_working_hours(now, policy.claim_hours)
    return desk.calendar.end_of_working_day(now)


# --- deadlines: the claim and close limits, and stages, raise cards like node deadlines -------


def _label(issue: Issue) -> str:
    return f"{issue.number} · {_clip(issue.text, 60)}"


async def _track(
    session: AsyncSession,
    now: datetime,
    desk: Desk,
    issue: Issue,
    policy: Policy,
    known: dict[str, Deadline] | None = None,
) -> None:
    """Track the claim limit of the department now holding the issue, and its close limit.

    Each hand-over gets its own claim deadline (claim#1, claim#2 …): a department is judged on
    the time it had, and the one before is no longer carded for an issue it passed on.
    """
    common: dict[str, Any] = {
        "subject_type": "issue",
        "subject_id": issue.id,
        "label": _label(issue),
        "department_id": issue.department_id,
        "category": issue.category,
        "urgent": issue.priority == "urgent",
    }
    hops = 0
    new_rows: list[Deadline] = []
    if known is None:
        known = {row.kind: row for row in await deadlines.of_subject(session, "issue", issue.id)}
    for kind in known:
        if kind.startswith("claim#"):
            hops += 1
            await deadlines.cancel(session, now, "issue", issue.id, kind)
    if not hops:
        # Nothing was cancelled: what was read is still all there is. The new rows are written
        # together at the end, the others at the session's next flush.
        common.update(known=known, timing=policy.timing, flush=False, new_rows=new_rows)
    assert issue.claim_due_at is not None and issue.close_due_at is not None
    await deadlines.track(
        session, now, desk.zone, kind=f"claim#{hops + 1}", due=issue.claim_due_at, **common
    )
    await deadlines.track(session, now, desk.zone, kind="close", due=issue.close_due_at, **common)
    reported = issue.created_at
    for name, hours in policy.stage_limits:
        # Stages run one after another from the report: 1 h, 1 h, 2 h, 4 h is "1124".
        reported = desk.calendar.add_working_hours(reported, hours)
        await deadlines.track(session, now, desk.zone, kind=f"stage:{name}", due=reported, **common)
    await deadlines.write_new(session, new_rows)


async def _claim_deadline(session: AsyncSession, issue: Issue) -> str | None:
    kinds = [
        row.kind
        for row in await deadlines.of_subject(session, "issue", issue.id)
        if row.kind.startswith("claim#") and row.cancelled_at is None
    ]
    return kinds[-1] if kinds else None


async def finish_stage(
    session: AsyncSession, now: datetime, desk: Desk, who: Contact, issue_id: int, stage: str
) -> Outcome:
    """The lead department records a stage done ("on site" at 10:40)."""
    issue = await session.get(Issue, issue_id)
    if issue is None:
        return refuse(Refusal.UNKNOWN_ISSUE)
    if not may_answer(who, issue):
        return refuse(Refusal.NOT_ALLOWED, issue)
    row = await deadlines.find(session, "issue", issue.id, f"stage:{stage.strip()}")
    if row is None:
        return refuse(Refusal.UNKNOWN_STAGE, issue)
    if row.done_at is not None or issue.status not in OPEN_STATUSES:
        return refuse(Refusal.MOVED_ON, issue, status=issue.status)
    await deadlines.finish(session, now, desk.zone, "issue", issue.id, row.kind, now)
    audit(session, now, "stage_done", "issue", issue.id, actor_id=who.person.id, stage=stage)
    return Outcome(issue=issue)


# --- claim, transfer, triage ------------------------------------------------------------------


async def claim_issue(
    session: AsyncSession, now: datetime, desk: Desk, who: Contact, issue_id: int
) -> Outcome:
    """An official of the lead department takes the issue; exactly one of two at once wins."""
    issue = await session.get(Issue, issue_id)
    if issue is None:
        return refuse(Refusal.UNKNOWN_ISSUE)
    if not can(who.roles, Action.CLAIM_ISSUE) or who.person.department_id != issue.department_id:
        return refuse(Refusal.NOT_ALLOWED, issue)
    claimed = await session.scalar(
        update(Issue)
        .where(
            Issue.id == issue.id,
            Issue.status == IssueStatus.ROUTED,
            Issue.department_id == who.person.department_id,
        )
        .values(
            status=IssueStatus.CLAIMED, claimed_by_id=who.person.id, claimed_at=now, updated_at=now
        )
        .returning(Issue.id)
    )
    if claimed is None:
        await session.refresh(issue)
        return refuse(Refusal.MOVED_ON, issue, status=issue.status)
    await session.refresh(issue)
    late = issue.claim_due_at is not None and now > issue.claim_due_at
    audit(session, now, "issue_claimed", "issue", issue.id, actor_id=who.person.id, late=late)
    claim_kind = await _claim_deadline(session, issue)
    if claim_kind is not None:
        await deadlines.finish(session, now, desk.zone, "issue", issue.id, claim_kind, now)
    await deadlines.set_owner(session, "issue", issue.id, "close", who.person.id)
    await refresh_cards(session, now, desk, issue)
    await _tell_reporter(
        session,
        now,
        desk,
        issue,
        "issue_claimed_notice",
        {
            "official": who.person.full_name,
            "department": await _department_name(session, issue.department_id),
        },
    )
    return Outcome(issue=issue)


async def transfer_issue(
    session: AsyncSession,
    now: datetime,
    desk: Desk,
    who: Contact,
    issue_id: int,
    department: Department | None,
    reason: str,
) -> Outcome:
    """Hand the issue to another department, with a reason; the close-by time stays."""
    issue = await session.get(Issue, issue_id)
    if issue is None:
        return refuse(Refusal.UNKNOWN_ISSUE)
    refused = _why_not_transfer(who, issue) or _why_not_to(issue, department)
    if refused is not None:
        return refused
    assert department is not None
    reason = reason.strip()
    if not reason:
        return refuse(Refusal.NO_REASON, issue)
    previous = await _department_name(session, issue.department_id)
    await _hand_to(session, now, desk, issue, department)
    audit(
        session,
        now,
        "issue_transferred",
        "issue",
        issue.id,
        actor_id=who.person.id,
        source=previous,
        to=department.name,
        reason=reason[:500],
    )
    await refresh_cards(session, now, desk, issue)
    await _notify_routed(session, now, desk, issue, reason=reason)
    return Outcome(issue=issue)


async def assign_issue(
    session: AsyncSession,
    now: datetime,
    desk: Desk,
    who: Contact,
    issue_id: int,
    department_id: int,
) -> Outcome:
    """The coordinator places an issue that no rule placed."""
    found = await _load(session, issue_id, who, _may_triage, IssueStatus.NEW)
    if isinstance(found, Outcome):
        return found
    issue = found
    department = await session.get(Department, department_id)
    if department is None:
        return refuse(Refusal.UNKNOWN_DEPARTMENT, issue)
    await _hand_to(session, now, desk, issue, department)
    issue.routing_reason = f"{who.person.full_name} → {department.name}"
    audit(
        session,
        now,
        "issue_assigned",
        "issue",
        issue.id,
        actor_id=who.person.id,
        to=department.name,
    )
    await refresh_cards(session, now, desk, issue)
    await _notify_routed(session, now, desk, issue)
    return Outcome(issue=issue)


def _may_transfer(who: Contact, issue: Issue) -> bool:
    """The coordinator may move any issue; an official only one of their own department."""
    if can(who.roles, Action.TRIAGE):
        return True
    return can(who.roles, Action.TRANSFER_ISSUE) and who.person.department_id == issue.department_id


def _why_not_transfer(who: Contact, issue: Issue) -> Outcome | None:
    """Why this person cannot move this issue now (None: they can)."""
    if not _may_transfer(who, issue):
        return refuse(Refusal.NOT_ALLOWED, issue)
    if issue.status not in OPEN_STATUSES:
        return refuse(Refusal.MOVED_ON, issue, status=issue.status)
    return None


def _why_not_to(issue: Issue, department: Department | None) -> Outcome | None:
    if department is None:
        return refuse(Refusal.UNKNOWN_DEPARTMENT, issue)
    if department.id == issue.department_id:
        return refuse(Refusal.SAME_DEPARTMENT, issue)
    return None


def may_answer(who: Contact, issue: Issue) -> bool:
    """Officials of the lead department answer (and mark answers general)."""
    return can(who.roles, Action.ANSWER_ISSUE) and who.person.department_id == issue.department_id


async def _hand_to(
    session: AsyncSession, now: datetime, desk: Desk, issue: Issue, department: Department
) -> None:
    issue.department_id = department.id
    issue.assist_department_ids = [d for d in issue.assist_department_ids if d != department.id]
    issue.status = IssueStatus.ROUTED
    issue.claimed_by_id = None
    issue.claimed_at = None
    policy = await _policy(session, issue.category, issue.priority, desk)
    issue.claim_due_at = _claim_by(desk, now, policy)
    issue.updated_at = now
    await _track(session, now, desk, issue, policy)


# --- answer, confirmation, satisfaction -------------------------------------------------------


async def answer_issue(
    session: AsyncSession,
    now: datetime,
    desk: Desk,
    who: Contact,
    issue_id: int,
    text: str,
    attachments: Sequence[Attachment] = (),
) -> Outcome:
    """The official who claimed the issue answers it; the firm is asked to confirm."""
    found = await _load(
        session, issue_id, who, may_answer, IssueStatus.CLAIMED, IssueStatus.REOPENED
    )
    if isinstance(found, Outcome):
        return found
    issue = found
    text = text.strip()
    if not text:
        return refuse(Refusal.EMPTY, issue)
    if len(text) > MAX_REPORT_LENGTH:
        return refuse(Refusal.TOO_LONG, issue, limit=MAX_REPORT_LENGTH, length=len(text))
    confirm_days = (await _policy(session, issue.category, issue.priority)).confirm_days
    issue.answer = text
    issue.answered_by_id = who.person.id
    issue.answered_at = now
    for row in await deadlines.of_subject(session, "issue", issue.id):
        if row.kind.startswith("stage:"):  # an answer completes every stage still open
            await deadlines.finish(session, now, desk.zone, "issue", issue.id, row.kind, now)
    issue.status = IssueStatus.ANSWERED
    issue.confirm_due_at = now + timedelta(days=confirm_days)
    issue.updated_at = now
    audit(session, now, "issue_answered", "issue", issue.id, actor_id=who.person.id)
    await _attach(session, now, issue, attachments, "answer", who)
    await refresh_cards(session, now, desk, issue)
    await _tell_reporter(
        session,
        now,
        desk,
        issue,
        "issue_answer_notice",
        {
            "answer": text,
            "department": await _department_name(session, issue.department_id),
            "days": confirm_days,
        },
        buttons=[
            [
                {"key": "solved", "data": f"v1:confirm:{issue.id}:yes"},
                {"key": "not_solved", "data": f"v1:confirm:{issue.id}:no"},
            ],
            # Asked now, because a general answer is broadcast the moment the issue closes.
            [{"key": "name_consent", "data": f"v1:consent:{issue.id}"}],
        ],
    )
    return Outcome(issue=issue)


async def mark_general(
    session: AsyncSession, now: datetime, desk: Desk, who: Contact, issue_id: int
) -> Outcome:
    """The answering official says the answer serves a class of firms: broadcast it at closure."""
    found = await _load(session, issue_id, who, may_answer)
    if isinstance(found, Outcome):
        return found
    issue = found
    if issue.answer is None or issue.is_general:
        return refuse(Refusal.MOVED_ON, issue, status=issue.status)
    issue.is_general = True
    issue.updated_at = now
    audit(session, now, "issue_marked_general", "issue", issue.id, actor_id=who.person.id)
    if issue.status == IssueStatus.CLOSED:
        await _broadcast(session, now, desk, issue)
    return Outcome(issue=issue)


def _may_triage(who: Contact, issue: Issue) -> bool:
    return can(who.roles, Action.TRIAGE)


def _may_call_back(who: Contact, issue: Issue) -> bool:
    return can(who.roles, Action.RECORD_CALLBACK)


async def _load(
    session: AsyncSession,
    issue_id: int,
    who: Contact,
    allowed: Callable[[Contact, Issue], bool],
    *statuses: str,
) -> Issue | Outcome:
    """The issue, if it exists, this person may act on it, and it is in one of `statuses`."""
    issue = await session.get(Issue, issue_id)
    if issue is None:
        return refuse(Refusal.UNKNOWN_ISSUE)
    if not allowed(who, issue):
        return refuse(Refusal.NOT_ALLOWED, issue)
    if statuses and issue.status not in statuses:
        return refuse(Refusal.MOVED_ON, issue, status=issue.status)
    return issue


def _may_confirm(who: Contact, issue: Issue) -> bool:
    if issue.reporter_id == who.person.id:
        return True
    return issue.firm_id is not None and who.person.firm_id == issue.firm_id


async def confirm_issue(
    session: AsyncSession,
    now: datetime,
    desk: Desk,
    who: Contact,
    issue_id: int,
    solved: bool,
) -> Outcome:
    """The firm says whether the answer solved it; not solved asks for the reason first."""
    found = await _load(session, issue_id, who, _may_confirm, IssueStatus.ANSWERED)
    if isinstance(found, Outcome):
        return found
    issue = found
    if not solved:
        await _ask(session, now, desk, who, issue, "reopen_reason")
        return Outcome(issue=issue, detail={"asked": "reopen_reason"})
    await _close(session, now, desk, issue, "confirmed", who)
    chat = await _private_chat(session, who.person) or await session.get(Chat, issue.origin_chat_id)
    if chat is not None:
        buttons = [
            [
                {"key": "rating", "params": {"n": n}, "data": f"v1:rate:{issue.id}:{n}"}
                for n in range(1, 6)
            ]
        ]
        await enqueue(
            session,
            now,
            chat,
            "issue_rate_prompt",
            _language_for(chat, who, desk),
            {"number": issue.number},
            buttons=buttons,
        )
    return Outcome(issue=issue)


async def reopen_issue(
    session: AsyncSession, now: datetime, desk: Desk, who: Contact, issue_id: int, reason: str
) -> Outcome:
    """Not solved: back to the same department, with the firm's reason."""
    found = await _load(session, issue_id, who, _may_confirm, IssueStatus.ANSWERED)
    if isinstance(found, Outcome):
        return found
    issue = found
    reason = reason.strip()
    if not reason:
        return refuse(Refusal.NO_REASON, issue)
    if len(reason) > MAX_REPORT_LENGTH:
        return refuse(Refusal.TOO_LONG, issue, limit=MAX_REPORT_LENGTH, length=len(reason))
    issue.status = IssueStatus.REOPENED
    issue.feedback = reason
    issue.reopen_count += 1
    issue.confirm_due_at = None
    issue.updated_at = now
    audit(
        session,
        now,
        "issue_reopened",
        "issue",
        issue.id,
        actor_id=who.person.id,
        reason=reason[:500],
    )
    await refresh_cards(session, now, desk, issue)
    await _notify_department(
        session, now, desk, issue, "issue_reopened_notice", {"reason": reason}, cards=False
    )
    return Outcome(issue=issue)


async def rate_issue(
    session: AsyncSession, now: datetime, who: Contact, issue_id: int, rating: int
) -> Outcome:
    found = await _load(session, issue_id, who, _may_confirm, IssueStatus.CLOSED)
    if isinstance(found, Outcome):
        return found
    issue = found
    if not 1 <= rating <= 5:
        return refuse(Refusal.BAD_RATING, issue)
    issue.rating = rating
    issue.updated_at = now
    audit(session, now, "issue_rated", "issue", issue.id, actor_id=who.person.id, rating=rating)
    return Outcome(issue=issue)


async def consent_to_name(
    session: AsyncSession, now: datetime, who: Contact, issue_id: int
) -> Outcome:
    found = await _load(session, issue_id, who, _may_confirm)
    if isinstance(found, Outcome):
        return found
    issue = found
    if issue.name_consent or issue.is_private:
        return refuse(Refusal.MOVED_ON, issue)
    issue.name_consent = True
    audit(session, now, "name_consent_given", "issue", issue.id, actor_id=who.person.id)
    return Outcome(issue=issue)


async def close_unconfirmed(session: AsyncSession, now: datetime, desk: Desk) -> list[Issue]:
    """Answered issues whose firm did not react in time close as 'closed, unconfirmed'."""
    due = list(
        await session.scalars(
            select(Issue)
            .where(Issue.status == IssueStatus.ANSWERED, Issue.confirm_due_at <= now)
            .order_by(Issue.confirm_due_at)
            .limit(500)
            .with_for_update(skip_locked=True)
        )
    )
    for issue in due:
        await _close(session, now, desk, issue, "unconfirmed", None)
    return due


async def record_callback(
    session: AsyncSession, now: datetime, who: Contact, issue_id: int, result: str
) -> Outcome:
    """A supervisor's call-back (回访) to the firm: what the firm said."""
    found = await _load(session, issue_id, who, _may_call_back)
    if isinstance(found, Outcome):
        return found
    issue = found
    result = result.strip()
    if not result:
        return refuse(Refusal.EMPTY, issue)
    if len(result) > MAX_REPORT_LENGTH:
        return refuse(Refusal.TOO_LONG, issue, limit=MAX_REPORT_LENGTH, length=len(result))
    issue.callback_result, issue.callback_by_id, issue.callback_at = result, who.person.id, now
    issue.updated_at = now
    audit(
        session,
        now,
        "callback_recorded",
        "issue",
        issue.id,
        actor_id=who.person.id,
        result=result[:500],
    )
    return Outcome(issue=issue)


async def add_detail(
    session: AsyncSession,
    now: datetime,
    desk: Desk,
    who: Contact,
    issue: Issue,
    text: str,
    attachments: Sequence[Attachment] = (),
) -> Outcome:
    """The firm adds to its report by replying to the card; the department is told."""
    if not _may_confirm(who, issue):
        return refuse(Refusal.NOT_ALLOWED, issue)
    if issue.status == IssueStatus.CLOSED:
        return refuse(Refusal.MOVED_ON, issue, status=issue.status)
    text = text.strip()
    if not text and not attachments:
        return refuse(Refusal.EMPTY, issue)
    if len(text) > MAX_REPORT_LENGTH:
        return refuse(Refusal.TOO_LONG, issue, limit=MAX_REPORT_LENGTH, length=len(text))
    if text:
        audit(
            session,
            now,
            "detail_added",
            "issue",
            issue.id,
            actor_id=who.person.id,
            text=text[:1000],
        )
    await _attach(session, now, issue, attachments, "detail", who)
    issue.updated_at = now
    await _notify_department(
        session,
        now,
        desk,
        issue,
        "issue_detail_notice",
        {"text": text, "files": len(attachments)},
        cards=False,
    )
    return Outcome(issue=issue)


async def _close(
    session: AsyncSession,
    now: datetime,
    desk: Desk,
    issue: Issue,
    kind: str,
    who: Contact | None,
) -> None:
    issue.status = IssueStatus.CLOSED
    issue.close_kind = kind
    issue.closed_at = now
    issue.confirm_due_at = None
    issue.updated_at = now
    on_time = issue.close_due_at is None or (issue.answered_at or now) <= issue.close_due_at
    # The department is judged by when it answered, not by when the firm confirmed.
    await deadlines.finish(
        session, now, desk.zone, "issue", issue.id, "close", issue.answered_at or now
    )
    audit(
        session,
        now,
        "issue_closed",
        "issue",
        issue.id,
        actor_id=who.person.id if who else None,
        kind=kind,
        on_time=on_time,
    )
    await refresh_cards(session, now, desk, issue)
    if issue.is_general:
        await _broadcast(session, now, desk, issue)


async def _broadcast(session: AsyncSession, now: datetime, desk: Desk, issue: Issue) -> None:
    await broadcast_answer(session, now, issue, desk.language)


# --- dialogues --------------------------------------------------------------------------------


async def _ask(
    session: AsyncSession,
    now: datetime,
    desk: Desk,
    who: Contact,
    issue: Issue,
    kind: str,
    **payload: Any,
) -> None:
    """Ask the person a question about the issue; their next message in that chat answers it."""
    await ask(
        session,
        now,
        who,
        kind,
        _language_for(who.chat, who, desk),
        {"issue_id": issue.id, **payload},
        {"number": issue.number, **payload},
    )


async def ask_transfer_reason(
    session: AsyncSession,
    now: datetime,
    desk: Desk,
    who: Contact,
    issue_id: int,
    department_id: int,
) -> Outcome:
    """The official chose a department with the buttons; the reason comes in their next message."""
    issue = await session.get(Issue, issue_id)
    department = await session.get(Department, department_id)
    if issue is None:
        return refuse(Refusal.UNKNOWN_ISSUE)
    refused = _why_not_transfer(who, issue) or _why_not_to(issue, department)
    if refused is not None:
        return refused
    assert department is not None
    await _ask(
        session,
        now,
        desk,
        who,
        issue,
        "transfer_reason",
        department_id=department.id,
        department=department.name,
    )
    return Outcome(issue=issue)


async def answer_dialogue(
    session: AsyncSession, now: datetime, desk: Desk, who: Contact, dialogue: Dialogue, text: str
) -> Outcome:
    """The person's message answers the question the bot asked them."""
    dialogue.status = "answered"
    issue_id = int(dialogue.payload["issue_id"])
    if dialogue.kind == "reopen_reason":
        return await reopen_issue(session, now, desk, who, issue_id, text)
    if dialogue.kind == "transfer_reason":
        department = await session.get(Department, int(dialogue.payload["department_id"]))
        return await transfer_issue(session, now, desk, who, issue_id, department, text)
    return refuse(Refusal.MOVED_ON)


# --- cards and notices ------------------------------------------------------------------------


async def card_params(
    session: AsyncSession, desk: Desk, issue: Issue, new: bool = False
) -> dict[str, Any]:
    """What an issue card shows, in the county's local time; a `new` issue has no cards yet."""

    def local(moment: datetime | None) -> str | None:
        return moment.astimezone(desk.zone).strftime("%Y-%m-%d %H:%M") if moment else None

    assists = [
        name
        for name in [await _department_name(session, d) for d in issue.assist_department_ids]
        if name
    ]
    claimed_by = await session.get(Person, issue.claimed_by_id) if issue.claimed_by_id else None
    firm = await session.get(Firm, issue.firm_id) if issue.firm_id else None
    # The cards raised on its limits, so the group sees them too.
    carded = (
        []
        if new
        else [
            {"deadline": row.kind, "colour": row.cards.split(",")[-1]}
            for row in await deadlines.of_subject(session, "issue", issue.id)
            if row.cards
        ]
    )
    return {
        "number": issue.number,
        "status": issue.status,
        "category": issue.category or "other",
        "text": _clip(issue.text, CARD_TEXT_LIMIT),
        "firm": firm.name if firm else None,
        "verified": issue.verified,
        "department": await _department_name(session, issue.department_id),
        "assists": assists,
        "routing_reason": issue.routing_reason,
        "claim_by": local(issue.claim_due_at),
        "close_by": local(issue.close_due_at),
        "claimed_by": claimed_by.full_name if claimed_by else None,
        "answer": _clip(issue.answer, CARD_TEXT_LIMIT) if issue.answer else None,
        "close_kind": issue.close_kind,
        "reopen_count": issue.reopen_count,
        "private": issue.is_private,
        "carded": carded,
    }


def _card_buttons(issue: Issue, role: str) -> list[list[dict[str, Any]]] | None:
    if role == "department" and issue.status in (IssueStatus.ROUTED,):
        return [
            [
                {"key": "claim", "data": f"v1:claim:{issue.id}"},
                {"key": "transfer", "data": f"v1:transfer:{issue.id}"},
            ]
        ]
    if role == "department" and issue.status in (IssueStatus.CLAIMED, IssueStatus.REOPENED):
        return [[{"key": "transfer", "data": f"v1:transfer:{issue.id}"}]]
    return None


async def _post_card(
    session: AsyncSession,
    now: datetime,
    desk: Desk,
    issue: Issue,
    chat: Chat,
    role: str,
    reply_to: int | None = None,
    buttons: list[list[dict[str, Any]]] | None = None,
    params: dict[str, Any] | None = None,
) -> None:
    """Post the issue's card in `chat`; `params` are its `card_params` when already gathered."""
    if params is None:
        params = await card_params(session, desk, issue)
    outbox_id = await enqueue(
        session,
        now,
        chat,
        "issue_card",
        desk.language,
        params,
        buttons=buttons if buttons is not None else _card_buttons(issue, role),
        reply_to_message_id=reply_to,
    )
    assert outbox_id is not None
    # Two in every report: written at commit, together (`refresh_cards` writes them first).
    write_at_commit(
        session,
        IssueCard,
        {
            "issue_id": issue.id,
            "chat_id": chat.id,
            "outbox_id": outbox_id,
            "role": role,
            "created_at": now,
        },
    )


async def refresh_cards(session: AsyncSession, now: datetime, desk: Desk, issue: Issue) -> int:
    """Edit every card of the issue in place, so each chat always sees the truth."""
    params = await card_params(session, desk, issue)
    await write_waiting(session)  # cards posted in this transaction
    cards = list(await session.scalars(select(IssueCard).where(IssueCard.issue_id == issue.id)))
    for card in cards:
        chat = await session.get(Chat, card.chat_id)
        if chat is None or chat.undeliverable_at is not None:
            continue
        buttons = _card_buttons(issue, card.role)
        if card.role == "triage" and issue.status == IssueStatus.NEW:
            buttons = await _triage_buttons(session, issue)
        await enqueue(
            session,
            now,
            chat,
            "issue_card",
            desk.language,
            params,
            buttons=buttons,
            edit_of_id=card.outbox_id,
        )
    return len(cards)


async def _post_origin_card(
    session: AsyncSession,
    now: datetime,
    desk: Desk,
    issue: Issue,
    chat: Chat,
    reply_to: int | None,
    card: dict[str, Any] | None = None,
) -> None:
    await _post_card(session, now, desk, issue, chat, "origin", reply_to=reply_to, params=card)


async def _notify_routed(
    session: AsyncSession,
    now: datetime,
    desk: Desk,
    issue: Issue,
    reason: str | None = None,
    card: dict[str, Any] | None = None,
) -> None:
    """The lead department gets a card with [Claim] [Transfer]; unplaced ones go to triage.

    `card` is the issue's `card_params` when already gathered."""
    if card is None:
        card = await card_params(session, desk, issue)
    if issue.status == IssueStatus.NEW:
        for chat in await _coordinator_chats(session):
            await _post_card(
                session,
                now,
                desk,
                issue,
                chat,
                "triage",
                buttons=await _triage_buttons(session, issue),
                params=card,
            )
        return
    await _notify_department(
        session, now, desk, issue, "issue_routed_notice", {"reason": reason}, cards=True, card=card
    )
    for department_id in issue.assist_department_ids:
        for chat in await _department_chats(session, department_id):
            await enqueue(session, now, chat, "issue_assist_notice", desk.language, card)


async def _notify_department(
    session: AsyncSession,
    now: datetime,
    desk: Desk,
    issue: Issue,
    template: str,
    params: dict[str, Any],
    *,
    cards: bool,
    card: dict[str, Any] | None = None,
) -> None:
    if issue.department_id is None:
        # Still awaiting triage (a firm can add details by then): the coordinator, who will
        # place it, hears of it instead.
        chats = await _coordinator_chats(session)
    else:
        chats = await _department_chats(session, issue.department_id)
    for chat in chats:
        if cards:
            await _post_card(session, now, desk, issue, chat, "department", params=card)
        if template != "issue_routed_notice" or params.get("reason"):
            await enqueue(
                session, now, chat, template, desk.language, {"number": issue.number, **params}
            )


async def _triage_buttons(session: AsyncSession, issue: Issue) -> list[list[dict[str, Any]]]:
    departments = list(
        await session.scalars(
            select(Department).where(Department.is_coordinator.is_(False)).order_by(Department.id)
        )
    )
    buttons = [
        {"key": "assign", "params": {"name": d.name}, "data": f"v1:assign:{issue.id}:{d.id}"}
        for d in departments[:24]
    ]
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]


async def transfer_choices(
    session: AsyncSession, who: Contact, issue_id: int
) -> tuple[Outcome, list[list[dict[str, Any]]]]:
    """The departments an issue can be transferred to, as buttons."""
    issue = await session.get(Issue, issue_id)
    if issue is None:
        return refuse(Refusal.UNKNOWN_ISSUE), []
    refused = _why_not_transfer(who, issue)
    if refused is not None:
        return refused, []
    departments = await session.scalars(
        select(Department)
        .where(Department.is_coordinator.is_(False), Department.id != issue.department_id)
        .order_by(Department.id)
    )
    buttons = [
        {"key": "assign", "params": {"name": d.name}, "data": f"v1:tr:{issue.id}:{d.id}"}
        for d in list(departments)[:24]
    ]
    return Outcome(issue=issue), [buttons[i : i + 2] for i in range(0, len(buttons), 2)]


# Read for every report; built once (see `common.prepared_insert`).
_WORKING_CHATS = select(Chat).where(
    Chat.purpose == ChatPurpose.DEPARTMENT,
    Chat.department_id == bindparam("department_id"),
    Chat.undeliverable_at.is_(None),
)
_OFFICIALS_CHATS = (
    select(Chat)
    .join(Person, Person.telegram_id == Chat.telegram_id)
    .join(PersonRole, PersonRole.person_id == Person.id)
    .where(
        Person.department_id == bindparam("department_id"),
        PersonRole.role == Role.OFFICIAL,
        Chat.undeliverable_at.is_(None),
    )
    .order_by(Chat.id)
)


async def _department_chats(session: AsyncSession, department_id: int) -> list[Chat]:
    """The department's working chat, or else its officials' private chats."""
    chosen = {"department_id": department_id}
    working = await read_mostly(session, _WORKING_CHATS, chosen)
    if working:
        return working
    return await read_mostly(session, _OFFICIALS_CHATS, chosen)


async def _coordinator_chats(session: AsyncSession) -> list[Chat]:
    office = await session.scalar(select(Department.id).where(Department.is_coordinator.is_(True)))
    if office is not None:
        working = await _department_chats(session, office)
        working = [c for c in working if c.purpose == ChatPurpose.DEPARTMENT]
        if working:
            return working
    return list(
        await session.scalars(
            select(Chat)
            .join(Person, Person.telegram_id == Chat.telegram_id)
            .join(PersonRole, PersonRole.person_id == Person.id)
            .where(PersonRole.role == Role.COORDINATOR, Chat.undeliverable_at.is_(None))
            .order_by(Chat.id)
        )
    )


async def _tell_liaison(
    session: AsyncSession,
    now: datetime,
    desk: Desk,
    issue: Issue,
    firm: Firm | None,
    card: dict[str, Any] | None = None,
) -> None:
    if firm is None or firm.liaison_id is None:
        return
    liaison = await session.get(Person, firm.liaison_id)
    chat = await _private_chat(session, liaison) if liaison else None
    if chat is not None:
        await enqueue(
            session,
            now,
            chat,
            "issue_liaison_notice",
            desk.language,
            card if card is not None else await card_params(session, desk, issue),
        )


async def _tell_reporter(
    session: AsyncSession,
    now: datetime,
    desk: Desk,
    issue: Issue,
    template: str,
    params: dict[str, Any],
    buttons: list[list[dict[str, Any]]] | None = None,
) -> None:
    """Reach the firm: its reporter in private when the bot can, else where it reported."""
    reporter = await session.get(Person, issue.reporter_id) if issue.reporter_id else None
    chat = await _private_chat(session, reporter) if reporter else None
    reply_to = None
    if chat is None and issue.origin_chat_id is not None:
        chat = await session.get(Chat, issue.origin_chat_id)
        reply_to = issue.origin_message_id
    if chat is None or chat.undeliverable_at is not None:
        return
    language = (reporter.language if reporter and chat.kind == "private" else None) or desk.language
    await enqueue(
        session,
        now,
        chat,
        template,
        language,
        {"number": issue.number, **params},
        buttons=buttons,
        reply_to_message_id=reply_to,
    )


async def _private_chat(session: AsyncSession, person: Person | None) -> Chat | None:
    if person is None:
        return None
    return await session.scalar(
        select(Chat).where(
            Chat.telegram_id == person.telegram_id,
            Chat.kind == "private",
            Chat.undeliverable_at.is_(None),
        )
    )


async def _department_name(session: AsyncSession, department_id: int | None) -> str | None:
    if department_id is None:
        return None
    # Through the identity map: a department read earlier in the transaction is not read again.
    department = await session.get(Department, department_id)
    return department.name if department else None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _language_for(chat: Chat, who: Contact | None, desk: Desk) -> str:
    if chat.kind == "private" and who is not None and who.person.language:
        return who.person.language
    return desk.language


# --- reading ----------------------------------------------------------------------------------


def may_see(who: Contact, issue: Issue) -> bool:
    """Private issues: the firm, its department, coordinators and leaders; others: anyone."""
    if _may_confirm(who, issue):
        return True
    if who.person.department_id is not None and who.person.department_id == issue.department_id:
        return True
    if who.roles & {Role.COORDINATOR, Role.LEADER, Role.ADMIN}:
        return True
    return not issue.is_private and bool(who.roles)


async def history(session: AsyncSession, issue: Issue) -> list[tuple[AuditEntry, str | None]]:
    """The issue's whole track: every audit entry, with who did it."""
    rows = await session.execute(
        select(AuditEntry, Person.full_name)
        .outerjoin(Person, Person.id == AuditEntry.actor_id)
        .where(AuditEntry.subject_type == "issue", AuditEntry.subject_id == issue.id)
        .order_by(AuditEntry.id)
    )
    return [(entry, name) for entry, name in rows.all()]


async def queue(session: AsyncSession, who: Contact, limit: int = 30) -> list[Issue]:
    """Open issues of the person's department; everything open for coordinators and leaders."""
    statement = select(Issue).where(Issue.status.in_([*OPEN_STATUSES, IssueStatus.ANSWERED]))
    if not who.roles & {Role.COORDINATOR, Role.LEADER, Role.ADMIN}:
        if who.person.department_id is None:
            return []
        statement = statement.where(Issue.department_id == who.person.department_id)
    statement = statement.order_by(Issue.claim_due_at.is_(None), Issue.claim_due_at, Issue.id)
    return list(await session.scalars(statement.limit(limit)))
