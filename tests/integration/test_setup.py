"""Setting up a county on a real database: departments, bound groups, firms, members, rules,
limits, and whole files imported at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.importer import read_file, run_import, write_template
from models.clock import FrozenClock
from models.config import Settings
from models.rules.creditcode import make_credit_code
from models.rules.permissions import Role
from models.services import setup
from models.services.contacts import ChatRef, Contact, Sender, chat_of, meet, roles_of
from models.services.county import load_county
from models.services.setup import Change, Flaw, Refusal
from models.tables import (
    AuditEntry,
    Chat,
    ChatPurpose,
    Department,
    Firm,
    FirmMembership,
    OutboxMessage,
    Person,
    PersonRole,
    RoutingRule,
    ServicePolicy,
)
from tests.conftest import Database
from tests.integration.county import County, build_county

ADMIN = Sender(5, "管理员", "admin5")
CODE = make_credit_code("91341003MA2N0A1C3")  # 91341003MA2N0A1C3U
OTHER_CODE = make_credit_code("91341004MA2N1B2D6")
DEMO = Path(__file__).resolve().parents[2] / "bot" / "demo" / "county.yaml"


@pytest.fixture
async def county(db: Database, clock: FrozenClock) -> County:
    async with db.sessions() as session, session.begin():
        built = await build_county(session, clock.now())
        await meet(session, clock.now(), ADMIN, ChatRef(ADMIN.telegram_id, "private"), {5})
        return built


async def _admin(session: AsyncSession, clock: FrozenClock) -> Contact:
    return await meet(session, clock.now(), ADMIN, ChatRef(ADMIN.telegram_id, "private"), {5})


async def _in_chat(session: AsyncSession, person: Person, chat: Chat) -> Contact:
    fresh = await session.get(Person, person.id)
    assert fresh is not None
    return Contact(fresh, chat, await roles_of(session, person.id))


async def _new_group(session: AsyncSession, clock: FrozenClock, telegram_id: int = -3001) -> Chat:
    return await chat_of(session, clock.now(), ChatRef(telegram_id, "supergroup", "新建企业群"))


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


# --- departments and people -------------------------------------------------------------------


async def test_an_admin_adds_departments_and_marks_the_coordinator_office(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        admin = await _admin(session, clock)
        added = await setup.add_department(session, clock.now(), admin, " 县财政局 ", False)
        assert added.change is Change.CREATED and added.detail["name"] == "县财政局"
        twice = await setup.add_department(session, clock.now(), admin, "县财政局", False)
        assert twice.refused is Refusal.DUPLICATE_DEPARTMENT
        marked = await setup.add_department(session, clock.now(), admin, "县财政局", True)
        assert marked.change is Change.UPDATED
        empty = await setup.add_department(session, clock.now(), admin, "  ", False)
        assert empty.refused is Refusal.EMPTY
    async with db.sessions() as session:
        finance = await session.scalar(select(Department).where(Department.name == "县财政局"))
        assert finance is not None and finance.is_coordinator
    assert [e.action for e in await _audit(db, "department_added")] == ["department_added"]
    assert len(await _audit(db, "department_updated")) == 1


async def test_a_firm_member_may_not_add_a_department_and_nothing_changes(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        owner = await county.contact(session, county.owner)
        refused = await setup.add_department(session, clock.now(), owner, "县税务局", False)
        assert refused.refused is Refusal.NOT_ALLOWED
    assert await _count(db, Department) == 3
    assert await _audit(db, "department_added") == []


async def test_setdept_places_a_person_and_makes_someone_without_a_role_an_official(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        admin = await _admin(session, clock)
        placed = await setup.set_department(
            session, clock.now(), admin, str(county.stranger.telegram_id), "人社", "zh_CN"
        )
        assert placed.change is Change.UPDATED
        assert placed.detail == {"name": "路人", "department": "人社局", "made_official": True}
        again = await setup.set_department(
            session, clock.now(), admin, str(county.stranger.telegram_id), "人社局", "zh_CN"
        )
        assert again.change is Change.UNCHANGED
        # Someone who has a role keeps just that role.
        moved = await setup.set_department(
            session, clock.now(), admin, str(county.lineman.telegram_id), "人社局", "zh_CN"
        )
        assert moved.detail["made_official"] is False
    async with db.sessions() as session:
        stranger = await session.get(Person, county.stranger.id)
        assert stranger is not None and stranger.department_id == county.hr.id
        assert await roles_of(session, county.stranger.id) == {Role.OFFICIAL}
        assert await roles_of(session, county.lineman.id) == {Role.OFFICIAL}
    notices = await _outbox(db, "setup_department_notice")
    assert [(n.chat_id, n.params) for n in notices] == [
        (county.chats[999].id, {"department": "人社局", "made_official": True}),
        (county.chats[12].id, {"department": "人社局", "made_official": False}),
    ]
    entries = await _audit(db, "department_set")
    assert [e.subject_id for e in entries] == [county.stranger.id, county.lineman.id]
    granted = [e for e in await _audit(db, "role_granted") if e.actor_id is not None]
    assert [(e.subject_id, e.detail) for e in granted] == [
        (county.stranger.id, {"role": "official"})
    ]


async def test_setdept_names_the_known_departments_when_the_department_is_unknown(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        admin = await _admin(session, clock)
        unknown = await setup.set_department(
            session, clock.now(), admin, "@admin5", "税务局", "zh_CN"
        )
        assert unknown.refused is Refusal.UNKNOWN_DEPARTMENT
        assert unknown.detail["known"] == ["营商办", "供电公司", "人社局"]
        nobody = await setup.set_department(session, clock.now(), admin, "@ghost", "人社局", "en")
        assert nobody.refused is Refusal.UNKNOWN_PERSON
        session.add(Department(name="财政局", created_at=clock.now()))
        # "局" is in two names now: not a guess, a refusal.
        ambiguous = await setup.set_department(session, clock.now(), admin, "@admin5", "局", "en")
        assert ambiguous.refused is Refusal.UNKNOWN_DEPARTMENT


# --- chats ------------------------------------------------------------------------------------


async def test_binding_a_group_needs_a_group_admin_who_may_bind_chats(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        group = await _new_group(session, clock)
        admin = await _in_chat(session, (await _admin(session, clock)).person, group)
        official = await _in_chat(session, county.electrician, group)
        in_private = await _admin(session, clock)
        now = clock.now()
        assert (
            await setup.bind_industry(session, now, in_private, True, "茶叶")
        ).refused is Refusal.NOT_A_GROUP
        assert (
            await setup.bind_industry(session, now, official, True, "茶叶")
        ).refused is Refusal.NOT_ALLOWED
        assert (
            await setup.bind_industry(session, now, admin, False, "茶叶")
        ).refused is Refusal.NOT_CHAT_ADMIN
    async with db.sessions() as session:
        chat = await session.get(Chat, group.id)
        assert chat is not None and chat.purpose == ChatPurpose.UNBOUND
    assert await _audit(db, "chat_bound") == []

    async with db.sessions() as session, session.begin():
        group_now = await session.get(Chat, group.id)
        assert group_now is not None
        admin = await _in_chat(session, (await _admin(session, clock)).person, group_now)
        bound = await setup.bind_industry(
            session, clock.now(), admin, True, "茶叶", ["花卉", "融资", "花卉", "茶叶"]
        )
        assert bound.change is Change.CREATED
        assert bound.detail["tags"] == ["花卉", "融资"]
    async with db.sessions() as session, session.begin():
        group_now = await session.get(Chat, group.id)
        assert group_now is not None
        assert (group_now.purpose, group_now.industry) == (ChatPurpose.INDUSTRY, "茶叶")
        admin = await _in_chat(session, (await _admin(session, clock)).person, group_now)
        rebound = await setup.bind_industry(session, clock.now(), admin, True, "花卉")
        assert rebound.change is Change.UPDATED and rebound.detail["previous"] == "茶叶"
    async with db.sessions() as session, session.begin():
        group_now = await session.get(Chat, group.id)
        assert group_now is not None
        admin = await _in_chat(session, (await _admin(session, clock)).person, group_now)
        same = await setup.bind_industry(session, clock.now(), admin, True, "花卉")
        assert same.change is Change.UNCHANGED
    entries = await _audit(db, "chat_bound")
    assert [(e.detail["industry"], e.detail["previous"]["industry"]) for e in entries] == [
        ("茶叶", None),
        ("花卉", "茶叶"),
    ]


async def test_a_coordinator_binds_a_department_chat_and_unbinds_it(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        group = await _new_group(session, clock, -3002)
        coordinator = await _in_chat(session, county.coordinator, group)
        unknown = await setup.bind_department(session, clock.now(), coordinator, True, "税务局")
        assert unknown.refused is Refusal.UNKNOWN_DEPARTMENT
        bound = await setup.bind_department(session, clock.now(), coordinator, True, "供电公司")
        assert bound.change is Change.CREATED and bound.detail["department"] == "供电公司"
    async with db.sessions() as session, session.begin():
        chat = await session.get(Chat, group.id)
        assert chat is not None
        assert (chat.purpose, chat.department_id) == (ChatPurpose.DEPARTMENT, county.power.id)
        coordinator = await _in_chat(session, county.coordinator, chat)
        assert (await setup.unbind(session, clock.now(), coordinator, True)).change is (
            Change.UPDATED
        )
    async with db.sessions() as session, session.begin():
        chat = await session.get(Chat, group.id)
        assert chat is not None
        assert (chat.purpose, chat.department_id, chat.industry) == (
            ChatPurpose.UNBOUND,
            None,
            None,
        )
        coordinator = await _in_chat(session, county.coordinator, chat)
        assert (await setup.unbind(session, clock.now(), coordinator, True)).change is (
            Change.UNCHANGED
        )
    assert len(await _audit(db, "chat_bound")) == 1
    assert len(await _audit(db, "chat_unbound")) == 1


# --- firms ------------------------------------------------------------------------------------


def test_addfirm_arguments_allow_spaces_in_the_name_and_an_optional_liaison() -> None:
    parsed = setup.parse_addfirm(["Acme", "Tea", "Ltd", CODE, "tea", "@li"])
    assert parsed == setup.FirmArgs("Acme Tea Ltd", CODE, "tea", "@li")
    assert setup.parse_addfirm(["云雾茶业", CODE, "茶叶"]) == setup.FirmArgs(
        "云雾茶业", CODE, "茶叶", None
    )
    assert setup.parse_addfirm(["云雾茶业", CODE, "茶叶", "21"]) == setup.FirmArgs(
        "云雾茶业", CODE, "茶叶", "21"
    )
    assert setup.parse_addfirm(["云雾茶业", CODE]) is None


async def test_addfirm_refuses_a_wrong_credit_code_naming_the_reason(
    db: Database, clock: FrozenClock, county: County
) -> None:
    wrong_check = CODE[:17] + ("0" if CODE[17] != "0" else "1")
    cases = {
        "9134100": ("wrong_length", None, None),
        CODE[:14] + "I" + CODE[15:]: ("bad_character", None, 15),
        wrong_check: ("bad_check_digit", CODE[17], None),
    }
    async with db.sessions() as session, session.begin():
        admin = await _admin(session, clock)
        for code, (problem, expected, position) in cases.items():
            args = setup.FirmArgs("云雾茶业", code, "茶叶", None)
            refused = await setup.add_firm(session, clock.now(), admin, args)
            assert refused.refused is Refusal.BAD_CREDIT_CODE
            assert (
                refused.detail["problem"],
                refused.detail["expected"],
                refused.detail["position"],
            ) == (problem, expected, position)
    assert await _count(db, Firm) == 1
    assert await _audit(db, "firm_added") == []


async def test_addfirm_refuses_duplicates_and_makes_the_liaison_a_liaison(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        admin = await _admin(session, clock)
        # Typed with a full-width letter and spaces, as people paste it.
        typed = CODE[:4] + " " + CODE[4:8] + "\uff2d" + CODE[9:]
        assert CODE[8] == "M"
        args = setup.FirmArgs("云雾茶业", typed, "茶叶", str(county.electrician.telegram_id))
        added = await setup.add_firm(session, clock.now(), admin, args)
        assert added.change is Change.CREATED
        assert added.detail["credit_code"] == CODE and added.detail["liaison"] == "赵电力"
        same_name = await setup.add_firm(
            session, clock.now(), admin, setup.FirmArgs("云雾茶业", OTHER_CODE, "茶叶", None)
        )
        assert same_name.refused is Refusal.DUPLICATE_FIRM_NAME
        same_code = await setup.add_firm(
            session, clock.now(), admin, setup.FirmArgs("别的茶业", CODE, "茶叶", None)
        )
        assert same_code.refused is Refusal.DUPLICATE_CREDIT_CODE
        assert same_code.detail["firm"] == "云雾茶业"
        ghost = await setup.add_firm(
            session, clock.now(), admin, setup.FirmArgs("三茶", OTHER_CODE, "茶叶", "@ghost")
        )
        assert ghost.refused is Refusal.UNKNOWN_PERSON
        official = await county.contact(session, county.electrician)
        refused = await setup.add_firm(
            session, clock.now(), official, setup.FirmArgs("四茶", OTHER_CODE, "茶叶", None)
        )
        assert refused.refused is Refusal.NOT_ALLOWED
    async with db.sessions() as session:
        firm = await session.scalar(select(Firm).where(Firm.name == "云雾茶业"))
        assert firm is not None
        assert (firm.credit_code, firm.industry, firm.liaison_id) == (
            CODE,
            "茶叶",
            county.electrician.id,
        )
        assert Role.LIAISON in await roles_of(session, county.electrician.id)
    assert [e.detail["credit_code"] for e in await _audit(db, "firm_added")] == [CODE]


# --- members ----------------------------------------------------------------------------------


async def _join(db: Database, clock: FrozenClock, person: Person, chat: Chat, text: str) -> Any:
    async with db.sessions() as session, session.begin():
        fresh_chat = await session.get(Chat, chat.id)
        assert fresh_chat is not None
        who = await _in_chat(session, person, fresh_chat)
        return await setup.request_membership(session, clock.now(), who, text, "zh_CN")


async def _decide(
    db: Database, clock: FrozenClock, person: Person, chat: Chat, membership_id: int, ok: bool
) -> setup.Outcome:
    async with db.sessions() as session, session.begin():
        who = await _in_chat(session, person, chat)
        return await setup.decide_membership(
            session, clock.now(), who, membership_id, ok, "zh_CN", message_id=77
        )


async def test_join_asks_the_liaison_who_confirms_and_the_member_is_told(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        newcomer = await meet(
            session, clock.now(), Sender(300, "新员工", "new"), ChatRef(300, "private")
        )
    asked = await _join(db, clock, newcomer.person, county.group, "皖南药业")
    assert asked.change is Change.CREATED and asked.detail["to_liaison"] is True
    membership_id = asked.detail["membership_id"]
    requests = await _outbox(db, "setup_join_request")
    assert [r.chat_id for r in requests] == [county.chats[21].id]  # the liaison, in private
    assert requests[0].params["title"] == "医药企业群"
    assert requests[0].buttons == [
        [
            {"key": "setup_member_ok", "data": f"v1:member:{membership_id}:ok"},
            {"key": "setup_member_no", "data": f"v1:member:{membership_id}:no"},
        ]
    ]
    assert all(len(b["data"].encode()) <= 64 for row in requests[0].buttons for b in row)

    decided = await _decide(db, clock, county.recruiter, county.chats[21], membership_id, ok=True)
    assert decided.change is Change.UPDATED and decided.detail["accepted"] is True
    async with db.sessions() as session:
        person = await session.get(Person, newcomer.person.id)
        membership = await session.get(FirmMembership, membership_id)
        assert person is not None and membership is not None
        assert person.firm_id == county.firm.id
        assert (membership.status, membership.decided_by_id) == ("confirmed", county.recruiter.id)
        assert await roles_of(session, person.id) == {Role.FIRM}
    told = await _outbox(db, "setup_join_result")
    assert [(t.chat_id, t.params["accepted"]) for t in told] == [(newcomer.chat.id, True)]
    edited = await _outbox(db, "setup_join_decided")
    assert [(e.chat_id, e.edit_message_id) for e in edited] == [(county.chats[21].id, 77)]
    actions = [e.action for e in await _audit(db, "member_requested")] + [
        e.action for e in await _audit(db, "member_confirmed")
    ]
    assert actions == ["member_requested", "member_confirmed"]


async def test_join_goes_to_the_coordinators_when_the_liaison_cannot_be_reached(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        liaison_chat = await session.get(Chat, county.chats[21].id)
        assert liaison_chat is not None
        liaison_chat.undeliverable_at = clock.now()
    asked = await _join(db, clock, county.stranger, county.chats[999], "皖南药业")
    assert asked.detail["to_liaison"] is False and asked.detail["told"] == 1
    requests = await _outbox(db, "setup_join_request")
    assert [r.chat_id for r in requests] == [county.chats[1].id]  # the coordinator

    # The coordinator rejects; the member hears it in private.
    decided = await _decide(
        db, clock, county.coordinator, county.chats[1], asked.detail["membership_id"], ok=False
    )
    assert decided.ok and decided.detail["accepted"] is False
    async with db.sessions() as session:
        stranger = await session.get(Person, county.stranger.id)
        assert stranger is not None and stranger.firm_id is None
        assert await roles_of(session, county.stranger.id) == frozenset()
    told = await _outbox(db, "setup_join_result")
    assert [(t.chat_id, t.params["accepted"]) for t in told] == [(county.chats[999].id, False)]
    assert len(await _audit(db, "member_rejected")) == 1


async def test_only_the_liaison_or_a_coordinator_decides_and_a_second_press_is_told_so(
    db: Database, clock: FrozenClock, county: County
) -> None:
    asked = await _join(db, clock, county.stranger, county.group, "皖南药业")
    membership_id = asked.detail["membership_id"]
    async with db.sessions() as session, session.begin():
        session.add(PersonRole(person_id=county.electrician.id, role=Role.LIAISON))
    # A liaison of other firms, and a firm member: not allowed.
    for outsider in (county.electrician, county.owner):
        refused = await _decide(
            db, clock, outsider, county.chats[outsider.telegram_id], membership_id, ok=True
        )
        assert refused.refused is Refusal.NOT_ALLOWED
    forged = await _decide(db, clock, county.coordinator, county.chats[1], 99999, ok=True)
    assert forged.refused is Refusal.UNKNOWN_REQUEST
    first = await _decide(db, clock, county.coordinator, county.chats[1], membership_id, ok=True)
    assert first.ok
    second = await _decide(db, clock, county.recruiter, county.chats[21], membership_id, ok=False)
    assert second.refused is Refusal.ALREADY_DECIDED
    assert (second.detail["status"], second.detail["decided_by"]) == ("confirmed", "王营商")
    async with db.sessions() as session:
        membership = await session.get(FirmMembership, membership_id)
        assert membership is not None and membership.status == "confirmed"
    assert len(await _audit(db, "member_confirmed")) == 1
    assert await _audit(db, "member_rejected") == []


async def test_join_answers_clearly_where_it_cannot_go_ahead(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        session.add_all(
            [
                Firm(name="黄山云雾茶业公司", industry="茶叶", created_at=clock.now()),
                Firm(
                    name="太平云雾茶厂", industry="茶叶", credit_code=CODE, created_at=clock.now()
                ),
            ]
        )
        await _new_group(session, clock, -3003)
    async with db.sessions() as session:
        unbound = await session.scalar(select(Chat).where(Chat.telegram_id == -3003))
        assert unbound is not None
    wrong_chat = await _join(db, clock, county.stranger, unbound, "皖南药业")
    assert wrong_chat.refused is Refusal.WRONG_CHAT
    guess = await _join(db, clock, county.stranger, county.chats[999], "云雾 茶")
    assert guess.refused is Refusal.UNKNOWN_FIRM
    assert guess.detail["candidates"] == ["太平云雾茶厂", "黄山云雾茶业公司"]
    none = await _join(db, clock, county.stranger, county.chats[999], "不存在")
    assert none.refused is Refusal.UNKNOWN_FIRM and none.detail["candidates"] == []
    by_code = await _join(db, clock, county.stranger, county.chats[999], CODE.lower())
    assert by_code.change is Change.CREATED and by_code.detail["firm"] == "太平云雾茶厂"
    pending = await _join(db, clock, county.stranger, county.chats[999], "太平云雾茶厂")
    assert pending.refused is Refusal.ALREADY_PENDING
    member = await _join(db, clock, county.owner, county.group, "皖南药业")
    assert member.refused is Refusal.ALREADY_MEMBER
    assert await _count(db, FirmMembership) == 1


# --- rules and policies -----------------------------------------------------------------------


def test_addrule_arguments_take_lists_options_and_full_width_commas() -> None:
    parsed = setup.parse_addrule(
        ["贷款，融资,担保", "financing", "财政局", "人社局,营商办", "industry=医药", "priority=5"]
    )
    assert parsed == setup.RuleArgs(
        ("贷款", "融资", "担保"), "financing", "财政局", ("人社局", "营商办"), "医药", 5
    )
    assert setup.parse_addrule(["停电", "水电气", "供电公司"]) == setup.RuleArgs(
        ("停电",), "水电气", "供电公司", (), None, 100
    )
    assert setup.parse_addrule(["停电", "水电气"]) is None
    assert setup.parse_addrule(["停电", "水电气", "供电", "priority=high"]) is None


async def test_rules_are_added_listed_and_deleted_with_audit_entries(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        admin = await _admin(session, clock)
        args = setup.parse_addrule(
            ["用地，规划", "土地", "营商办", "人社局,营商办", "industry=医药"]
        )
        assert args is not None
        added = await setup.add_rule(session, clock.now(), admin, args)
        assert added.change is Change.CREATED
        rule = added.detail["rule"]
        assert (rule["category"], rule["lead"], rule["assists"], rule["industry"]) == (
            "land",
            "营商办",
            ["人社局"],
            "医药",
        )
        listed = await setup.list_rules(session, admin)
        assert [r["keywords"] for r in listed.detail["rules"]] == [
            ["用电", "停电"],
            ["招工", "用工"],
            ["用地", "规划"],
        ]
        bad_category = setup.parse_addrule(["天气", "weather", "营商办"])
        assert bad_category is not None
        refused = await setup.add_rule(session, clock.now(), admin, bad_category)
        assert refused.refused is Refusal.UNKNOWN_CATEGORY
        bad_assist = setup.parse_addrule(["天气", "other", "营商办", "气象局"])
        assert bad_assist is not None
        refused = await setup.add_rule(session, clock.now(), admin, bad_assist)
        assert refused.refused is Refusal.UNKNOWN_DEPARTMENT and refused.detail["name"] == "气象局"
        deleted = await setup.delete_rule(session, clock.now(), admin, f"#{rule['id']}")
        assert deleted.change is Change.UPDATED
        gone = await setup.delete_rule(session, clock.now(), admin, str(rule["id"]))
        assert gone.refused is Refusal.UNKNOWN_RULE
        owner = await county.contact(session, county.owner)
        assert (await setup.list_rules(session, owner)).refused is Refusal.NOT_ALLOWED
    assert await _count(db, RoutingRule) == 2
    assert [e.detail["keywords"] for e in await _audit(db, "rule_added")] == [["用地", "规划"]]
    assert [e.detail["lead"] for e in await _audit(db, "rule_deleted")] == ["营商办"]


async def test_service_policies_are_upserted_by_category_and_priority(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        admin = await _admin(session, clock)

        async def set_policy(*words: str) -> setup.Outcome:
            args = setup.parse_setpolicy(list(words))
            assert args is not None
            return await setup.set_policy(session, clock.now(), admin, args)

        assert (await set_policy("default", "5", "3")).change is Change.CREATED
        assert (await set_policy("DEFAULT", "4", "3")).change is Change.UPDATED
        assert (await set_policy("default", "4", "3")).change is Change.UNCHANGED
        assert (await set_policy("水电气", "1", "1", "urgent")).change is Change.CREATED
        assert (await set_policy("utilities", "3", "2")).change is Change.CREATED
        assert (await set_policy("天气", "3", "2")).refused is Refusal.UNKNOWN_CATEGORY
        bad = await set_policy("land", "0", "2")
        assert bad.refused is Refusal.BAD_NUMBER and bad.detail["value"] == "0"
        assert (await set_policy("land", "x", "2")).refused is Refusal.BAD_NUMBER
        assert setup.parse_setpolicy(["land", "3"]) is None
        listed = await setup.list_policies(session, admin)
        assert [
            (p["category"], p["priority"], p["close_days"]) for p in listed.detail["policies"]
        ] == [(None, "normal", 4), ("utilities", "normal", 3), ("utilities", "urgent", 1)]
    assert await _count(db, ServicePolicy) == 3
    assert [e.detail["change"] for e in await _audit(db, "policy_set")] == [
        "created",
        "updated",
        "created",
        "created",
    ]


# --- whole files ------------------------------------------------------------------------------

COUNTY_FILE: dict[str, Any] = {
    "departments": [
        {"name": "县营商办", "coordinator": True},
        {"name": "县供电公司"},
        {"name": "县人社局"},
    ],
    "people": [
        {"id": 7001, "name": "王营商", "username": "wang", "roles": ["coordinator", "admin"],
         "department": "县营商办"},
        {"id": 7002, "name": "赵电力", "department": "县供电公司"},
        {"id": 7003, "name": "陈药企", "firm": CODE, "language": "en"},
    ],
    "firms": [
        {"name": "皖南药业有限公司", "credit_code": CODE, "industry": "医药", "liaison": "@wang"},
    ],
    "groups": [
        {"id": -1009001, "title": "医药企业群", "industry": "医药", "tags": ["融资", "医药"]},
    ],
    "department_chats": [{"id": -1009002, "title": "供电工作群", "department": "县供电公司"}],
    "rules": [
        {"keywords": "停电，用电", "category": "水电气", "lead": "县供电公司",
         "assists": ["县人社局"]},
    ],
    "policies": [
        {"category": "default", "close_working_days": 5, "confirm_days": 3},
        {"category": "utilities", "priority": "urgent", "close_working_days": 1,
         "confirm_days": 1},
    ],
}  # fmt: skip


def _workbook(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    workbook = Workbook()
    first = workbook.active
    assert first is not None
    workbook.remove(first)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def _county_workbook(path: Path) -> Path:
    return _workbook(
        path,
        {
            "departments": [
                ["name", "coordinator"],
                ["县营商办", True],
                ["县供电公司", None],
                ["县人社局", "no"],
            ],
            "people": [
                ["id", "name", "username", "roles", "department", "firm", "language"],
                [7001, "王营商", "wang", "coordinator, admin", "县营商办", None, None],
                [7002, "赵电力", None, None, "县供电公司", None, None],
                [],
                [7003, "陈药企", None, None, None, CODE, "en"],
            ],
            "firms": [
                ["name", "credit_code", "industry", "liaison"],
                ["皖南药业有限公司", CODE, "医药", "@wang"],
            ],
            "groups": [
                ["id", "title", "industry", "tags"],
                [-1009001, "医药企业群", "医药", "融资、医药"],
            ],
            "department_chats": [
                ["id", "title", "department"],
                [-1009002, "供电工作群", "县供电公司"],
            ],
            "rules": [
                ["keywords", "category", "lead", "assists", "industry", "priority"],
                ["停电，用电", "水电气", "县供电公司", "县人社局", None, None],
            ],
            "policies": [
                ["category", "priority", "close_working_days", "confirm_days"],
                ["default", None, 5, 3],
                ["utilities", "urgent", 1, 1],
            ],
            "_notes": [["anything at all"]],
        },
    )


async def _import_file(
    db: Database, clock: FrozenClock, path: Path, dry_run: bool = False
) -> setup.ImportOutcome:
    raw, problems = read_file(path)
    async with db.sessions() as session, session.begin():
        return await setup.import_county(
            session, clock.now(), raw, source=path.name, dry_run=dry_run, problems=problems
        )


async def _assert_county_imported(db: Database) -> None:
    async with db.sessions() as session:
        departments = {d.name: d for d in await session.scalars(select(Department))}
        assert set(departments) == {"县营商办", "县供电公司", "县人社局"}
        assert departments["县营商办"].is_coordinator
        assert not departments["县人社局"].is_coordinator
        people = {p.telegram_id: p for p in await session.scalars(select(Person))}
        firm = await session.scalar(select(Firm))
        assert firm is not None
        assert (firm.name, firm.credit_code, firm.liaison_id) == (
            "皖南药业有限公司",
            CODE,
            people[7001].id,
        )
        assert people[7002].department_id == departments["县供电公司"].id
        assert (people[7003].firm_id, people[7003].language) == (firm.id, "en")
        assert await roles_of(session, people[7001].id) == {
            Role.COORDINATOR,
            Role.ADMIN,
            Role.LIAISON,
        }
        assert await roles_of(session, people[7002].id) == {Role.OFFICIAL}
        assert await roles_of(session, people[7003].id) == {Role.FIRM}
        chats = {c.telegram_id: c for c in await session.scalars(select(Chat))}
        assert {7001, 7002, 7003} <= set(chats)  # private chats, so they can be told things
        group, desk = chats[-1009001], chats[-1009002]
        assert (group.purpose, group.industry, group.tags, group.kind) == (
            ChatPurpose.INDUSTRY,
            "医药",
            ["融资"],
            "supergroup",
        )
        assert (desk.purpose, desk.department_id) == (
            ChatPurpose.DEPARTMENT,
            departments["县供电公司"].id,
        )
        rule = await session.scalar(select(RoutingRule))
        assert rule is not None
        assert (rule.keywords, rule.category, rule.lead_department_id) == (
            ["停电", "用电"],
            "utilities",
            departments["县供电公司"].id,
        )
        assert rule.assist_department_ids == [departments["县人社局"].id]
        policies = {
            (p.category, p.priority): (p.close_working_days, p.confirm_days)
            for p in await session.scalars(select(ServicePolicy))
        }
        assert policies == {(None, "normal"): (5, 3), ("utilities", "urgent"): (1, 1)}


@pytest.mark.parametrize("kind", ["yaml", "xlsx"])
async def test_a_county_file_is_imported_in_one_go_and_again_without_duplicates(
    db: Database, clock: FrozenClock, tmp_path: Path, kind: str
) -> None:
    if kind == "yaml":
        path = tmp_path / "county.yaml"
        path.write_text(yaml.safe_dump(COUNTY_FILE, allow_unicode=True), encoding="utf-8")
    else:
        path = _county_workbook(tmp_path / "county.xlsx")
    first = await _import_file(db, clock, path)
    assert first.ok and first.written, first.problems
    assert {c.section: (c.created, c.updated) for c in first.counts} == {
        "departments": (3, 0),
        "people": (3, 0),
        "firms": (1, 0),
        "groups": (1, 0),
        "department_chats": (1, 0),
        "rules": (1, 0),
        "policies": (2, 0),
    }
    await _assert_county_imported(db)
    again = await _import_file(db, clock, path)
    assert again.ok
    assert all(c.created == 0 for c in again.counts)
    await _assert_county_imported(db)
    entries = await _audit(db, "county_imported")
    assert [e.detail["source"] for e in entries] == [path.name, path.name]
    assert entries[0].detail["people"] == {"created": 3, "updated": 0}
    assert entries[1].detail["people"] == {"created": 0, "updated": 3}


async def test_a_dry_run_checks_and_writes_nothing(
    db: Database, clock: FrozenClock, tmp_path: Path
) -> None:
    path = tmp_path / "county.yaml"
    path.write_text(yaml.safe_dump(COUNTY_FILE, allow_unicode=True), encoding="utf-8")
    checked = await _import_file(db, clock, path, dry_run=True)
    assert checked.ok and not checked.written
    assert checked.counts[0] == setup.SectionCount("departments", 3, 0)
    for table in (Department, Person, Firm, Chat, RoutingRule, ServicePolicy, AuditEntry):
        assert await _count(db, table) == 0


async def test_a_yaml_file_with_problems_is_refused_whole_with_every_place_named(
    db: Database, clock: FrozenClock, tmp_path: Path
) -> None:
    wrong_check = CODE[:17] + ("0" if CODE[17] != "0" else "1")
    broken: dict[str, Any] = {
        "departments": [{"name": "县营商办", "coordinator": "maybe"}, {"name": "县营商办"}],
        "peple": [],
        "people": [
            {"id": 1, "name": "甲", "roles": "official, boss", "department": "税务局"},
            {"id": 1, "name": "乙"},
            {"id": 2, "nmae": "丙"},
        ],
        "firms": [
            {"name": "甲公司", "credit_code": wrong_check, "industry": "医药", "liaison": 99},
            {"name": "乙公司", "credit_code": "12345", "industry": "医药"},
        ],
        "groups": [{"id": 42, "industry": "医药"}],
        "rules": [{"keywords": ["停电"], "category": "weather", "lead": "县营商办",
                   "assists": ["气象局"]}],
        "policies": [{"category": "default", "close_working_days": 0, "confirm_days": 3,
                      "priority": "soon"}],
    }  # fmt: skip
    path = tmp_path / "county.yaml"
    path.write_text(yaml.safe_dump(broken, allow_unicode=True), encoding="utf-8")
    refused = await _import_file(db, clock, path)
    assert not refused.ok
    found = [(p.where(), p.flaw, p.value) for p in refused.problems]
    assert found == [
        ("file", Flaw.UNKNOWN_SECTION, "peple"),
        ("departments[0].coordinator", Flaw.BAD_BOOLEAN, "maybe"),
        ("departments[1].name", Flaw.DUPLICATE, "县营商办"),
        ("people[0].roles", Flaw.BAD_ROLE, "boss"),
        ("people[0].department", Flaw.UNKNOWN_DEPARTMENT, "税务局"),
        ("people[1].id", Flaw.DUPLICATE, "1"),
        ("people[2].name", Flaw.REQUIRED, None),
        ("people[2].nmae", Flaw.UNKNOWN_FIELD, "nmae"),
        ("firms[0].credit_code", Flaw.BAD_CREDIT_CODE, wrong_check),
        ("firms[0].liaison", Flaw.UNKNOWN_PERSON, "99"),
        ("firms[1].credit_code", Flaw.BAD_CREDIT_CODE, "12345"),
        ("groups[0].id", Flaw.BAD_CHAT_ID, "42"),
        ("rules[0].category", Flaw.UNKNOWN_CATEGORY, "weather"),
        ("rules[0].assists", Flaw.UNKNOWN_DEPARTMENT, "气象局"),
        ("policies[0].priority", Flaw.BAD_PRIORITY, "soon"),
        ("policies[0].close_working_days", Flaw.BAD_DAYS, "0"),
    ]
    check = refused.problems[8]
    assert (check.reason, check.expected) == ("bad_check_digit", CODE[17])
    assert (refused.problems[10].reason, refused.problems[2].other) == ("wrong_length", 0)
    for table in (Department, Person, Firm, Chat, RoutingRule, ServicePolicy, AuditEntry):
        assert await _count(db, table) == 0


async def test_a_workbook_with_problems_names_sheet_row_and_column(
    db: Database, clock: FrozenClock, tmp_path: Path
) -> None:
    path = _workbook(
        tmp_path / "county.xlsx",
        {
            "departments": [["name", "coordinator"], ["县营商办", True]],
            "firms": [
                ["name", "credit_code", "industry", "liasion"],
                ["甲公司", 9.134100312345679e17, "医药", "x"],
                [None, None, None, None],
                ["乙公司", CODE, None, None],
            ],
            "people": [["id", "name", "firm"], ["abc", "张三", "丁公司"]],
            "Sheet1": [["x"]],
        },
    )
    refused = await _import_file(db, clock, path)
    found = [(p.where(), p.field, p.flaw) for p in refused.problems]
    assert found == [
        ("file", None, Flaw.UNKNOWN_SECTION),
        ("people!A2", "id", Flaw.NOT_A_NUMBER),
        ("people!C2", "firm", Flaw.UNKNOWN_FIRM),
        ("firms!D1", "liasion", Flaw.UNKNOWN_FIELD),
        ("firms!B2", "credit_code", Flaw.CODE_AS_NUMBER),
        ("firms!C4", "industry", Flaw.REQUIRED),
    ]
    assert refused.problems[-1].row == 4  # the blank row 3 was skipped, not renumbered
    assert await _count(db, Department) == 0


async def test_an_import_updates_rows_already_there_by_their_natural_keys(
    db: Database, clock: FrozenClock, county: County, tmp_path: Path
) -> None:
    update: dict[str, Any] = {
        # Not saying whether it is the coordinator office leaves that as it was.
        "departments": [{"name": "人社局", "coordinator": False}, {"name": "营商办"}],
        "people": [{"id": 21, "name": "孙人社", "roles": ["head"], "department": "人社局"}],
        # The firm has no code yet: matched by name, it gets one and a new liaison.
        "firms": [{"name": "皖南药业", "credit_code": CODE, "industry": "医药", "liaison": 11}],
        "groups": [{"id": -1001, "industry": "医药", "tags": "融资"}],
        "rules": [{"keywords": ["停电", "用电"], "category": "utilities", "lead": "供电公司",
                   "priority": 10}],
    }  # fmt: skip
    path = tmp_path / "update.yaml"
    path.write_text(yaml.safe_dump(update, allow_unicode=True), encoding="utf-8")
    outcome = await _import_file(db, clock, path)
    assert outcome.ok, outcome.problems
    assert all(c.created == 0 for c in outcome.counts)
    async with db.sessions() as session:
        office = await session.get(Department, county.office.id)
        assert office is not None and office.is_coordinator
        firm = await session.get(Firm, county.firm.id)
        assert firm is not None and (firm.credit_code, firm.liaison_id) == (
            CODE,
            county.electrician.id,
        )
        assert await roles_of(session, county.recruiter.id) == {Role.OFFICIAL, Role.HEAD}
        group = await session.get(Chat, county.group.id)
        assert group is not None and (group.tags, group.title) == (["融资"], "医药企业群")
        rules = list(await session.scalars(select(RoutingRule).order_by(RoutingRule.id)))
        assert [(r.keywords, r.priority) for r in rules] == [
            (["停电", "用电"], 10),
            (["招工", "用工"], 100),
        ]
    # A code that belongs to one firm with the name of another: refused, not merged.
    clash: dict[str, Any] = {
        "firms": [{"name": "皖南药业", "credit_code": OTHER_CODE, "industry": "医药"}]
    }
    async with db.sessions() as session, session.begin():
        session.add(
            Firm(name="别家", credit_code=OTHER_CODE, industry="医药", created_at=clock.now())
        )
    path.write_text(yaml.safe_dump(clash, allow_unicode=True), encoding="utf-8")
    refused = await _import_file(db, clock, path)
    assert [(p.flaw, p.expected) for p in refused.problems] == [(Flaw.FIRM_CONFLICT, "别家")]


async def test_the_demo_county_still_loads(db: Database, clock: FrozenClock) -> None:
    county = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    async with db.sessions() as session, session.begin():
        loaded = await load_county(session, clock.now(), county)
    assert (loaded.departments, loaded.people, loaded.groups, loaded.firms) == (7, 15, 3, 6)
    async with db.sessions() as session:
        liaison = await session.scalar(select(Person).where(Person.telegram_id == 900051))
        assert liaison is not None
        firms = list(await session.scalars(select(Firm)))
        assert {f.liaison_id for f in firms} == {liaison.id}
        assert (
            await session.scalar(
                select(func.count()).select_from(PersonRole).where(PersonRole.role == "firm")
            )
            == 6
        )
    assert len(await _audit(db, "county_loaded")) == 1
    with pytest.raises(ValueError, match="people"):
        async with db.sessions() as session, session.begin():
            await load_county(session, clock.now(), {"people": [{"id": "x"}]})


@pytest.mark.parametrize("name", ["template.yaml", "template.xlsx"])
@pytest.mark.parametrize("language", ["zh_CN", "en"])
async def test_the_template_file_imports_as_it_is(
    db: Database, clock: FrozenClock, tmp_path: Path, name: str, language: str
) -> None:
    path = tmp_path / name
    write_template(path, language)
    outcome = await _import_file(db, clock, path)
    assert outcome.ok, [p.where() for p in outcome.problems]
    assert all(c.created > 0 for c in outcome.counts)


async def test_the_import_command_reports_and_exits_by_outcome(
    db: Database, clock: FrozenClock, tmp_path: Path
) -> None:
    settings = Settings(database_url=db.url, language="en")  # type: ignore[arg-type]
    good = tmp_path / "county.yaml"
    good.write_text(yaml.safe_dump(COUNTY_FILE, allow_unicode=True), encoding="utf-8")
    said: list[str] = []
    assert await run_import(settings, good, dry_run=True, clock=clock, say=said.append) == 0
    assert said[-1].startswith("Checked, nothing wrong (dry run, nothing written): county.yaml")
    assert await _count(db, Department) == 0
    assert await run_import(settings, good, clock=clock, say=said.append) == 0
    assert "departments: 3 created, 0 updated" in said[-1]
    bad = tmp_path / "bad.yaml"
    bad.write_text("departments: [{name: 甲, coordinator: maybe}]\n", encoding="utf-8")
    assert await run_import(settings, bad, clock=clock, say=said.append) == 1
    assert said[-1].splitlines() == [
        "bad.yaml has 1 problem; nothing was imported:",
        "• departments[0].coordinator: must be true or false: maybe",
    ]
    broken = tmp_path / "broken.yaml"
    broken.write_text("departments: [\n  {name: x\n", encoding="utf-8")
    assert await run_import(settings, broken, clock=clock, say=said.append) == 1
    assert "the file, line" in said[-1]
    assert await run_import(settings, tmp_path / "none.csv", clock=clock, say=said.append) == 1


async def test_setpolicy_options_set_the_claim_limit_reminders_quiet_hours_and_stages(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        admin = await _admin(session, clock)

        async def set_policy(*words: str) -> setup.Outcome:
            args = setup.parse_setpolicy(list(words))
            assert args is not None
            return await setup.set_policy(session, clock.now(), admin, args)

        created = await set_policy(
            "水电气", "1", "1", "urgent", "claim=1h", "remind=2,0.5", "quiet=off",
            "stages=分类:1,派单:1,到场:2,办结:4",
        )  # fmt: skip
        assert created.change is Change.CREATED
        assert created.detail["policy"] == {
            "category": "utilities",
            "priority": "urgent",
            "close_days": 1,
            "confirm_days": 1,
            "claim_hours": 1.0,
            "reminder_hours": [2.0, 0.5],
            "quiet_hours": "",
            "stage_limits": [["分类", 1], ["派单", 1], ["到场", 2], ["办结", 4]],
        }
        # Options left out stay as they are; the same ones again change nothing.
        assert (await set_policy("水电气", "1", "1", "urgent")).change is Change.UNCHANGED
        assert (await set_policy("水电气", "1", "1", "urgent", "claim=1")).change is (
            Change.UNCHANGED
        )
        updated = await set_policy("水电气", "2", "1", "urgent", "claim=eod", "stages=off")
        assert updated.change is Change.UPDATED
        assert (
            updated.detail["policy"]["claim_hours"],
            updated.detail["policy"]["stage_limits"],
        ) == (
            None,
            [],
        )
        assert updated.detail["policy"]["reminder_hours"] == [2.0, 0.5]
        # A new row without options gets the defaults.
        fresh = await set_policy("default", "5", "3")
        assert fresh.detail["policy"]["reminder_hours"] == [24.0, 2.0]
        assert fresh.detail["policy"]["quiet_hours"] == "22:00-07:30"
        for option, reason, limit in [
            ("claim=0", Refusal.BAD_CLAIM_HOURS, 200),
            ("remind=24,-1", Refusal.BAD_REMINDERS, 5),
            ("quiet=22:00-22:00", Refusal.BAD_QUIET_HOURS, 0),
            ("stages=分类", Refusal.BAD_STAGES, 10),
        ]:
            bad = await set_policy("default", "5", "3", option)
            assert (bad.refused, bad.detail["limit"]) == (reason, limit), option
            assert bad.detail["value"] == option.partition("=")[2]
        listed = await setup.list_policies(session, admin)
        assert [p["claim_hours"] for p in listed.detail["policies"]] == [None, None]
    async with db.sessions() as session:
        row = await session.scalar(select(ServicePolicy).where(ServicePolicy.priority == "urgent"))
        assert row is not None
        assert (row.close_working_days, row.claim_hours, row.stage_limits) == (2, None, [])
    assert [e.detail["change"] for e in await _audit(db, "policy_set")] == [
        "created",
        "updated",
        "created",
    ]


async def test_imported_policies_take_the_same_options(
    db: Database, clock: FrozenClock, tmp_path: Path
) -> None:
    path = _workbook(
        tmp_path / "policies.xlsx",
        {
            "policies": [
                ["category", "priority", "close_working_days", "confirm_days", "claim_hours",
                 "reminder_hours", "quiet_hours", "stage_limits"],
                ["default", None, 5, 3, "4h", "24, 2", "off", "分类:1,办结:4"],
                ["land", None, 5, 3, None, None, "21:00-07:00", None],
                ["labour", None, 5, 3, 0, None, None, None],
            ]
        },
    )  # fmt: skip
    refused = await _import_file(db, clock, path)
    assert [(p.where(), p.flaw) for p in refused.problems] == [
        ("policies!E4", Flaw.BAD_CLAIM_HOURS)
    ]
    workbook = load_workbook(path)
    workbook["policies"].delete_rows(4)
    workbook.save(path)
    assert (await _import_file(db, clock, path)).ok
    async with db.sessions() as session:
        rows = {p.category: p for p in await session.scalars(select(ServicePolicy))}
    default, land = rows[None], rows["land"]
    assert (default.claim_hours, default.reminder_hours, default.quiet_hours) == (4.0, [24, 2], "")
    assert default.stage_limits == [["分类", 1], ["办结", 4]]
    assert (land.claim_hours, land.reminder_hours, land.quiet_hours) == (
        None,
        [24.0, 2.0],
        "21:00-07:00",
    )
