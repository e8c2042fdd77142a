"""The data: SQLAlchemy 2 typed tables."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Constraint names are fixed so that Alembic migrations name the same things on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC out, on SQLite (which keeps no zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware one")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), int: Integer()}  # noqa: RUF012


class ChatKind(StrEnum):
    PRIVATE = "private"
    GROUP = "group"
    SUPERGROUP = "supergroup"
    CHANNEL = "channel"


class ChatPurpose(StrEnum):
    UNBOUND = "unbound"
    PRIVATE = "private"
    INDUSTRY = "industry"
    DEPARTMENT = "department"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    UNDELIVERABLE = "undeliverable"
    FAILED = "failed"


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    is_coordinator: Mapped[bool] = mapped_column(default=False)
    # The kind of unit (乡镇, 部门, 国企…), for scoring weights that differ by kind.
    kind: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime]


class Person(Base):
    """Someone the bot knows by their Telegram user id."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    full_name: Mapped[str] = mapped_column(String(256))
    username: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(8))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    firm_id: Mapped[int | None] = mapped_column(ForeignKey("firms.id"))
    created_at: Mapped[datetime]


class PersonRole(Base):
    __tablename__ = "person_roles"
    __table_args__ = (UniqueConstraint("person_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))


class Chat(Base):
    """A chat the bot is in. `telegram_id` follows group-to-supergroup migrations."""

    __tablename__ = "chats"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str | None] = mapped_column(String(256))
    purpose: Mapped[str] = mapped_column(String(16), default=ChatPurpose.UNBOUND)
    industry: Mapped[str | None] = mapped_column(String(100))
    # Extra industries or categories whose general answers this group also receives.
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    undeliverable_at: Mapped[datetime | None]
    undeliverable_reason: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime]


class Firm(Base):
    __tablename__ = "firms"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)
    industry: Mapped[str] = mapped_column(String(100))
    liaison_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", use_alter=True))
    created_at: Mapped[datetime]


class IssueStatus(StrEnum):
    NEW = "new"
    ROUTED = "routed"
    CLAIMED = "claimed"
    ANSWERED = "answered"
    REOPENED = "reopened"
    CLOSED = "closed"


class Issue(Base):
    """A problem a firm raised, from report to closure."""

    __tablename__ = "issues"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    text: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(50))
    industry: Mapped[str | None] = mapped_column(String(100))
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    # group, private, breakfast, visit, phone
    source: Mapped[str] = mapped_column(String(16), default="group")
    is_private: Mapped[bool] = mapped_column(default=False)
    verified: Mapped[bool] = mapped_column(default=False)
    firm_id: Mapped[int | None] = mapped_column(ForeignKey("firms.id"))
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    filed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    origin_chat_id: Mapped[int | None] = mapped_column(ForeignKey("chats.id"))
    origin_message_id: Mapped[int | None] = mapped_column(BigInteger)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    assist_department_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    routing_reason: Mapped[str] = mapped_column(String(300), default="")
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    claimed_at: Mapped[datetime | None]
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    answered_at: Mapped[datetime | None]
    is_general: Mapped[bool] = mapped_column(default=False)
    name_consent: Mapped[bool] = mapped_column(default=False)
    feedback: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None]
    reopen_count: Mapped[int] = mapped_column(default=0)
    close_kind: Mapped[str | None] = mapped_column(String(16))
    closed_at: Mapped[datetime | None]
    callback_result: Mapped[str | None] = mapped_column(Text)
    callback_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    callback_at: Mapped[datetime | None]
    claim_due_at: Mapped[datetime | None] = mapped_column(index=True)
    close_due_at: Mapped[datetime | None] = mapped_column(index=True)
    confirm_due_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class IssueAttachment(Base):
    __tablename__ = "issue_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # photo, document
    file_id: Mapped[str] = mapped_column(String(256))
    file_unique_id: Mapped[str | None] = mapped_column(String(128))
    file_name: Mapped[str | None] = mapped_column(String(256))
    stage: Mapped[str] = mapped_column(String(16))  # report, detail, answer
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    added_at: Mapped[datetime]


class IssueCard(Base):
    """A message that shows an issue; each is edited in place when the issue changes."""

    __tablename__ = "issue_cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id"), index=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"))
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # origin, department, triage
    created_at: Mapped[datetime]


class IssueDraft(Base):
    """A report held back while the firm looks at a similar answered issue."""

    __tablename__ = "issue_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"))
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    matched_issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id"))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, solved, filed
    created_at: Mapped[datetime]


