"""The sweep: every card owed and every reminder due, found from two indexed instants.

One pass reads at most `limit` rows whose `card_due_at` has passed and as many whose
`next_reminder_at` has, applies the card and reminder rules to each, and writes in the caller's
transaction: the cards (one statement, unique per deadline and colour, so a card recorded by
another sweep is not recorded again), their points and audit entries (one statement each), the
rows' new instants, and one batched message per chat. Lookups (policies, points rules, who hears)
are made once per pass, so the pass costs what is due, not what is open.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.rules.cards import Colour, next_card
from models.rules.permissions import Role
from models.rules.reminding import Notice, ReminderKind, batch, deliver_at, next_reminder
from models.rules.reminding import reminder_kind as kind_of_reminder
from models.rules.scoring import PointsPolicy, Weights, points_for
from models.services.common import Outgoing, enqueue_many, insert_ignoring_conflicts
from models.services.deadlines import (
    Timing,
    approval_buttons,
    local_time,
    private_chat_of,
    role_chats,
    rule_view,
    schedule,
    timing_for,
)
from models.services.scoring import points_setup
from models.tables import (
    AuditEntry,
    Card,
    Chat,
    ChatPurpose,
    Deadline,
    Department,
    Person,
    PersonRole,
    PointsEntry,
)

SWEEP_BATCH = 500
# One batched message lists at most this many items with buttons; the rest are listed plainly.
MAX_BUTTON_ROWS = 20


class NoticeKind(StrEnum):
    """What a line of a batched message says about an item."""

    BEFORE_DUE = ReminderKind.BEFORE_DUE.value
    RECOMMIT_NEEDED = ReminderKind.RECOMMIT_NEEDED.value
    APPROVAL_NEEDED = ReminderKind.APPROVAL_NEEDED.value
    YELLOW = "yellow"
    RED = "red"  # the interview notice, to the owner and the department head
    RED_LEADER = "red_leader"  # the leader is told


@dataclass
class Swept:
    """What one sweep did."""

    cards: list[tuple[int, Colour]] = field(default_factory=list)
    reminders: int = 0
    held: int = 0
    messages: int = 0
    # Rows looked at; a full batch of either means more may be due.
    examined: int = 0


# Told, in the sweep's transaction, of the items that got a new card (their cards show it).
CardsRaised = Callable[[AsyncSession, set[tuple[str, int]]], Awaitable[None]]


@dataclass(frozen=True)
class _Line:
    """One line of a batched message: an item, what about it, and the cards it reports."""

    deadline: Deadline
    kind: NoticeKind
    cards: tuple[int, ...] = ()


@dataclass(frozen=True)
class _Planned:
    row: Deadline
    colour: Colour
    missed: datetime | None


class _Pass:
    """What one sweep looks up, each thing once."""

    def __init__(self, session: AsyncSession, now: datetime, zone: Any) -> None:
        self.session, self.now, self.zone = session, now, zone
        self._timings: dict[tuple[str | None, bool], Timing] = {}
        self._points: tuple[dict[str | None, PointsPolicy], Weights] | None = None
        self._kinds: dict[int, str | None] | None = None
        self._owners: dict[tuple[int | None, int | None], list[int]] = {}
        self._leaders: dict[int | None, list[int]] = {}
        # Department → chats: its working chats, its officials' and its heads' private chats.
        self._by_department: dict[str, dict[int, list[int]]] | None = None

    async def _department_chats(self, which: str, department_id: int | None) -> list[int]:
        if self._by_department is None:
            self._by_department = {"working": {}, Role.OFFICIAL: {}, Role.HEAD: {}}
            working = await self.session.execute(
                select(Chat.department_id, Chat.id)
                .where(
                    Chat.purpose == ChatPurpose.DEPARTMENT,
                    Chat.undeliverable_at.is_(None),
                    Chat.department_id.is_not(None),
                )
                .order_by(Chat.id)
            )
            for department, chat in working.all():
                if department is not None:
                    self._by_department["working"].setdefault(department, []).append(chat)
            private = await self.session.execute(
                select(PersonRole.role, Person.department_id, Chat.id)
                .join(Person, Person.id == PersonRole.person_id)
                .join(Chat, Chat.telegram_id == Person.telegram_id)
                .where(
                    PersonRole.role.in_([Role.OFFICIAL, Role.HEAD]),
                    Person.department_id.is_not(None),
                    Chat.kind == "private",
                    Chat.undeliverable_at.is_(None),
                )
                .order_by(Chat.id)
            )
            for role, department, chat in private.all():
                if department is not None:
                    self._by_department[role].setdefault(department, []).append(chat)
        if department_id is None:
            return []
        return self._by_department[which].get(department_id, [])

    async def timing(self, row: Deadline) -> Timing:
        key = (row.category, row.urgent)
        if key not in self._timings:
            self._timings[key] = await timing_for(self.session, *key, self.zone)
        return self._timings[key]

    async def points(self, row: Deadline, colour: Colour) -> float:
        if self._points is None:
            self._points = await points_setup(self.session)
        if self._kinds is None:
            departments = await self.session.execute(select(Department.id, Department.kind))
            self._kinds = {department_id: kind for department_id, kind in departments.all()}
        policies, weights = self._points
        unit_kind = self._kinds.get(row.department_id) if row.department_id else None
        return points_for(colour, row.weight, row.category, unit_kind, policies, weights)

    async def owner_chats(self, row: Deadline) -> list[int]:
        """The owner in private, else the department's working chat or its officials."""
        key = (row.owner_id, row.department_id)
        if key not in self._owners:
            owner = await self.session.get(Person, row.owner_id) if row.owner_id else None
            chat = await private_chat_of(self.session, owner)
            if chat is not None:
                self._owners[key] = [chat.id]
            else:
                working = await self._department_chats("working", row.department_id)
                officials = await self._department_chats(Role.OFFICIAL, row.department_id)
                self._owners[key] = working or officials
        return self._owners[key]

    async def head_chats(self, row: Deadline) -> list[int]:
        return await self._department_chats(Role.HEAD, row.department_id)

    async def leader_chats(self, row: Deadline) -> list[int]:
        """The leader in charge in private, else every leader."""
        key = row.approver_id
        if key not in self._leaders:
            if key is not None:
                chat = await private_chat_of(self.session, await self.session.get(Person, key))
                chats = [chat] if chat else []
            else:
                chats = await role_chats(self.session, Role.LEADER)
            self._leaders[key] = [c.id for c in chats]
        return self._leaders[key]


