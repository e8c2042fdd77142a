"""General answers and policies pushed to groups and subscribers; subscriptions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.clock import FrozenClock
from models.rules.permissions import Role
from models.services import broadcasts
from models.services.broadcasts import PolicyRefusal, SubscriptionOutcome
from models.services.contacts import Contact, roles_of
from models.tables import (
    AuditEntry,
    Broadcast,
    BroadcastRecipient,
    Chat,
    ChatPurpose,
    Department,
    Firm,
    Issue,
    IssueStatus,
    OutboxMessage,
    OutboxStatus,
    Person,
    PersonRole,
    Subscription,
)
from models.texts import LANGUAGES, render
from tests.conftest import Database

ZONE = ZoneInfo("Asia/Shanghai")


@dataclass
class Town:
    """Two industries' groups, a tagged group, subscribers, and the people who act."""

    office: Department
    power: Department
    pharma: Firm
    coordinator: Person
    electrician: Person
    owner: Person
    fan: Person  # subscribed to the pharma industry, reads English
    power_fan: Person  # subscribed to the utilities category
    double_fan: Person  # subscribed to both: one message
    tea_fan: Person  # subscribed to another industry
    gone_fan: Person  # subscribed, but blocked the bot
    origin: Chat  # the pharma group where the problem was raised
    pharma_two: Chat  # another pharma group
    tagged_category: Chat  # a commerce group tagged "utilities"
    tagged_industry: Chat  # a park group tagged with the pharma industry
    tea: Chat  # another industry: gets nothing
    gone: Chat  # a pharma group that removed the bot
    department_chat: Chat
    chats: dict[int, Chat]


async def build_town(session: AsyncSession, now: datetime) -> Town:
    office = Department(name="营商办", is_coordinator=True, created_at=now)
    power = Department(name="供电公司", created_at=now)
    session.add_all([office, power])
    await session.flush()
    pharma = Firm(name="皖南药业", industry="医药", created_at=now)
    textile = Firm(name="皖北纺织", industry="纺织", created_at=now)
    session.add_all([pharma, textile])
    await session.flush()
    chats: dict[int, Chat] = {}

    async def person(
        tid: int, name: str, roles: list[Role], topics: tuple[str, ...] = (), **kw: object
    ) -> Person:
        row = Person(telegram_id=tid, full_name=name, created_at=now, **kw)
        session.add(row)
        await session.flush()
        for role in roles:
            session.add(PersonRole(person_id=row.id, role=role))
        for topic in topics:
            session.add(Subscription(person_id=row.id, topic=topic, created_at=now))
        chat = Chat(telegram_id=tid, kind="private", purpose=ChatPurpose.PRIVATE, created_at=now)
        session.add(chat)
        chats[tid] = chat
        return row

    def group(
        tid: int, title: str, industry: str | None, tags: tuple[str, ...] = (), **kw: object
    ) -> Chat:
        chat = Chat(
            telegram_id=tid,
            kind="supergroup",
            title=title,
            purpose=kw.pop("purpose", ChatPurpose.INDUSTRY),
            industry=industry,
            tags=list(tags),
            created_at=now,
            **kw,
        )
        session.add(chat)
        chats[tid] = chat
        return chat

    coordinator = await person(1, "王营商", [Role.COORDINATOR], department_id=office.id)
    electrician = await person(11, "赵电力", [Role.OFFICIAL], department_id=power.id)
    owner = await person(101, "陈药企", [Role.FIRM], firm_id=pharma.id)
    fan = await person(201, "Fan", [Role.FIRM], ("医药",), language="en")
    power_fan = await person(202, "用电关注者", [], ("utilities",))
    double_fan = await person(203, "双订阅", [], ("医药", "utilities"))
    tea_fan = await person(204, "茶友", [], ("花茶",))
    gone_fan = await person(205, "已屏蔽", [], ("医药",))
    chats[205].undeliverable_at = now
    origin = group(-1001, "医药企业群", "医药")
    pharma_two = group(-1002, "医药企业二群", "医药")
    tagged_category = group(-1003, "商贸企业群", "商贸", ("utilities",))
    tagged_industry = group(-1004, "园区企业群", "园区", ("医药",))
    tea = group(-1005, "花茶企业群", "花茶")
    gone = group(-1006, "医药老群", "医药", undeliverable_at=now)
    department_chat = group(
        -2001, "供电工作群", None, purpose=ChatPurpose.DEPARTMENT, department_id=power.id
    )
    await session.flush()
    return Town(
        office,
        power,
        pharma,
        coordinator,
        electrician,
        owner,
        fan,
        power_fan,
        double_fan,
        tea_fan,
        gone_fan,
        origin,
        pharma_two,
        tagged_category,
        tagged_industry,
        tea,
        gone,
        department_chat,
        chats,
    )