class Dialogue(Base):
    """A question the bot asked and waits on (a transfer's reason, why it was not solved)."""

    __tablename__ = "dialogues"
    __table_args__ = (Index("ix_dialogues_open", "person_id", "chat_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class FirmMembership(Base):
    __tablename__ = "firm_memberships"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    firm_id: Mapped[int] = mapped_column(ForeignKey("firms.id"))
    chat_id: Mapped[int | None] = mapped_column(ForeignKey("chats.id"))
    status: Mapped[str] = mapped_column(String(16))  # pending, confirmed, rejected
    requested_at: Mapped[datetime]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    decided_at: Mapped[datetime | None]


class RoutingRule(Base):
    """Keywords (and optionally an industry) → category, lead department, assisting ones."""

    __tablename__ = "routing_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    category: Mapped[str] = mapped_column(String(50))
    industry: Mapped[str | None] = mapped_column(String(100))
    lead_department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    assist_department_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    priority: Mapped[int] = mapped_column(default=100)
    created_at: Mapped[datetime]


class ServicePolicy(Base):
    """Limits per category and priority; a row with no category is the default."""

    __tablename__ = "service_policies"
    __table_args__ = (UniqueConstraint("category", "priority"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str | None] = mapped_column(String(50))
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    close_working_days: Mapped[int] = mapped_column(default=5)
    confirm_days: Mapped[int] = mapped_column(default=3)
    # Office hours to claim in; None: by the end of the working day (next one after hours).
    claim_hours: Mapped[float | None] = mapped_column(Float)
    # Optional stage limits, each [name, office hours], counted one after another ("1124").
    stage_limits: Mapped[list[list[Any]]] = mapped_column(JSON, default=list)
    # Reminders this many hours before a deadline.
    reminder_hours: Mapped[list[float]] = mapped_column(JSON, default=lambda: [24.0, 2.0])
    # "22:00-07:30": non-urgent notices wait until the end; "" for none.
    quiet_hours: Mapped[str] = mapped_column(String(11), default="22:00-07:30")
    created_at: Mapped[datetime]


class Broadcast(Base):
    """A general answer or a policy pushed to groups and subscribers."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # answer, policy
    issue_id: Mapped[int | None] = mapped_column(ForeignKey("issues.id"))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime]


class BroadcastRecipient(Base):
    __tablename__ = "broadcast_recipients"
    __table_args__ = (UniqueConstraint("broadcast_id", "chat_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id"), index=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"))
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))


class Subscription(Base):
    """A firm member who wants general answers on a topic (an industry or a category) in private."""

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("person_id", "topic"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    topic: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class Counter(Base):
    """Sequences such as issue numbers per year, taken under the row's write lock."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[int] = mapped_column(default=0)


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    category: Mapped[str] = mapped_column(String(50))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    leader_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    # The project's working chat: node updates there, timelines published there.
    chat_id: Mapped[int | None] = mapped_column(ForeignKey("chats.id"))
    created_at: Mapped[datetime]


class Node(Base):
    """A milestone of a key project, with its owner, deadline and closing standard."""

    __tablename__ = "nodes"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    deadline: Mapped[datetime] = mapped_column(index=True)
    closing_standard: Mapped[str] = mapped_column(Text, default="")
    weight: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(16), index=True)  # open, requested, done
    progress: Mapped[int] = mapped_column(default=0)
    completion_requested_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    returned_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None]


class NodeUpdate(Base):
    """What happened on a node: progress, evidence, a completion request, acceptance."""

    __tablename__ = "node_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    kind: Mapped[str] = mapped_column(String(16))  # progress, request, accept, return
    progress: Mapped[int | None]
    text: Mapped[str] = mapped_column(Text, default="")
    file_kind: Mapped[str | None] = mapped_column(String(16))  # photo, document
    file_id: Mapped[str | None] = mapped_column(String(256))
    file_name: Mapped[str | None] = mapped_column(String(256))
    at: Mapped[datetime]


class CalendarException(Base):
    """A local holiday or an extra working day, overriding the national calendar."""

    __tablename__ = "calendar_exceptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    working: Mapped[bool]
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]


