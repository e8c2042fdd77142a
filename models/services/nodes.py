"""Key projects and their nodes (节点工作法): each node has a responsible unit, an owner, a deadline
and a closing standard (定责任、定时限、定销号标准), progress with evidence, and is closed when the
leader in charge accepts it.

Every use case takes the actor's `Contact`, checks what they may do, changes nothing when it
refuses, writes an audit entry for every change and the messages it causes (through the
outbox) in the caller's transaction, and returns an `Outcome`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.rules.permissions import Action, Role, can
from models.services import deadlines, setup
from models.services.common import audit, enqueue
from models.services.contacts import Contact, roles_of
from models.services.dialogues import ask
from models.services.issues import Attachment, Desk
from models.services.people import find_person
from models.tables import Chat, Department, Node, NodeUpdate, Person, PersonRole, Project

NODE_REF = re.compile(r"^\s*[Nn]-?(\d{1,9})\s*$")
TEXT_LIMIT = 1000  # a progress note, a completion note, a reason
FILE_NAME_LIMIT = 256  # node_updates.file_name

OPEN = "open"
REQUESTED = "requested"
DONE = "done"
NODE_KIND = "node"  # the deadline kind of a node's date


class Refusal(StrEnum):
    NOT_ALLOWED = "not_allowed"
    NOT_A_GROUP = "not_a_group"
    NOT_CHAT_ADMIN = "not_chat_admin"
    EMPTY = "empty"
    TOO_LONG = "too_long"
    DUPLICATE_PROJECT = "duplicate_project"
    UNKNOWN_PROJECT = "unknown_project"
    UNKNOWN_DEPARTMENT = "unknown_department"
    UNKNOWN_PERSON = "unknown_person"
    NOT_A_LEADER = "not_a_leader"
    NOT_AN_OFFICIAL = "not_an_official"
    UNKNOWN_NODE = "unknown_node"
    BAD_WEIGHT = "bad_weight"
    BAD_DATE = "bad_date"
    PAST_DEADLINE = "past_deadline"
    TOO_FAR = "too_far"
    BAD_PERCENT = "bad_percent"
    WRONG_CHAT = "wrong_chat"
    NO_REASON = "no_reason"
    MOVED_ON = "moved_on"
    NO_CHAT = "no_chat"


@dataclass(frozen=True)
class Outcome:
    """What a use case did (the project or node it touched), or why it refused; `detail` is
    what the answer needs to say."""

    refused: Refusal | None = None
    project: Project | None = None
    node: Node | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.refused is None


def refuse(reason: Refusal, **detail: Any) -> Outcome:
    return Outcome(refused=reason, detail=detail)


# Every parameter the refusal template may mention, so that none is ever undefined.
REFUSAL_KEYS = ("ref", "value", "limit", "known", "status", "name")


def refusal_params(outcome: Outcome) -> dict[str, Any]:
    """The `refusal` parameter of `node_refused`."""
    params: dict[str, Any] = dict.fromkeys(REFUSAL_KEYS)
    params.update({k: v for k, v in outcome.detail.items() if k in REFUSAL_KEYS})
    params["reason"] = outcome.refused.value if outcome.refused else ""
    params["known"] = params["known"] or []
    return params


# --- reading what people type -----------------------------------------------------------------


def parse_node_ref(text: str) -> int | None:
    """7 for "N-7", "n7" or "N7"."""
    found = NODE_REF.match(setup.clean(text))
    return int(found.group(1)) if found else None


def parse_percent(text: str) -> int | None:
    """60 for "60" or "60%"; None for anything that is not a whole number."""
    digits = setup.clean(text).removesuffix("%").strip()
    return int(digits) if digits.isdigit() and len(digits) <= 3 else None


def read_deadline(value: object, desk: Desk) -> datetime | None:
    """A deadline as typed: a date alone means the end of that day's office hours."""
    return setup.read_moment(value, desk.zone, desk.calendar.office_hours.closing)


