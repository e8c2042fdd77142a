"""Deadlines and cards (红黄牌): tracking every limit, re-commitments and the leader's decision.

An issue's claim and close limits and a node's date are all rows of `deadlines`. Each row keeps
two indexed instants: `card_due_at`, after which a card is owed, and `next_reminder_at`. The
sweep (models/services/sweep.py) reads only the rows whose instant has passed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, case, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.rules import cards as card_rules
from models.rules.cards import Colour, Recommit, RecommitProblem, check_recommit
from models.rules.permissions import Action, Role, can
from models.rules.reminding import (
    DEFAULT_OFFSETS,
    QuietHours,
    next_reminder,
)
from models.services.common import audit, enqueue, service_policy, table_insert
from models.services.contacts import Contact
from models.tables import (
    Card,
    Chat,
    ChatPurpose,
    Deadline,
    Person,
    PersonRole,
    ServicePolicy,
)


class Refusal(StrEnum):
    NOT_ALLOWED = "not_allowed"
    UNKNOWN_ITEM = "unknown_item"
    MOVED_ON = "moved_on"
    BAD_DATE = "bad_date"
    NO_REASON = RecommitProblem.NO_REASON.value
    REASON_TOO_LONG = RecommitProblem.REASON_TOO_LONG.value
    NOT_IN_FUTURE = RecommitProblem.NOT_IN_FUTURE.value
    TOO_FAR = RecommitProblem.TOO_FAR.value


@dataclass(frozen=True)
class Outcome:
    deadline: Deadline | None = None
    refused: Refusal | None = None

    @property
    def ok(self) -> bool:
        return self.refused is None


@dataclass(frozen=True)
class Timing:
    """A policy's reminder offsets and quiet hours."""

    offsets: tuple[timedelta, ...] = DEFAULT_OFFSETS
    quiet: QuietHours | None = None


# --- tracking ---------------------------------------------------------------------------------


def rule_view(row: Deadline) -> card_rules.Deadline:
    """The row as the card rules see it."""
    return card_rules.Deadline(
        kind=row.kind,
        due=row.due_at,
        recommitted_due=row.recommit_due_at,
        recommit_approved=row.recommit_status == "approved",
        done_at=row.done_at,
        cards=tuple(Colour(c) for c in row.cards.split(",") if c),
    )


async def timing_for(
    session: AsyncSession, category: str | None, urgent: bool, zone: Any
) -> Timing:
    """Reminder offsets and quiet hours from the category's policy, else the default one."""
    policy = await service_policy(session, category, "urgent" if urgent else "normal")
    return timing_of(policy, zone)


def timing_of(policy: ServicePolicy | None, zone: Any) -> Timing:
    """Reminder offsets and quiet hours from a policy row already read (None: the built-in)."""
    if policy is None:
        return Timing(quiet=QuietHours(zone=zone))
    offsets = tuple(timedelta(hours=float(h)) for h in policy.reminder_hours if float(h) > 0)
    return Timing(offsets, quiet_hours(policy.quiet_hours, zone))


def quiet_hours(text: str, zone: Any) -> QuietHours | None:
    """ "22:00-07:30" as quiet hours in the county's zone; "" (or nonsense) for none."""
    start, _, end = (text or "").partition("-")
    try:
        return QuietHours(time.fromisoformat(start), time.fromisoformat(end), zone)
    except ValueError:
        return None


def holding_due() -> ColumnElement[datetime]:
    """The date that holds, in SQL: the approved re-committed one, else the original (a pending
    re-commitment counts for nothing, as for the cards)."""
    return case(
        (Deadline.recommit_status == "approved", Deadline.recommit_due_at),
        else_=Deadline.due_at,
    )


def overdue_at(now: datetime) -> ColumnElement[bool]:
    """Open limits whose holding date has passed: what the digest and the big screen count."""
    return and_(Deadline.done_at.is_(None), Deadline.cancelled_at.is_(None), holding_due() < now)


def schedule(row: Deadline, after: datetime, timing: Timing) -> None:
    """Set the two instants the sweep looks at from the row's state."""
    if row.cancelled_at is not None:
        row.card_due_at = row.next_reminder_at = None
        return
    view = rule_view(row)
    row.card_due_at = card_rules.card_due_at(view)
    row.next_reminder_at = next_reminder(view, after, timing.offsets)