async def contact(
    session: AsyncSession, town: Town, person: Person, chat: Chat | None = None
) -> Contact:
    fresh = await session.get(Person, person.id)
    where = await session.get(Chat, (chat or town.chats[person.telegram_id]).id)
    assert fresh is not None and where is not None
    return Contact(fresh, where, await roles_of(session, person.id))


def closed_issue(
    town: Town, now: datetime, number: str, text: str, answer: str, **kw: object
) -> Issue:
    values: dict[str, object] = {
        "number": number,
        "status": IssueStatus.CLOSED,
        "text": text,
        "category": "utilities",
        "industry": "医药",
        "source": "group",
        "firm_id": town.pharma.id,
        "reporter_id": town.owner.id,
        "origin_chat_id": town.origin.id,
        "origin_message_id": 500,
        "department_id": town.power.id,
        "answer": answer,
        "answered_by_id": town.electrician.id,
        "answered_at": now,
        "is_general": True,
        "close_kind": "confirmed",
        "closed_at": now,
        "assist_department_ids": [],
        "created_at": now,
        "updated_at": now,
    }
    values.update(kw)
    return Issue(**values)


@pytest.fixture
async def town(db: Database, clock: FrozenClock) -> Town:
    async with db.sessions() as session, session.begin():
        return await build_town(session, clock.now())


async def _add_issue(db: Database, clock: FrozenClock, town: Town, **kw: object) -> Issue:
    async with db.sessions() as session, session.begin():
        issue = closed_issue(
            town, clock.now(), "Q-2026-0001", "厂区经常停电，影响生产", "已更换变压器", **kw
        )
        session.add(issue)
    return issue


async def _broadcast(db: Database, clock: FrozenClock, issue_id: int) -> broadcasts.BroadcastResult:
    async with db.sessions() as session, session.begin():
        issue = await session.get(Issue, issue_id)
        assert issue is not None
        return await broadcasts.broadcast_answer(session, clock.now(), issue, "zh_CN")


async def _sent(db: Database, broadcast_id: int) -> dict[int, OutboxMessage]:
    """The outbox message of each recipient chat, by chat id."""
    async with db.sessions() as session:
        rows = await session.execute(
            select(BroadcastRecipient, OutboxMessage)
            .join(OutboxMessage, OutboxMessage.id == BroadcastRecipient.outbox_id)
            .where(BroadcastRecipient.broadcast_id == broadcast_id)
        )
        found = {}
        for recipient, message in rows.all():
            assert message.chat_id == recipient.chat_id
            found[recipient.chat_id] = message
        return found


def _renders(message: OutboxMessage) -> str:
    """The message renders in both languages with the parameters it was written with."""
    texts = [render(message.template, language, message.params) for language in LANGUAGES]
    return texts[LANGUAGES.index(message.language)]


# --- general answers ----------------------------------------------------------------------------