def label(node: Node, project: Project) -> str:
    return f"N-{node.id} {project.name} · {node.title}"


def _language(person: Person | None, chat: Chat, desk: Desk) -> str:
    if chat.kind == "private" and person is not None and person.language:
        return person.language
    return desk.language


# --- finding things ---------------------------------------------------------------------------


async def project_names(session: AsyncSession) -> list[str]:
    return list(await session.scalars(select(Project.name).order_by(Project.id).limit(30)))


async def find_project(session: AsyncSession, text: str) -> Project | None:
    """A project by its exact name, else the only one whose name contains the text."""
    text = setup.clean(text)
    if not text:
        return None
    found = await session.scalar(select(Project).where(Project.name == text))
    if found is not None:
        return found
    rows = list(
        await session.scalars(
            select(Project).where(Project.name.contains(text, autoescape=True)).limit(2)
        )
    )
    return rows[0] if len(rows) == 1 else None


async def _unknown_project(session: AsyncSession, text: str) -> Outcome:
    return refuse(
        Refusal.UNKNOWN_PROJECT, value=setup.clean(text), known=await project_names(session)
    )


async def load_node(session: AsyncSession, node_id: int) -> tuple[Node, Project] | None:
    node = await session.get(Node, node_id)
    if node is None:
        return None
    project = await session.get(Project, node.project_id)
    assert project is not None
    return node, project


async def _department_name(session: AsyncSession, department_id: int | None) -> str | None:
    if department_id is None:
        return None
    return await session.scalar(select(Department.name).where(Department.id == department_id))


async def _person_name(session: AsyncSession, person_id: int | None) -> str | None:
    if person_id is None:
        return None
    return await session.scalar(select(Person.full_name).where(Person.id == person_id))


def _local(moment: datetime | None, desk: Desk) -> str | None:
    return deadlines.local_time(moment, desk.zone) if moment is not None else None


async def node_view(
    session: AsyncSession, desk: Desk, node: Node, project: Project
) -> dict[str, Any]:
    """What the templates show of a node: its place, its state, its date and its cards."""
    row = await deadlines.find(session, "node", node.id, NODE_KIND)
    approved = row is not None and row.recommit_status == "approved"
    return {
        "ref": f"N-{node.id}",
        "project": project.name,
        "title": node.title,
        "department": await _department_name(session, node.department_id),
        "owner": await _person_name(session, node.owner_id),
        "deadline": _local(node.deadline, desk),
        "new_due": _local(row.recommit_due_at, desk) if row is not None and approved else None,
        "weight": node.weight,
        "closing_standard": node.closing_standard,
        "status": node.status,
        "progress": node.progress,
        "cards": [c for c in row.cards.split(",") if c] if row is not None else [],
        "done_at": _local(node.completion_requested_at if node.status == DONE else None, desk),
    }


async def project_view(session: AsyncSession, project: Project) -> dict[str, Any]:
    """What the templates show of a project: who runs it, where, and how its nodes stand."""
    counts = dict(
        (
            await session.execute(
                select(Node.status, func.count())
                .where(Node.project_id == project.id)
                .group_by(Node.status)
            )
        ).all()
    )
    chat = await session.get(Chat, project.chat_id) if project.chat_id else None
    return {
        "name": project.name,
        "category": project.category,
        "department": await _department_name(session, project.department_id),
        "leader": await _person_name(session, project.leader_id),
        "chat": (chat.title or str(chat.telegram_id)) if chat else None,
        "nodes": sum(counts.values()),
        "open": counts.get(OPEN, 0),
        "requested": counts.get(REQUESTED, 0),
        "done": counts.get(DONE, 0),
    }


# --- who may do what --------------------------------------------------------------------------


def may_update(who: Contact, node: Node) -> bool:
    """The node's owner, or an official or head of its responsible unit."""
    if not can(who.roles, Action.UPDATE_NODE):
        return False
    return who.person.id == node.owner_id or (
        node.department_id is not None and who.person.department_id == node.department_id
    )


