"""Group commit (bot/group_commit.py): work waiting together shares a transaction, all or none;
what each update reads of the county's set-up is read once in it (common.read_mostly)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import cast

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update

from bot.edge import NodeContext, Turn, _claim_together, _Turning
from bot.group_commit import GroupCommit
from models.clock import FrozenClock
from models.services.contacts import ChatRef, chat_of
from models.services.intake import claim_update
from models.tables import Chat, Counter, Department, ProcessedUpdate
from tests.conftest import Database

Work = Callable[[AsyncSession], Awaitable[str]]


def _writing(name: str, sessions: list[AsyncSession], fail: bool = False) -> Work:
    """Work that writes a counter named `name` and notes the session it was given."""

    async def work(session: AsyncSession) -> str:
        sessions.append(session)
        session.add(Counter(name=name, value=1))
        await session.flush()
        if fail:
            raise ValueError(name)
        return name

    return work


async def _names(db: Database) -> set[str]:
    async with db.sessions() as session:
        return set((await session.scalars(select(Counter.name))).all())


async def test_work_waiting_together_shares_one_transaction(db: Database) -> None:
    commit = GroupCommit(db.sessions)
    seen: list[AsyncSession] = []
    results = await asyncio.gather(*(commit.run(_writing(f"w{k}", seen)) for k in range(5)))
    assert results == ["w0", "w1", "w2", "w3", "w4"]
    # The first found nobody writing and went alone; the four that came while it wrote, together.
    assert seen[0] is not seen[1]
    assert len({id(session) for session in seen[1:]}) == 1
    assert await _names(db) == {"w0", "w1", "w2", "w3", "w4"}


async def test_a_batch_claims_its_updates_together_and_an_update_twice_in_it_is_handled_once(
    db: Database, clock: FrozenClock
) -> None:
    handled: list[int] = []

    async def handler(turn: Turn) -> None:
        handled.append(turn.update.update_id)

    context = cast(NodeContext, SimpleNamespace(edge=SimpleNamespace(clock=clock)))
    prepared: list[int] = []

    async def claiming(session: AsyncSession, batch: list[_Turning]) -> None:
        prepared.append(len(batch))
        await _claim_together(session, batch)

    commit = GroupCommit(db.sessions, prepare=claiming)
    turns = [_Turning(handler, Update(n), context, None) for n in (10, 11, 12, 11)]
    results = await asyncio.gather(*(commit.run(turn) for turn in turns))
    # The first went alone (claimed by itself); the three that waited, together.
    assert prepared == [3]
    assert handled == [10, 11, 12]
    assert [result is None for result in results] == [False, False, False, True]
    assert await commit.run(_Turning(handler, Update(12), context, None)) is None
    async with db.sessions() as session:
        claimed = await session.scalars(select(ProcessedUpdate.update_id))
        assert sorted(claimed) == [10, 11, 12]


async def test_work_alone_has_a_transaction_of_its_own(db: Database) -> None:
    commit = GroupCommit(db.sessions)
    seen: list[AsyncSession] = []
    for k in range(3):
        await commit.run(_writing(f"w{k}", seen))
    assert len({id(session) for session in seen}) == 3
    assert await _names(db) == {"w0", "w1", "w2"}


async def test_a_batch_holds_at_most_its_limit(db: Database) -> None:
    commit = GroupCommit(db.sessions, limit=2)
    seen: list[AsyncSession] = []
    await asyncio.gather(*(commit.run(_writing(f"w{k}", seen)) for k in range(7)))
    sizes = sorted(sum(1 for s in seen if s is session) for session in {*seen})
    assert max(sizes) == 2 and sum(sizes) == 7
    assert len(await _names(db)) == 7


async def test_one_failure_costs_the_others_a_retry_not_their_outcome(db: Database) -> None:
    commit = GroupCommit(db.sessions)
    seen: list[AsyncSession] = []
    results = await asyncio.gather(
        commit.run(_writing("first", seen)),
        commit.run(_writing("good", seen)),
        commit.run(_writing("bad", seen, fail=True)),
        commit.run(_writing("also good", seen)),
        return_exceptions=True,
    )
    assert results[:2] == ["first", "good"] and results[3] == "also good"
    assert isinstance(results[2], ValueError) and str(results[2]) == "bad"
    # The batch stopped at the failure, was rolled back, and each of its three went again alone.
    assert len(seen) == 1 + 2 + 3
    assert await _names(db) == {"first", "good", "also good"}


async def test_work_cut_off_with_its_caller_leaves_the_rest_to_be_written(db: Database) -> None:
    commit = GroupCommit(db.sessions)
    seen: list[AsyncSession] = []
    gate, inside = asyncio.Event(), asyncio.Event()

    async def holding(session: AsyncSession) -> str:
        await gate.wait()
        return "held"

    async def stuck(session: AsyncSession) -> str:
        session.add(Counter(name="stuck", value=1))
        inside.set()
        await asyncio.Event().wait()
        return "never"

    first = asyncio.create_task(commit.run(holding))
    await asyncio.sleep(0.01)  # first holds the lock; the others line up behind it
    leader = asyncio.create_task(commit.run(stuck))
    followers = [asyncio.create_task(commit.run(_writing(f"w{k}", seen))) for k in range(3)]
    await asyncio.sleep(0.01)
    gate.set()
    assert await first == "held"
    await inside.wait()  # the leader writes stuck, w0, w1 and w2 together, stuck first
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    assert await asyncio.gather(*followers) == ["w0", "w1", "w2"]
    assert await _names(db) == {"w0", "w1", "w2"}


async def test_what_every_update_reads_is_read_once_until_the_transaction_writes_its_table(
    db: Database, clock: FrozenClock
) -> None:
    with db.statements() as statements:
        reads = lambda: len([s for s in statements if s.startswith("SELECT")])  # noqa: E731
        group = ChatRef(-100, "supergroup", "医药企业群")
        async with db.sessions() as session, session.begin():
            made = await chat_of(session, clock.now(), group)  # written: its reads go
            assert await chat_of(session, clock.now(), group) is made
            first = reads()
            assert await chat_of(session, clock.now(), group) is made
            assert reads() == first  # read once
            # Writing another table leaves it be, by statement or by the ORM's flush; writing its
            # own reads it again, and sees the write.
            await claim_update(session, clock.now(), 1)
            session.add(Counter(name="other", value=1))
            await session.flush()
            await chat_of(session, clock.now(), group)
            assert reads() == first
            await session.execute(update(Chat).values(title="改名"))
            assert (
                await chat_of(session, clock.now(), ChatRef(-100, "supergroup"))
            ).title == "改名"
            assert reads() == first + 1
            # Changed through the ORM, flushed: read again too.
            made.industry = "医药"
            await session.flush()
            await chat_of(session, clock.now(), ChatRef(-100, "supergroup"))
            assert reads() == first + 2
        async with db.sessions() as session, session.begin():
            await chat_of(session, clock.now(), ChatRef(-100, "supergroup"))
            assert reads() == first + 3  # a new transaction reads again


async def test_a_department_read_once_stays_for_the_rest_of_the_transaction(
    db: Database, clock: FrozenClock
) -> None:
    """The identity map holds rows weakly: without a hold, the next update of a batch would read
    the department the last one read, again."""
    async with db.sessions() as session, session.begin():
        session.add(Department(name="县供电公司", created_at=clock.now()))
    with db.statements() as statements:
        async with db.sessions() as session, session.begin():
            assert (await session.get(Department, 1)) is not None
            gc.collect()
            assert (await session.get(Department, 1)) is not None
            assert len([s for s in statements if "FROM departments" in s]) == 1
        async with db.sessions() as session, session.begin():
            await session.get(Department, 1)
            assert len([s for s in statements if "FROM departments" in s]) == 2