async def test_a_general_answer_reaches_its_group_the_same_industry_the_tagged_and_subscribers(
    db: Database, clock: FrozenClock, town: Town
) -> None:
    issue = await _add_issue(db, clock, town)
    result = await _broadcast(db, clock, issue.id)

    sent = await _sent(db, result.broadcast_id)
    groups = {town.origin.id, town.pharma_two.id, town.tagged_category.id, town.tagged_industry.id}
    people = {town.chats[t].id for t in (201, 202, 203)}
    assert set(sent) == groups | people
    assert (result.recipients, result.groups, result.people) == (7, 4, 3)
    assert not result.repeated
    # Not: another industry's group, a blocked group or person, a department's group.
    assert town.tea.id not in sent and town.gone.id not in sent
    assert town.chats[204].id not in sent and town.chats[205].id not in sent
    for chat_id, message in sent.items():
        assert message.template == "broadcast_answer"
        assert message.dedupe_key == f"broadcast:{result.broadcast_id}:{chat_id}"
        assert message.params["question"] == "厂区经常停电，影响生产"
        assert message.params["answer"] == "已更换变压器"
        assert message.params["department"] == "供电公司"
        assert message.params["firm"] is None
        if chat_id != town.origin.id:
            assert any(anonymous in _renders(message) for anonymous in ("某企业", "a firm"))

    here = sent[town.origin.id]
    assert here.reply_to_message_id == 500 and here.params["here"] is True
    elsewhere = sent[town.pharma_two.id]
    assert elsewhere.reply_to_message_id is None
    assert elsewhere.params["origin"] == "医药企业群"
    assert elsewhere.language == "zh_CN" and elsewhere.params["topic"] is None
    fan = sent[town.chats[201].id]
    assert fan.language == "en" and fan.params["topic"] == "医药"
    assert "a firm" in _renders(fan) and "Fan" not in _renders(fan)
    assert sent[town.chats[203].id].params["topic"] in {"医药", "utilities"}

    async with db.sessions() as session:
        broadcast = await session.get(Broadcast, result.broadcast_id)
        assert broadcast is not None
        assert (broadcast.kind, broadcast.issue_id) == ("answer", issue.id)
        assert (broadcast.body, broadcast.by_id) == ("已更换变压器", town.electrician.id)
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "answer_broadcast")
        )
        assert entry is not None
        assert (entry.subject_type, entry.subject_id) == ("issue", issue.id)
        assert entry.detail["recipients"] == 7
        assert entry.detail["broadcast_id"] == result.broadcast_id


async def test_the_firm_is_named_only_when_it_agreed(
    db: Database, clock: FrozenClock, town: Town
) -> None:
    issue = await _add_issue(db, clock, town, name_consent=True)
    result = await _broadcast(db, clock, issue.id)
    sent = await _sent(db, result.broadcast_id)
    assert {message.params["firm"] for message in sent.values()} == {"皖南药业"}
    assert "皖南药业" in _renders(sent[town.pharma_two.id])


async def test_a_private_issue_goes_out_anonymised_and_never_points_to_where_it_came_from(
    db: Database, clock: FrozenClock, town: Town
) -> None:
    issue = await _add_issue(
        db,
        clock,
        town,
        is_private=True,
        source="private",
        name_consent=True,
        origin_chat_id=town.chats[101].id,
        origin_message_id=77,
    )
    result = await _broadcast(db, clock, issue.id)
    sent = await _sent(db, result.broadcast_id)
    assert town.chats[101].id not in sent  # the reporter's own chat is not a recipient
    assert town.origin.id in sent  # a pharma group still learns the answer
    for message in sent.values():
        assert message.reply_to_message_id is None
        assert message.params["firm"] is None
        assert message.params["origin"] is None and message.params["here"] is False
        text = _renders(message)
        assert "皖南药业" not in text and "医药企业群" not in text


async def test_an_issue_from_a_group_with_no_industry_still_reaches_its_group_and_category(
    db: Database, clock: FrozenClock, town: Town
) -> None:
    issue = await _add_issue(db, clock, town, industry=None, category="utilities")
    result = await _broadcast(db, clock, issue.id)
    sent = await _sent(db, result.broadcast_id)
    assert set(sent) == {
        town.origin.id,
        town.tagged_category.id,
        town.chats[202].id,
        town.chats[203].id,
    }


async def test_the_same_answer_is_broadcast_once(
    db: Database, clock: FrozenClock, town: Town
) -> None:
    issue = await _add_issue(db, clock, town)
    first = await _broadcast(db, clock, issue.id)
    again = await _broadcast(db, clock, issue.id)
    assert again.repeated
    assert (again.broadcast_id, again.recipients) == (first.broadcast_id, first.recipients)
    assert (again.groups, again.people) == (first.groups, first.people)
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Broadcast)) == 1
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 7


# --- subscriptions ------------------------------------------------------------------------------


