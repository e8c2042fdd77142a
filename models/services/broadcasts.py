"""Broadcasts: general answers and pro-business policies pushed to groups and subscribers.

"Solve one problem, solve a class of problems": when an issue marked general closes, its
question and answer go to the industry group it came from, every industry group of the same
industry or tagged with its industry or category, and everyone subscribed to that industry or
category in private. A coordinator publishes policies the same way. Every recipient chat is a
`BroadcastRecipient` row pointing at its outbox message, whose status says if it arrived.

Subscriptions (a firm member's topics) live here too, since they only matter for broadcasts.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.rules.categories import CATEGORIES
from models.rules.permissions import Action, can
from models.rules.routing import normalise
from models.services.common import audit, enqueue, insert_ignoring_conflicts
from models.services.contacts import Contact
from models.tables import (
    Broadcast,
    BroadcastRecipient,
    Chat,
    ChatPurpose,
    Department,
    Firm,
    Issue,
    OutboxMessage,
    OutboxStatus,
    Person,
    Subscription,
)
from models.texts import LANGUAGES, environment

ALL_INDUSTRIES = "all"
MAX_TITLE_LENGTH = 300  # broadcasts.title
MAX_POLICY_LENGTH = 3000
MAX_TOPIC_LENGTH = 100  # subscriptions.topic
STATS_MONTHS = 12


@lru_cache(maxsize=1)
def _category_aliases() -> dict[str, str]:
    """Each category's key and its label in every language (normalised) → the key.

    The labels live in the `category_label` macro of the templates, so that `/subscribe 融资`
    and `/subscribe financing` mean the same without Chinese text in the code.
    """
    aliases: dict[str, str] = {}
    for language in LANGUAGES:
        macros = environment().get_template(f"{language}/_macros.j2").module
        label_of = macros.category_label  # type: ignore[attr-defined]
        for key in CATEGORIES:
            aliases[normalise(key)] = key
            aliases[normalise(Markup(label_of(key)).unescape().strip())] = key
    return aliases


# --- recipients ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    chat: Chat
    language: str
    # For a subscriber: the topic of theirs that matched; None for a group.
    topic: str | None = None


@dataclass(frozen=True)
class BroadcastResult:
    """One broadcast: its id and how many chats it went to (groups + subscribers' chats)."""

    broadcast_id: int
    recipients: int
    groups: int = 0
    people: int = 0
    # True when this very answer had been broadcast before: nothing new was sent.
    repeated: bool = False


async def _recipients(
    session: AsyncSession,
    topics: Collection[str] | None,
    language: str,
    origin: Chat | None = None,
) -> list[Recipient]:
    """Origin group first, then industry groups, then subscribers; deliverable, each chat once.

    `topics` None means every industry group and every subscriber.
    """
    wanted = set(topics) if topics is not None else None
    found: dict[int, Recipient] = {}
    if origin is not None and origin.kind != "private" and origin.undeliverable_at is None:
        found[origin.id] = Recipient(origin, language)
    groups = await session.scalars(
        select(Chat)
        .where(Chat.purpose == ChatPurpose.INDUSTRY, Chat.undeliverable_at.is_(None))
        .order_by(Chat.id)
    )
    for chat in groups:
        # Tags are a JSON list: filtered here, the same on SQLite and PostgreSQL.
        if chat.kind == "private" or chat.id in found:
            continue
        if wanted is None or chat.industry in wanted or wanted & set(chat.tags or ()):
            found[chat.id] = Recipient(chat, language)

    statement = select(Subscription.person_id, Subscription.topic).order_by(Subscription.id)
    if wanted is not None:
        if not wanted:
            return list(found.values())
        statement = statement.where(Subscription.topic.in_(sorted(wanted)))
    topic_of: dict[int, str] = {}
    for person_id, topic in (await session.execute(statement)).all():
        topic_of.setdefault(person_id, topic)
    if not topic_of:
        return list(found.values())
    rows = await session.execute(
        select(Person, Chat)
        .join(Chat, Chat.telegram_id == Person.telegram_id)
        .where(
            Person.id.in_(sorted(topic_of)),
            Chat.kind == "private",
            Chat.undeliverable_at.is_(None),
        )
        .order_by(Person.id)
    )
    for person, chat in rows.all():
        if chat.id not in found:
            found[chat.id] = Recipient(chat, person.language or language, topic_of[person.id])
    return list(found.values())


async def _deliver(
    session: AsyncSession,
    now: datetime,
    broadcast: Broadcast,
    recipients: Iterable[Recipient],
    template: str,
    params_for: Callable[[Recipient], dict[str, Any]],
    reply_to: Mapping[int, int] | None = None,
) -> BroadcastResult:
    """One outbox message and one recipient row per chat; a retried write sends nothing twice."""
    groups = people = 0
    for recipient in recipients:
        chat = recipient.chat
        key = f"broadcast:{broadcast.id}:{chat.id}"
        outbox_id = await enqueue(
            session,
            now,
            chat,
            template,
            recipient.language,
            params_for(recipient),
            reply_to_message_id=(reply_to or {}).get(chat.id),
            dedupe_key=key,
        )
        if outbox_id is None:
            outbox_id = await session.scalar(
                select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)
            )
        assert outbox_id is not None
        await session.execute(
            insert_ignoring_conflicts(session, BroadcastRecipient).values(
                broadcast_id=broadcast.id, chat_id=chat.id, outbox_id=outbox_id
            )
        )
        if chat.kind == "private":
            people += 1
        else:
            groups += 1
    return BroadcastResult(broadcast.id, groups + people, groups, people)