def may_accept(who: Contact, project: Project) -> bool:
    """The project's leader in charge (any leader when it names none), or a coordinator."""
    if not can(who.roles, Action.ACCEPT_NODE):
        return False
    if Role.COORDINATOR in who.roles:
        return True
    return project.leader_id is None or project.leader_id == who.person.id


def _in_place(who: Contact, project: Project) -> bool:
    """Node work is reported in private or in the project's own chat, not in other groups."""
    return who.chat.kind == "private" or who.chat.id == project.chat_id


# --- projects ---------------------------------------------------------------------------------


async def add_project(
    session: AsyncSession,
    now: datetime,
    who: Contact,
    name: str,
    category: str,
    department: str,
    leader: str | None,
) -> Outcome:
    """/addproject: a key project in a category, its responsible department and leader in charge."""
    if not can(who.roles, Action.MANAGE_PROJECTS):
        return refuse(Refusal.NOT_ALLOWED)
    name, category = setup.clean(name), setup.clean(category)
    if not name or not category:
        return refuse(Refusal.EMPTY)
    for text, limit in ((name, setup.NAME_LIMIT), (category, setup.CATEGORY_LIMIT)):
        if len(text) > limit:
            return refuse(Refusal.TOO_LONG, value=text[:50], limit=limit)
    if await session.scalar(select(Project.id).where(Project.name == name)) is not None:
        return refuse(Refusal.DUPLICATE_PROJECT, value=name)
    unit = await setup.find_department(session, department)
    if unit is None:
        return _department_refusal(setup.clean(department), await setup.department_names(session))
    chief: Person | None = None
    if leader is not None and setup.clean(leader) not in setup.NOBODY:
        chief = await find_person(session, setup.clean(leader))
        if chief is None:
            return refuse(Refusal.UNKNOWN_PERSON, ref=setup.clean(leader))
        if Role.LEADER not in await roles_of(session, chief.id):
            return refuse(Refusal.NOT_A_LEADER, name=chief.full_name)
    project = await create_project(session, now, name, category, unit.id, chief, who.person.id)
    return Outcome(project=project, detail={"project": await project_view(session, project)})


def _department_refusal(text: str, known: list[str]) -> Outcome:
    return refuse(Refusal.UNKNOWN_DEPARTMENT, value=text, known=known)


async def create_project(
    session: AsyncSession,
    now: datetime,
    name: str,
    category: str,
    department_id: int | None,
    leader: Person | None,
    actor_id: int | None,
) -> Project:
    """Write a checked project (a command's or an import's) with its audit entry."""
    project = Project(
        name=name,
        category=category,
        department_id=department_id,
        leader_id=leader.id if leader else None,
        created_at=now,
    )
    session.add(project)
    await session.flush()
    audit(
        session,
        now,
        "project_added",
        "project",
        project.id,
        actor_id=actor_id,
        name=name,
        category=category,
        department_id=department_id,
        leader_id=project.leader_id,
    )
    return project


async def list_projects(session: AsyncSession, who: Contact) -> Outcome:
    """/projects: every project with its leader, its chat and how many nodes are done."""
    if not can(who.roles, Action.VIEW_NODES):
        return refuse(Refusal.NOT_ALLOWED)
    projects = await session.scalars(select(Project).order_by(Project.id))
    return Outcome(detail={"projects": [await project_view(session, p) for p in projects]})


async def bind_project_chat(
    session: AsyncSession, now: datetime, who: Contact, chat_admin: bool, project_text: str
) -> Outcome:
    """/bindproject: the group it is sent in becomes the project's chat.

    Like binding any chat, it needs the right to bind chats and being an admin of the group
    (`chat_admin`, asked of Telegram).
    """
    refused = setup.may_bind(who, chat_admin)
    if refused is not None:
        assert refused.refused is not None
        return refuse(Refusal(refused.refused.value))
    project = await find_project(session, project_text)
    if project is None:
        return await _unknown_project(session, project_text)
    previous = project.chat_id
    change = setup.Change.UNCHANGED
    if previous != who.chat.id:
        project.chat_id = who.chat.id
        change = setup.Change.CREATED if previous is None else setup.Change.UPDATED
        audit(
            session,
            now,
            "project_chat_bound",
            "project",
            project.id,
            actor_id=who.person.id,
            chat_id=who.chat.id,
            previous_chat_id=previous,
        )
    return Outcome(
        project=project,
        detail={"project": await project_view(session, project), "change": change.value},
    )