async def _reschedule(
    session: AsyncSession, row: Deadline, after: datetime, zone: Any, timing: Timing | None = None
) -> None:
    if timing is None:
        timing = await timing_for(session, row.category, row.urgent, zone)
    schedule(row, after, timing)


async def track(
    session: AsyncSession,
    now: datetime,
    zone: Any,
    *,
    subject_type: str,
    subject_id: int,
    kind: str,
    label: str,
    due: datetime,
    department_id: int | None,
    owner_id: int | None = None,
    approver_id: int | None = None,
    category: str | None = None,
    urgent: bool = False,
    weight: float = 1.0,
    timing: Timing | None = None,
    known: Mapping[str, Deadline] | None = None,
    flush: bool = True,
    new_rows: list[Deadline] | None = None,
) -> Deadline:
    """Start tracking a deadline, or move one that has no card yet (a transfer, a new owner).

    A caller that has read them already passes the timing of the deadline's policy and `known`,
    all the subject's deadlines by kind: on the intake path every statement saved counts. With
    `flush=False` the row is written with the session's next flush (several in one statement),
    and has no id until then. With `new_rows`, a new row is not added to the session but to that
    list, for `write_new` to write them all at once without the ORM (it then has no id at all).
    """
    if known is not None:
        row = known.get(kind)
    else:
        row = await find(session, subject_type, subject_id, kind)
    if row is None:
        row = Deadline(
            subject_type=subject_type,
            subject_id=subject_id,
            kind=kind,
            cards="",
            created_at=now,
        )
        if new_rows is None:
            session.add(row)
        else:
            new_rows.append(row)
    elif row.cards or row.done_at is not None:
        return row
    row.label = label[:320]
    row.due_at = due
    row.department_id = department_id
    row.owner_id = owner_id
    row.approver_id = approver_id
    row.category = category
    row.urgent = urgent
    row.weight = weight
    row.cancelled_at = None
    row.updated_at = now
    await _reschedule(session, row, now, zone, timing)
    if flush:
        await session.flush()
    return row


async def write_new(session: AsyncSession, rows: list[Deadline]) -> None:
    """Insert the rows `track(new_rows=…)` made, in one statement without the ORM.

    On the intake path the ORM flushed a new issue's two limits as two statements (it needs each
    row's id back); nothing there needs the ids.
    """
    if rows:
        # The attributes `track` set, so that a column it leaves unset gets its default.
        await session.execute(table_insert(Deadline), [_values(row) for row in rows])


def _values(row: Deadline) -> dict[str, Any]:
    return {name: value for name, value in inspect(row).dict.items() if name in _COLUMNS}


_COLUMNS = frozenset(column.key for column in Deadline.__table__.columns) - {"id"}


async def find(
    session: AsyncSession, subject_type: str, subject_id: int, kind: str
) -> Deadline | None:
    return await session.scalar(
        select(Deadline).where(
            Deadline.subject_type == subject_type,
            Deadline.subject_id == subject_id,
            Deadline.kind == kind,
        )
    )


async def of_subject(session: AsyncSession, subject_type: str, subject_id: int) -> list[Deadline]:
    return list(
        await session.scalars(
            select(Deadline)
            .where(Deadline.subject_type == subject_type, Deadline.subject_id == subject_id)
            .order_by(Deadline.id)
        )
    )


async def finish(
    session: AsyncSession,
    now: datetime,
    zone: Any,
    subject_type: str,
    subject_id: int,
    kind: str,
    done_at: datetime,
) -> Deadline | None:
    """The work is done (at `done_at`); the sweep then raises its green, or its late yellow."""
    row = await find(session, subject_type, subject_id, kind)
    if row is None or row.done_at is not None or row.cancelled_at is not None:
        return row
    row.done_at = done_at
    row.updated_at = now
    await _reschedule(session, row, now, zone)
    return row


async def set_owner(
    session: AsyncSession, subject_type: str, subject_id: int, kind: str, owner_id: int | None
) -> None:
    """The person now answerable for the deadline (the official who claimed an issue)."""
    row = await find(session, subject_type, subject_id, kind)
    if row is not None:
        row.owner_id = owner_id


