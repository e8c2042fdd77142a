"""Setting up a county: departments, people's places, bound chats, firms and their members,
routing rules and service policies — one command at a time, or a whole file at once (which may
also hold key projects and their nodes).

Every use case takes the actor's `Contact`, checks what their roles allow, changes nothing when
it refuses, writes an audit entry for every change, and returns an `Outcome` whose `detail`
holds what the answer needs to say.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from markupsafe import Markup
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.rules.categories import CATEGORIES
from models.rules.creditcode import validate_credit_code
from models.rules.dates import parse_moment
from models.rules.permissions import Action, Role, actions_of, can, parse_role
from models.rules.routing import normalise
from models.rules.worktime import OfficeHours, WorkCalendar
from models.services.common import audit, enqueue, insert_ignoring_conflicts
from models.services.contacts import Contact, roles_of
from models.services.people import find_person
from models.tables import (
    Chat,
    ChatPurpose,
    Department,
    Firm,
    FirmMembership,
    Node,
    Person,
    PersonRole,
    Project,
    RoutingRule,
    ServicePolicy,
)
from models.texts import LANGUAGES, environment

if TYPE_CHECKING:  # issues → deadlines → scoring imports this module
    from models.services.issues import Desk

# Column sizes of models/tables.py.
NAME_LIMIT = 200  # departments.name, firms.name
PERSON_NAME_LIMIT = 256
INDUSTRY_LIMIT = 100  # chats.industry, firms.industry, routing_rules.industry
CATEGORY_LIMIT = 50
TITLE_LIMIT = 256
USERNAME_LIMIT = 64
MAX_TAGS = 20
MAX_KEYWORDS = 50
MAX_DAYS = 365
MAX_CANDIDATES = 10
DEFAULT_RULE_PRIORITY = 100

NORMAL = "normal"
URGENT = "urgent"
PRIORITIES = (NORMAL, URGENT)
DEFAULT_POLICY = "default"
COORDINATOR_FLAG = "coordinator"

PENDING = "pending"
CONFIRMED = "confirmed"
REJECTED = "rejected"

# Who may confirm a member for any firm; a liaison may only for their own firms.
COUNTY_CONFIRMERS = frozenset({Role.COORDINATOR, Role.ADMIN})
GROUP_KINDS = frozenset({"group", "supergroup"})


class Refusal(StrEnum):
    NOT_ALLOWED = "not_allowed"
    NOT_A_GROUP = "not_a_group"
    NOT_CHAT_ADMIN = "not_chat_admin"
    EMPTY = "empty"
    TOO_LONG = "too_long"
    DUPLICATE_DEPARTMENT = "duplicate_department"
    UNKNOWN_PERSON = "unknown_person"
    UNKNOWN_DEPARTMENT = "unknown_department"
    BAD_CREDIT_CODE = "bad_credit_code"
    DUPLICATE_FIRM_NAME = "duplicate_firm_name"
    DUPLICATE_CREDIT_CODE = "duplicate_credit_code"
    UNKNOWN_FIRM = "unknown_firm"
    WRONG_CHAT = "wrong_chat"
    ALREADY_MEMBER = "already_member"
    ALREADY_PENDING = "already_pending"
    UNKNOWN_REQUEST = "unknown_request"
    ALREADY_DECIDED = "already_decided"
    UNKNOWN_CATEGORY = "unknown_category"
    UNKNOWN_RULE = "unknown_rule"
    BAD_NUMBER = "bad_number"
    TOO_MANY = "too_many"
    BAD_CLAIM_HOURS = "bad_claim_hours"
    BAD_REMINDERS = "bad_reminders"
    BAD_QUIET_HOURS = "bad_quiet_hours"
    BAD_STAGES = "bad_stages"


class Change(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Outcome:
    """What a use case did (`change`), or why it refused; `detail` is what to tell about it."""

    change: Change | None = None
    refused: Refusal | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.refused is None


def refuse(reason: Refusal, **detail: Any) -> Outcome:
    return Outcome(refused=reason, detail=detail)


def done(change: Change, **detail: Any) -> Outcome:
    return Outcome(change=change, detail=detail)


# Every parameter the refusal template may mention, so that none is ever undefined.
REFUSAL_KEYS = (
    "name",
    "ref",
    "limit",
    "known",
    "problem",
    "expected",
    "position",
    "firm",
    "candidates",
    "status",
    "decided_by",
    "categories",
    "rule_id",
    "value",
)


def refusal_params(outcome: Outcome) -> dict[str, Any]:
    params: dict[str, Any] = dict.fromkeys(REFUSAL_KEYS)
    params.update({k: v for k, v in outcome.detail.items() if k in REFUSAL_KEYS})
    params["reason"] = outcome.refused.value if outcome.refused else ""
    params["categories"] = params["categories"] or list(CATEGORIES)
    params["known"] = params["known"] or []
    params["candidates"] = params["candidates"] or []
    return params


def _allowed(actor: Contact, action: Action) -> bool:
    return can(actor.roles, action)


# --- finding things ---------------------------------------------------------------------------


def clean(text: str) -> str:
    """Full-width letters, digits and commas to half-width, outer blanks gone."""
    return unicodedata.normalize("NFKC", text).strip()


def split_list(text: str) -> list[str]:
    """'a,b，c、d;e' → ['a', 'b', 'c', 'd', 'e'] (ASCII, full-width and enumeration commas)."""
    unified = clean(text).replace("\u3001", ",").replace(";", ",")
    return [part.strip() for part in unified.split(",") if part.strip()]


def read_moment(value: object, zone: ZoneInfo, day_ends: time) -> datetime | None:
    """A moment as typed ("2026-06-30", "2026-06-30 17:00") or as a spreadsheet or YAML holds
    it, in UTC; a date alone (or a spreadsheet date at midnight) ends with the office day."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.astimezone(UTC)
        if value.time() != time(0, 0):
            return parse_moment(f"{value:%Y-%m-%d %H:%M}", zone, day_ends)
        value = value.date()
    if isinstance(value, date):
        value = value.isoformat()
    if not isinstance(value, str):
        return None
    return parse_moment(clean(value), zone, day_ends)


def deadline_problem(deadline: datetime | None, now: datetime) -> str | None:
    """What is wrong with a new deadline: "bad_date", "past_deadline", "too_far", or None."""
    if deadline is None:
        return "bad_date"
    if deadline <= now:
        return "past_deadline"
    if deadline > now + MAX_AHEAD:
        return "too_far"
    return None


def weight_of(value: object) -> int | None:
    """A node's weight, a whole number from 1 to 100, from what was typed."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and clean(value).isdigit() and len(clean(value)) <= 3:
        value = int(clean(value))
    return value if isinstance(value, int) and MIN_WEIGHT <= value <= MAX_WEIGHT else None


async def department_names(session: AsyncSession) -> list[str]:
    return list(await session.scalars(select(Department.name).order_by(Department.id)))


async def find_department(session: AsyncSession, text: str) -> Department | None:
    """A department by its exact name, else the only one whose name contains the text."""
    text = clean(text)
    if not text:
        return None
    found = await session.scalar(select(Department).where(Department.name == text))
    if found is not None:
        return found
    rows = list(
        await session.scalars(
            select(Department).where(Department.name.contains(text, autoescape=True))
        )
    )
    return rows[0] if len(rows) == 1 else None


async def _unknown_department(session: AsyncSession, text: str) -> Outcome:
    return refuse(Refusal.UNKNOWN_DEPARTMENT, name=text, known=await department_names(session))


@lru_cache(maxsize=1)
def _category_words() -> dict[str, str]:
    """Each category's key, and its label in every language (`category_label`) → the key."""
    words = {normalise(key): key for key in CATEGORIES}
    for language in LANGUAGES:
        macros = environment().get_template(f"{language}/_macros.j2").module
        label_of = getattr(macros, "category_label", None)
        if label_of is None:
            continue
        for key in CATEGORIES:
            words.setdefault(normalise(Markup(label_of(key)).unescape().strip()), key)
    return words


def category_of(text: str) -> str | None:
    """A category from its key ('utilities') or its name in either language."""
    return _category_words().get(normalise(clean(text)))


async def _grant(
    session: AsyncSession, now: datetime, person: Person, role: Role, actor_id: int | None
) -> bool:
    result = await session.execute(
        insert_ignoring_conflicts(session, PersonRole)
        .values(person_id=person.id, role=role)
        .returning(PersonRole.id)
    )
    if result.scalar() is None:
        return False
    audit(session, now, "role_granted", "person", person.id, actor_id=actor_id, role=role.value)
    return True


async def private_chat(session: AsyncSession, person: Person) -> Chat | None:
    """The person's private chat with the bot, if they have one that still takes messages."""
    return await session.scalar(
        select(Chat).where(
            Chat.telegram_id == person.telegram_id,
            Chat.kind == "private",
            Chat.undeliverable_at.is_(None),
        )
    )


# --- departments and people -------------------------------------------------------------------


async def add_department(
    session: AsyncSession, now: datetime, actor: Contact, name: str, coordinator: bool
) -> Outcome:
    """/adddept: a new department; `coordinator` marks the coordinator office (营商办)."""
    if not _allowed(actor, Action.MANAGE_COUNTY):
        return refuse(Refusal.NOT_ALLOWED)
    name = clean(name)
    if not name:
        return refuse(Refusal.EMPTY)
    if len(name) > NAME_LIMIT:
        return refuse(Refusal.TOO_LONG, limit=NAME_LIMIT)
    found = await session.scalar(select(Department).where(Department.name == name))
    if found is not None:
        if coordinator and not found.is_coordinator:
            found.is_coordinator = True
            audit(
                session,
                now,
                "department_updated",
                "department",
                found.id,
                actor_id=actor.person.id,
                name=name,
                coordinator=True,
            )
            return done(Change.UPDATED, name=name, coordinator=True, department_id=found.id)
        return refuse(Refusal.DUPLICATE_DEPARTMENT, name=name)
    department = Department(name=name, is_coordinator=coordinator, created_at=now)
    session.add(department)
    await session.flush()
    audit(
        session,
        now,
        "department_added",
        "department",
        department.id,
        actor_id=actor.person.id,
        name=name,
        coordinator=coordinator,
    )
    return done(Change.CREATED, name=name, coordinator=coordinator, department_id=department.id)