async def _count_recipients(session: AsyncSession, broadcast: Broadcast) -> BroadcastResult:
    rows = await session.execute(
        select(Chat.kind, func.count())
        .select_from(BroadcastRecipient)
        .join(Chat, Chat.id == BroadcastRecipient.chat_id)
        .where(BroadcastRecipient.broadcast_id == broadcast.id)
        .group_by(Chat.kind)
    )
    counts = {kind: int(n) for kind, n in rows.all()}
    people = counts.pop("private", 0)
    groups = sum(counts.values())
    return BroadcastResult(broadcast.id, groups + people, groups, people, repeated=True)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- general answers ----------------------------------------------------------------------------


async def broadcast_answer(
    session: AsyncSession, now: datetime, issue: Issue, language: str
) -> BroadcastResult:
    """Push a closed general issue's question and answer to firms of the same kind.

    Goes to the origin group (unless the issue is private), the industry groups of the issue's
    industry or tagged with its industry or category, and the private chats of subscribers to
    either. The firm is named only with its consent and never for a private issue; a private
    issue's broadcast neither names nor replies to where it came from. The same answer of the
    same issue is broadcast once: a second call returns the first broadcast, marked `repeated`.
    `language` is the groups' language; subscribers get theirs.
    """
    answer = issue.answer or ""
    earlier = await session.scalar(
        select(Broadcast)
        .where(Broadcast.kind == "answer", Broadcast.issue_id == issue.id, Broadcast.body == answer)
        .order_by(Broadcast.id)
        .limit(1)
    )
    if earlier is not None:
        return await _count_recipients(session, earlier)

    department = await _department_of(session, issue)
    firm_name = None
    if issue.name_consent and not issue.is_private and issue.firm_id is not None:
        firm_name = await session.scalar(select(Firm.name).where(Firm.id == issue.firm_id))
    origin = None
    if not issue.is_private and issue.origin_chat_id is not None:
        origin = await session.get(Chat, issue.origin_chat_id)
    topics = {topic for topic in (issue.industry, issue.category) if topic}

    broadcast = Broadcast(
        kind="answer",
        issue_id=issue.id,
        title=_clip(issue.text, MAX_TITLE_LENGTH),
        body=answer,
        by_id=issue.answered_by_id,
        created_at=now,
    )
    session.add(broadcast)
    await session.flush()

    recipients = await _recipients(session, topics, language, origin)
    shown_origin = origin.title if origin is not None and origin.kind != "private" else None

    def params_for(recipient: Recipient) -> dict[str, Any]:
        here = origin is not None and recipient.chat.id == origin.id
        return {
            "number": issue.number,
            "question": issue.text,
            "answer": answer,
            "category": issue.category,
            "department": department,
            "firm": firm_name,
            "here": here,
            "origin": None if here else shown_origin,
            "topic": recipient.topic,
        }

    reply_to = {}
    if origin is not None and issue.origin_message_id is not None:
        reply_to[origin.id] = issue.origin_message_id
    result = await _deliver(
        session, now, broadcast, recipients, "broadcast_answer", params_for, reply_to
    )
    audit(
        session,
        now,
        "answer_broadcast",
        "issue",
        issue.id,
        actor_id=issue.answered_by_id,
        broadcast_id=broadcast.id,
        recipients=result.recipients,
        groups=result.groups,
        people=result.people,
    )
    return result