async def cancel(
    session: AsyncSession, now: datetime, subject_type: str, subject_id: int, kind: str
) -> None:
    """Stop tracking (an issue handed to another department before it was claimed)."""
    row = await find(session, subject_type, subject_id, kind)
    if row is None or row.done_at is not None or row.cancelled_at is not None:
        return
    row.cancelled_at = now
    row.updated_at = now
    row.card_due_at = row.next_reminder_at = None


# --- the sweep --------------------------------------------------------------------------------


async def approver_chats(session: AsyncSession, row: Deadline) -> list[Chat]:
    """The leader in charge in private, else every leader."""
    if row.approver_id is not None:
        approver = await session.get(Person, row.approver_id)
        chat = await private_chat_of(session, approver)
        return [chat] if chat else []
    return await role_chats(session, Role.LEADER)


def approval_buttons(row: Deadline) -> list[dict[str, Any]]:
    short = row.label[:20]
    return [
        {"key": "approve", "params": {"label": short}, "data": f"v1:ra:{row.id}"},
        {"key": "reject", "params": {"label": short}, "data": f"v1:rj:{row.id}"},
    ]


def local_time(moment: datetime, zone: Any) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


# --- who hears --------------------------------------------------------------------------------


async def private_chat_of(session: AsyncSession, person: Person | None) -> Chat | None:
    if person is None:
        return None
    return await session.scalar(
        select(Chat).where(
            Chat.telegram_id == person.telegram_id,
            Chat.kind == "private",
            Chat.undeliverable_at.is_(None),
        )
    )


async def department_chats(session: AsyncSession, department_id: int | None) -> list[Chat]:
    """The department's working chat, or else its officials' private chats."""
    if department_id is None:
        return []
    working = list(
        await session.scalars(
            select(Chat).where(
                Chat.purpose == ChatPurpose.DEPARTMENT,
                Chat.department_id == department_id,
                Chat.undeliverable_at.is_(None),
            )
        )
    )
    return working or await role_chats(session, Role.OFFICIAL, department_id)


async def role_chats(
    session: AsyncSession, role: Role, department_id: int | None = None
) -> list[Chat]:
    statement = (
        select(Chat)
        .join(Person, Person.telegram_id == Chat.telegram_id)
        .join(PersonRole, PersonRole.person_id == Person.id)
        .where(PersonRole.role == role, Chat.kind == "private", Chat.undeliverable_at.is_(None))
        .order_by(Chat.id)
    )
    if department_id is not None:
        statement = statement.where(Person.department_id == department_id)
    return list(await session.scalars(statement))


# --- re-commitment and approval ---------------------------------------------------------------


def may_recommit(who: Contact, row: Deadline) -> bool:
    """The owner, or an official or head of the responsible department."""
    if not can(who.roles, Action.RECOMMIT):
        return False
    return who.person.id == row.owner_id or (
        row.department_id is not None and who.person.department_id == row.department_id
    )


def may_decide(who: Contact, row: Deadline) -> bool:
    """The leader in charge; when the item names none, any leader."""
    if not can(who.roles, Action.APPROVE_RECOMMIT):
        return False
    return row.approver_id is None or row.approver_id == who.person.id


async def load(session: AsyncSession, deadline_id: int) -> Deadline | None:
    return await session.get(Deadline, deadline_id)


async def propose_recommit(
    session: AsyncSession,
    now: datetime,
    zone: Any,
    language: str,
    who: Contact,
    deadline_id: int,
    reason: str,
    new_due: datetime | None,
) -> Outcome:
    """The responsible side gives the reason and a new date; the leader is asked to decide."""
    row = await load(session, deadline_id)
    if row is None:
        return Outcome(refused=Refusal.UNKNOWN_ITEM)
    if not may_recommit(who, row):
        return Outcome(row, Refusal.NOT_ALLOWED)
    if new_due is None:
        return Outcome(row, Refusal.BAD_DATE)
    problem = check_recommit(rule_view(row), Recommit(reason, new_due), now)
    if problem is not None:
        moved_on = problem in (
            RecommitProblem.NOT_YELLOW,
            RecommitProblem.ALREADY_APPROVED,
            RecommitProblem.ALREADY_DONE,
        )
        return Outcome(row, Refusal.MOVED_ON if moved_on else Refusal(problem.value))
    row.recommit_due_at = new_due
    row.recommit_reason = reason.strip()
    row.recommit_status = "pending"
    row.recommit_by_id = who.person.id
    row.recommitted_at = now
    row.updated_at = now
    await _reschedule(session, row, now, zone)
    audit(
        session,
        now,
        "recommit_proposed",
        row.subject_type,
        row.subject_id,
        actor_id=who.person.id,
        deadline=row.kind,
        new_due=new_due.isoformat(),
        reason=row.recommit_reason,
    )
    params = {
        "label": row.label,
        "due": local_time(row.due_at, zone),
        "new_due": local_time(new_due, zone),
        "reason": row.recommit_reason,
        "by": who.person.full_name,
    }
    for chat in await approver_chats(session, row):
        await enqueue(
            session,
            now,
            chat,
            "recommit_request",
            language,
            params,
            buttons=[approval_buttons(row)],
        )
    return Outcome(row)