async def test_subscribing_needs_a_known_topic_and_a_private_chat(
    db: Database, clock: FrozenClock, town: Town
) -> None:
    now = clock.now()
    async with db.sessions() as session, session.begin():
        owner = await contact(session, town, town.owner)
        in_group = await contact(session, town, town.owner, town.origin)

        unknown = await broadcasts.subscribe(session, now, owner, "航天")
        assert unknown.outcome is SubscriptionOutcome.UNKNOWN_TOPIC
        assert unknown.known is not None
        assert "纺织" in unknown.known.industries  # known from a firm, with no group
        assert "商贸" in unknown.known.industries and "utilities" in unknown.known.categories
        assert "utilities" not in unknown.known.industries  # a tag that is a category

        group = await broadcasts.subscribe(session, now, in_group, "医药")
        assert group.outcome is SubscriptionOutcome.PRIVATE_ONLY

        done = await broadcasts.subscribe(session, now, owner, " 医药 ")
        assert (done.outcome, done.topic) == (SubscriptionOutcome.SUBSCRIBED, "医药")
        again = await broadcasts.subscribe(session, now, owner, "医药")
        assert again.outcome is SubscriptionOutcome.ALREADY
        # A category by its key or by its label in either language.
        label = await broadcasts.subscribe(session, now, owner, "融资")
        assert (label.outcome, label.topic) == (SubscriptionOutcome.SUBSCRIBED, "financing")
        key = await broadcasts.subscribe(session, now, owner, "FINANCING")
        assert key.outcome is SubscriptionOutcome.ALREADY
        english = await broadcasts.subscribe(session, now, owner, "labour and hiring")
        assert (english.outcome, english.topic) == (SubscriptionOutcome.SUBSCRIBED, "labour")

    async with db.sessions() as session, session.begin():
        owner = await contact(session, town, town.owner)
        mine = await broadcasts.subscriptions_of(session, town.owner.id)
        assert [s.topic for s in mine] == ["医药", "financing", "labour"]
        missing = await broadcasts.unsubscribe(session, now, owner, "水电气")
        assert (missing.outcome, missing.topic) == (
            SubscriptionOutcome.NOT_SUBSCRIBED,
            "utilities",
        )
        gone = await broadcasts.unsubscribe(session, now, owner, "融资")
        assert (gone.outcome, gone.topic) == (SubscriptionOutcome.UNSUBSCRIBED, "financing")
        nonsense = await broadcasts.unsubscribe(session, now, owner, "航天")
        assert nonsense.outcome is SubscriptionOutcome.UNKNOWN_TOPIC

    async with db.sessions() as session:
        topics = list(
            await session.scalars(
                select(Subscription.topic).where(Subscription.person_id == town.owner.id)
            )
        )
        assert sorted(topics) == sorted(["医药", "labour"])
        actions = list(
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.actor_id == town.owner.id)
                .order_by(AuditEntry.id)
            )
        )
        assert actions == ["subscribed", "subscribed", "subscribed", "unsubscribed"]


async def test_a_subscription_dropped_by_button_must_be_ones_own(
    db: Database, clock: FrozenClock, town: Town
) -> None:
    async with db.sessions() as session:
        fans = await broadcasts.subscriptions_of(session, town.fan.id)
    async with db.sessions() as session, session.begin():
        owner = await contact(session, town, town.owner)
        forged = await broadcasts.unsubscribe_by_id(session, clock.now(), owner, fans[0].id)
        assert forged.outcome is SubscriptionOutcome.NOT_ALLOWED
        nothing = await broadcasts.unsubscribe_by_id(session, clock.now(), owner, 999_999)
        assert nothing.outcome is SubscriptionOutcome.NOT_SUBSCRIBED
        fan = await contact(session, town, town.fan)
        done = await broadcasts.unsubscribe_by_id(session, clock.now(), fan, fans[0].id)
        assert (done.outcome, done.topic) == (SubscriptionOutcome.UNSUBSCRIBED, "医药")
    async with db.sessions() as session:
        assert await broadcasts.subscriptions_of(session, town.fan.id) == []


# --- policies -----------------------------------------------------------------------------------


async def _publish(
    db: Database, clock: FrozenClock, town: Town, who: Person, target: str, text: str
) -> broadcasts.PolicyOutcome:
    title, _, body = text.partition("|")
    async with db.sessions() as session, session.begin():
        actor = await contact(session, town, who)
        return await broadcasts.publish_policy(
            session, clock.now(), actor, target, title, body, "zh_CN"
        )


