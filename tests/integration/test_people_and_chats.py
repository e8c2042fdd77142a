from datetime import timedelta

from sqlalchemy import func, select

from models.clock import FrozenClock
from models.rules.permissions import Role
from models.services.chats import mark_deliverable, mark_undeliverable, migrate_chat
from models.services.common import enqueue
from models.services.contacts import ChatRef, Contact, Sender, chat_of, meet
from models.services.intake import claim_update, forget_old_updates
from models.services.people import RoleChange, change_role, find_person, set_language
from models.tables import AuditEntry, Chat, Firm, OutboxMessage, Person
from tests.conftest import Database

ADMIN = Sender(1001, "Admin Wang", "wang")
OFFICIAL = Sender(2002, "Official Li", "li")
PRIVATE = ChatRef(1001, "private")


async def _meet(db: Database, clock: FrozenClock, sender: Sender, chat: ChatRef) -> Contact:
    async with db.sessions() as session, session.begin():
        return await meet(session, clock.now(), sender, chat, admin_ids={ADMIN.telegram_id})


async def test_a_new_person_and_chat_are_remembered_once(db: Database, clock: FrozenClock) -> None:
    first = await _meet(db, clock, OFFICIAL, ChatRef(2002, "private"))
    again = await _meet(db, clock, Sender(2002, "Li Ming", "li"), ChatRef(2002, "private"))
    assert first.person.id == again.person.id
    assert again.person.full_name == "Li Ming"
    assert again.roles == frozenset()
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Person)) == 1
        assert await session.scalar(select(func.count()).select_from(Chat)) == 1
        actions = list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
        assert actions == ["person_seen", "chat_seen"]


async def test_a_firm_members_firm_comes_with_them(db: Database, clock: FrozenClock) -> None:
    member = Sender(3003, "Owner Zhao", "zhao")
    async with db.sessions() as session, session.begin():
        firm = Firm(name="康宁制药", industry="医药", created_at=clock.now())
        session.add(firm)
        await session.flush()
        session.add(
            Person(
                telegram_id=member.telegram_id,
                full_name="Zhao",
                firm_id=firm.id,
                created_at=clock.now(),
            )
        )
    with db.statements() as statements:
        async with db.sessions() as session, session.begin():
            who = await meet(session, clock.now(), member, ChatRef(3003, "private"), set())
            reads = len(statements)
            found = await session.get(Firm, who.person.firm_id)
            assert found is not None and found.name == "康宁制药"
            assert len(statements) == reads  # read with the person, not again


async def test_bootstrap_admins_get_the_role_from_settings(
    db: Database, clock: FrozenClock
) -> None:
    contact = await _meet(db, clock, ADMIN, PRIVATE)
    assert contact.roles == {Role.ADMIN}


async def test_an_update_is_handled_once_by_id_and_by_message(
    db: Database, clock: FrozenClock
) -> None:
    async with db.sessions() as session, session.begin():
        assert await claim_update(session, clock.now(), 10, -500, 7)
        assert not await claim_update(session, clock.now(), 10, -500, 7)
        # Re-delivered under a new update id (another webhook attempt): same chat and message.
        assert not await claim_update(session, clock.now(), 11, -500, 7)
        assert await claim_update(session, clock.now(), 12, -500, 8)
        assert await claim_update(session, clock.now(), 13)  # a callback query
    async with db.sessions() as session, session.begin():
        clock.advance(timedelta(days=8))
        assert await forget_old_updates(session, clock.now()) == 3


async def test_a_failed_update_is_not_marked_as_handled(db: Database, clock: FrozenClock) -> None:
    class Boom(Exception):
        pass

    try:
        async with db.sessions() as session, session.begin():
            assert await claim_update(session, clock.now(), 20, -1, 1)
            raise Boom
    except Boom:
        pass
    async with db.sessions() as session, session.begin():
        assert await claim_update(session, clock.now(), 20, -1, 1)


async def test_only_admins_change_roles_and_it_is_audited(db: Database, clock: FrozenClock) -> None:
    admin = await _meet(db, clock, ADMIN, PRIVATE)
    official = await _meet(db, clock, OFFICIAL, ChatRef(2002, "private"))
    async with db.sessions() as session, session.begin():
        now = clock.now()
        refused = await change_role(session, now, official, "@wang", Role.ADMIN, grant=True)
        assert refused.outcome is RoleChange.NOT_ALLOWED
        done = await change_role(session, now, admin, "@li", Role.OFFICIAL, grant=True)
        assert done.outcome is RoleChange.DONE
        again = await change_role(session, now, admin, "2002", Role.OFFICIAL, grant=True)
        assert again.outcome is RoleChange.UNCHANGED
        unknown = await change_role(session, now, admin, "@ghost", Role.OFFICIAL, grant=True)
        assert unknown.outcome is RoleChange.UNKNOWN_PERSON
        self_demotion = await change_role(session, now, admin, "@wang", Role.ADMIN, grant=False)
        assert self_demotion.outcome is RoleChange.NOT_ALLOWED
    again_official = await _meet(db, clock, OFFICIAL, ChatRef(2002, "private"))
    assert again_official.roles == {Role.OFFICIAL}
    async with db.sessions() as session:
        granted = await session.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "role_granted", AuditEntry.actor_id.is_not(None)
            )
        )
        assert granted is not None
        assert granted.detail == {"role": "official"}
        assert granted.actor_id == admin.person.id