async def set_department(
    session: AsyncSession,
    now: datetime,
    actor: Contact,
    person_ref: str,
    department_text: str,
    language: str,
) -> Outcome:
    """/setdept: put a person in a department; someone with no role at all becomes an official.

    The person is told in private (when they have a private chat with the bot).
    """
    if not _allowed(actor, Action.MANAGE_COUNTY):
        return refuse(Refusal.NOT_ALLOWED)
    person = await find_person(session, person_ref)
    if person is None:
        return refuse(Refusal.UNKNOWN_PERSON, ref=person_ref)
    department = await find_department(session, department_text)
    if department is None:
        return await _unknown_department(session, department_text)
    made_official = False
    if not await roles_of(session, person.id):
        made_official = await _grant(session, now, person, Role.OFFICIAL, actor.person.id)
    detail = {
        "name": person.full_name,
        "department": department.name,
        "made_official": made_official,
    }
    if person.department_id == department.id and not made_official:
        return done(Change.UNCHANGED, **detail)
    previous = person.department_id
    person.department_id = department.id
    audit(
        session,
        now,
        "department_set",
        "person",
        person.id,
        actor_id=actor.person.id,
        department=department.name,
        previous_department_id=previous,
    )
    chat = await private_chat(session, person)
    if chat is not None and person.id != actor.person.id:
        await enqueue(
            session,
            now,
            chat,
            "setup_department_notice",
            person.language or language,
            {"department": department.name, "made_official": made_official},
        )
    return done(Change.UPDATED, **detail)


# --- chats ------------------------------------------------------------------------------------


def _binding(chat: Chat) -> dict[str, Any]:
    return {
        "purpose": chat.purpose,
        "industry": chat.industry,
        "tags": list(chat.tags or []),
        "department_id": chat.department_id,
    }


def may_bind(actor: Contact, chat_admin: bool) -> Outcome | None:
    """Why the actor may not bind the chat they are in, or None when they may."""
    if actor.chat.kind not in GROUP_KINDS:
        return refuse(Refusal.NOT_A_GROUP)
    if not _allowed(actor, Action.BIND_CHAT):
        return refuse(Refusal.NOT_ALLOWED)
    if not chat_admin:
        return refuse(Refusal.NOT_CHAT_ADMIN)
    return None


async def _rebind(
    session: AsyncSession,
    now: datetime,
    actor: Contact,
    purpose: ChatPurpose,
    industry: str | None,
    tags: list[str],
    department: Department | None,
) -> Change:
    chat = await session.get(Chat, actor.chat.id)
    assert chat is not None
    before = _binding(chat)
    chat.purpose = purpose
    chat.industry = industry
    chat.tags = tags
    chat.department_id = department.id if department else None
    after = _binding(chat)
    if before == after:
        return Change.UNCHANGED
    action = "chat_unbound" if purpose is ChatPurpose.UNBOUND else "chat_bound"
    audit(
        session,
        now,
        action,
        "chat",
        chat.id,
        actor_id=actor.person.id,
        purpose=purpose.value,
        industry=industry,
        tags=tags,
        department=department.name if department else None,
        previous=before,
    )
    return Change.CREATED if before["purpose"] == ChatPurpose.UNBOUND else Change.UPDATED


async def bind_industry(
    session: AsyncSession,
    now: datetime,
    actor: Contact,
    chat_admin: bool,
    industry: str,
    tags: Sequence[str] = (),
) -> Outcome:
    """/bindgroup: the actor's group becomes the industry group of `industry`.

    `tags` name extra industries or categories whose general answers the group also receives.
    Only someone who is both an admin of the group (`chat_admin`, asked of Telegram) and may
    bind chats in the bot may do it.
    """
    refused = may_bind(actor, chat_admin)
    if refused is not None:
        return refused
    industry = clean(industry)
    wanted = list(
        dict.fromkeys(clean(tag) for tag in tags if clean(tag) and clean(tag) != industry)
    )
    if not industry:
        return refuse(Refusal.EMPTY)
    if any(len(text) > INDUSTRY_LIMIT for text in [industry, *wanted]):
        return refuse(Refusal.TOO_LONG, limit=INDUSTRY_LIMIT)
    if len(wanted) > MAX_TAGS:
        return refuse(Refusal.TOO_MANY, limit=MAX_TAGS)
    was = actor.chat.industry if actor.chat.purpose == ChatPurpose.INDUSTRY else None
    previous = was if was != industry else None
    change = await _rebind(session, now, actor, ChatPurpose.INDUSTRY, industry, wanted, None)
    return done(change, title=actor.chat.title, industry=industry, tags=wanted, previous=previous)


async def bind_department(
    session: AsyncSession, now: datetime, actor: Contact, chat_admin: bool, department_text: str
) -> Outcome:
    """/binddept: the actor's group becomes the working chat of a department."""
    refused = may_bind(actor, chat_admin)
    if refused is not None:
        return refused
    department = await find_department(session, department_text)
    if department is None:
        return await _unknown_department(session, department_text)
    change = await _rebind(session, now, actor, ChatPurpose.DEPARTMENT, None, [], department)
    return done(change, title=actor.chat.title, department=department.name)


async def unbind(session: AsyncSession, now: datetime, actor: Contact, chat_admin: bool) -> Outcome:
    """/unbind: the actor's group is neither an industry group nor a department's chat."""
    refused = may_bind(actor, chat_admin)
    if refused is not None:
        return refused
    change = await _rebind(session, now, actor, ChatPurpose.UNBOUND, None, [], None)
    return done(change, title=actor.chat.title)


# --- firms and their members ------------------------------------------------------------------


@dataclass(frozen=True)
class FirmArgs:
    name: str
    credit_code: str
    industry: str
    liaison: str | None


def parse_addfirm(args: Sequence[str]) -> FirmArgs | None:
    """`<name…> <credit code> <industry> [@liaison | liaison id]`; a name may have spaces."""
    words = [clean(a) for a in args if clean(a)]
    liaison = None
    if len(words) >= 4 and (words[-1].startswith("@") or words[-1].lstrip("-").isdigit()):
        liaison = words.pop()
    if len(words) < 3:
        return None
    return FirmArgs(" ".join(words[:-2]), words[-2], words[-1], liaison)


def credit_code_detail(text: str) -> dict[str, Any] | None:
    """Why a credit code is wrong (problem, expected check character, bad position), or None."""
    check = validate_credit_code(text)
    if check.ok:
        return None
    assert check.reason is not None
    return {
        "problem": check.reason.value,
        "expected": check.expected_check,
        "position": check.position,
        "value": check.normalised,
    }


async def add_firm(session: AsyncSession, now: datetime, actor: Contact, args: FirmArgs) -> Outcome:
    """/addfirm: a firm with a valid unified social credit code, an industry, maybe a liaison.

    The liaison is given the liaison role, so that they may confirm the firm's members.
    """
    if not _allowed(actor, Action.MANAGE_COUNTY):
        return refuse(Refusal.NOT_ALLOWED)
    name, industry = clean(args.name), clean(args.industry)
    if not name or not industry:
        return refuse(Refusal.EMPTY)
    if len(name) > NAME_LIMIT or len(industry) > INDUSTRY_LIMIT:
        return refuse(Refusal.TOO_LONG, limit=min(NAME_LIMIT, INDUSTRY_LIMIT))
    problem = credit_code_detail(args.credit_code)
    if problem is not None:
        return refuse(Refusal.BAD_CREDIT_CODE, **problem)
    code = validate_credit_code(args.credit_code).normalised
    same_name = await session.scalar(select(Firm).where(Firm.name == name))
    if same_name is not None:
        return refuse(Refusal.DUPLICATE_FIRM_NAME, name=name, value=same_name.credit_code)
    same_code = await session.scalar(select(Firm).where(Firm.credit_code == code))
    if same_code is not None:
        return refuse(Refusal.DUPLICATE_CREDIT_CODE, firm=same_code.name, value=code)
    liaison = None
    if args.liaison is not None:
        liaison = await find_person(session, args.liaison)
        if liaison is None:
            return refuse(Refusal.UNKNOWN_PERSON, ref=args.liaison)
    firm = Firm(
        name=name,
        credit_code=code,
        industry=industry,
        liaison_id=liaison.id if liaison else None,
        created_at=now,
    )
    session.add(firm)
    await session.flush()
    audit(
        session,
        now,
        "firm_added",
        "firm",
        firm.id,
        actor_id=actor.person.id,
        name=name,
        credit_code=code,
        industry=industry,
        liaison_id=liaison.id if liaison else None,
    )
    if liaison is not None:
        await _grant(session, now, liaison, Role.LIAISON, actor.person.id)
    return done(
        Change.CREATED,
        firm=name,
        credit_code=code,
        industry=industry,
        liaison=liaison.full_name if liaison else None,
    )


async def find_firms(session: AsyncSession, text: str) -> tuple[Firm | None, list[str]]:
    """A firm by credit code or exact name; else the names that contain every word given."""
    text = clean(text)
    if not text:
        return None, []
    check = validate_credit_code(text)
    if check.ok:
        by_code = await session.scalar(select(Firm).where(Firm.credit_code == check.normalised))
        if by_code is not None:
            return by_code, []
    exact = await session.scalar(select(Firm).where(Firm.name == text))
    if exact is not None:
        return exact, []
    words = text.split()
    rows = await session.scalars(
        select(Firm.name)
        .where(*(func.lower(Firm.name).contains(word.lower(), autoescape=True) for word in words))
        .order_by(Firm.name)
        .limit(MAX_CANDIDATES)
    )
    return None, list(rows)


async def request_membership(
    session: AsyncSession, now: datetime, actor: Contact, firm_text: str, language: str
) -> Outcome:
    """/join: ask to be recorded as a member of a firm.

    Asked in a bound industry group or in private. The firm's liaison is asked to confirm in
    private, or, when the firm has none or the liaison cannot be reached, the coordinators
    (the admins while there are none).
    """
    if not _allowed(actor, Action.JOIN_FIRM):
        return refuse(Refusal.NOT_ALLOWED)
    if actor.chat.purpose not in (ChatPurpose.INDUSTRY, ChatPurpose.PRIVATE):
        return refuse(Refusal.WRONG_CHAT)
    firm, candidates = await find_firms(session, firm_text)
    if firm is None:
        return refuse(Refusal.UNKNOWN_FIRM, value=clean(firm_text), candidates=candidates)
    person = await session.get(Person, actor.person.id)
    assert person is not None
    if person.firm_id == firm.id:
        return refuse(Refusal.ALREADY_MEMBER, firm=firm.name)
    pending = await session.scalar(
        select(FirmMembership.id).where(
            FirmMembership.person_id == person.id,
            FirmMembership.firm_id == firm.id,
            FirmMembership.status == PENDING,
        )
    )
    if pending is not None:
        return refuse(Refusal.ALREADY_PENDING, firm=firm.name)
    membership = FirmMembership(
        person_id=person.id,
        firm_id=firm.id,
        chat_id=actor.chat.id,
        status=PENDING,
        requested_at=now,
    )
    session.add(membership)
    await session.flush()
    audit(
        session,
        now,
        "member_requested",
        "membership",
        membership.id,
        actor_id=person.id,
        firm=firm.name,
        chat_id=actor.chat.id,
    )
    confirmers, to_liaison = await _confirmers(session, firm)
    buttons = [
        [
            {"key": "setup_member_ok", "data": f"v1:member:{membership.id}:ok"},
            {"key": "setup_member_no", "data": f"v1:member:{membership.id}:no"},
        ]
    ]
    params = {
        "name": person.full_name,
        "username": person.username,
        "firm": firm.name,
        "industry": firm.industry,
        "title": actor.chat.title if actor.chat.kind != "private" else None,
        "to_liaison": to_liaison,
    }
    for who, chat in confirmers:
        await enqueue(
            session,
            now,
            chat,
            "setup_join_request",
            who.language or language,
            params,
            buttons=buttons,
            dedupe_key=f"join:{membership.id}:{chat.id}",
        )
    return done(
        Change.CREATED,
        firm=firm.name,
        to_liaison=to_liaison,
        told=len(confirmers),
        membership_id=membership.id,
    )