async def decide_recommit(
    session: AsyncSession,
    now: datetime,
    zone: Any,
    language: str,
    who: Contact,
    deadline_id: int,
    approve: bool,
    note: str = "",
) -> Outcome:
    """The leader approves the new date (it now counts) or rejects it (a new one is needed)."""
    row = await load(session, deadline_id)
    if row is None:
        return Outcome(refused=Refusal.UNKNOWN_ITEM)
    if not may_decide(who, row):
        return Outcome(row, Refusal.NOT_ALLOWED)
    decided = await session.execute(
        update(Deadline)
        .where(Deadline.id == row.id, Deadline.recommit_status == "pending")
        .values(
            recommit_status="approved" if approve else None,
            recommit_due_at=Deadline.recommit_due_at if approve else None,
            updated_at=now,
        )
        .returning(Deadline.id)
    )
    if decided.scalar() is None:
        return Outcome(row, Refusal.MOVED_ON)
    await session.refresh(row)
    await _reschedule(session, row, now, zone)
    audit(
        session,
        now,
        "recommit_approved" if approve else "recommit_rejected",
        row.subject_type,
        row.subject_id,
        actor_id=who.person.id,
        deadline=row.kind,
        note=note or None,
    )
    params = {
        "label": row.label,
        "approved": approve,
        "new_due": local_time(row.recommit_due_at, zone) if row.recommit_due_at else None,
        "note": note,
        "by": who.person.full_name,
    }
    proposer = await session.get(Person, row.recommit_by_id) if row.recommit_by_id else None
    chat = await private_chat_of(session, proposer)
    targets = [chat] if chat else await department_chats(session, row.department_id)
    buttons = None
    if not approve:
        buttons = [
            [{"key": "recommit", "params": {"label": row.label[:24]}, "data": f"v1:rc:{row.id}"}]
        ]
    for target in targets:
        await enqueue(session, now, target, "recommit_decided", language, params, buttons=buttons)
    return Outcome(row)


async def open_items(session: AsyncSession, subject_type: str, subject_id: int) -> list[Deadline]:
    """The subject's deadlines that can still be re-committed (yellow, open, not approved)."""
    return [
        row
        for row in await of_subject(session, subject_type, subject_id)
        if rule_view(row).cards == (Colour.YELLOW,)
        and row.done_at is None
        and row.cancelled_at is None
        and row.recommit_status != "approved"
    ]


async def awaiting_decision(
    session: AsyncSession, subject_type: str, subject_id: int
) -> list[Deadline]:
    return [
        row
        for row in await of_subject(session, subject_type, subject_id)
        if row.recommit_status == "pending"
    ]


async def supervision_list(session: AsyncSession) -> list[Deadline]:
    """The key-supervision list: every red-carded item, newest first."""
    return list(
        await session.scalars(
            select(Deadline)
            .where(Deadline.supervised_at.is_not(None))
            .order_by(Deadline.supervised_at.desc(), Deadline.id.desc())
            .limit(100)
        )
    )


async def cards_of(session: AsyncSession, deadline_ids: Sequence[int]) -> dict[int, list[Card]]:
    found: dict[int, list[Card]] = {}
    if not deadline_ids:
        return found
    for card in await session.scalars(
        select(Card).where(Card.deadline_id.in_(deadline_ids)).order_by(Card.id)
    ):
        found.setdefault(card.deadline_id, []).append(card)
    return found