async def sweep(
    session: AsyncSession,
    now: datetime,
    zone: Any,
    language: str,
    limit: int = SWEEP_BATCH,
    on_cards: CardsRaised | None = None,
) -> Swept:
    """One pass: every card owed and every reminder due, at most `limit` rows of each.

    Returns what it did; a full batch means more may be waiting (the caller sweeps again).
    """
    swept = Swept()
    lookups = _Pass(session, now, zone)
    with session.no_autoflush:
        # A card is owed only once its instant has passed: exactly at a limit is still in time.
        owed = await _due(session, Deadline.card_due_at < now, Deadline.card_due_at, limit)
        reminders = await _due(
            session, Deadline.next_reminder_at <= now, Deadline.next_reminder_at, limit
        )
        swept.examined = max(len(owed), len(reminders))
        lines = await _raise_cards(session, lookups, owed, swept)
        for row in reminders:
            if row.next_reminder_at is None or row.next_reminder_at > now:
                continue  # a card raised above moved it
            fired = await _fire_reminder(session, lookups, row)
            if fired is None:
                swept.held += 1
                continue
            swept.reminders += 1
            chats = (
                await lookups.leader_chats(row)
                if fired is ReminderKind.APPROVAL_NEEDED
                else await lookups.owner_chats(row)
            )
            lines += [(chat, _Line(row, NoticeKind(fired.value))) for chat in chats]
    await _write_rows(session, [*owed, *reminders])
    swept.messages = await _send_batches(session, now, zone, language, lines)
    if on_cards is not None and swept.cards:
        carded = {(row.subject_type, row.subject_id) for row in owed}
        await on_cards(session, carded)
    return swept