async def _confirmers(session: AsyncSession, firm: Firm) -> tuple[list[tuple[Person, Chat]], bool]:
    """Who is asked to confirm a member of `firm`, in private; and whether it is its liaison."""
    if firm.liaison_id is not None:
        liaison = await session.get(Person, firm.liaison_id)
        if liaison is not None:
            chat = await private_chat(session, liaison)
            if chat is not None:
                return [(liaison, chat)], True
    for role in (Role.COORDINATOR, Role.ADMIN):
        rows = await session.execute(
            select(Person, Chat)
            .join(PersonRole, PersonRole.person_id == Person.id)
            .join(Chat, Chat.telegram_id == Person.telegram_id)
            .where(
                PersonRole.role == role,
                Chat.kind == "private",
                Chat.undeliverable_at.is_(None),
            )
            .order_by(Person.id)
        )
        found = [(person, chat) for person, chat in rows]
        if found:
            return found, False
    return [], False


async def decide_membership(
    session: AsyncSession,
    now: datetime,
    actor: Contact,
    membership_id: int,
    accept: bool,
    language: str,
    message_id: int | None = None,
) -> Outcome:
    """[Confirm] / [Reject] on a join request: by the firm's liaison, a coordinator or an admin.

    Of two presses at once exactly one decides; the other hears it was already decided. The
    pressed message (`message_id` in the actor's chat) is edited to say what was decided.
    """
    membership = await session.get(FirmMembership, membership_id)
    if membership is None:
        return refuse(Refusal.UNKNOWN_REQUEST)
    firm = await session.get(Firm, membership.firm_id)
    member = await session.get(Person, membership.person_id)
    assert firm is not None and member is not None
    # The firm's own liaison, by the firm's record (whatever their roles); or someone whose
    # roles let them confirm members of any firm. A liaison of another firm may not.
    is_liaison = firm.liaison_id == actor.person.id
    county_wide = bool(actor.roles & COUNTY_CONFIRMERS) and _allowed(actor, Action.CONFIRM_MEMBER)
    if not (is_liaison or county_wide):
        return refuse(Refusal.NOT_ALLOWED)
    status = CONFIRMED if accept else REJECTED
    won = await session.scalar(
        update(FirmMembership)
        .where(FirmMembership.id == membership.id, FirmMembership.status == PENDING)
        .values(status=status, decided_by_id=actor.person.id, decided_at=now)
        .returning(FirmMembership.id)
    )
    if won is None:
        await session.refresh(membership)
        decider = (
            await session.get(Person, membership.decided_by_id)
            if membership.decided_by_id
            else None
        )
        return refuse(
            Refusal.ALREADY_DECIDED,
            firm=firm.name,
            name=member.full_name,
            status=membership.status,
            decided_by=decider.full_name if decider else None,
        )
    await session.refresh(membership)
    if accept:
        previous = member.firm_id
        member.firm_id = firm.id
        audit(
            session,
            now,
            "member_confirmed",
            "membership",
            membership.id,
            actor_id=actor.person.id,
            person_id=member.id,
            firm=firm.name,
            previous_firm_id=previous,
        )
        await _grant(session, now, member, Role.FIRM, actor.person.id)
    else:
        audit(
            session,
            now,
            "member_rejected",
            "membership",
            membership.id,
            actor_id=actor.person.id,
            person_id=member.id,
            firm=firm.name,
        )
    told = await private_chat(session, member)
    if told is None and membership.chat_id is not None:
        told = await session.get(Chat, membership.chat_id)
    detail = {
        "name": member.full_name,
        "firm": firm.name,
        "accepted": accept,
        "decided_by": actor.person.full_name,
    }
    if told is not None:
        await enqueue(
            session,
            now,
            told,
            "setup_join_result",
            member.language or language,
            {"name": member.full_name, "firm": firm.name, "accepted": accept},
        )
    if message_id is not None:
        await enqueue(
            session,
            now,
            actor.chat,
            "setup_join_decided",
            actor.person.language or language,
            detail,
            edit_message_id=message_id,
        )
    return done(Change.UPDATED, **detail)


# --- routing rules ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleArgs:
    keywords: tuple[str, ...]
    category: str
    lead: str
    assists: tuple[str, ...]
    industry: str | None
    priority: int


def parse_addrule(args: Sequence[str]) -> RuleArgs | None:
    """`<kw,kw,…> <category> <lead> [assist,…] [industry=<industry>] [priority=<n>]`."""
    plain: list[str] = []
    options: dict[str, str] = {}
    for arg in (clean(a) for a in args):
        key, sign, value = arg.partition("=")
        if sign and key.lower() in ("industry", "priority"):
            options[key.lower()] = value.strip()
        elif arg:
            plain.append(arg)
    if len(plain) not in (3, 4):
        return None
    priority_text = options.get("priority", str(DEFAULT_RULE_PRIORITY))
    if not priority_text.lstrip("-").isdigit():
        return None
    keywords = tuple(dict.fromkeys(split_list(plain[0])))
    if not keywords:
        return None
    return RuleArgs(
        keywords=keywords,
        category=plain[1],
        lead=plain[2],
        assists=tuple(split_list(plain[3])) if len(plain) == 4 else (),
        industry=options.get("industry") or None,
        priority=int(priority_text),
    )


async def _rule_view(session: AsyncSession, rule: RoutingRule) -> dict[str, Any]:
    names = dict((await session.execute(select(Department.id, Department.name))).all())
    return {
        "id": rule.id,
        "keywords": list(rule.keywords),
        "category": rule.category,
        "lead": names.get(rule.lead_department_id, str(rule.lead_department_id)),
        "assists": [names.get(i, str(i)) for i in rule.assist_department_ids],
        "industry": rule.industry,
        "priority": rule.priority,
    }


async def add_rule(session: AsyncSession, now: datetime, actor: Contact, args: RuleArgs) -> Outcome:
    """/addrule: keywords (and maybe an industry) → a category, a lead department, assistants."""
    if not _allowed(actor, Action.MANAGE_COUNTY):
        return refuse(Refusal.NOT_ALLOWED)
    category = category_of(args.category)
    if category is None:
        return refuse(Refusal.UNKNOWN_CATEGORY, value=args.category)
    if len(args.keywords) > MAX_KEYWORDS:
        return refuse(Refusal.TOO_MANY, limit=MAX_KEYWORDS)
    if args.industry is not None and len(args.industry) > INDUSTRY_LIMIT:
        return refuse(Refusal.TOO_LONG, limit=INDUSTRY_LIMIT)
    lead = await find_department(session, args.lead)
    if lead is None:
        return await _unknown_department(session, args.lead)
    assists: list[int] = []
    for text in args.assists:
        assist = await find_department(session, text)
        if assist is None:
            return await _unknown_department(session, text)
        if assist.id != lead.id and assist.id not in assists:
            assists.append(assist.id)
    rule = RoutingRule(
        keywords=list(args.keywords),
        category=category,
        industry=args.industry,
        lead_department_id=lead.id,
        assist_department_ids=assists,
        priority=args.priority,
        created_at=now,
    )
    session.add(rule)
    await session.flush()
    view = await _rule_view(session, rule)
    audit(session, now, "rule_added", "rule", rule.id, actor_id=actor.person.id, **view)
    return done(Change.CREATED, rule=view)


async def list_rules(session: AsyncSession, actor: Contact) -> Outcome:
    if not _allowed(actor, Action.MANAGE_COUNTY):
        return refuse(Refusal.NOT_ALLOWED)
    rules = await session.scalars(
        select(RoutingRule).order_by(RoutingRule.priority, RoutingRule.id)
    )
    return done(Change.UNCHANGED, rules=[await _rule_view(session, rule) for rule in rules])


async def delete_rule(
    session: AsyncSession, now: datetime, actor: Contact, rule_text: str
) -> Outcome:
    """/delrule <id>: the rule is gone; the audit entry keeps what it said."""
    if not _allowed(actor, Action.MANAGE_COUNTY):
        return refuse(Refusal.NOT_ALLOWED)
    text = clean(rule_text).lstrip("#")
    rule = await session.get(RoutingRule, int(text)) if text.isdigit() else None
    if rule is None:
        return refuse(Refusal.UNKNOWN_RULE, value=rule_text)
    view = await _rule_view(session, rule)
    await session.execute(delete(RoutingRule).where(RoutingRule.id == rule.id))
    audit(session, now, "rule_deleted", "rule", view["id"], actor_id=actor.person.id, **view)
    return done(Change.UPDATED, rule=view)


# --- service policies -------------------------------------------------------------------------

# /setpolicy's trailing options (name=value) and the policy columns each one sets.
POLICY_OPTIONS: dict[str, str] = {
    "claim": "claim_hours",
    "remind": "reminder_hours",
    "quiet": "quiet_hours",
    "stages": "stage_limits",
}
MAX_POLICY_HOURS = 200.0  # office hours: five weeks of them
MAX_REMINDERS = 5
MAX_REMINDER_HOURS = 720.0  # thirty days
MAX_STAGES = 10
STAGE_NAME_LIMIT = 20  # deadlines.kind holds "stage:" and the name
OFF_WORDS = frozenset({"off", "none", "no", "false", "关", "无"})
END_OF_DAY_WORDS = frozenset({"eod", "day", "当日", "当天"})
_HOURS_SUFFIXES = ("小时", "hours", "hour", "h")
_QUIET = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