async def _department_of(session: AsyncSession, issue: Issue) -> str | None:
    """The department that answered: the issue's lead, else the answering official's."""
    department_id = issue.department_id
    if department_id is None and issue.answered_by_id is not None:
        department_id = await session.scalar(
            select(Person.department_id).where(Person.id == issue.answered_by_id)
        )
    if department_id is None:
        return None
    return await session.scalar(select(Department.name).where(Department.id == department_id))


# --- topics -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Topics:
    """What one may subscribe to, or publish a policy for."""

    industries: tuple[str, ...]
    categories: tuple[str, ...]


async def known_topics(session: AsyncSession) -> Topics:
    """Industries of bound groups (and their tags) and of firms; the issue categories."""
    industries: set[str] = set()
    industries.update(
        i
        for i in await session.scalars(select(Chat.industry).where(Chat.industry.is_not(None)))
        if i
    )
    industries.update(i for i in await session.scalars(select(Firm.industry)) if i)
    for tags in await session.scalars(
        select(Chat.tags).where(Chat.purpose == ChatPurpose.INDUSTRY)
    ):
        industries.update(t for t in tags or () if t and t not in CATEGORIES)
    return Topics(tuple(sorted(industries)), CATEGORIES)


def _resolve(text: str, topics: Topics) -> str | None:
    """The topic `text` names: an industry (as spelled in the data) or a category key."""
    wanted = normalise(text.strip())
    if not wanted:
        return None
    for industry in topics.industries:
        if normalise(industry) == wanted:
            return industry
    key = _category_aliases().get(wanted)
    return key if key in topics.categories else None


# --- subscriptions ------------------------------------------------------------------------------


class SubscriptionOutcome(StrEnum):
    SUBSCRIBED = "subscribed"
    ALREADY = "already"
    UNSUBSCRIBED = "unsubscribed"
    NOT_SUBSCRIBED = "not_subscribed"
    UNKNOWN_TOPIC = "unknown_topic"
    PRIVATE_ONLY = "private_only"
    NOT_ALLOWED = "not_allowed"


@dataclass(frozen=True)
class SubscriptionResult:
    outcome: SubscriptionOutcome
    # The topic as stored (an industry, or a category key); None when it could not be told.
    topic: str | None = None
    # What could have been meant, when the topic was unknown.
    known: Topics | None = None


def _subscription_refusal(who: Contact) -> SubscriptionResult | None:
    if not can(who.roles, Action.SUBSCRIBE):
        return SubscriptionResult(SubscriptionOutcome.NOT_ALLOWED)
    if who.chat.kind != "private":
        return SubscriptionResult(SubscriptionOutcome.PRIVATE_ONLY)
    return None