# --- nodes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeArgs:
    """AddNode: a node as typed, each part still text (the deadline as typed or as a cell)."""

    project: str
    title: str
    department: str
    owner: str | None
    deadline: object
    weight: str
    closing_standard: str


async def add_node(
    session: AsyncSession, now: datetime, desk: Desk, who: Contact, args: NodeArgs
) -> Outcome:
    """/addnode: a node of a project, with its unit, owner, deadline, weight, closing standard.

    Its deadline is tracked from then on (reminders before it, a yellow card after it), and
    its owner is told.
    """
    if not can(who.roles, Action.MANAGE_PROJECTS):
        return refuse(Refusal.NOT_ALLOWED)
    project = await find_project(session, args.project)
    if project is None:
        return await _unknown_project(session, args.project)
    # Prose keeps its full-width punctuation; only names are normalised.
    title, standard = args.title.strip(), args.closing_standard.strip()
    if not title or not standard:
        return refuse(Refusal.EMPTY)
    for text, limit in ((title, setup.NODE_TITLE_LIMIT), (standard, setup.STANDARD_LIMIT)):
        if len(text) > limit:
            return refuse(Refusal.TOO_LONG, value=text[:50], limit=limit)
    unit = await setup.find_department(session, args.department)
    if unit is None:
        return _department_refusal(
            setup.clean(args.department), await setup.department_names(session)
        )
    owner: Person | None = None
    owner_ref = setup.clean(args.owner or "")
    if owner_ref not in setup.NOBODY:
        owner = await find_person(session, owner_ref)
        if owner is None:
            return refuse(Refusal.UNKNOWN_PERSON, ref=owner_ref)
        if not can(await roles_of(session, owner.id), Action.UPDATE_NODE):
            return refuse(Refusal.NOT_AN_OFFICIAL, name=owner.full_name)
    weight = setup.weight_of(args.weight)
    if weight is None:
        return refuse(Refusal.BAD_WEIGHT, value=str(args.weight)[:20], limit=setup.MAX_WEIGHT)
    deadline = read_deadline(args.deadline, desk)
    problem = setup.deadline_problem(deadline, now)
    if problem is not None:
        return refuse(Refusal(problem), value=str(args.deadline)[:40])
    assert deadline is not None
    node = await create_node(
        session, now, desk, project, title, unit, owner, deadline, weight, standard, who.person.id
    )
    view = await node_view(session, desk, node, project)
    return Outcome(project=project, node=node, detail={"node": view})


async def create_node(
    session: AsyncSession,
    now: datetime,
    desk: Desk,
    project: Project,
    title: str,
    department: Department,
    owner: Person | None,
    deadline: datetime,
    weight: int,
    closing_standard: str,
    actor_id: int | None,
) -> Node:
    """Write a checked node (a command's or an import's): audit, deadline, the owner told."""
    node = Node(
        project_id=project.id,
        title=title,
        department_id=department.id,
        owner_id=owner.id if owner else None,
        deadline=deadline,
        closing_standard=closing_standard,
        weight=weight,
        status=OPEN,
        progress=0,
        created_at=now,
        updated_at=now,
    )
    session.add(node)
    await session.flush()
    audit(
        session,
        now,
        "node_added",
        "node",
        node.id,
        actor_id=actor_id,
        project_id=project.id,
        title=title,
        department_id=department.id,
        owner_id=node.owner_id,
        deadline=deadline.isoformat(),
        weight=weight,
    )
    await track(session, now, desk, node, project)
    view = await node_view(session, desk, node, project)
    for person, chat in await _owner_chats(session, node, owner):
        await enqueue(
            session,
            now,
            chat,
            "node_assigned",
            _language(person, chat, desk),
            {"node_view": view},
            dedupe_key=f"node-assigned:{node.id}:{chat.id}",
        )
    return node


