"""The knowledge base: /faq search and the similar answer shown before a new report is filed."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.clock import FrozenClock
from models.services import knowledge
from models.services.knowledge import find_similar_answered, search_faq
from models.tables import Issue, IssueStatus
from models.texts import LANGUAGES, render
from tests.conftest import Database
from tests.integration.test_broadcasts import Town, build_town, closed_issue

POWER = "厂区变压器老化，经常停电，影响生产"
POWER_ANSWER = "供电公司已更换变压器，并安排每月巡检"
LOAN = "企业扩大生产需要贷款，担保不足怎么办"
LOAN_ANSWER = "可申请县政策性融资担保，担保费率减半"


async def _knowledge(session: AsyncSession, town: Town, clock: FrozenClock) -> None:
    now = clock.now()
    session.add_all(
        [
            closed_issue(town, now, "Q-2026-0001", POWER, POWER_ANSWER),
            closed_issue(
                town, now, "Q-2026-0002", LOAN, LOAN_ANSWER, category="financing", is_general=False
            ),
            closed_issue(town, now, "Q-2026-0003", "夜间突然停电", "线路检修，已恢复供电"),
            # Out of the knowledge base: still open, not answered, private and not general.
            closed_issue(
                town,
                now,
                "Q-2026-0004",
                "停电赔偿怎么申请变压器",
                "正在核实",
                status=IssueStatus.ANSWERED,
                closed_at=None,
            ),
            closed_issue(town, now, "Q-2026-0005", "停电变压器问题", None, answered_by_id=None),
            closed_issue(
                town,
                now,
                "Q-2026-0006",
                "我厂变压器停电的私事",
                "私下答复",
                is_private=True,
                is_general=False,
            ),
            # In, though private: the official marked it general, and it was broadcast anonymised.
            closed_issue(
                town,
                now,
                "Q-2026-0007",
                "新招工人社保怎么缴纳",
                "可在人社窗口统一办理",
                category="labour",
                is_private=True,
            ),
            # Another industry's own answer, and another industry's general one.
            closed_issue(
                town,
                now,
                "Q-2026-0008",
                "茶园灌溉用电经常停电，影响生产",
                "已架设专线",
                industry="花茶",
                is_general=False,
            ),
        ]
    )
    await session.flush()


async def _filled(db: Database, clock: FrozenClock) -> Town:
    async with db.sessions() as session, session.begin():
        town = await build_town(session, clock.now())
        await _knowledge(session, town, clock)
    return town


async def test_the_faq_finds_answered_problems_best_first(db: Database, clock: FrozenClock) -> None:
    await _filled(db, clock)
    async with db.sessions() as session:
        hits = await search_faq(session, "变压器 停电")
    numbers = [hit.number for hit in hits]
    assert numbers[0] == "Q-2026-0001"
    assert "Q-2026-0003" in numbers
    best = hits[0]
    assert (best.question, best.answer, best.department) == (POWER, POWER_ANSWER, "供电公司")
    assert all(a.score >= b.score for a, b in pairwise(hits))
    # The reply renders, shortened, in both languages.
    params = {"words": "变压器 停电", "hits": [hit.__dict__ for hit in hits]}
    for language in LANGUAGES:
        assert "Q-2026-0001" in render("faq_results", language, params)


async def test_the_faq_searches_answers_too(db: Database, clock: FrozenClock) -> None:
    await _filled(db, clock)
    async with db.sessions() as session:
        hits = await search_faq(session, "担保费率")
    assert hits and hits[0].number == "Q-2026-0002"


async def test_what_is_open_unanswered_or_private_is_not_in_the_faq(
    db: Database, clock: FrozenClock
) -> None:
    await _filled(db, clock)
    async with db.sessions() as session:
        numbers = {hit.number for hit in await search_faq(session, "变压器 停电", limit=20)}
        private_general = await search_faq(session, "招工 社保")
    assert numbers.isdisjoint({"Q-2026-0004", "Q-2026-0005", "Q-2026-0006"})
    assert [hit.number for hit in private_general][:1] == ["Q-2026-0007"]


async def test_the_faq_says_when_nothing_is_found(db: Database, clock: FrozenClock) -> None:
    await _filled(db, clock)
    async with db.sessions() as session:
        assert await search_faq(session, "航天发射") == []
        assert await search_faq(session, "变压器", limit=1) != []


async def test_a_new_report_like_an_answered_one_is_shown_that_answer(
    db: Database, clock: FrozenClock
) -> None:
    await _filled(db, clock)
    async with db.sessions() as session:
        hit = await find_similar_answered(session, "厂区变压器老化经常停电，影响生产", "医药")
        assert hit is not None and hit.number == "Q-2026-0001"
        assert hit.answer == POWER_ANSWER
        assert await find_similar_answered(session, "航天发射场需要用地审批", "医药") is None
        assert await find_similar_answered(session, "", "医药") is None


async def test_another_industrys_own_answer_is_not_offered_but_a_general_one_is(
    db: Database, clock: FrozenClock
) -> None:
    await _filled(db, clock)
    async with db.sessions() as session:
        tea = await find_similar_answered(session, "茶园灌溉用电经常停电，影响生产", "花茶")
        assert tea is not None and tea.number == "Q-2026-0008"
        pharma = await find_similar_answered(session, "茶园灌溉用电经常停电，影响生产", "医药")
        assert pharma is None or pharma.number != "Q-2026-0008"
        general = await find_similar_answered(session, "厂区变压器老化经常停电，影响生产", "花茶")
        assert general is not None and general.number == "Q-2026-0001"  # 医药's, but general
        # Without an industry, everything answered is fair game.
        anyone = await find_similar_answered(session, "茶园灌溉用电经常停电，影响生产", None)
        assert anyone is not None and anyone.number == "Q-2026-0008"


async def test_the_index_is_kept_between_reports_and_read_again_when_the_base_changes(
    db: Database, clock: FrozenClock
) -> None:
    """Each process keeps the index; a change made anywhere (another process too) shows."""
    town = await _filled(db, clock)
    async with db.sessions() as session:
        await search_faq(session, "变压器 停电")
        kept = knowledge._bases[db.engine.sync_engine]
        await find_similar_answered(session, POWER, "医药")
        assert knowledge._bases[db.engine.sync_engine] is kept  # nothing changed: not rebuilt
        assert await search_faq(session, "锅炉 蒸汽 检验") == []

    clock.advance(timedelta(minutes=5))
    async with db.sessions() as session, session.begin():
        session.add(
            closed_issue(
                town, clock.now(), "Q-2026-0009", "锅炉蒸汽管道年检逾期", "特检院本周上门检验"
            )
        )
    async with db.sessions() as session:
        assert [hit.number for hit in await search_faq(session, "锅炉 蒸汽 检验")] == [
            "Q-2026-0009"
        ]

    # A closed private issue joins when marked general, though nothing else about it changes.
    async with db.sessions() as session, session.begin():
        private = await session.scalar(select(Issue).where(Issue.number == "Q-2026-0006"))
        assert private is not None
        private.is_general = True
    async with db.sessions() as session:
        found = {hit.number for hit in await search_faq(session, "变压器 私事", limit=20)}
    assert "Q-2026-0006" in found

    # Writes to issues that are not closed leave the base as it is; closing one changes it,
    # however it is written (here one set-based UPDATE, as the sweep writes).
    async with db.sessions() as session:
        await search_faq(session, "停电赔偿")
        kept = knowledge._bases[db.engine.sync_engine]
    async with db.sessions() as session, session.begin():
        await session.execute(
            update(Issue).where(Issue.number == "Q-2026-0004").values(text="停电赔偿怎么申请")
        )
    async with db.sessions() as session:
        assert "Q-2026-0004" not in {hit.number for hit in await search_faq(session, "停电赔偿")}
        assert knowledge._bases[db.engine.sync_engine] is kept
    async with db.sessions() as session, session.begin():
        await session.execute(
            update(Issue).where(Issue.number == "Q-2026-0004").values(status=IssueStatus.CLOSED)
        )
    async with db.sessions() as session:
        assert "Q-2026-0004" in {hit.number for hit in await search_faq(session, "停电赔偿")}


async def test_the_version_is_read_once_in_a_transaction_until_it_writes_issues(
    db: Database, clock: FrozenClock
) -> None:
    """Reports handled together share a transaction: one read of the counter serves them all,
    as long as what the transaction writes cannot have moved it."""
    town = await _filled(db, clock)
    with db.statements() as statements:

        def versions_read() -> int:
            return len([s for s in statements if "FROM counters" in s])

        async with db.sessions() as session, session.begin():
            await find_similar_answered(session, POWER, "医药")
            await find_similar_answered(session, LOAN, "医药")
            assert versions_read() == 1
            # A new report, not closed: the base cannot have changed.
            opened = closed_issue(
                town, clock.now(), "Q-2026-0010", "锅炉年检", None, status=IssueStatus.NEW
            )
            session.add(opened)
            await session.flush()
            await find_similar_answered(session, POWER, "医药")
            assert versions_read() == 1
            # Closing one may have: read again, and the base with it.
            await session.execute(
                update(Issue).where(Issue.number == "Q-2026-0004").values(status=IssueStatus.CLOSED)
            )
            found = {hit.number for hit in await search_faq(session, "停电赔偿")}
            assert "Q-2026-0004" in found
            assert versions_read() == 2
            # So may a change to an issue through the ORM.
            opened.status = IssueStatus.CLOSED
            opened.answer = "特检院本周上门检验"
            await session.flush()
            assert [hit.number for hit in await search_faq(session, "锅炉 年检")] == ["Q-2026-0010"]
            assert versions_read() == 3
        async with db.sessions() as session, session.begin():
            await find_similar_answered(session, POWER, "医药")
            assert versions_read() == 4  # and in the next transaction


async def test_a_base_read_after_its_transaction_wrote_is_shared_only_if_it_commits(
    db: Database, clock: FrozenClock
) -> None:
    """Updates handled together share a transaction: a later one may read the base with an
    earlier one's writes. Rolled back, that base must not serve anyone, though the counter comes
    back to the same value with another change."""
    await _filled(db, clock)
    async with db.sessions() as session, session.begin():
        await search_faq(session, "停电赔偿")  # read before writing: shared at once
    shared = knowledge._bases[db.engine.sync_engine]

    async with db.sessions() as session:
        await session.execute(
            update(Issue).where(Issue.number == "Q-2026-0004").values(status=IssueStatus.CLOSED)
        )
        assert "Q-2026-0004" in {hit.number for hit in await search_faq(session, "停电赔偿")}
        assert knowledge._bases[db.engine.sync_engine] is shared
        await session.rollback()
    async with db.sessions() as session, session.begin():
        # Another closing, unanswered, out of the base: the counter as the rolled back one left it.
        await session.execute(
            update(Issue).where(Issue.number == "Q-2026-0005").values(status=IssueStatus.CLOSED)
        )
    async with db.sessions() as session:
        assert "Q-2026-0004" not in {hit.number for hit in await search_faq(session, "停电赔偿")}

    # Written, read, committed: the base read inside is the one the next session uses.
    async with db.sessions() as session, session.begin():
        await session.execute(
            update(Issue).where(Issue.number == "Q-2026-0004").values(status=IssueStatus.CLOSED)
        )
        await search_faq(session, "停电赔偿")
        inside = session.info[knowledge._OWN]
    assert knowledge._bases[db.engine.sync_engine] is inside
    async with db.sessions() as session:
        assert "Q-2026-0004" in {hit.number for hit in await search_faq(session, "停电赔偿")}
    assert knowledge._bases[db.engine.sync_engine] is inside