async def subscribe(
    session: AsyncSession, now: datetime, who: Contact, text: str
) -> SubscriptionResult:
    """Receive in private the general answers (and policies) of an industry or a category."""
    refused = _subscription_refusal(who)
    if refused is not None:
        return refused
    known = await known_topics(session)
    topic = _resolve(text[: MAX_TOPIC_LENGTH * 2], known)
    if topic is None:
        return SubscriptionResult(SubscriptionOutcome.UNKNOWN_TOPIC, known=known)
    added = await session.execute(
        insert_ignoring_conflicts(session, Subscription)
        .values(person_id=who.person.id, topic=topic, created_at=now)
        .returning(Subscription.id)
    )
    subscription_id = added.scalar()
    if subscription_id is None:
        return SubscriptionResult(SubscriptionOutcome.ALREADY, topic)
    audit(
        session,
        now,
        "subscribed",
        "subscription",
        subscription_id,
        actor_id=who.person.id,
        topic=topic,
    )
    return SubscriptionResult(SubscriptionOutcome.SUBSCRIBED, topic)


async def unsubscribe(
    session: AsyncSession, now: datetime, who: Contact, text: str
) -> SubscriptionResult:
    """Stop a subscription, named as it was subscribed (or by a category's label)."""
    refused = _subscription_refusal(who)
    if refused is not None:
        return refused
    mine = await subscriptions_of(session, who.person.id)
    wanted = normalise(text.strip())
    match = next((s for s in mine if normalise(s.topic) == wanted), None)
    if match is None:
        key = _category_aliases().get(wanted)
        match = next((s for s in mine if s.topic == key), None)
    if match is None:
        known = await known_topics(session)
        topic = _resolve(text, known)
        if topic is None:
            return SubscriptionResult(SubscriptionOutcome.UNKNOWN_TOPIC, known=known)
        return SubscriptionResult(SubscriptionOutcome.NOT_SUBSCRIBED, topic)
    return await _remove(session, now, who, match)


async def unsubscribe_by_id(
    session: AsyncSession, now: datetime, who: Contact, subscription_id: int
) -> SubscriptionResult:
    """The button under /subscriptions: only one's own subscription, whatever the data says."""
    if not can(who.roles, Action.SUBSCRIBE):
        return SubscriptionResult(SubscriptionOutcome.NOT_ALLOWED)
    found = await session.get(Subscription, subscription_id)
    if found is None:
        return SubscriptionResult(SubscriptionOutcome.NOT_SUBSCRIBED)
    if found.person_id != who.person.id:
        return SubscriptionResult(SubscriptionOutcome.NOT_ALLOWED)
    return await _remove(session, now, who, found)


async def _remove(
    session: AsyncSession, now: datetime, who: Contact, subscription: Subscription
) -> SubscriptionResult:
    topic = subscription.topic
    await session.execute(delete(Subscription).where(Subscription.id == subscription.id))
    audit(
        session,
        now,
        "unsubscribed",
        "subscription",
        subscription.id,
        actor_id=who.person.id,
        topic=topic,
    )
    return SubscriptionResult(SubscriptionOutcome.UNSUBSCRIBED, topic)


async def subscriptions_of(session: AsyncSession, person_id: int) -> list[Subscription]:
    return list(
        await session.scalars(
            select(Subscription)
            .where(Subscription.person_id == person_id)
            .order_by(Subscription.id)
        )
    )


# --- policies -----------------------------------------------------------------------------------


class PolicyRefusal(StrEnum):
    NOT_ALLOWED = "not_allowed"
    UNKNOWN_TOPIC = "unknown_topic"
    EMPTY = "empty"
    TOO_LONG = "too_long"
    NO_RECIPIENTS = "no_recipients"


@dataclass(frozen=True)
class PolicyOutcome:
    refused: PolicyRefusal | None = None
    result: BroadcastResult | None = None
    # The industry (or category, or "all") it went to, as stored.
    topic: str | None = None


