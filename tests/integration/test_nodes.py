"""Key projects and their nodes on a real database: adding them, progress with evidence, asking
for acceptance, the leader's decision, cards on the timeline, and nodes imported from files."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.importer import read_file
from models.clock import FrozenClock
from models.rules.permissions import Role
from models.services import deadlines, nodes, setup, sweep
from models.services.contacts import Contact, roles_of
from models.services.issues import Attachment
from models.services.nodes import NodeArgs, Outcome, Refusal
from models.services.setup import Flaw
from models.tables import (
    AuditEntry,
    Chat,
    ChatPurpose,
    Deadline,
    Dialogue,
    Node,
    NodeUpdate,
    OutboxMessage,
    Person,
    PersonRole,
    Project,
)
from models.texts import LANGUAGES, render
from tests.conftest import Database
from tests.integration.county import DESK, County, build_county

ZONE = ZoneInfo("Asia/Shanghai")
PROJECT = "经开区标准化厂房"


@dataclass
class Site:
    """The sample county with a project group, a second leader, and the project itself."""

    county: County
    project_chat: Chat
    deputy: Person  # a leader, but not the one in charge

    async def who(self, session: AsyncSession, person: Person, chat: Chat | None = None) -> Contact:
        fresh = await session.get(Person, person.id)
        assert fresh is not None
        where = await session.get(Chat, chat.id) if chat else None
        if where is None:
            where = self.county.chats[person.telegram_id]
            where = await session.get(Chat, where.id)
        assert where is not None
        return Contact(fresh, where, await roles_of(session, person.id))


@pytest.fixture
async def site(db: Database, clock: FrozenClock) -> Site:
    now = clock.now()
    async with db.sessions() as session, session.begin():
        county = await build_county(session, now)
        deputy = Person(telegram_id=32, full_name="吴副县长", created_at=now)
        session.add(deputy)
        await session.flush()
        session.add(PersonRole(person_id=deputy.id, role=Role.LEADER))
        county.chats[32] = Chat(
            telegram_id=32, kind="private", purpose=ChatPurpose.PRIVATE, created_at=now
        )
        session.add(county.chats[32])
        project_chat = Chat(
            telegram_id=-5001, kind="supergroup", title="厂房项目群", created_at=now
        )
        session.add(project_chat)
        await session.flush()
        return Site(county, project_chat, deputy)


def _node_args(**changes: Any) -> NodeArgs:
    values: dict[str, Any] = {
        "project": PROJECT,
        "title": "厂区通电",
        "department": "供电公司",
        "owner": "11",
        "deadline": "2026-03-20",
        "weight": "3",
        "closing_standard": "10kV 线路接入，变压器投运",
    }
    values.update(changes)
    return NodeArgs(**values)


async def _project(db: Database, clock: FrozenClock, site: Site, leader: str | None = "31") -> None:
    async with db.sessions() as session, session.begin():
        coordinator = await site.who(session, site.county.coordinator)
        outcome = await nodes.add_project(
            session, clock.now(), coordinator, PROJECT, "工业项目", "营商办", leader
        )
        assert outcome.ok, outcome.refused


async def _node(db: Database, clock: FrozenClock, site: Site, **changes: Any) -> int:
    async with db.sessions() as session, session.begin():
        coordinator = await site.who(session, site.county.coordinator)
        outcome = await nodes.add_node(
            session, clock.now(), DESK, coordinator, _node_args(**changes)
        )
        assert outcome.ok and outcome.node is not None, outcome.refused
        return outcome.node.id


async def _bind(db: Database, clock: FrozenClock, site: Site) -> None:
    async with db.sessions() as session, session.begin():
        coordinator = await site.who(session, site.county.coordinator, site.project_chat)
        outcome = await nodes.bind_project_chat(session, clock.now(), coordinator, True, PROJECT)
        assert outcome.ok


async def _outbox(db: Database, template: str) -> list[OutboxMessage]:
    async with db.sessions() as session:
        return list(
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.template == template)
                .order_by(OutboxMessage.id)
            )
        )


async def _audit(db: Database, action: str) -> list[AuditEntry]:
    async with db.sessions() as session:
        return list(
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )


async def _count(db: Database, table: Any) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def _load(db: Database, node_id: int) -> Node:
    async with db.sessions() as session:
        node = await session.get(Node, node_id)
        assert node is not None
        return node


def _local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZONE).astimezone(UTC)


# --- projects and nodes -----------------------------------------------------------------------


async def test_a_coordinator_adds_a_project_and_a_node_that_is_tracked_and_told(
    db: Database, clock: FrozenClock, site: Site
) -> None:
    await _project(db, clock, site)
    node_id = await _node(db, clock, site)
    node = await _load(db, node_id)
    # A date alone is the end of that day's office hours in the county.
    assert node.deadline == _local(2026, 3, 20, 17, 30)
    assert (node.status, node.progress, node.weight) == ("open", 0, 3)
    assert node.closing_standard == "10kV 线路接入，变压器投运"  # prose keeps its punctuation
    async with db.sessions() as session:
        project = await session.scalar(select(Project))
        assert project is not None
        assert (project.category, project.leader_id) == ("工业项目", site.county.leader.id)
        row = await deadlines.find(session, "node", node_id, "node")
        assert row is not None
        assert row.label == f"N-{node_id} {PROJECT} · 厂区通电"
        assert (row.due_at, row.owner_id, row.approver_id) == (
            node.deadline,
            site.county.electrician.id,
            site.county.leader.id,
        )
        assert (row.category, row.weight, row.department_id) == (
            "工业项目",
            3.0,
            site.county.power.id,
        )
    (told,) = await _outbox(db, "node_assigned")
    assert told.chat_id == site.county.chats[11].id
    assert told.params["node_view"]["ref"] == f"N-{node_id}"
    assert len(await _audit(db, "project_added")) == 1
    assert len(await _audit(db, "node_added")) == 1


async def test_a_node_without_an_owner_is_told_to_its_department(
    db: Database, clock: FrozenClock, site: Site
) -> None:
    await _project(db, clock, site, leader=None)
    await _node(db, clock, site, owner="-", department="人社局", deadline="2026-03-20 10:00")
    (told,) = await _outbox(db, "node_assigned")
    assert told.chat_id == site.county.hr_chat.id  # the department's working chat
    node = await _load(db, 1)
    assert node.owner_id is None and node.deadline == _local(2026, 3, 20, 10)


@pytest.mark.parametrize(
    ("changes", "reason", "detail"),
    [
        ({"project": "不存在"}, Refusal.UNKNOWN_PROJECT, {"known": [PROJECT]}),
        ({"title": " "}, Refusal.EMPTY, {}),
        ({"closing_standard": ""}, Refusal.EMPTY, {}),
        ({"title": "长" * 301}, Refusal.TOO_LONG, {"limit": 300}),
        ({"department": "气象局"}, Refusal.UNKNOWN_DEPARTMENT, {"value": "气象局"}),
        ({"owner": "@nobody"}, Refusal.UNKNOWN_PERSON, {"ref": "@nobody"}),
        ({"owner": "101"}, Refusal.NOT_AN_OFFICIAL, {"name": "陈药企"}),
        ({"weight": "0"}, Refusal.BAD_WEIGHT, {"value": "0"}),
        ({"weight": "101"}, Refusal.BAD_WEIGHT, {"limit": 100}),
        ({"weight": "three"}, Refusal.BAD_WEIGHT, {}),
        ({"deadline": "next friday"}, Refusal.BAD_DATE, {"value": "next friday"}),
        ({"deadline": "2026-02-30"}, Refusal.BAD_DATE, {}),
        ({"deadline": "2026-03-02 08:00"}, Refusal.PAST_DEADLINE, {}),
        ({"deadline": "2040-01-01"}, Refusal.TOO_FAR, {}),
    ],
)
async def test_addnode_refuses_what_is_wrong_and_writes_nothing(
    db: Database,
    clock: FrozenClock,
    site: Site,
    changes: dict[str, Any],
    reason: Refusal,
    detail: dict[str, Any],
) -> None:
    await _project(db, clock, site)
    async with db.sessions() as session, session.begin():
        coordinator = await site.who(session, site.county.coordinator)
        outcome = await nodes.add_node(
            session, clock.now(), DESK, coordinator, _node_args(**changes)
        )
    assert outcome.refused is reason
    assert detail.items() <= outcome.detail.items()
    assert await _count(db, Node) == 0
    assert await _count(db, Deadline) == 0


async def test_only_who_manages_projects_adds_them_and_each_part_is_checked(
    db: Database, clock: FrozenClock, site: Site
) -> None:
    async with db.sessions() as session, session.begin():
        now = clock.now()
        official = await site.who(session, site.county.electrician)
        coordinator = await site.who(session, site.county.coordinator)
        leader = await site.who(session, site.county.leader)

        async def add(who: Contact, *args: str | None) -> Outcome:
            name, category, department, chief = args
            assert name is not None and category is not None and department is not None
            return await nodes.add_project(session, now, who, name, category, department, chief)

        assert (
            await add(official, "甲", "工业项目", "营商办", None)
        ).refused is Refusal.NOT_ALLOWED
        assert (await add(coordinator, "", "工业项目", "营商办", None)).refused is Refusal.EMPTY
        long_name = await add(coordinator, "甲" * 201, "工业项目", "营商办", None)
        assert long_name.refused is Refusal.TOO_LONG and long_name.detail["limit"] == 200
        unknown = await add(coordinator, "甲", "工业项目", "气象局", None)
        assert unknown.refused is Refusal.UNKNOWN_DEPARTMENT
        assert unknown.detail["known"] == ["营商办", "供电公司", "人社局"]
        assert (await add(coordinator, "甲", "工业项目", "营商办", "@x")).refused is (
            Refusal.UNKNOWN_PERSON
        )
        not_leader = await add(coordinator, "甲", "工业项目", "营商办", "11")
        assert not_leader.refused is Refusal.NOT_A_LEADER and not_leader.detail["name"] == "赵电力"
        # A leader adds one; a department given in part is found.
        assert (await add(leader, "甲", "城建项目", "供电", "-")).ok
        assert (await add(coordinator, "甲", "工业项目", "营商办", None)).refused is (
            Refusal.DUPLICATE_PROJECT
        )
        listed = await nodes.list_projects(session, official)
        assert [p["name"] for p in listed.detail["projects"]] == ["甲"]
        firm = await site.who(session, site.county.owner)
        assert (await nodes.list_projects(session, firm)).refused is Refusal.NOT_ALLOWED
    async with db.sessions() as session:
        project = await session.scalar(select(Project))
        assert project is not None
        assert (project.department_id, project.leader_id) == (site.county.power.id, None)


async def test_a_project_group_is_bound_by_an_admin_of_it_who_may_bind_chats(
    db: Database, clock: FrozenClock, site: Site
) -> None:
    await _project(db, clock, site)
    async with db.sessions() as session, session.begin():
        now, group = clock.now(), site.project_chat
        coordinator = await site.who(session, site.county.coordinator, group)
        official = await site.who(session, site.county.electrician, group)
        in_private = await site.who(session, site.county.coordinator)

        async def bind(who: Contact, admin: bool, name: str = PROJECT) -> Outcome:
            return await nodes.bind_project_chat(session, now, who, admin, name)

        assert (await bind(in_private, True)).refused is Refusal.NOT_A_GROUP
        assert (await bind(official, True)).refused is Refusal.NOT_ALLOWED
        assert (await bind(coordinator, False)).refused is Refusal.NOT_CHAT_ADMIN
        assert (await bind(coordinator, True, "不存在")).refused is Refusal.UNKNOWN_PROJECT
        bound = await bind(coordinator, True, "厂房")
        assert bound.ok and bound.detail["change"] == "created"
        assert bound.detail["project"]["chat"] == "厂房项目群"
        assert (await bind(coordinator, True)).detail["change"] == "unchanged"
        elsewhere = await site.who(session, site.county.coordinator, site.county.group)
        assert (await bind(elsewhere, True)).detail["change"] == "updated"
    assert [e.detail["previous_chat_id"] for e in await _audit(db, "project_chat_bound")] == [
        None,
        site.project_chat.id,
    ]


# --- progress, completion, acceptance ---------------------------------------------------------


async def test_progress_with_evidence_is_recorded_and_posted_to_the_project_group(
    db: Database, clock: FrozenClock, site: Site
) -> None:
    await _project(db, clock, site)
    node_id = await _node(db, clock, site)
    await _bind(db, clock, site)
    photo = Attachment("photo", "file-1", "u-1")
    async with db.sessions() as session, session.begin():
        now, c = clock.now(), site.county
        owner = await site.who(session, c.electrician)
        done = await nodes.report_progress(
            session, now, DESK, owner, node_id, 60, "主体完成", photo
        )
        assert done.ok and done.detail["node"]["progress"] == 60
        # In the project's group itself: nothing is posted back to it.
        in_group = await site.who(session, c.lineman, site.project_chat)
        assert (await nodes.report_progress(session, now, DESK, in_group, node_id, 65)).ok
        head = await site.who(session, c.head)
        assert (await nodes.report_progress(session, now, DESK, head, node_id, 70)).ok

        async def refused(who: Contact, percent: int | None, ref: int = node_id) -> Refusal | None:
            outcome = await nodes.report_progress(session, now, DESK, who, ref, percent)
            return outcome.refused

        other_unit = await site.who(session, c.recruiter)
        assert await refused(other_unit, 80) is Refusal.NOT_ALLOWED
        leader = await site.who(session, c.leader)
        assert await refused(leader, 80) is Refusal.NOT_ALLOWED
        assert await refused(await site.who(session, c.electrician, c.group), 80) is (
            Refusal.WRONG_CHAT
        )
        assert await refused(owner, 101) is Refusal.BAD_PERCENT
        assert await refused(owner, None) is Refusal.BAD_PERCENT
        assert await refused(owner, 80, 999) is Refusal.UNKNOWN_NODE
        long_note = await nodes.report_progress(session, now, DESK, owner, node_id, 5, "字" * 1001)
        assert long_note.refused is Refusal.TOO_LONG
    node = await _load(db, node_id)
    assert node.progress == 70
    async with db.sessions() as session:
        updates = list(await session.scalars(select(NodeUpdate).order_by(NodeUpdate.id)))
    assert [(u.kind, u.progress, u.file_kind, u.file_id) for u in updates] == [
        ("progress", 60, "photo", "file-1"),
        ("progress", 65, None, None),
        ("progress", 70, None, None),
    ]
    posted = await _outbox(db, "node_notice")
    assert [(m.chat_id, m.params["node_view"]["progress"]) for m in posted] == [
        (site.project_chat.id, 60),
        (site.project_chat.id, 70),
    ]
    assert posted[0].params["evidence"] == {"kind": "photo", "file_name": None}
    assert [e.detail["previous"] for e in await _audit(db, "node_progress")] == [0, 60, 65]


async def test_done_asks_the_leader_in_charge_who_accepts_and_the_node_scores_green(
    db: Database, clock: FrozenClock, site: Site
) -> None:
    await _project(db, clock, site)
    node_id = await _node(db, clock, site)
    document = Attachment("document", "file-2", "u-2", "验收报告.pdf")
    async with db.sessions() as session, session.begin():
        owner = await site.who(session, site.county.electrician)
        now = clock.now()
        await nodes.report_progress(session, now, DESK, owner, node_id, 90, "报告", document)
        await nodes.report_progress(session, now, DESK, owner, node_id, 95, "收尾")
    clock.advance(timedelta(days=2))
    async with db.sessions() as session, session.begin():
        owner = await site.who(session, site.county.electrician)
        asked = await nodes.request_completion(session, clock.now(), DESK, owner, node_id, "已送电")
        assert asked.ok and asked.detail["asked"] == 1
        again = await nodes.request_completion(session, clock.now(), DESK, owner, node_id)
        assert again.refused is Refusal.MOVED_ON and again.detail["status"] == "requested"
    requested_at = clock.now()
    (request,) = await _outbox(db, "node_acceptance_request")
    assert request.chat_id == site.county.chats[31].id
    assert request.buttons == [
        [
            {"key": "node_accept", "params": {"ref": f"N-{node_id}"}, "data": f"v1:na:{node_id}"},
            {
                "key": "node_send_back",
                "params": {"ref": f"N-{node_id}"},
                "data": f"v1:nr:{node_id}",
            },
        ]
    ]
    # The latest evidence is the latest file, not the latest note.
    evidence = request.params["evidence"]
    assert (evidence["kind"], evidence["file_name"], evidence["by"]) == (
        "document",
        "验收报告.pdf",
        "赵电力",
    )
    assert (request.params["node_note"], request.params["late"]) == ("已送电", False)
    assert "10kV 线路接入" in render("node_acceptance_request", "zh_CN", request.params)

    clock.advance(timedelta(hours=3))
    async with db.sessions() as session, session.begin():
        now = clock.now()
        deputy = await site.who(session, site.deputy)
        refused = await nodes.accept_completion(session, now, DESK, deputy, node_id)
        assert refused.refused is Refusal.NOT_ALLOWED
        official = await site.who(session, site.county.electrician)
        assert (await nodes.accept_completion(session, now, DESK, official, node_id)).refused is (
            Refusal.NOT_ALLOWED
        )
        leader = await site.who(session, site.county.leader)
        accepted = await nodes.accept_completion(session, now, DESK, leader, node_id, message_id=77)
        assert accepted.ok and accepted.detail["node"]["status"] == "done"
        stale = await nodes.accept_completion(session, now, DESK, leader, node_id)
        assert stale.refused is Refusal.MOVED_ON and stale.detail["status"] == "done"
        back = await nodes.return_completion(session, now, DESK, leader, node_id, "晚了")
        assert back.refused is Refusal.MOVED_ON
        owner = await site.who(session, site.county.electrician)
        late_note = await nodes.report_progress(session, now, DESK, owner, node_id, 50)
        assert late_note.refused is Refusal.MOVED_ON
    node = await _load(db, node_id)
    assert (node.status, node.progress, node.accepted_by_id) == ("done", 100, site.county.leader.id)
    assert node.completion_requested_at == requested_at
    (decided,) = await _outbox(db, "node_decided")
    assert (decided.edit_message_id, decided.params["node_accepted"]) == (77, True)
    notices = await _outbox(db, "node_notice")
    assert [(m.chat_id, m.params["node_event"]) for m in notices] == [
        (site.county.chats[11].id, "accepted")
    ]
    async with db.sessions() as session, session.begin():
        row = await deadlines.find(session, "node", node_id, "node")
        assert row is not None and row.done_at == requested_at  # when asked, not when accepted
        await sweep.sweep(session, clock.now(), ZONE, "zh_CN")
    async with db.sessions() as session:
        timeline = await nodes.timeline(session, DESK, await site.who(session, site.deputy), "厂房")
    (shown,) = timeline.detail["timeline_rows"]
    assert (shown["cards"], shown["done_at"]) == (["green"], "2026-03-04 09:00")
    assert [e.action for e in await _audit(db, "node_accepted")] == ["node_accepted"]


async def test_a_node_sent_back_is_open_again_and_its_owner_told_why(
    db: Database, clock: FrozenClock, site: Site
) -> None:
    await _project(db, clock, site)
    node_id = await _node(db, clock, site)
    await _bind(db, clock, site)
    async with db.sessions() as session, session.begin():
        now = clock.now()
        owner = await site.who(session, site.county.electrician)
        await nodes.request_completion(session, now, DESK, owner, node_id)
        # The coordinator supervises: they may decide too, even with a leader in charge.
        coordinator = await site.who(session, site.county.coordinator)
        no_reason = await nodes.return_completion(session, now, DESK, coordinator, node_id, " ")
        assert no_reason.refused is Refusal.NO_REASON
        asked = await nodes.ask_return_reason(session, now, DESK, coordinator, node_id, 55)
        assert asked.ok
        dialogue = await session.scalar(select(Dialogue))
        assert dialogue is not None
        assert (dialogue.kind, dialogue.payload) == (
            "node_return_reason",
            {"node_id": node_id, "message_id": 55},
        )
        back = await nodes.return_completion(
            session, now, DESK, coordinator, node_id, "缺少送电记录", message_id=55
        )
        assert back.ok and back.detail["node"]["status"] == "open"
        again = await nodes.ask_return_reason(session, now, DESK, coordinator, node_id)
        assert again.refused is Refusal.MOVED_ON and again.detail["status"] == "open"
    node = await _load(db, node_id)
    assert (node.status, node.returned_reason, node.completion_requested_at) == (
        "open",
        "缺少送电记录",
        None,
    )
    (question,) = await _outbox(db, "ask_node_return_reason")
    assert question.params["label"] == f"N-{node_id} {PROJECT} · 厂区通电"
    notices = await _outbox(db, "node_notice")
    assert [(m.chat_id, m.params["node_event"]) for m in notices] == [
        (site.project_chat.id, "requested"),
        (site.county.chats[11].id, "returned"),
        (site.project_chat.id, "returned"),
    ]
    assert notices[1].params["return_reason"] == "缺少送电记录"
    (decided,) = await _outbox(db, "node_decided")
    assert decided.params["return_reason"] == "缺少送电记录"
    async with db.sessions() as session:
        row = await deadlines.find(session, "node", node_id, "node")
        assert row is not None and row.done_at is None
        kinds = list(await session.scalars(select(NodeUpdate.kind).order_by(NodeUpdate.id)))
    assert kinds == ["request", "return"]


async def test_without_a_leader_in_charge_the_coordinators_are_asked_and_any_leader_decides(
    db: Database, clock: FrozenClock, site: Site
) -> None:
    await _project(db, clock, site, leader=None)
    node_id = await _node(db, clock, site)
    async with db.sessions() as session, session.begin():
        owner = await site.who(session, site.county.electrician)
        await nodes.request_completion(session, clock.now(), DESK, owner, node_id)
        deputy = await site.who(session, site.deputy)
        assert (await nodes.accept_completion(session, clock.now(), DESK, deputy, node_id)).ok
    (request,) = await _outbox(db, "node_acceptance_request")
    assert request.chat_id == site.county.chats[1].id


async def test_a_late_completion_scores_yellow_and_the_timeline_shows_dates_and_cards(
    db: Database, clock: FrozenClock, site: Site
) -> None:
    await _project(db, clock, site)
    first = await _node(db, clock, site, title="征地", deadline="2026-03-03 12:00")
    second = await _node(db, clock, site, title="通电", deadline="2026-03-10")
    third = await _node(db, clock, site, title="竣工", deadline="2026-03-03", owner="12")
    clock.advance(timedelta(days=2))  # Wednesday: the first is a day late
    async with db.sessions() as session, session.begin():
        await sweep.sweep(session, clock.now(), ZONE, "zh_CN")
        owner = await site.who(session, site.county.electrician)
        await nodes.request_completion(session, clock.now(), DESK, owner, first)
        await nodes.request_completion(session, clock.now(), DESK, owner, second)
        leader = await site.who(session, site.county.leader)
        await nodes.accept_completion(session, clock.now(), DESK, leader, first)
        # The third's yellow was re-committed, and the leader approved the new date.
        row = await deadlines.find(session, "node", third, "node")
        assert row is not None
        row.recommit_due_at, row.recommit_status = _local(2026, 3, 12, 17, 30), "approved"
        await sweep.sweep(session, clock.now(), ZONE, "zh_CN")
    async with db.sessions() as session, session.begin():
        official = await site.who(session, site.county.lineman)
        seen = await nodes.timeline(session, DESK, official, PROJECT)
        firm = await site.who(session, site.county.owner)
        assert (await nodes.timeline(session, DESK, firm, PROJECT)).refused is (Refusal.NOT_ALLOWED)
        missing = await nodes.timeline(session, DESK, official, "不存在")
        assert missing.refused is Refusal.UNKNOWN_PROJECT
        unpublished = await nodes.publish_timeline(session, clock.now(), DESK, official, PROJECT)
        assert unpublished.refused is Refusal.NOT_ALLOWED
        coordinator = await site.who(session, site.county.coordinator)
        no_chat = await nodes.publish_timeline(session, clock.now(), DESK, coordinator, PROJECT)
        assert no_chat.refused is Refusal.NO_CHAT and no_chat.detail["value"] == PROJECT
    rows = seen.detail["timeline_rows"]
    assert [(r["ref"], r["status"], r["cards"], r["new_due"]) for r in rows] == [
        (f"N-{first}", "done", ["yellow"], None),
        (f"N-{third}", "open", ["yellow"], "2026-03-12 17:30"),
        (f"N-{second}", "requested", [], None),
    ]
    assert seen.detail["project_view"]["done"] == 1
    for language in LANGUAGES:
        text = render("timeline_view", language, seen.detail)
        assert text.count("🟡") == 2 and "2026-03-12 17:30" in text
    await _bind(db, clock, site)
    async with db.sessions() as session, session.begin():
        coordinator = await site.who(session, site.county.coordinator)
        published = await nodes.publish_timeline(session, clock.now(), DESK, coordinator, PROJECT)
        assert published.ok
    (posted,) = await _outbox(db, "timeline_view")
    assert posted.chat_id == site.project_chat.id
    assert len(posted.params["timeline_rows"]) == 3
    assert len(await _audit(db, "timeline_published")) == 1


def test_node_references_and_percentages_read_as_people_type_them() -> None:
    assert [nodes.parse_node_ref(t) for t in ("N-7", "n7", "N7", "Ｎ－７", "Q-7", "N-")] == [
        7,
        7,
        7,
        7,
        None,
        None,
    ]
    assert [nodes.parse_percent(t) for t in ("60", "60%", "６０％", "x", "1000")] == [
        60,
        60,
        60,
        None,
        None,
    ]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("reason", list(Refusal))
def test_every_node_refusal_has_its_own_words(reason: Refusal, language: str) -> None:
    outcome = nodes.refuse(reason, ref="N-7", value="x", limit=9, name="赵电力", status="done")
    text = render("node_refused", language, {"refusal": nodes.refusal_params(outcome)})
    fallback = render("node_refused", language, {"refusal": {"reason": "?"}})
    assert text.strip()
    assert (text == fallback) == (reason is Refusal.NOT_ALLOWED)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    "command", ["addproject", "addnode", "bindproject", "progress", "done", "accept", "sendback",
                "timeline"]
)  # fmt: skip
def test_every_node_command_has_a_usage_text(command: str, language: str) -> None:
    assert f"/{command}" in render("node_usage", language, {"usage_command": command})


# --- nodes from files -------------------------------------------------------------------------

COUNTY_NODES: dict[str, Any] = {
    "people": [{"id": 7001, "name": "钱县长", "username": "qian", "roles": ["leader"]}],
    "projects": [
        {"name": PROJECT, "category": "工业项目", "department": "营商办", "leader": "@qian"},
    ],
    "nodes": [
        {"project": PROJECT, "title": "征地", "department": "营商办", "owner": "-",
         "deadline": "2026-04-30", "weight": 2, "closing_standard": "取得批复，交付土地"},
        {"project": PROJECT, "title": "通电", "department": "供电公司", "owner": 11,
         "deadline": datetime(2026, 5, 31, 12, 0), "closing_standard": "变压器投运"},
    ],
}  # fmt: skip


async def _import(
    db: Database, clock: FrozenClock, data: Any = None, path: Path | None = None
) -> setup.ImportOutcome:
    if path is not None:
        raw, problems = read_file(path)
    else:
        raw, problems = setup.raw_from_mapping(data)
    async with db.sessions() as session, session.begin():
        return await setup.import_county(
            session, clock.now(), raw, source="t", problems=problems, desk=DESK
        )


async def test_projects_and_nodes_import_through_the_node_use_cases_and_again_unchanged(
    db: Database, clock: FrozenClock, site: Site
) -> None:
    outcome = await _import(db, clock, COUNTY_NODES)
    assert outcome.ok, outcome.problems
    counts = {c.section: (c.created, c.updated) for c in outcome.counts}
    assert (counts["projects"], counts["nodes"]) == ((1, 0), (2, 0))
    async with db.sessions() as session:
        project = await session.scalar(select(Project))
        leader = await session.scalar(select(Person).where(Person.telegram_id == 7001))
        assert project is not None and leader is not None and project.leader_id == leader.id
        found = list(await session.scalars(select(Node).order_by(Node.id)))
        assert [(n.title, n.weight, n.deadline) for n in found] == [
            ("征地", 2, _local(2026, 4, 30, 17, 30)),
            ("通电", 1, _local(2026, 5, 31, 12)),
        ]
        assert found[0].closing_standard == "取得批复，交付土地"
        tracked = list(await session.scalars(select(Deadline).order_by(Deadline.id)))
        assert [(d.subject_id, d.approver_id) for d in tracked] == [
            (found[0].id, leader.id),
            (found[1].id, leader.id),
        ]
    (told,) = await _outbox(db, "node_assigned")  # the owner; the other has none
    assert told.chat_id == site.county.chats[11].id
    # Again, with a later deadline for one: updated in place, nothing created.
    later = yaml.safe_load(yaml.safe_dump(COUNTY_NODES, allow_unicode=True))
    later["nodes"][0]["deadline"] = "2026-05-15"
    again = await _import(db, clock, later)
    assert again.ok, again.problems
    counts = {c.section: (c.created, c.updated) for c in again.counts}
    assert (counts["projects"], counts["nodes"]) == ((0, 1), (0, 2))
    assert await _count(db, Node) == 2 and await _count(db, Deadline) == 2
    async with db.sessions() as session:
        row = await deadlines.find(session, "node", found[0].id, "node")
        assert row is not None and row.due_at == _local(2026, 5, 15, 17, 30)
    # Once the date has passed, the same file still imports: the node is as it was.
    clock.advance(timedelta(days=80))
    assert (await _import(db, clock, later)).ok


async def test_a_file_of_nodes_with_problems_is_refused_whole_each_named(
    db: Database, clock: FrozenClock, site: Site
) -> None:
    data: dict[str, Any] = {
        "projects": [
            {"name": "甲项目", "category": "工业项目", "department": "营商办", "leader": 11},
        ],
        "nodes": [
            {"project": "乙项目", "title": "a", "department": "营商办", "deadline": "2026-04-01",
             "closing_standard": "x"},
            {"project": "甲项目", "title": "b", "department": "营商办", "owner": 101,
             "deadline": "2026-03-01", "closing_standard": "x"},
            {"project": "甲项目", "title": "c", "department": "营商办", "owner": "@ghost",
             "deadline": "2035-01-01", "closing_standard": "x", "weight": 0},
        ],
    }  # fmt: skip
    refused = await _import(db, clock, data)
    assert [(p.where(), p.flaw, p.value) for p in refused.problems] == [
        ("projects[0].leader", Flaw.NOT_A_LEADER, "11"),
        ("nodes[0].project", Flaw.UNKNOWN_PROJECT, "乙项目"),
        ("nodes[1].owner", Flaw.NOT_AN_OFFICIAL, "101"),
        ("nodes[1].deadline", Flaw.PAST_DEADLINE, "2026-03-01"),
        ("nodes[2].owner", Flaw.UNKNOWN_PERSON, "@ghost"),
        ("nodes[2].weight", Flaw.BAD_WEIGHT, "0"),
    ]
    assert await _count(db, Project) == 0 and await _count(db, Node) == 0
    text = render("setup_import_report", "en", {"ok": False, "dry_run": False, "source": "t",
                  "problems": [p.params() for p in refused.problems], "counts": []})  # fmt: skip
    assert "does not have the leader role" in text and "has passed already" in text
    far = {**data, "nodes": [{**data["nodes"][2], "owner": "-", "weight": 1}]}
    far["projects"] = [{**data["projects"][0], "leader": None}]
    (too_far,) = (await _import(db, clock, far)).problems
    assert (too_far.where(), too_far.flaw) == ("nodes[0].deadline", Flaw.TOO_FAR)


async def test_a_csv_of_nodes_creates_absent_projects_and_leaves_existing_ones_alone(
    db: Database, clock: FrozenClock, site: Site, tmp_path: Path
) -> None:
    await _project(db, clock, site)
    path = tmp_path / "nodes.csv"
    path.write_text(
        "project,project_category,project_department,leader,title,department,owner,deadline,"
        "weight,closing_standard\n"
        f"{PROJECT},城建项目,人社局,,通电,供电公司,11,2026-04-30,2,送电\n"
        "老旧小区改造,城建项目,供电公司,@nobody?,线路,供电公司,,2026-05-31,,验收\n"
        "新区道路,,,,路基,供电公司,,2026-06-30,,完成\n",
        encoding="utf-8-sig",
    )
    refused = await _import(db, clock, path=path)
    assert [(p.where(), p.flaw) for p in refused.problems] == [
        ("projects!D3", Flaw.UNKNOWN_PERSON),
        ("projects!B4", Flaw.REQUIRED),
        ("projects!C4", Flaw.REQUIRED),
    ]
    path.write_text(
        path.read_text(encoding="utf-8-sig")
        .replace("@nobody?", "31")
        .replace("新区道路,,,", "新区道路,城建项目,供电公司,"),
        encoding="utf-8-sig",
    )
    outcome = await _import(db, clock, path=path)
    assert outcome.ok, outcome.problems
    counts = {c.section: (c.created, c.updated) for c in outcome.counts}
    assert (counts["projects"], counts["nodes"]) == ((2, 0), (3, 0))
    async with db.sessions() as session:
        projects = {p.name: p for p in await session.scalars(select(Project))}
        # The existing project keeps its category and department; the new ones are as written.
        assert (projects[PROJECT].category, projects[PROJECT].department_id) == (
            "工业项目",
            site.county.office.id,
        )
        assert projects["老旧小区改造"].leader_id == site.county.leader.id
        assert projects["新区道路"].category == "城建项目"
    assert await _count(db, Deadline) == 3