def _hours(text: str, limit: float) -> float:
    """4 for "4", "4h" or "4小时"; ValueError unless more than 0 and at most `limit`."""
    text = clean(text).lower()
    for suffix in _HOURS_SUFFIXES:
        text = text.removesuffix(suffix)
    hours = float(text.strip())  # ValueError for what is not a number
    if not (0 < hours <= limit):  # also false for NaN
        raise ValueError(text)
    return hours


def _number(hours: float) -> float | int:
    """Whole hours stored as whole numbers, so that they read as typed."""
    return int(hours) if hours.is_integer() else hours


def claim_hours_of(text: str) -> float | None:
    """Office hours to claim in ("4h"), or None for "by the end of the working day" ("eod")."""
    if clean(text).lower() in END_OF_DAY_WORDS:
        return None
    return _hours(text, MAX_POLICY_HOURS)


def reminder_hours_of(text: str) -> list[float]:
    """Hours before a deadline to remind at, latest first: "24,2" → [24.0, 2.0]; "off" → []."""
    if clean(text).lower() in OFF_WORDS:
        return []
    hours = sorted({_hours(part, MAX_REMINDER_HOURS) for part in split_list(text)}, reverse=True)
    if not hours or len(hours) > MAX_REMINDERS:
        raise ValueError(text)
    return hours


def quiet_hours_of(text: str) -> str:
    """Quiet hours as stored, "22:00-07:30"; "" for "off"."""
    text = clean(text).replace(" ", "")
    if text.lower() in OFF_WORDS:
        return ""
    found = _QUIET.match(text)
    if found is None:
        raise ValueError(text)
    h1, m1, h2, m2 = (int(n) for n in found.groups())
    start, end = time(h1, m1), time(h2, m2)  # ValueError for 25:00
    if start == end:
        raise ValueError(text)
    return f"{start:%H:%M}-{end:%H:%M}"


def stage_limits_of(text: str) -> list[list[Any]]:
    """Stage limits, one after another: "分类:1,派单:1,到场:2,办结:4" → [["分类", 1], …]."""
    if clean(text).lower() in OFF_WORDS:
        return []
    stages: list[list[Any]] = []
    for part in split_list(text):
        name, colon, hours = part.rpartition(":")
        name = name.strip()
        if not colon or not name or len(name) > STAGE_NAME_LIMIT:
            raise ValueError(part)
        if any(stage[0] == name for stage in stages):
            raise ValueError(part)
        stages.append([name, _number(_hours(hours, MAX_POLICY_HOURS))])
    if not stages or len(stages) > MAX_STAGES:
        raise ValueError(text)
    return stages


# Each option's reader, and the refusal (or the import's flaw, by the same name) when it fails.
POLICY_READERS: dict[str, tuple[Any, str]] = {
    "claim_hours": (claim_hours_of, "bad_claim_hours"),
    "reminder_hours": (reminder_hours_of, "bad_reminders"),
    "quiet_hours": (quiet_hours_of, "bad_quiet_hours"),
    "stage_limits": (stage_limits_of, "bad_stages"),
}


def read_policy_options(texts: Mapping[str, str]) -> tuple[dict[str, Any], tuple[str, str] | None]:
    """The policy columns the options set, or the first bad one as (problem, column)."""
    values: dict[str, Any] = {}
    for column, text in texts.items():
        reader, problem = POLICY_READERS[column]
        try:
            values[column] = reader(text)
        except ValueError:
            return {}, (problem, column)
    return values, None


@dataclass(frozen=True)
class PolicyArgs:
    category: str
    close_days: str
    confirm_days: str
    urgent: bool
    # Policy column → the option's text, for the options given (the others stay as they are).
    options: Mapping[str, str] = field(default_factory=dict)


def parse_setpolicy(args: Sequence[str]) -> PolicyArgs | None:
    """`<category|default> <close working days> <confirm days> [urgent] [claim=4h|eod]
    [remind=24,2] [quiet=22:00-07:30|off] [stages=分类:1,派单:1,到场:2,办结:4]`."""
    words = [clean(a) for a in args if clean(a)]
    options: dict[str, str] = {}
    plain: list[str] = []
    for word in words:
        key, sign, value = word.partition("=")
        if sign:
            column = POLICY_OPTIONS.get(key.strip().lower())
            if column is None or column in options or not value.strip():
                return None
            options[column] = value.strip()
        elif options:
            return None  # the options come last
        else:
            plain.append(word)
    urgent = len(plain) == 4 and plain[-1].lower() == URGENT
    if urgent:
        plain.pop()
    if len(plain) != 3:
        return None
    return PolicyArgs(plain[0], plain[1], plain[2], urgent, options)


def _days(text: str) -> int | None:
    return int(text) if text.isdigit() and 1 <= int(text) <= MAX_DAYS else None


def _policy_view(policy: ServicePolicy) -> dict[str, Any]:
    return {
        "category": policy.category,
        "priority": policy.priority,
        "close_days": policy.close_working_days,
        "confirm_days": policy.confirm_days,
        "claim_hours": policy.claim_hours,
        "reminder_hours": [float(h) for h in policy.reminder_hours],
        "quiet_hours": policy.quiet_hours,
        "stage_limits": [[str(name), hours] for name, hours in policy.stage_limits],
    }


async def set_policy(
    session: AsyncSession, now: datetime, actor: Contact, args: PolicyArgs
) -> Outcome:
    """/setpolicy: the limits for a category (or the default), per priority: close and confirm
    days, and optionally the claim limit, reminders, quiet hours and stage limits ("1124")."""
    if not _allowed(actor, Action.MANAGE_COUNTY):
        return refuse(Refusal.NOT_ALLOWED)
    category: str | None = None
    if args.category.lower() != DEFAULT_POLICY:
        category = category_of(args.category)
        if category is None:
            return refuse(Refusal.UNKNOWN_CATEGORY, value=args.category)
    close_days, confirm_days = _days(args.close_days), _days(args.confirm_days)
    if close_days is None or confirm_days is None:
        bad = args.close_days if close_days is None else args.confirm_days
        return refuse(Refusal.BAD_NUMBER, value=bad, limit=MAX_DAYS)
    options, problem = read_policy_options(args.options)
    if problem is not None:
        reason, column = problem
        return refuse(Refusal(reason), value=args.options[column], limit=_policy_limit(column))
    priority = URGENT if args.urgent else NORMAL
    change = await _upsert_policy(
        session, now, category, priority, close_days, confirm_days, options
    )
    policy = await _policy_row(session, category, priority)
    assert policy is not None
    view = _policy_view(policy)
    if change is not Change.UNCHANGED:
        audit(
            session,
            now,
            "policy_set",
            "policy",
            policy.id,
            actor_id=actor.person.id,
            change=change.value,
            **view,
        )
    return done(change, policy=view)


def _policy_limit(column: str) -> int:
    """The bound a refusal names: hours, or how many entries."""
    return {
        "claim_hours": int(MAX_POLICY_HOURS),
        "reminder_hours": MAX_REMINDERS,
        "quiet_hours": 0,
        "stage_limits": MAX_STAGES,
    }[column]


async def _policy_row(
    session: AsyncSession, category: str | None, priority: str
) -> ServicePolicy | None:
    condition = (
        ServicePolicy.category.is_(None) if category is None else ServicePolicy.category == category
    )
    return await session.scalar(
        select(ServicePolicy).where(condition, ServicePolicy.priority == priority)
    )


async def _upsert_policy(
    session: AsyncSession,
    now: datetime,
    category: str | None,
    priority: str,
    close_days: int,
    confirm_days: int,
    options: Mapping[str, Any],
) -> Change:
    """Write the limits; of the optional columns only those in `options` are set."""
    wanted = {"close_working_days": close_days, "confirm_days": confirm_days, **options}
    # A NULL category is not caught by the unique key, so the default row is looked up first.
    found = await _policy_row(session, category, priority)
    if found is None:
        session.add(ServicePolicy(category=category, priority=priority, created_at=now, **wanted))
        await session.flush()
        return Change.CREATED
    if all(getattr(found, column) == value for column, value in wanted.items()):
        return Change.UNCHANGED
    for column, value in wanted.items():
        setattr(found, column, value)
    await session.flush()
    return Change.UPDATED


async def list_policies(session: AsyncSession, actor: Contact) -> Outcome:
    if not _allowed(actor, Action.MANAGE_COUNTY):
        return refuse(Refusal.NOT_ALLOWED)
    rows = list(await session.scalars(select(ServicePolicy)))
    order = {key: i for i, key in enumerate(CATEGORIES)}
    rows.sort(
        key=lambda p: (
            -1 if p.category is None else order.get(p.category, len(order)),
            p.category or "",
            PRIORITIES.index(p.priority) if p.priority in PRIORITIES else len(PRIORITIES),
        )
    )
    return done(Change.UNCHANGED, policies=[_policy_view(p) for p in rows])


# --- a whole county from a file ---------------------------------------------------------------