async def test_a_policy_goes_to_its_industrys_groups_and_subscribers_and_is_counted(
    db: Database, clock: FrozenClock, town: Town
) -> None:
    pharma = await _publish(
        db, clock, town, town.coordinator, "医药", "研发补贴 | 研发投入按比例补贴"
    )
    assert pharma.refused is None and pharma.result is not None and pharma.topic == "医药"
    sent = await _sent(db, pharma.result.broadcast_id)
    assert set(sent) == {
        town.origin.id,
        town.pharma_two.id,
        town.tagged_industry.id,
        town.chats[201].id,
        town.chats[203].id,
    }
    assert (pharma.result.groups, pharma.result.people) == (3, 2)
    message = sent[town.origin.id]
    assert message.template == "broadcast_policy"
    assert message.params["title"] == "研发补贴" and message.params["text"] == "研发投入按比例补贴"
    assert message.params["department"] == "营商办"
    assert "研发投入按比例补贴" in _renders(message)

    everyone = await _publish(
        db, clock, town, town.coordinator, "ALL", "房租减免 | 小微企业减免房租"
    )
    assert everyone.result is not None and everyone.topic == "all"
    sent_all = await _sent(db, everyone.result.broadcast_id)
    deliverable_groups = {
        town.origin.id,
        town.pharma_two.id,
        town.tagged_category.id,
        town.tagged_industry.id,
        town.tea.id,
    }
    subscribers = {town.chats[t].id for t in (201, 202, 203, 204)}
    assert set(sent_all) == deliverable_groups | subscribers

    async with db.sessions() as session, session.begin():
        kinds = list(await session.scalars(select(Broadcast.kind)))
        assert kinds == ["policy", "policy"]
        published = list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "policy_published")
                .order_by(AuditEntry.id)
            )
        )
        assert [(e.actor_id, e.detail["topic"], e.detail["recipients"]) for e in published] == [
            (town.coordinator.id, "医药", 5),
            (town.coordinator.id, "all", 9),
        ]
        # The dispatcher delivered two of them.
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([m.id for m in list(sent.values())[:2]]))
            .values(status=OutboxStatus.SENT)
        )

    clock.advance(timedelta(days=31))
    later = await _publish(db, clock, town, town.coordinator, "utilities", "电价优惠 | 峰谷电价")
    assert later.result is not None and later.topic == "utilities"
    assert later.result.recipients == 3  # the tagged group and two subscribers

    async with db.sessions() as session:
        coordinator = await contact(session, town, town.coordinator)
        counts = await broadcasts.policy_counts(session, clock.now(), coordinator, ZONE)
    assert counts == [
        broadcasts.MonthCount("2026-04", 1, 3, 0),
        broadcasts.MonthCount("2026-03", 2, 14, 2),
    ]
    assert render("policy_counts", "zh_CN", {"months": [c.__dict__ for c in counts]})


async def test_only_coordinators_publish_policies_or_see_their_counts(
    db: Database, clock: FrozenClock, town: Town
) -> None:
    refused = await _publish(db, clock, town, town.electrician, "all", "标题 | 内容")
    assert refused.refused is PolicyRefusal.NOT_ALLOWED
    async with db.sessions() as session:
        official = await contact(session, town, town.electrician)
        assert await broadcasts.policy_counts(session, clock.now(), official, ZONE) is None
        assert await session.scalar(select(func.count()).select_from(Broadcast)) == 0
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


@pytest.mark.parametrize(
    ("target", "text", "reason"),
    [
        ("航天", "标题 | 内容", PolicyRefusal.UNKNOWN_TOPIC),
        ("医药", " | 内容", PolicyRefusal.EMPTY),
        ("医药", "标题 | ", PolicyRefusal.EMPTY),
        ("医药", "标题 | " + "字" * 3001, PolicyRefusal.TOO_LONG),
        ("纺织", "标题 | 内容", PolicyRefusal.NO_RECIPIENTS),  # a known industry, nobody there
    ],
)
async def test_a_policy_that_cannot_go_out_changes_nothing(
    db: Database, clock: FrozenClock, town: Town, target: str, text: str, reason: PolicyRefusal
) -> None:
    outcome = await _publish(db, clock, town, town.coordinator, target, text)
    assert outcome.refused is reason and outcome.result is None
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Broadcast)) == 0
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