async def track(
    session: AsyncSession, now: datetime, desk: Desk, node: Node, project: Project
) -> None:
    """Track the node's date for reminders and cards (moved while it has no card yet)."""
    await deadlines.track(
        session,
        now,
        desk.zone,
        subject_type="node",
        subject_id=node.id,
        kind=NODE_KIND,
        label=label(node, project),
        due=node.deadline,
        department_id=node.department_id,
        owner_id=node.owner_id,
        approver_id=project.leader_id,
        category=project.category,
        weight=float(node.weight),
    )


async def _owner_chats(
    session: AsyncSession, node: Node, owner: Person | None = None
) -> list[tuple[Person | None, Chat]]:
    """Where the responsible side hears: the owner in private, else the unit's chats."""
    if owner is None and node.owner_id is not None:
        owner = await session.get(Person, node.owner_id)
    if owner is not None:
        chat = await setup.private_chat(session, owner)
        if chat is not None:
            return [(owner, chat)]
    return [(None, chat) for chat in await deadlines.department_chats(session, node.department_id)]


async def _acceptor_chats(
    session: AsyncSession, project: Project
) -> list[tuple[Person | None, Chat]]:
    """Who is asked to accept: the leader in charge in private, else the coordinators."""
    if project.leader_id is not None:
        leader = await session.get(Person, project.leader_id)
        chat = await setup.private_chat(session, leader) if leader is not None else None
        if chat is not None:
            return [(leader, chat)]
    rows = await session.execute(
        select(Person, Chat)
        .join(PersonRole, PersonRole.person_id == Person.id)
        .join(Chat, Chat.telegram_id == Person.telegram_id)
        .where(
            PersonRole.role == Role.COORDINATOR,
            Chat.kind == "private",
            Chat.undeliverable_at.is_(None),
        )
        .order_by(Person.id)
    )
    return [(person, chat) for person, chat in rows]


async def _project_chat(session: AsyncSession, project: Project, who: Contact) -> Chat | None:
    """The project's chat, unless it is where the actor already is (they see it there)."""
    if project.chat_id is None or project.chat_id == who.chat.id:
        return None
    chat = await session.get(Chat, project.chat_id)
    return chat if chat is not None and chat.undeliverable_at is None else None


async def _tell_project(
    session: AsyncSession,
    now: datetime,
    desk: Desk,
    who: Contact,
    project: Project,
    params: dict[str, Any],
) -> None:
    chat = await _project_chat(session, project, who)
    if chat is not None:
        await enqueue(session, now, chat, "node_notice", desk.language, params)


async def _evidence(session: AsyncSession, desk: Desk, node: Node) -> dict[str, Any] | None:
    """The node's latest file, or else its latest progress note."""
    latest = None
    for only_files in (True, False):
        statement = select(NodeUpdate).where(
            NodeUpdate.node_id == node.id, NodeUpdate.kind == "progress"
        )
        if only_files:
            statement = statement.where(NodeUpdate.file_id.is_not(None))
        latest = await session.scalar(statement.order_by(NodeUpdate.id.desc()).limit(1))
        if latest is not None:
            break
    if latest is None:
        return None
    return {
        "kind": latest.file_kind,
        "file_name": latest.file_name,
        "text": latest.text,
        "progress": latest.progress,
        "by": await _person_name(session, latest.person_id),
        "at": _local(latest.at, desk),
    }