# What a pass changes on a deadline row.
_CHANGED = ("cards", "card_due_at", "next_reminder_at", "supervised_at", "updated_at")


async def _write_rows(session: AsyncSession, rows: Sequence[Deadline]) -> None:
    """The rows' new state in one executemany UPDATE, rather than the unit of work's one
    statement per row (it checks each row count where the driver cannot report them in bulk)."""
    changes = {row.id: {"id": row.id, **{c: getattr(row, c) for c in _CHANGED}} for row in rows}
    for row in {id(row): row for row in rows}.values():
        session.expunge(row)
    if changes:
        await session.execute(update(Deadline), list(changes.values()))


async def _due(session: AsyncSession, when: Any, column: Any, limit: int) -> list[Deadline]:
    statement = select(Deadline).where(when).order_by(column, Deadline.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        # Another process's sweep takes other rows instead of waiting for these.
        statement = statement.with_for_update(skip_locked=True)
    return list(await session.scalars(statement))


async def _raise_cards(
    session: AsyncSession, lookups: _Pass, owed: Sequence[Deadline], swept: Swept
) -> list[tuple[int, _Line]]:
    """Every card owed on these rows (a green, a yellow, a red), each recorded once, with its
    points and audit entry; the lines telling people about them."""
    now = lookups.now
    planned: list[_Planned] = []
    for row in owed:
        while (colour := next_card(rule_view(row), now)) is not None:
            missed = None
            if colour is not Colour.GREEN:
                missed = row.recommit_due_at if colour is Colour.RED else row.due_at
            planned.append(_Planned(row, colour, missed))
            row.cards = ",".join(c for c in (*row.cards.split(","), colour.value) if c)
            if colour is Colour.RED:
                row.supervised_at = now
        row.updated_at = now
        schedule(row, now, await lookups.timing(row))
    if not planned:
        return []
    # One cached statement for all the cards (executemany), not one compiled per pass.
    inserted = await session.execute(
        insert_ignoring_conflicts(session, Card).returning(Card.id, Card.deadline_id, Card.colour),
        [
            {
                "deadline_id": p.row.id,
                "colour": p.colour.value,
                "missed_due_at": p.missed,
                "raised_at": now,
                "notices": [],
            }
            for p in planned
        ],
    )
    # A card another sweep recorded is not returned: only the row is brought up to date.
    card_ids = {(deadline_id, colour): card_id for card_id, deadline_id, colour in inserted.all()}
    points, audits, lines = [], [], []
    for p in planned:
        card_id = card_ids.get((p.row.id, p.colour.value))
        if card_id is None:
            continue
        swept.cards.append((p.row.id, p.colour))
        points.append(
            {
                "card_id": card_id,
                "department_id": p.row.department_id,
                "person_id": p.row.owner_id,
                "colour": p.colour.value,
                "points": await lookups.points(p.row, p.colour),
                "reason": f"{p.colour.value}: {p.row.label}"[:400],
                "at": now,
            }
        )
        audits.append(
            {
                "at": now,
                "actor_id": None,
                "action": "card_raised",
                "subject_type": p.row.subject_type,
                "subject_id": p.row.subject_id,
                "detail": {
                    "colour": p.colour.value,
                    "deadline": p.row.kind,
                    "missed": p.missed.isoformat() if p.missed else None,
                },
            }
        )
        for chat, kind in await _card_recipients(lookups, p.row, p.colour):
            lines.append((chat, _Line(p.row, kind, (card_id,))))
    if points:
        await session.execute(insert(PointsEntry), points)
        await session.execute(insert(AuditEntry), audits)
    return lines


async def _card_recipients(
    lookups: _Pass, row: Deadline, colour: Colour
) -> list[tuple[int, NoticeKind]]:
    if colour is Colour.YELLOW:
        return [(chat, NoticeKind.YELLOW) for chat in await lookups.owner_chats(row)]
    if colour is Colour.RED:
        interview = {*await lookups.owner_chats(row), *await lookups.head_chats(row)}
        told = [(chat, NoticeKind.RED) for chat in sorted(interview)]
        return told + [(c, NoticeKind.RED_LEADER) for c in await lookups.leader_chats(row)]
    return []  # a green is recorded and scored; nobody needs a message for it


async def _fire_reminder(
    session: AsyncSession, lookups: _Pass, row: Deadline
) -> ReminderKind | None:
    """The reminder that is due, with the next one scheduled; None when quiet hours hold it."""
    now, planned = lookups.now, row.next_reminder_at
    assert planned is not None
    kind = kind_of_reminder(rule_view(row))
    timing = await lookups.timing(row)
    held_until = deliver_at(now, row.urgent, timing.quiet) if timing.quiet else now
    if kind is not None and held_until > now:
        row.next_reminder_at = held_until
        return None
    row.next_reminder_at = next_reminder(rule_view(row), max(now, planned), timing.offsets)
    row.updated_at = now
    if kind is not None:
        session.add(
            AuditEntry(
                at=now,
                action="reminder_sent",
                subject_type=row.subject_type,
                subject_id=row.subject_id,
                detail={"about": kind.value},
            )
        )
    return kind


async def _send_batches(
    session: AsyncSession,
    now: datetime,
    zone: Any,
    language: str,
    lines: Sequence[tuple[int, _Line]],
) -> int:
    """One message per chat listing everything for it, soonest first; each card records the
    messages that told people about it."""
    by_key: dict[tuple[int, str, str], _Line] = {}
    notices = []
    for chat_id, line in lines:
        by_key[(chat_id, str(line.deadline.id), line.kind.value)] = line
        row = line.deadline
        due = row.recommit_due_at or row.due_at
        notices.append(Notice(chat_id, str(row.id), line.kind.value, due))
    messages: list[Outgoing] = []
    lines_of: dict[str, list[_Line]] = {}
    for group in batch(notices):
        chosen = [by_key[(group.recipient, n.item, n.kind)] for n in group.notices]
        digest = hashlib.sha256(
            "|".join(f"{n.item}:{n.kind}:{n.due.isoformat()}" for n in group.notices).encode()
            + now.isoformat().encode()
        ).hexdigest()[:24]
        key = f"sweep:{group.recipient}:{digest}"
        lines_of[key] = chosen
        messages.append(
            Outgoing(
                group.recipient,
                "deadline_batch",
                language,
                {"items": [_item_params(line, zone) for line in chosen]},
                key,
                _batch_buttons(chosen),
            )
        )
    written = await enqueue_many(session, now, messages)
    told: dict[int, list[int]] = {}
    for key, outbox_id in written.items():
        for line in lines_of[key]:
            for card_id in line.cards:
                told.setdefault(card_id, []).append(outbox_id)
    if told:
        await session.execute(
            update(Card), [{"id": card_id, "notices": ids} for card_id, ids in told.items()]
        )
    return len(written)


def _item_params(line: _Line, zone: Any) -> dict[str, Any]:
    row = line.deadline
    return {
        "kind": line.kind.value,
        "deadline": row.kind,
        "label": row.label,
        "due": local_time(row.due_at, zone),
        "new_due": local_time(row.recommit_due_at, zone) if row.recommit_due_at else None,
        "reason": row.recommit_reason,
    }


def _batch_buttons(lines: Sequence[_Line]) -> list[list[dict[str, Any]]] | None:
    rows: list[list[dict[str, Any]]] = []
    for line in lines:
        row = line.deadline
        if line.kind in (NoticeKind.YELLOW, NoticeKind.RECOMMIT_NEEDED):
            recommit = {"key": "recommit", "params": {"label": row.label[:24]}}
            rows.append([{**recommit, "data": f"v1:rc:{row.id}"}])
        elif line.kind is NoticeKind.APPROVAL_NEEDED:
            rows.append(approval_buttons(row))
    return rows[:MAX_BUTTON_ROWS] or None