async def test_people_are_found_by_id_or_username(db: Database, clock: FrozenClock) -> None:
    await _meet(db, clock, OFFICIAL, ChatRef(2002, "private"))
    async with db.sessions() as session:
        assert (await find_person(session, "2002")) is not None
        assert (await find_person(session, "@li")) is not None
        assert (await find_person(session, "@")) is None


async def test_language_choice(db: Database, clock: FrozenClock) -> None:
    contact = await _meet(db, clock, OFFICIAL, ChatRef(2002, "private"))
    async with db.sessions() as session, session.begin():
        person = await session.get(Person, contact.person.id)
        assert person is not None
        assert not await set_language(session, clock.now(), person, "fr")
        assert await set_language(session, clock.now(), person, "en")
    async with db.sessions() as session:
        person = await session.get(Person, contact.person.id)
        assert person is not None and person.language == "en"


async def test_a_migrated_group_keeps_its_messages_and_folds_a_twin(
    db: Database, clock: FrozenClock
) -> None:
    async with db.sessions() as session, session.begin():
        old = await chat_of(session, clock.now(), ChatRef(-100, "group", "医药企业群"))
        await enqueue(session, clock.now(), old, "error", "zh_CN")
        # A message from the new supergroup arrived before the migration notice.
        twin = await chat_of(session, clock.now(), ChatRef(-1009999, "supergroup", "医药企业群"))
        await enqueue(session, clock.now(), twin, "error", "zh_CN")
    async with db.sessions() as session, session.begin():
        moved = await migrate_chat(session, clock.now(), -100, -1009999)
        assert moved is not None and moved.id == old.id
    async with db.sessions() as session, session.begin():
        assert await migrate_chat(session, clock.now(), -100, -1009999) is not None  # idempotent
    async with db.sessions() as session:
        chats = list(await session.scalars(select(Chat)))
        assert [(c.id, c.telegram_id, c.kind) for c in chats] == [(old.id, -1009999, "supergroup")]
        targets = set(await session.scalars(select(OutboxMessage.chat_id)))
        assert targets == {old.id}


async def test_an_undeliverable_group_is_told_to_the_coordinators_once(
    db: Database, clock: FrozenClock
) -> None:
    admin = await _meet(db, clock, ADMIN, PRIVATE)
    async with db.sessions() as session, session.begin():
        group = await chat_of(session, clock.now(), ChatRef(-300, "group", "茶企群"))
        await enqueue(session, clock.now(), group, "error", "zh_CN")
    async with db.sessions() as session, session.begin():
        first = await mark_undeliverable(session, clock.now(), group.id, "Forbidden", "zh_CN")
        assert first is not None and (first.dropped, first.coordinators_told) == (1, 1)
    async with db.sessions() as session, session.begin():
        assert (
            await mark_undeliverable(session, clock.now(), group.id, "Forbidden", "zh_CN") is None
        )
    async with db.sessions() as session:
        notices = list(
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.template == "chat_undeliverable")
            )
        )
        assert [(n.chat_id, n.params["title"]) for n in notices] == [(admin.chat.id, "茶企群")]
    async with db.sessions() as session, session.begin():
        group_again = await session.get(Chat, group.id)
        assert group_again is not None
        assert await mark_deliverable(session, clock.now(), group_again)
        assert not await mark_deliverable(session, clock.now(), group_again)


async def test_a_passer_by_who_blocks_the_bot_is_not_reported(
    db: Database, clock: FrozenClock
) -> None:
    await _meet(db, clock, ADMIN, PRIVATE)
    stranger = await _meet(db, clock, Sender(7, "Stranger"), ChatRef(7, "private"))
    async with db.sessions() as session, session.begin():
        told = await mark_undeliverable(session, clock.now(), stranger.chat.id, "blocked", "en")
        assert told is not None and told.coordinators_told == 0


async def test_the_same_dedupe_key_is_written_once(db: Database, clock: FrozenClock) -> None:
    async with db.sessions() as session, session.begin():
        chat = await chat_of(session, clock.now(), ChatRef(5, "private"))
        assert await enqueue(session, clock.now(), chat, "error", "en", dedupe_key="k") is not None
        assert await enqueue(session, clock.now(), chat, "error", "en", dedupe_key="k") is None