def _record(
    session: AsyncSession,
    now: datetime,
    node: Node,
    who: Contact,
    kind: str,
    text: str,
    attachment: Attachment | None = None,
) -> None:
    session.add(
        NodeUpdate(
            node_id=node.id,
            person_id=who.person.id,
            kind=kind,
            progress=node.progress,
            text=text,
            file_kind=attachment.kind if attachment else None,
            file_id=attachment.file_id if attachment else None,
            file_name=attachment.file_name[:FILE_NAME_LIMIT]
            if attachment and attachment.file_name
            else None,
            at=now,
        )
    )


async def _updatable(
    session: AsyncSession, who: Contact, node_id: int
) -> tuple[Node, Project] | Outcome:
    """The node, if `who` may report on it from where they are and it is not closed yet."""
    found = await load_node(session, node_id)
    if found is None:
        return refuse(Refusal.UNKNOWN_NODE, ref=f"N-{node_id}")
    node, project = found
    if not may_update(who, node):
        return refuse(Refusal.NOT_ALLOWED)
    if not _in_place(who, project):
        return refuse(Refusal.WRONG_CHAT, ref=f"N-{node.id}")
    if node.status == DONE:
        return refuse(Refusal.MOVED_ON, ref=f"N-{node.id}", status=node.status)
    return found


async def report_progress(
    session: AsyncSession,
    now: datetime,
    desk: Desk,
    who: Contact,
    node_id: int,
    percent: int | None,
    text: str = "",
    attachment: Attachment | None = None,
) -> Outcome:
    """/progress: how far the node is (0-100 %), with a note and maybe a photo or document as
    evidence; posted to the project's chat when it came from elsewhere."""
    found = await _updatable(session, who, node_id)
    if isinstance(found, Outcome):
        return found
    node, project = found
    if percent is None or not 0 <= percent <= 100:
        return refuse(Refusal.BAD_PERCENT, value=None if percent is None else str(percent))
    text = text.strip()
    if len(text) > TEXT_LIMIT:
        return refuse(Refusal.TOO_LONG, limit=TEXT_LIMIT)
    previous = node.progress
    node.progress = percent
    node.updated_at = now
    _record(session, now, node, who, "progress", text, attachment)
    audit(
        session,
        now,
        "node_progress",
        "node",
        node.id,
        actor_id=who.person.id,
        progress=percent,
        previous=previous,
        text=text or None,
        file=attachment.kind if attachment else None,
    )
    view = await node_view(session, desk, node, project)
    evidence = {"kind": attachment.kind, "file_name": attachment.file_name} if attachment else None
    await _tell_project(
        session,
        now,
        desk,
        who,
        project,
        _notice("progress", view, who, text, evidence),
    )
    return Outcome(project=project, node=node, detail={"node": view})