async def publish_policy(
    session: AsyncSession,
    now: datetime,
    who: Contact,
    target: str,
    title: str,
    text: str,
    language: str,
) -> PolicyOutcome:
    """A coordinator pushes a pro-business policy to an industry (or `all`): groups, subscribers.

    `target` is an industry, a category (groups tagged with it and its subscribers) or "all"
    (every industry group and every subscriber). Nothing is written when nobody would get it.
    """
    if not can(who.roles, Action.PUBLISH_POLICY):
        return PolicyOutcome(PolicyRefusal.NOT_ALLOWED)
    title, text = title.strip(), text.strip()
    if not title or not text:
        return PolicyOutcome(PolicyRefusal.EMPTY)
    if len(title) > MAX_TITLE_LENGTH or len(text) > MAX_POLICY_LENGTH:
        return PolicyOutcome(PolicyRefusal.TOO_LONG)
    topics: set[str] | None
    if normalise(target.strip()) == ALL_INDUSTRIES:
        topic, topics = ALL_INDUSTRIES, None
    else:
        resolved = _resolve(target, await known_topics(session))
        if resolved is None:
            return PolicyOutcome(PolicyRefusal.UNKNOWN_TOPIC)
        topic, topics = resolved, {resolved}
    recipients = await _recipients(session, topics, language)
    if not recipients:
        return PolicyOutcome(PolicyRefusal.NO_RECIPIENTS, topic=topic)
    department = None
    if who.person.department_id is not None:
        department = await session.scalar(
            select(Department.name).where(Department.id == who.person.department_id)
        )
    broadcast = Broadcast(
        kind="policy", title=title, body=text, by_id=who.person.id, created_at=now
    )
    session.add(broadcast)
    await session.flush()

    def params_for(recipient: Recipient) -> dict[str, Any]:
        return {
            "title": title,
            "text": text,
            "department": department,
            "topic": recipient.topic,
        }

    result = await _deliver(session, now, broadcast, recipients, "broadcast_policy", params_for)
    audit(
        session,
        now,
        "policy_published",
        "broadcast",
        broadcast.id,
        actor_id=who.person.id,
        topic=topic,
        recipients=result.recipients,
        groups=result.groups,
        people=result.people,
    )
    return PolicyOutcome(result=result, topic=topic)


@dataclass(frozen=True)
class MonthCount:
    month: str  # YYYY-MM in the county's time
    policies: int
    recipients: int
    delivered: int


async def policy_counts(
    session: AsyncSession, now: datetime, who: Contact, zone: ZoneInfo
) -> list[MonthCount] | None:
    """Policies published per month over the last twelve months, newest first; None if refused.

    `recipients` counts the chats each went to; `delivered` those whose message was sent.
    """
    if not can(who.roles, Action.PUBLISH_POLICY):
        return None
    local = now.astimezone(zone)
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    for _ in range(STATS_MONTHS - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    rows = await session.execute(
        select(Broadcast.id, Broadcast.created_at, OutboxMessage.status)
        .outerjoin(BroadcastRecipient, BroadcastRecipient.broadcast_id == Broadcast.id)
        .outerjoin(OutboxMessage, OutboxMessage.id == BroadcastRecipient.outbox_id)
        .where(Broadcast.kind == "policy", Broadcast.created_at >= first)
        .order_by(Broadcast.id)
    )
    policies: dict[str, set[int]] = {}
    recipients: dict[str, int] = {}
    delivered: dict[str, int] = {}
    for broadcast_id, created_at, status in rows.all():
        month = created_at.astimezone(zone).strftime("%Y-%m")
        policies.setdefault(month, set()).add(broadcast_id)
        if status is not None:
            recipients[month] = recipients.get(month, 0) + 1
            if status == OutboxStatus.SENT:
                delivered[month] = delivered.get(month, 0) + 1
    return [
        MonthCount(month, len(ids), recipients.get(month, 0), delivered.get(month, 0))
        for month, ids in sorted(policies.items(), reverse=True)
    ]