# The sections of an import file (YAML keys, workbook sheet names) and the fields of each.
SECTIONS: dict[str, tuple[str, ...]] = {
    "departments": ("name", "coordinator"),
    "people": ("id", "name", "username", "roles", "department", "firm", "language"),
    "firms": ("name", "credit_code", "industry", "liaison"),
    "groups": ("id", "title", "industry", "tags"),
    "department_chats": ("id", "title", "department"),
    "rules": ("keywords", "category", "lead", "assists", "industry", "priority"),
    "policies": (
        "category",
        "priority",
        "close_working_days",
        "confirm_days",
        "claim_hours",
        "reminder_hours",
        "quiet_hours",
        "stage_limits",
    ),
    "projects": ("name", "category", "department", "leader"),
    "nodes": ("project", "title", "department", "owner", "deadline", "weight", "closing_standard"),
}
COUNTY_SECTIONS = tuple(s for s in SECTIONS if s not in ("projects", "nodes"))
REQUIRED: dict[str, tuple[str, ...]] = {
    "departments": ("name",),
    "people": ("id", "name"),
    "firms": ("name", "industry"),
    "groups": ("id", "industry"),
    "department_chats": ("id", "department"),
    "rules": ("keywords", "category", "lead"),
    "policies": ("category", "close_working_days", "confirm_days"),
    "projects": ("name", "category", "department"),
    "nodes": ("project", "title", "department", "deadline", "closing_standard"),
}
# A CSV file of nodes: one node a row, with its project's particulars (the project is created
# when it does not exist yet).
CSV_FIELDS = (
    "project",
    "project_category",
    "project_department",
    "leader",
    "title",
    "department",
    "owner",
    "deadline",
    "weight",
    "closing_standard",
)
# A CSV column → the field of the project entry it gives.
CSV_PROJECT_FIELDS = {
    "project": "name",
    "project_category": "category",
    "project_department": "department",
    "leader": "leader",
}
# Node titles and closing standards, and the weights a node may have.
NODE_TITLE_LIMIT = 300
STANDARD_LIMIT = 1000
MIN_WEIGHT, MAX_WEIGHT = 1, 100
# A deadline further ahead than this is a typing mistake, not a plan.
MAX_AHEAD = timedelta(days=366 * 5)
# What an owner (or a leader) field holds when there is none.
NOBODY = frozenset({"", "-", "—", "无"})
TRUE_WORDS = frozenset({"true", "yes", "y", "1", "x"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", ""})


class Flaw(StrEnum):
    """What is wrong at one place of an import file; the words for it live in the templates."""

    UNREADABLE = "unreadable"
    EMPTY_FILE = "empty_file"
    NOT_A_MAPPING = "not_a_mapping"
    UNKNOWN_SECTION = "unknown_section"
    NOT_A_LIST = "not_a_list"
    NOT_AN_ENTRY = "not_an_entry"
    UNKNOWN_FIELD = "unknown_field"
    REQUIRED = "required"
    NOT_TEXT = "not_text"
    TOO_LONG = "too_long"
    TOO_MANY = "too_many"
    NOT_A_NUMBER = "not_a_number"
    BAD_PERSON_ID = "bad_person_id"
    BAD_CHAT_ID = "bad_chat_id"
    BAD_BOOLEAN = "bad_boolean"
    BAD_ROLE = "bad_role"
    BAD_LANGUAGE = "bad_language"
    BAD_CREDIT_CODE = "bad_credit_code"
    CODE_AS_NUMBER = "code_as_number"
    UNKNOWN_CATEGORY = "unknown_category"
    BAD_PRIORITY = "bad_priority"
    BAD_DAYS = "bad_days"
    DUPLICATE = "duplicate"
    UNKNOWN_DEPARTMENT = "unknown_department"
    UNKNOWN_FIRM = "unknown_firm"
    UNKNOWN_PERSON = "unknown_person"
    FIRM_CONFLICT = "firm_conflict"
    PRIVATE_CHAT = "private_chat"
    BAD_CLAIM_HOURS = "bad_claim_hours"
    BAD_REMINDERS = "bad_reminders"
    BAD_QUIET_HOURS = "bad_quiet_hours"
    BAD_STAGES = "bad_stages"
    UNKNOWN_PROJECT = "unknown_project"
    NOT_A_LEADER = "not_a_leader"
    NOT_AN_OFFICIAL = "not_an_official"
    BAD_WEIGHT = "bad_weight"
    BAD_DATE = "bad_date"
    PAST_DEADLINE = "past_deadline"
    TOO_FAR = "too_far"
    PROJECT_MISMATCH = "project_mismatch"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an import file, and where: a YAML path or a sheet, row and column."""

    flaw: Flaw
    section: str | None = None
    index: int | None = None  # 0-based, in the YAML list
    row: int | None = None  # 1-based, in the sheet
    column: str | None = None  # the sheet's column letter
    field: str | None = None
    value: str | None = None
    reason: str | None = None  # a credit code's problem
    expected: str | None = None
    position: int | None = None
    limit: int | None = None
    line: int | None = None  # of a YAML syntax error
    other: int | None = None  # where a duplicate first appeared (index or row)

    def where(self) -> str:
        """The place in plain ASCII, for logs and exceptions."""
        if self.section is None:
            return f"line {self.line}" if self.line else "file"
        if self.row is not None:
            cell = f"{self.column}{self.row}" if self.column else f"row {self.row}"
            return f"{self.section}!{cell}"
        path = self.section if self.index is None else f"{self.section}[{self.index}]"
        return f"{path}.{self.field}" if self.field else path

    def params(self) -> dict[str, Any]:
        return {
            "flaw": self.flaw.value,
            "section": self.section,
            "index": self.index,
            "row": self.row,
            "column": self.column,
            "field": self.field,
            "value": self.value,
            "reason": self.reason,
            "expected": self.expected,
            "position": self.position,
            "limit": self.limit,
            "line": self.line,
            "other": self.other,
        }


@dataclass(frozen=True)
class Place:
    """Where an entry sits in its file: a YAML list item, or a sheet row with its columns."""

    section: str | None = None
    index: int | None = None
    row: int | None = None
    columns: Mapping[str, str] = field(default_factory=dict)  # field → column letter

    def problem(self, flaw: Flaw, field_name: str | None = None, **detail: Any) -> Problem:
        return Problem(
            flaw,
            section=self.section,
            index=self.index,
            row=self.row,
            column=self.columns.get(field_name) if field_name else None,
            field=field_name,
            **detail,
        )

    @property
    def number(self) -> int | None:
        """What a duplicate's message points back to: the row in a sheet, else the index."""
        return self.row if self.row is not None else self.index


@dataclass(frozen=True)
class RawEntry:
    """One entry of a file as read, before any checking: its place and its fields."""

    place: Place
    fields: Mapping[str, Any]
    # A project named by a CSV row of nodes: created when absent, else left as it is.
    if_absent: bool = False


RawCounty = Mapping[str, Sequence[RawEntry]]


def raw_from_mapping(data: object) -> tuple[dict[str, list[RawEntry]], list[Problem]]:
    """A YAML-shaped county (section → list of mappings) as raw entries, with shape problems."""
    if data is None:
        return {}, [Problem(Flaw.EMPTY_FILE)]
    if not isinstance(data, Mapping):
        return {}, [Problem(Flaw.NOT_A_MAPPING)]
    raw: dict[str, list[RawEntry]] = {}
    problems: list[Problem] = []
    for key, entries in data.items():
        section = str(key).strip().lower()
        if section not in SECTIONS:
            problems.append(Problem(Flaw.UNKNOWN_SECTION, value=str(key)))
            continue
        if entries is None:
            continue
        if not isinstance(entries, list):
            problems.append(Problem(Flaw.NOT_A_LIST, section=section))
            continue
        for index, item in enumerate(entries):
            place = Place(section, index)
            if not isinstance(item, Mapping):
                problems.append(place.problem(Flaw.NOT_AN_ENTRY))
                continue
            fields = {str(k).strip().lower(): v for k, v in item.items()}
            raw.setdefault(section, []).append(RawEntry(place, fields))
    if not raw and not problems:
        problems.append(Problem(Flaw.EMPTY_FILE))
    return raw, problems


@dataclass(frozen=True)
class DepartmentRow:
    place: Place
    name: str
    coordinator: bool | None  # None: not said, an existing department keeps its flag


@dataclass(frozen=True)
class PersonRow:
    place: Place
    telegram_id: int
    name: str
    username: str | None
    roles: tuple[Role, ...]
    department: str | None
    firm: str | None
    language: str | None


@dataclass(frozen=True)
class FirmRow:
    place: Place
    name: str
    credit_code: str | None
    industry: str
    liaison: str | None


@dataclass(frozen=True)
class ChatRow:
    place: Place
    telegram_id: int
    title: str | None
    purpose: ChatPurpose
    industry: str | None
    tags: tuple[str, ...]
    department: str | None


@dataclass(frozen=True)
class RuleRow:
    place: Place
    keywords: tuple[str, ...]
    category: str
    lead: str
    assists: tuple[str, ...]
    industry: str | None
    priority: int


@dataclass(frozen=True)
class PolicyRow:
    place: Place
    category: str | None
    priority: str
    close_days: int
    confirm_days: int
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProjectRow:
    place: Place
    name: str
    category: str | None  # None only for a CSV's project that exists already
    department: str | None
    leader: str | None
    if_absent: bool = False


@dataclass(frozen=True)
class NodeRow:
    place: Place
    project: str
    title: str
    department: str
    owner: str | None
    deadline: object  # as the file holds it: read in the county's zone when checked
    weight: int
    closing_standard: str


@dataclass(frozen=True)
class CountySetup:
    """A county as a file describes it, checked on its own (not yet against the database)."""

    departments: tuple[DepartmentRow, ...] = ()
    people: tuple[PersonRow, ...] = ()
    firms: tuple[FirmRow, ...] = ()
    chats: tuple[ChatRow, ...] = ()
    rules: tuple[RuleRow, ...] = ()
    policies: tuple[PolicyRow, ...] = ()
    projects: tuple[ProjectRow, ...] = ()
    nodes: tuple[NodeRow, ...] = ()


class _Entry:
    """Reads one raw entry's fields, noting each problem with its place."""

    def __init__(self, entry: RawEntry, problems: list[Problem]) -> None:
        self.place = entry.place
        self.fields = entry.fields
        self.problems = problems
        self.ok = True
        self.if_absent = entry.if_absent
        section = entry.place.section or ""
        for name in self.fields:
            if name not in SECTIONS.get(section, ()):
                self.flag(Flaw.UNKNOWN_FIELD, name, value=name)
        for name in REQUIRED.get(section, ()):
            if entry.if_absent and name in ("category", "department"):
                continue  # needed only if the project is new: told once the bot's are known
            if self.blank(name):
                self.flag(Flaw.REQUIRED, name)

    def flag(self, flaw: Flaw, field_name: str | None = None, **detail: Any) -> None:
        self.problems.append(self.place.problem(flaw, field_name, **detail))
        self.ok = False

    def blank(self, name: str) -> bool:
        value = self.fields.get(name)
        return value is None or (isinstance(value, str) and not value.strip()) or value == []

    def text(self, name: str, limit: int, prose: bool = False) -> str | None:
        """The field as text; `prose` (a title, a standard) keeps its full-width punctuation."""
        value = self.fields.get(name)
        if self.blank(name):
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.flag(Flaw.NOT_TEXT, name, value=str(value)[:100])
            return None
        text = str(value).strip() if prose else clean(str(value))
        if len(text) > limit:
            self.flag(Flaw.TOO_LONG, name, value=text[:100], limit=limit)
            return None
        return text

    def integer(self, name: str) -> int | None:
        value = self.fields.get(name)
        if self.blank(name):
            return None
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and clean(value).lstrip("-").isdigit():
            return int(clean(value))
        self.flag(Flaw.NOT_A_NUMBER, name, value=str(value)[:100])
        return None

    def boolean(self, name: str) -> bool:
        value = self.fields.get(name)
        if value is None or isinstance(value, bool):
            return bool(value)
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        word = clean(str(value)).lower()
        if word in TRUE_WORDS | FALSE_WORDS:
            return word in TRUE_WORDS
        self.flag(Flaw.BAD_BOOLEAN, name, value=str(value)[:100])
        return False

    def option(self, name: str) -> str | None:
        """A policy option as its command-line text: lists joined, pairs as name:hours."""
        value = self.fields.get(name)
        if value is False:
            return "off"  # YAML reads an unquoted off or no as false
        if value is None or isinstance(value, bool) or self.blank(name):
            return None
        if isinstance(value, Mapping):
            value = [[key, hours] for key, hours in value.items()]
        if isinstance(value, list | tuple):
            pairs = (item if isinstance(item, list | tuple) else [item] for item in value)
            return ",".join(":".join(str(part) for part in pair) for pair in pairs)
        return str(value) if isinstance(value, str | int | float) else None

    def person(self, name: str) -> str | None:
        """Someone's id or @username; None for nobody ("-")."""
        ref = self.text(name, USERNAME_LIMIT + 1)
        return None if ref is None or ref in NOBODY else ref

    def words(self, name: str, limit: int, most: int) -> tuple[str, ...]:
        value = self.fields.get(name)
        if self.blank(name):
            return ()
        items: list[str] = []
        if isinstance(value, list | tuple):
            for item in value:
                if isinstance(item, bool) or not isinstance(item, str | int | float):
                    self.flag(Flaw.NOT_TEXT, name, value=str(item)[:100])
                    return ()
                items.extend(split_list(str(item)))
        elif isinstance(value, str | int):
            items = split_list(str(value))
        else:
            self.flag(Flaw.NOT_TEXT, name, value=str(value)[:100])
            return ()
        for item in items:
            if len(item) > limit:
                self.flag(Flaw.TOO_LONG, name, value=item[:100], limit=limit)
                return ()
        unique = tuple(dict.fromkeys(items))
        if len(unique) > most:
            self.flag(Flaw.TOO_MANY, name, limit=most)
            return ()
        return unique


class _Seen:
    """First places of natural keys, to report a duplicate with where it first appeared."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        self.first: dict[tuple[str, object], Place] = {}

    def once(self, entry: _Entry, kind: str, key: object, field_name: str, shown: str) -> bool:
        first = self.first.setdefault((kind, key), entry.place)
        if first is entry.place:
            return True
        entry.flag(Flaw.DUPLICATE, field_name, value=shown, other=first.number)
        return False


@dataclass(frozen=True)
class Reference:
    """A name one entry gives for another row (a department, a firm, a person)."""

    place: Place
    field: str
    kind: Flaw  # the flaw when nothing answers to it: UNKNOWN_DEPARTMENT, _FIRM, _PERSON
    value: str


@dataclass(frozen=True)
class Parsed:
    setup: CountySetup
    problems: list[Problem]
    # Taken from every entry, flawed or not, so that the file's problems are all told at once.
    references: list[Reference]


def parse_county(raw: RawCounty) -> Parsed:
    """Check every entry on its own and against the rest of the file."""
    problems: list[Problem] = []
    references: list[Reference] = []
    seen = _Seen(problems)

    def entries(section: str) -> Iterator[_Entry]:
        return (_Entry(entry, problems) for entry in raw.get(section, ()))

    def refer(e: _Entry, field_name: str, kind: Flaw, *values: str | None) -> None:
        references.extend(Reference(e.place, field_name, kind, v) for v in values if v)

    departments = []
    for e in entries("departments"):
        name = e.text("name", NAME_LIMIT)
        coordinator = None if e.blank("coordinator") else e.boolean("coordinator")
        if name is not None:
            seen.once(e, "department", name, "name", name)
        if e.ok and name is not None:
            departments.append(DepartmentRow(e.place, name, coordinator))

    people = []
    for e in entries("people"):
        telegram_id = e.integer("id")
        if telegram_id is not None and telegram_id <= 0:
            e.flag(Flaw.BAD_PERSON_ID, "id", value=str(telegram_id))
        name = e.text("name", PERSON_NAME_LIMIT)
        username = e.text("username", USERNAME_LIMIT)
        roles: list[Role] = []
        for word in e.words("roles", 16, len(Role)):
            role = parse_role(word)
            if role is None:
                e.flag(Flaw.BAD_ROLE, "roles", value=word, expected=", ".join(Role))
            else:
                roles.append(role)
        department = e.text("department", NAME_LIMIT)
        firm = e.text("firm", NAME_LIMIT)
        refer(e, "department", Flaw.UNKNOWN_DEPARTMENT, department)
        refer(e, "firm", Flaw.UNKNOWN_FIRM, firm)
        language = e.text("language", 8)
        if language is not None and language not in LANGUAGES:
            e.flag(Flaw.BAD_LANGUAGE, "language", value=language, expected=", ".join(LANGUAGES))
        if telegram_id is not None:
            seen.once(e, "person", telegram_id, "id", str(telegram_id))
        if e.ok and telegram_id is not None and name is not None:
            people.append(
                PersonRow(
                    e.place,
                    telegram_id,
                    name,
                    username.removeprefix("@") if username else None,
                    tuple(roles),
                    department,
                    firm,
                    language,
                )
            )

    firms = []
    for e in entries("firms"):
        name = e.text("name", NAME_LIMIT)
        code = None
        if isinstance(e.fields.get("credit_code"), float):
            e.flag(Flaw.CODE_AS_NUMBER, "credit_code", value=str(e.fields["credit_code"]))
        else:
            typed = e.text("credit_code", 64)
            if typed is not None:
                check = validate_credit_code(typed)
                if check.ok:
                    code = check.normalised
                else:
                    assert check.reason is not None
                    e.flag(
                        Flaw.BAD_CREDIT_CODE,
                        "credit_code",
                        value=check.normalised,
                        reason=check.reason.value,
                        expected=check.expected_check,
                        position=check.position,
                    )
        industry = e.text("industry", INDUSTRY_LIMIT)
        liaison = e.text("liaison", USERNAME_LIMIT + 1)
        refer(e, "liaison", Flaw.UNKNOWN_PERSON, liaison)
        if name is not None:
            seen.once(e, "firm", name, "name", name)
        if code is not None:
            seen.once(e, "code", code, "credit_code", code)
        if e.ok and name is not None and industry is not None:
            firms.append(FirmRow(e.place, name, code, industry, liaison))

    chats = []
    for section, purpose in (
        ("groups", ChatPurpose.INDUSTRY),
        ("department_chats", ChatPurpose.DEPARTMENT),
    ):
        for e in entries(section):
            telegram_id = e.integer("id")
            if telegram_id is not None and telegram_id >= 0:
                e.flag(Flaw.BAD_CHAT_ID, "id", value=str(telegram_id))
            title = e.text("title", TITLE_LIMIT)
            industry = e.text("industry", INDUSTRY_LIMIT) if section == "groups" else None
            tags = e.words("tags", INDUSTRY_LIMIT, MAX_TAGS) if section == "groups" else ()
            department = e.text("department", NAME_LIMIT) if section != "groups" else None
            refer(e, "department", Flaw.UNKNOWN_DEPARTMENT, department)
            if telegram_id is not None:
                seen.once(e, "chat", telegram_id, "id", str(telegram_id))
            if e.ok and telegram_id is not None:
                tags = tuple(tag for tag in tags if tag != industry)
                chats.append(
                    ChatRow(e.place, telegram_id, title, purpose, industry, tags, department)
                )

    rules = []
    for e in entries("rules"):
        keywords = e.words("keywords", 100, MAX_KEYWORDS)
        category_text = e.text("category", CATEGORY_LIMIT)
        category = category_of(category_text) if category_text else None
        if category_text is not None and category is None:
            e.flag(
                Flaw.UNKNOWN_CATEGORY,
                "category",
                value=category_text,
                expected=", ".join(CATEGORIES),
            )
        lead = e.text("lead", NAME_LIMIT)
        assists = e.words("assists", NAME_LIMIT, 20)
        refer(e, "lead", Flaw.UNKNOWN_DEPARTMENT, lead)
        refer(e, "assists", Flaw.UNKNOWN_DEPARTMENT, *assists)
        industry = e.text("industry", INDUSTRY_LIMIT)
        priority = e.integer("priority")
        key = (tuple(sorted(normalise(k) for k in keywords)), industry)
        if keywords:
            seen.once(e, "rule", key, "keywords", ", ".join(keywords))
        if e.ok and keywords and category is not None and lead is not None:
            rules.append(
                RuleRow(
                    e.place,
                    keywords,
                    category,
                    lead,
                    assists,
                    industry,
                    DEFAULT_RULE_PRIORITY if priority is None else priority,
                )
            )

    policies = []
    for e in entries("policies"):
        category_text = e.text("category", CATEGORY_LIMIT)
        policy_category: str | None = None
        if category_text is not None and category_text.lower() != DEFAULT_POLICY:
            policy_category = category_of(category_text)
            if policy_category is None:
                e.flag(
                    Flaw.UNKNOWN_CATEGORY,
                    "category",
                    value=category_text,
                    expected=", ".join((DEFAULT_POLICY, *CATEGORIES)),
                )
        priority_text = (e.text("priority", 16) or NORMAL).lower()
        if priority_text not in PRIORITIES:
            e.flag(
                Flaw.BAD_PRIORITY, "priority", value=priority_text, expected=", ".join(PRIORITIES)
            )
        days: dict[str, int] = {}
        for name in ("close_working_days", "confirm_days"):
            number = e.integer(name)
            if number is not None and not 1 <= number <= MAX_DAYS:
                e.flag(Flaw.BAD_DAYS, name, value=str(number), limit=MAX_DAYS)
            elif number is not None:
                days[name] = number
        options: dict[str, Any] = {}
        for column in POLICY_READERS:
            text = e.option(column)
            if text is None:
                continue
            value, problem = read_policy_options({column: text})
            if problem is not None:
                e.flag(Flaw(problem[0]), column, value=text[:100], limit=_policy_limit(column))
            else:
                options.update(value)
        if category_text is not None:
            shown = f"{policy_category or DEFAULT_POLICY} {priority_text}"
            seen.once(e, "policy", (policy_category, priority_text), "category", shown)
        if e.ok and category_text is not None and len(days) == 2:
            policies.append(
                PolicyRow(
                    e.place,
                    policy_category,
                    priority_text,
                    days["close_working_days"],
                    days["confirm_days"],
                    options,
                )
            )

    projects = []
    for e in entries("projects"):
        name = e.text("name", NAME_LIMIT)
        category = e.text("category", CATEGORY_LIMIT)
        department = e.text("department", NAME_LIMIT)
        leader = e.person("leader")
        refer(e, "department", Flaw.UNKNOWN_DEPARTMENT, department)
        refer(e, "leader", Flaw.UNKNOWN_PERSON, leader)
        if name is not None:
            seen.once(e, "project", name, "name", name)
        if e.ok and name is not None:
            projects.append(ProjectRow(e.place, name, category, department, leader, e.if_absent))

    nodes = []
    for e in entries("nodes"):
        project = e.text("project", NAME_LIMIT)
        title = e.text("title", NODE_TITLE_LIMIT, prose=True)
        department = e.text("department", NAME_LIMIT)
        owner = e.person("owner")
        deadline = e.fields.get("deadline")
        if not e.blank("deadline") and read_moment(deadline, ZoneInfo("UTC"), time(0, 0)) is None:
            e.flag(Flaw.BAD_DATE, "deadline", value=str(deadline)[:100])
        weight = MIN_WEIGHT if e.blank("weight") else weight_of(e.fields.get("weight"))
        if weight is None:
            e.flag(
                Flaw.BAD_WEIGHT,
                "weight",
                value=str(e.fields.get("weight"))[:100],
                limit=MAX_WEIGHT,
            )
        standard = e.text("closing_standard", STANDARD_LIMIT, prose=True)
        refer(e, "project", Flaw.UNKNOWN_PROJECT, project)
        refer(e, "department", Flaw.UNKNOWN_DEPARTMENT, department)
        refer(e, "owner", Flaw.UNKNOWN_PERSON, owner)
        if project is not None and title is not None:
            seen.once(e, "node", (project, title), "title", f"{project} · {title}")
        if (
            e.ok
            and project is not None
            and title is not None
            and department is not None
            and weight is not None
            and standard is not None
        ):
            nodes.append(
                NodeRow(e.place, project, title, department, owner, deadline, weight, standard)
            )

    setup = CountySetup(
        tuple(departments),
        tuple(people),
        tuple(firms),
        tuple(chats),
        tuple(rules),
        tuple(policies),
        tuple(projects),
        tuple(nodes),
    )
    return Parsed(setup, problems, references)


@dataclass(frozen=True)
class SectionCount:
    section: str
    created: int = 0
    updated: int = 0


@dataclass(frozen=True)
class ImportOutcome:
    """An import: what is wrong with the file (then nothing was written), or what it did."""

    problems: tuple[Problem, ...]
    counts: tuple[SectionCount, ...]
    dry_run: bool

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def written(self) -> bool:
        return self.ok and not self.dry_run


class _Known:
    """What the database already holds, looked up once for a whole file."""

    def __init__(self) -> None:
        self.departments: set[str] = set()
        self.firm_by_name: dict[str, int] = {}
        self.firm_by_code: dict[str, int] = {}
        self.firm_names: dict[int, str] = {}
        self.person_ids: set[int] = set()
        self.usernames: set[str] = set()
        self.chats: dict[int, str] = {}  # telegram id → kind
        self.rules: dict[tuple[tuple[str, ...], str | None], int] = {}
        self.policies: set[tuple[str | None, str]] = set()
        self.projects: set[str] = set()
        # (project, title) → the node's deadline
        self.nodes: dict[tuple[str, str], datetime] = {}
        self.roles: dict[int, set[Role]] = {}  # telegram id → roles
        self.by_username: dict[str, int] = {}  # lower-case username → telegram id

    @classmethod
    async def load(cls, session: AsyncSession) -> _Known:
        known = cls()
        known.departments = set(await session.scalars(select(Department.name)))
        for firm_id, name, code in await session.execute(
            select(Firm.id, Firm.name, Firm.credit_code)
        ):
            known.firm_by_name[name] = firm_id
            known.firm_names[firm_id] = name
            if code:
                known.firm_by_code[code] = firm_id
        for telegram_id, username in await session.execute(
            select(Person.telegram_id, Person.username)
        ):
            known.person_ids.add(telegram_id)
            if username:
                known.usernames.add(username.lower())
                known.by_username.setdefault(username.lower(), telegram_id)
        for telegram_id, role in await session.execute(
            select(Person.telegram_id, PersonRole.role).join(
                PersonRole, PersonRole.person_id == Person.id
            )
        ):
            known.roles.setdefault(telegram_id, set()).add(Role(role))
        known.projects = set(await session.scalars(select(Project.name)))
        for project, title, deadline in await session.execute(
            select(Project.name, Node.title, Node.deadline).join(
                Project, Project.id == Node.project_id
            )
        ):
            known.nodes[(project, title)] = deadline
        known.chats = dict((await session.execute(select(Chat.telegram_id, Chat.kind))).all())
        for rule in await session.scalars(select(RoutingRule).order_by(RoutingRule.id)):
            known.rules.setdefault(_rule_key(rule.keywords, rule.industry), rule.id)
        known.policies = {
            (category, priority)
            for category, priority in await session.execute(
                select(ServicePolicy.category, ServicePolicy.priority)
            )
        }
        return known

    def firm_of(self, row: FirmRow) -> tuple[int | None, int | None]:
        """The existing firm with this code, and the one with this name."""
        by_code = self.firm_by_code.get(row.credit_code) if row.credit_code else None
        return by_code, self.firm_by_name.get(row.name)


def _in_file_order(problem: Problem) -> tuple[int, int, int]:
    """The file as a whole first, then by section, entry and field."""
    if problem.section is None:
        return (-1, -1, -1)
    sections = list(SECTIONS)
    fields = SECTIONS.get(problem.section, ())
    at = problem.row if problem.row is not None else problem.index
    return (
        sections.index(problem.section) if problem.section in sections else len(sections),
        -1 if at is None else at,
        fields.index(problem.field) if problem.field in fields else len(fields),
    )


def _rule_key(keywords: Iterable[str], industry: str | None) -> tuple[tuple[str, ...], str | None]:
    return tuple(sorted(normalise(k) for k in keywords)), industry


def _declared(raw: RawCounty, section: str, *names: str) -> set[str]:
    """Values a file gives for some fields, even in entries with problems (no echo problems)."""
    found: set[str] = set()
    for entry in raw.get(section, ()):
        for name in names:
            value = entry.fields.get(name)
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, str | int) and not isinstance(value, bool):
                text = clean(str(value))
                found.add(text)
                if name == "credit_code":
                    found.add(validate_credit_code(text).normalised)
                if name == "username":
                    found.add(text.removeprefix("@").lower())
    return found


def _check_references(
    raw: RawCounty, parsed: Parsed, known: _Known, now: datetime, desk: Desk
) -> tuple[list[Problem], tuple[SectionCount, ...]]:
    """Problems that need the database too, and how many rows each section creates or updates."""
    problems: list[Problem] = []
    departments = known.departments | _declared(raw, "departments", "name")
    firms = (
        set(known.firm_by_name)
        | set(known.firm_by_code)
        | _declared(raw, "firms", "name", "credit_code")
    )
    person_ids = {str(i) for i in known.person_ids} | _declared(raw, "people", "id")
    usernames = known.usernames | _declared(raw, "people", "username")
    projects = known.projects | _declared(raw, "projects", "name")

    setup = parsed.setup
    for ref in parsed.references:
        if ref.kind is Flaw.UNKNOWN_DEPARTMENT:
            found = ref.value in departments
        elif ref.kind is Flaw.UNKNOWN_PROJECT:
            found = ref.value in projects
        elif ref.kind is Flaw.UNKNOWN_FIRM:
            found = ref.value in firms or validate_credit_code(ref.value).normalised in firms
        else:
            who = ref.value.removeprefix("@")
            found = who in person_ids if who.lstrip("-").isdigit() else who.lower() in usernames
        if not found:
            problems.append(ref.place.problem(ref.kind, ref.field, value=ref.value))
    targets: dict[int, Place] = {}
    for firm in setup.firms:
        by_code, by_name = known.firm_of(firm)
        if by_code is not None and by_name is not None and by_code != by_name:
            problems.append(
                firm.place.problem(
                    Flaw.FIRM_CONFLICT,
                    "credit_code",
                    value=firm.credit_code,
                    expected=known.firm_names[by_code],
                )
            )
        target = by_code if by_code is not None else by_name
        if target is not None:
            first = targets.setdefault(target, firm.place)
            if first is not firm.place:
                problems.append(
                    firm.place.problem(Flaw.DUPLICATE, "name", value=firm.name, other=first.number)
                )
    for chat in setup.chats:
        if known.chats.get(chat.telegram_id) == "private":
            problems.append(
                chat.place.problem(Flaw.PRIVATE_CHAT, "id", value=str(chat.telegram_id))
            )
    problems.extend(_check_projects(setup, known, now, desk))

    def count(section: str, exists: Iterable[bool]) -> SectionCount:
        flags = list(exists)
        return SectionCount(section, flags.count(False), flags.count(True))

    counts = (
        count("departments", (d.name in known.departments for d in setup.departments)),
        count("people", (p.telegram_id in known.person_ids for p in setup.people)),
        count("firms", (any(known.firm_of(f)) for f in setup.firms)),
        count(
            "groups",
            (c.telegram_id in known.chats for c in setup.chats if c.industry is not None),
        ),
        count(
            "department_chats",
            (c.telegram_id in known.chats for c in setup.chats if c.department is not None),
        ),
        count("rules", (_rule_key(r.keywords, r.industry) in known.rules for r in setup.rules)),
        count("policies", ((p.category, p.priority) in known.policies for p in setup.policies)),
        count(
            "projects",
            (p.name in known.projects for p in setup.projects if not _left_alone(p, known)),
        ),
        count("nodes", ((n.project, n.title) in known.nodes for n in setup.nodes)),
    )
    # The county's own sections are told of as they always were; projects and nodes only
    # when the file has them (a CSV of nodes has nothing else).
    present = {section for section, entries in raw.items() if entries}
    county = present & set(COUNTY_SECTIONS)
    return problems, tuple(
        c for c in counts if c.section in present or (county and c.section in COUNTY_SECTIONS)
    )


def _left_alone(row: ProjectRow, known: _Known) -> bool:
    """A CSV's project that exists already: the file does not change it."""
    return row.if_absent and row.name in known.projects


def _roles_in_file(
    setup: CountySetup, known: _Known
) -> tuple[dict[int, set[Role]], dict[str, int]]:
    """Everyone's roles once the file is written (roles are only added), and their usernames."""
    roles = {tid: set(held) for tid, held in known.roles.items()}
    usernames = dict(known.by_username)
    for person in setup.people:
        held = roles.setdefault(person.telegram_id, set())
        if person.department is not None and not person.roles and not held:
            held.add(Role.OFFICIAL)
        held.update(person.roles)
        if person.firm is not None:
            held.add(Role.FIRM)
        if person.username:
            usernames[person.username.lower()] = person.telegram_id
    return roles, usernames


def _check_projects(setup: CountySetup, known: _Known, now: datetime, desk: Desk) -> list[Problem]:
    """Leaders who lead, owners who may update nodes, deadlines ahead, new projects complete."""
    problems: list[Problem] = []
    roles, usernames = _roles_in_file(setup, known)

    def roles_of_ref(ref: str) -> set[Role] | None:
        ref = ref.removeprefix("@")
        tid = int(ref) if ref.lstrip("-").isdigit() else usernames.get(ref.lower())
        return roles.get(tid, set()) if tid is not None else None

    for project in setup.projects:
        if project.if_absent and project.name not in known.projects:
            for name in ("category", "department"):
                if getattr(project, name) is None:
                    problems.append(project.place.problem(Flaw.REQUIRED, name))
        if project.leader is not None:
            held = roles_of_ref(project.leader)
            if held is not None and Role.LEADER not in held:
                problems.append(
                    project.place.problem(Flaw.NOT_A_LEADER, "leader", value=project.leader)
                )
    closing = desk.calendar.office_hours.closing
    for node in setup.nodes:
        if node.owner is not None:
            held = roles_of_ref(node.owner)
            if held is not None and Action.UPDATE_NODE not in actions_of(held):
                problems.append(node.place.problem(Flaw.NOT_AN_OFFICIAL, "owner", value=node.owner))
        deadline = read_moment(node.deadline, desk.zone, closing)
        if deadline is not None and known.nodes.get((node.project, node.title)) == deadline:
            continue  # the node as it is: importing the same file again is no problem
        problem = deadline_problem(deadline, now)
        if problem is not None:
            problems.append(
                node.place.problem(Flaw(problem), "deadline", value=str(node.deadline)[:100])
            )
    return problems


async def import_county(
    session: AsyncSession,
    now: datetime,
    raw: RawCounty,
    *,
    source: str,
    dry_run: bool = False,
    problems: Sequence[Problem] = (),
    actor_id: int | None = None,
    audit_action: str = "county_imported",
    desk: Desk | None = None,
) -> ImportOutcome:
    """Check a whole county file, then write all of it, or nothing when anything is wrong.

    Rows are matched by natural keys and updated in place: departments by name, people by
    Telegram id, firms by credit code then name, chats by Telegram id, rules by their keywords
    and industry, policies by category and priority, projects by name, nodes by project and
    title. Roles are only ever added. `problems` are those found while reading the file,
    reported with the rest. Node deadlines are read in `desk`'s zone and office hours.
    """
    if desk is None:
        from models.services.issues import Desk  # see the import at the top

        # Node deadlines in the usual county day, when the caller says nothing.
        desk = Desk(WorkCalendar(OfficeHours()), OfficeHours().zone, "zh_CN")
    parsed = parse_county(raw)
    known = await _Known.load(session)
    referenced, counts = _check_references(raw, parsed, known, now, desk)
    every = sorted((*problems, *parsed.problems, *referenced), key=_in_file_order)
    if every or dry_run:
        return ImportOutcome(tuple(every), counts, dry_run)
    await _write(session, now, parsed.setup, known)
    await _write_projects(session, now, parsed.setup, desk, actor_id)
    audit(
        session,
        now,
        audit_action,
        "county",
        None,
        actor_id=actor_id,
        source=source,
        **{c.section: {"created": c.created, "updated": c.updated} for c in counts},
    )
    return ImportOutcome((), counts, dry_run)


async def _write(session: AsyncSession, now: datetime, setup: CountySetup, known: _Known) -> None:
    departments = {d.name: d for d in await session.scalars(select(Department))}
    for row in setup.departments:
        department = departments.get(row.name)
        if department is None:
            department = Department(
                name=row.name, is_coordinator=bool(row.coordinator), created_at=now
            )
            session.add(department)
            departments[row.name] = department
        elif row.coordinator is not None:
            department.is_coordinator = row.coordinator
    await session.flush()

    for firm_row in setup.firms:
        by_code, by_name = known.firm_of(firm_row)
        target = by_code if by_code is not None else by_name
        firm = await session.get(Firm, target) if target is not None else None
        if firm is None:
            firm = Firm(name=firm_row.name, industry=firm_row.industry, created_at=now)
            session.add(firm)
        firm.name, firm.industry = firm_row.name, firm_row.industry
        if firm_row.credit_code is not None:
            firm.credit_code = firm_row.credit_code
        await session.flush()

    for person_row in setup.people:
        await _write_person(session, now, person_row, departments)

    for firm_row in setup.firms:
        if firm_row.liaison is None:
            continue
        liaison = await _person_by_ref(session, firm_row.liaison)
        firm = await session.scalar(select(Firm).where(Firm.name == firm_row.name))
        assert liaison is not None and firm is not None
        firm.liaison_id = liaison.id
        await _grant_quietly(session, liaison.id, Role.LIAISON)

    for chat_row in setup.chats:
        chat = await session.scalar(select(Chat).where(Chat.telegram_id == chat_row.telegram_id))
        if chat is None:
            kind = "supergroup" if str(chat_row.telegram_id).startswith("-100") else "group"
            chat = Chat(telegram_id=chat_row.telegram_id, kind=kind, created_at=now)
            session.add(chat)
        if chat_row.title is not None:
            chat.title = chat_row.title
        chat.purpose = chat_row.purpose
        chat.industry = chat_row.industry
        chat.tags = list(chat_row.tags)
        chat.department_id = (
            departments[chat_row.department].id if chat_row.department is not None else None
        )
    await session.flush()

    rules = {
        _rule_key(r.keywords, r.industry): r
        for r in await session.scalars(select(RoutingRule).order_by(RoutingRule.id.desc()))
    }
    for rule_row in setup.rules:
        lead = departments[rule_row.lead].id
        assists = list(
            dict.fromkeys(departments[a].id for a in rule_row.assists if departments[a].id != lead)
        )
        rule = rules.get(_rule_key(rule_row.keywords, rule_row.industry))
        if rule is None:
            rule = RoutingRule(created_at=now)
            session.add(rule)
        rule.keywords = list(rule_row.keywords)
        rule.category = rule_row.category
        rule.industry = rule_row.industry
        rule.lead_department_id = lead
        rule.assist_department_ids = assists
        rule.priority = rule_row.priority
    await session.flush()

    for policy in setup.policies:
        await _upsert_policy(
            session,
            now,
            policy.category,
            policy.priority,
            policy.close_days,
            policy.confirm_days,
            policy.options,
        )


async def _write_projects(
    session: AsyncSession, now: datetime, setup: CountySetup, desk: Desk, actor_id: int | None
) -> None:
    """Projects by name, then their nodes by project and title, through the node use cases
    (so that each new node's deadline is tracked and its owner told)."""
    from models.services import nodes  # the node use cases build on this module's lookups

    departments = {d.name: d for d in await session.scalars(select(Department))}
    projects = {p.name: p for p in await session.scalars(select(Project))}
    for row in setup.projects:
        project = projects.get(row.name)
        leader = await _person_by_ref(session, row.leader) if row.leader else None
        department = departments[row.department] if row.department else None
        if project is None:
            assert row.category is not None
            projects[row.name] = await nodes.create_project(
                session,
                now,
                row.name,
                row.category,
                department.id if department else None,
                leader,
                actor_id,
            )
            continue
        if row.if_absent:
            continue
        project.category = row.category or project.category
        if department is not None:
            project.department_id = department.id
        if leader is not None:
            project.leader_id = leader.id
    await session.flush()
    closing = desk.calendar.office_hours.closing
    for node_row in setup.nodes:
        project = projects[node_row.project]
        owner = await _person_by_ref(session, node_row.owner) if node_row.owner else None
        deadline = read_moment(node_row.deadline, desk.zone, closing)
        assert deadline is not None
        found = await session.scalar(
            select(Node).where(Node.project_id == project.id, Node.title == node_row.title)
        )
        if found is None:
            await nodes.create_node(
                session,
                now,
                desk,
                project,
                node_row.title,
                departments[node_row.department],
                owner,
                deadline,
                node_row.weight,
                node_row.closing_standard,
                actor_id,
            )
            continue
        if found.status == nodes.DONE:
            continue  # accepted: what it was judged on stays
        found.department_id = departments[node_row.department].id
        if owner is not None:
            found.owner_id = owner.id
        found.deadline = deadline
        found.weight = node_row.weight
        found.closing_standard = node_row.closing_standard
        found.updated_at = now
        await nodes.track(session, now, desk, found, project)


async def _write_person(
    session: AsyncSession, now: datetime, row: PersonRow, departments: Mapping[str, Department]
) -> None:
    person = await session.scalar(select(Person).where(Person.telegram_id == row.telegram_id))
    if person is None:
        person = Person(telegram_id=row.telegram_id, full_name=row.name, created_at=now)
        session.add(person)
    person.full_name = row.name
    if row.username is not None:
        person.username = row.username
    if row.language is not None:
        person.language = row.language
    if row.department is not None:
        person.department_id = departments[row.department].id
    if row.firm is not None:
        firm = await session.scalar(
            select(Firm).where(
                or_(
                    Firm.name == row.firm,
                    Firm.credit_code == validate_credit_code(row.firm).normalised,
                )
            )
        )
        assert firm is not None
        person.firm_id = firm.id
    await session.flush()
    roles = set(row.roles)
    if row.firm is not None:
        roles.add(Role.FIRM)
    if row.department is not None and not roles and not await roles_of(session, person.id):
        roles.add(Role.OFFICIAL)
    for role in sorted(roles):
        await _grant_quietly(session, person.id, role)
    await session.execute(
        insert_ignoring_conflicts(session, Chat).values(
            telegram_id=row.telegram_id,
            kind="private",
            purpose=ChatPurpose.PRIVATE,
            tags=[],
            created_at=now,
        )
    )


async def _person_by_ref(session: AsyncSession, ref: str) -> Person | None:
    """A person by Telegram id or username, the username in any case (as the check matched)."""
    ref = ref.removeprefix("@")
    if ref.lstrip("-").isdigit():
        return await session.scalar(select(Person).where(Person.telegram_id == int(ref)))
    return await session.scalar(
        select(Person).where(func.lower(Person.username) == ref.lower()).limit(1)
    )


async def _grant_quietly(session: AsyncSession, person_id: int, role: Role) -> None:
    """A role given by an import: its one audit entry counts for all it wrote."""
    await session.execute(
        insert_ignoring_conflicts(session, PersonRole).values(person_id=person_id, role=role)
    )