class Deadline(Base):
    """A limit being tracked for cards and reminders: an issue's claim or close, a node's date.

    The sweep reads `card_due_at` and `next_reminder_at` (both indexed) to find what is due, so
    its cost follows what is due, not what is open.
    """

    __tablename__ = "deadlines"
    __table_args__ = (UniqueConstraint("subject_type", "subject_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(8))  # issue, node
    subject_id: Mapped[int]
    kind: Mapped[str] = mapped_column(String(40))  # claim#N, close, stage:NAME, node
    label: Mapped[str] = mapped_column(String(320))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    # Who approves a re-commitment: the leader in charge (None: any leader).
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    category: Mapped[str | None] = mapped_column(String(50))
    urgent: Mapped[bool] = mapped_column(default=False)
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    due_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    recommit_due_at: Mapped[datetime | None]
    recommit_reason: Mapped[str | None] = mapped_column(Text)
    recommit_status: Mapped[str | None] = mapped_column(String(16))  # pending, approved
    recommit_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    recommitted_at: Mapped[datetime | None]
    cards: Mapped[str] = mapped_column(String(32), default="")  # "yellow,red"
    card_due_at: Mapped[datetime | None] = mapped_column(index=True)
    next_reminder_at: Mapped[datetime | None] = mapped_column(index=True)
    supervised_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Card(Base):
    """A green, yellow or red card: raised once per deadline and colour."""

    __tablename__ = "cards"
    __table_args__ = (UniqueConstraint("deadline_id", "colour"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deadline_id: Mapped[int] = mapped_column(ForeignKey("deadlines.id"))
    colour: Mapped[str] = mapped_column(String(8))
    missed_due_at: Mapped[datetime | None]
    raised_at: Mapped[datetime] = mapped_column(index=True)
    # The outbox messages that told people: [outbox id, …].
    notices: Mapped[list[int]] = mapped_column(JSON, default=list)


class PointsEntry(Base):
    """Append-only, like the audit log: one entry per card, with its reason."""

    __tablename__ = "points_ledger"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), unique=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    colour: Mapped[str] = mapped_column(String(8))
    points: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(400))
    at: Mapped[datetime] = mapped_column(index=True)


class PointsRule(Base):
    """Points per card colour for a category (None: every other category), before weights."""

    __tablename__ = "points_rules"
    __table_args__ = (UniqueConstraint("category"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str | None] = mapped_column(String(50))
    green: Mapped[float] = mapped_column(Float, default=1.0)
    yellow: Mapped[float] = mapped_column(Float, default=0.0)
    red: Mapped[float] = mapped_column(Float, default=-1.0)
    created_at: Mapped[datetime]


class ScoreWeight(Base):
    """How much a category or a kind of unit counts (分类考核); unlisted ones count 1."""

    __tablename__ = "score_weights"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))  # category, unit_kind
    key: Mapped[str] = mapped_column(String(100))
    weight: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime]


class AuditEntry(Base):
    """Append-only: database triggers refuse UPDATE and DELETE on this table."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    action: Mapped[str] = mapped_column(String(50))
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[int | None]
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class OutboxMessage(Base):
    """A message a state change caused, written in the same transaction, sent by the dispatcher."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"), index=True)
    template: Mapped[str] = mapped_column(String(100))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    buttons: Mapped[list[list[dict[str, Any]]] | None] = mapped_column(JSON)
    language: Mapped[str] = mapped_column(String(8))
    reply_to_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # When set, the dispatcher edits this Telegram message instead of sending a new one.
    edit_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # Or edit the message another outbox row sent (an issue card), once that one is out.
    edit_of_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    # A long text goes out in several parts; those already accepted are not sent again.
    parts_sent: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(String(500))
    # A photo or document goes with the text (kept in outbox_files, read only when sending).
    has_file: Mapped[bool] = mapped_column(default=False)


class OutboxFile(Base):
    """The photo or document an outbox message carries (a digest's chart, a ledger export)."""

    __tablename__ = "outbox_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # photo, document
    file_name: Mapped[str] = mapped_column(String(200))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class SentReport(Base):
    """A periodic report sent to someone: one per person, kind and period, even across restarts."""

    __tablename__ = "sent_reports"
    __table_args__ = (UniqueConstraint("person_id", "kind", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    kind: Mapped[str] = mapped_column(String(16))  # digest, month, quarter
    period: Mapped[str] = mapped_column(String(16))  # 2026-03-02, 2026-03, 2026-Q1
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    sent_at: Mapped[datetime]


class ProcessedUpdate(Base):
    """Updates already handled. A message counts once by update id and by (chat, message id)."""

    __tablename__ = "processed_updates"
    __table_args__ = (UniqueConstraint("chat_telegram_id", "message_id"),)

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    chat_telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    processed_at: Mapped[datetime] = mapped_column(index=True)