def _notice(
    event: str,
    view: dict[str, Any],
    who: Contact,
    note: str = "",
    evidence: dict[str, Any] | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    return {
        "node_event": event,
        "node_view": view,
        "by": who.person.full_name,
        "node_note": note,
        "evidence": evidence,
        "return_reason": reason,
    }


async def request_completion(
    session: AsyncSession, now: datetime, desk: Desk, who: Contact, node_id: int, text: str = ""
) -> Outcome:
    """/done: the owner says the closing standard is met; the leader in charge is asked to
    accept it, with the standard and the latest evidence, and [Accept] [Send back]."""
    found = await _updatable(session, who, node_id)
    if isinstance(found, Outcome):
        return found
    node, project = found
    text = text.strip()
    if len(text) > TEXT_LIMIT:
        return refuse(Refusal.TOO_LONG, limit=TEXT_LIMIT)
    moved = await session.scalar(
        update(Node)
        .where(Node.id == node.id, Node.status == OPEN)
        .values(status=REQUESTED, completion_requested_at=now, updated_at=now)
        .returning(Node.id)
    )
    await session.refresh(node)
    if moved is None:
        return refuse(Refusal.MOVED_ON, ref=f"N-{node.id}", status=node.status)
    _record(session, now, node, who, "request", text)
    audit(
        session,
        now,
        "node_completion_requested",
        "node",
        node.id,
        actor_id=who.person.id,
        text=text or None,
    )
    view = await node_view(session, desk, node, project)
    request = {
        "node_view": view,
        "node_note": text,
        "evidence": await _evidence(session, desk, node),
        "by": who.person.full_name,
        "late": now > node.deadline,
    }
    buttons = [
        [
            {"key": "node_accept", "params": {"ref": view["ref"]}, "data": f"v1:na:{node.id}"},
            {"key": "node_send_back", "params": {"ref": view["ref"]}, "data": f"v1:nr:{node.id}"},
        ]
    ]
    asked = await _acceptor_chats(session, project)
    for person, chat in asked:
        await enqueue(
            session,
            now,
            chat,
            "node_acceptance_request",
            _language(person, chat, desk),
            request,
            buttons=buttons,
        )
    await _tell_project(session, now, desk, who, project, _notice("requested", view, who, text))
    return Outcome(project=project, node=node, detail={"node": view, "asked": len(asked)})


async def _decidable(
    session: AsyncSession, who: Contact, node_id: int
) -> tuple[Node, Project] | Outcome:
    found = await load_node(session, node_id)
    if found is None:
        return refuse(Refusal.UNKNOWN_NODE, ref=f"N-{node_id}")
    node, project = found
    if not may_accept(who, project):
        return refuse(Refusal.NOT_ALLOWED)
    if node.status != REQUESTED:
        return refuse(Refusal.MOVED_ON, ref=f"N-{node.id}", status=node.status)
    return found


async def accept_completion(
    session: AsyncSession,
    now: datetime,
    desk: Desk,
    who: Contact,
    node_id: int,
    message_id: int | None = None,
) -> Outcome:
    """/accept or [Accept]: the node is done, as of when its owner asked for acceptance.

    Of two decisions at once exactly one counts; the other hears the node has moved on. A
    pressed request (`message_id` in the actor's chat) is edited to say what was decided.
    """
    found = await _decidable(session, who, node_id)
    if isinstance(found, Outcome):
        return found
    node, project = found
    moved = await session.scalar(
        update(Node)
        .where(Node.id == node.id, Node.status == REQUESTED)
        .values(
            status=DONE, progress=100, accepted_at=now, accepted_by_id=who.person.id, updated_at=now
        )
        .returning(Node.id)
    )
    await session.refresh(node)
    if moved is None:
        return refuse(Refusal.MOVED_ON, ref=f"N-{node.id}", status=node.status)
    assert node.completion_requested_at is not None
    _record(session, now, node, who, "accept", "")
    done_at = node.completion_requested_at.isoformat()
    audit(session, now, "node_accepted", "node", node.id, actor_id=who.person.id, done_at=done_at)
    await deadlines.finish(
        session, now, desk.zone, "node", node.id, NODE_KIND, done_at=node.completion_requested_at
    )
    await _decided(session, now, desk, who, node, project, message_id, None)
    view = await node_view(session, desk, node, project)
    return Outcome(project=project, node=node, detail={"node": view})


async def return_completion(
    session: AsyncSession,
    now: datetime,
    desk: Desk,
    who: Contact,
    node_id: int,
    reason: str,
    message_id: int | None = None,
) -> Outcome:
    """/sendback or [Send back] and a reason: the node is open again, and its owner told why."""
    found = await _decidable(session, who, node_id)
    if isinstance(found, Outcome):
        return found
    node, project = found
    reason = reason.strip()
    if not reason:
        return refuse(Refusal.NO_REASON)
    if len(reason) > TEXT_LIMIT:
        return refuse(Refusal.TOO_LONG, limit=TEXT_LIMIT)
    moved = await session.scalar(
        update(Node)
        .where(Node.id == node.id, Node.status == REQUESTED)
        .values(status=OPEN, returned_reason=reason, completion_requested_at=None, updated_at=now)
        .returning(Node.id)
    )
    await session.refresh(node)
    if moved is None:
        return refuse(Refusal.MOVED_ON, ref=f"N-{node.id}", status=node.status)
    _record(session, now, node, who, "return", reason)
    audit(session, now, "node_returned", "node", node.id, actor_id=who.person.id, reason=reason)
    await _decided(session, now, desk, who, node, project, message_id, reason)
    view = await node_view(session, desk, node, project)
    return Outcome(project=project, node=node, detail={"node": view})


async def _decided(
    session: AsyncSession,
    now: datetime,
    desk: Desk,
    who: Contact,
    node: Node,
    project: Project,
    message_id: int | None,
    reason: str | None,
) -> None:
    """Tell the owner and the project's chat, and mark the pressed request as decided."""
    view = await node_view(session, desk, node, project)
    event = "returned" if reason is not None else "accepted"
    params = _notice(event, view, who, reason=reason)
    for person, chat in await _owner_chats(session, node):
        if chat.id != who.chat.id:
            await enqueue(session, now, chat, "node_notice", _language(person, chat, desk), params)
    await _tell_project(session, now, desk, who, project, params)
    if message_id is not None:
        await enqueue(
            session,
            now,
            who.chat,
            "node_decided",
            _language(who.person, who.chat, desk),
            {
                "node_view": view,
                "node_accepted": reason is None,
                "by": who.person.full_name,
                "return_reason": reason,
            },
            edit_message_id=message_id,
        )


async def ask_return_reason(
    session: AsyncSession,
    now: datetime,
    desk: Desk,
    who: Contact,
    node_id: int,
    message_id: int | None = None,
) -> Outcome:
    """[Send back]: the leader is asked why; their next message in this chat sends it back
    (and marks the pressed request, `message_id`, as decided)."""
    found = await _decidable(session, who, node_id)
    if isinstance(found, Outcome):
        return found
    node, project = found
    payload: dict[str, Any] = {"node_id": node.id}
    if message_id is not None:
        payload["message_id"] = message_id
    await ask(
        session,
        now,
        who,
        "node_return_reason",
        _language(who.person, who.chat, desk),
        payload,
        {"label": label(node, project)},
    )
    return Outcome(project=project, node=node, detail={"node": {"ref": f"N-{node.id}"}})


# --- the timeline (时光轴) ---------------------------------------------------------------------


async def _timeline(session: AsyncSession, desk: Desk, project: Project) -> dict[str, Any]:
    nodes = await session.scalars(
        select(Node).where(Node.project_id == project.id).order_by(Node.deadline, Node.id)
    )
    return {
        "project_view": await project_view(session, project),
        "timeline_rows": [await node_view(session, desk, node, project) for node in nodes],
    }


async def timeline(session: AsyncSession, desk: Desk, who: Contact, project_text: str) -> Outcome:
    """/timeline: a project's nodes in date order, with their state, dates and cards."""
    if not can(who.roles, Action.VIEW_NODES):
        return refuse(Refusal.NOT_ALLOWED)
    project = await find_project(session, project_text)
    if project is None:
        return await _unknown_project(session, project_text)
    return Outcome(project=project, detail=await _timeline(session, desk, project))


async def publish_timeline(
    session: AsyncSession, now: datetime, desk: Desk, who: Contact, project_text: str
) -> Outcome:
    """/timeline … publish: the timeline goes to the project's chat for all to see."""
    if not can(who.roles, Action.MANAGE_PROJECTS):
        return refuse(Refusal.NOT_ALLOWED)
    project = await find_project(session, project_text)
    if project is None:
        return await _unknown_project(session, project_text)
    chat = await session.get(Chat, project.chat_id) if project.chat_id else None
    if chat is None or chat.undeliverable_at is not None:
        return refuse(Refusal.NO_CHAT, value=project.name)
    params = await _timeline(session, desk, project)
    await enqueue(session, now, chat, "timeline_view", desk.language, params)
    audit(
        session,
        now,
        "timeline_published",
        "project",
        project.id,
        actor_id=who.person.id,
        chat_id=chat.id,
    )
    return Outcome(project=project, detail=params)
