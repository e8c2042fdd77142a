"""The knowledge base: problems already answered, searched by /faq and shown before a new report.

What is in it: closed issues that have an answer and are not private. A private issue enters
only when its official marked it general: its question and answer were then broadcast
anonymised anyway, and a hit never carries the firm, the reporter or where it was raised (only
the number, the question, the answer and the department). Other private issues stay out, since
their firm raised them in confidence.

Building the index is what costs (some 60 ms per report for 1,000 answered problems, inside the
report's transaction), so each process keeps the base and its indexes per database and checks
before each use that they are current: the database counts every write to a closed issue, or
one that closes an issue, in the counter row `knowledge` (triggers, migration 0005), and the
check reads that row. (It used to sum up the closed issues, which took 0.25 ms a report at 1,000
of them and grew with every one closed.)
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from itertools import chain

from sqlalchemy import ColumnElement, Engine, event, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, UOWTransaction

from models.rules.similarity import SIMILAR_THRESHOLD, KnowledgeIndex, Match
from models.services.common import has_written
from models.tables import Counter, Department, Issue, IssueStatus, Person


@dataclass(frozen=True)
class FaqHit:
    number: str
    question: str
    answer: str
    department: str | None
    score: float
    issue_id: int


@dataclass(frozen=True)
class _Entry:
    id: int
    question: str
    answer: str
    industry: str | None
    is_general: bool


@dataclass
class _Base:
    """The knowledge base as read at `mark`, and the indexes built over it so far."""

    mark: int  # the counter `knowledge` when it was read
    entries: list[_Entry]
    indexes: dict[tuple[str, str | None], KnowledgeIndex] = field(default_factory=dict)

    def index(self, kind: str, industry: str | None = None) -> KnowledgeIndex:
        """Questions concerning `industry` (its own, the unlabelled, the general), or with
        kind "faq" every question with its answer."""
        key = (kind, industry)
        if key not in self.indexes:
            if kind == "faq":
                documents = ((e.id, f"{e.question}\n{e.answer}") for e in self.entries)
            else:
                documents = (
                    (e.id, e.question)
                    for e in self.entries
                    if industry is None or e.industry in (industry, None) or e.is_general
                )
            self.indexes[key] = KnowledgeIndex(documents)
        return self.indexes[key]


_VERSION = select(Counter.value).where(Counter.name == "knowledge")

# Per engine, so that each database (and each test's) has its own; gone with its engine.
_bases: weakref.WeakKeyDictionary[Engine, _Base] = weakref.WeakKeyDictionary()


def _in_knowledge_base() -> ColumnElement[bool]:
    """Closed, answered, and public or (if private) marked general."""
    return (
        (Issue.status == IssueStatus.CLOSED)
        & Issue.answer.is_not(None)
        & or_(Issue.is_private.is_(False), Issue.is_general.is_(True))
    )


async def _current(session: AsyncSession) -> _Base:
    """The knowledge base as this session sees it, read again only if it changed."""
    mark = await _mark(session)
    engine = session.get_bind().engine
    base = session.info.get(_OWN) or _bases.get(engine)
    if base is None or base.mark != mark:
        rows = await session.execute(
            select(Issue.id, Issue.text, Issue.answer, Issue.industry, Issue.is_general)
            .where(_in_knowledge_base())
            .order_by(Issue.id)
        )
        entries = [
            _Entry(id_, text, answer or "", industry, general)
            for id_, text, answer, industry, general in rows
        ]
        base = _Base(mark, entries)
        if has_written(session):
            # It may hold this transaction's own writes (updates handled together share one,
            # bot/group_commit.py), which a rollback undoes: other sessions get it at commit.
            session.info[_OWN] = base
        else:
            _bases[engine] = base
    return base


async def _mark(session: AsyncSession) -> int:
    """The knowledge base's version, read once in a transaction until it writes issues.

    Counted by the database's triggers on issues (migration 0005): one row to read, however many
    issues are closed. A report reads it, and the reports of a batch share a transaction
    (bot/group_commit.py); a new issue, not closed, does not move it. On PostgreSQL a change
    another transaction commits meanwhile shows from the next transaction on.
    """
    mark = session.info.get(_MARK)
    if mark is None:
        mark = session.info[_MARK] = await session.scalar(_VERSION) or 0
    return int(mark)


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _: UOWTransaction) -> None:
    closed = any(isinstance(row, Issue) and row.status == IssueStatus.CLOSED for row in session.new)
    if closed or any(isinstance(row, Issue) for row in chain(session.dirty, session.deleted)):
        session.info.pop(_MARK, None)


@event.listens_for(Session, "do_orm_execute")
def _executed(state: ORMExecuteState) -> None:
    writes = state.is_insert or state.is_update or state.is_delete
    if writes and state.statement.table.name == Issue.__tablename__:  # type: ignore[attr-defined]
        state.session.info.pop(_MARK, None)


_OWN = "nodedesk.knowledge"  # a base read after its transaction wrote (Session.info)
_MARK = "nodedesk.knowledge_mark"  # the version this transaction read (Session.info)


@event.listens_for(Session, "after_commit")
def _share(session: Session) -> None:
    base = session.info.pop(_OWN, None)
    if base is not None:
        _bases[session.get_bind().engine] = base


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_OWN, None)
    if transaction.parent is None or transaction.nested:
        session.info.pop(_MARK, None)


async def _hits(session: AsyncSession, matches: list[Match]) -> list[FaqHit]:
    """The matches as hits, in their order, read now (a department may have been renamed)."""
    if not matches:
        return []
    answerer = Person.__table__.alias("answerer")
    department_id = func.coalesce(Issue.department_id, answerer.c.department_id)
    rows = await session.execute(
        select(Issue.id, Issue.number, Issue.text, Issue.answer, Department.name)
        .outerjoin(answerer, answerer.c.id == Issue.answered_by_id)
        .outerjoin(Department, Department.id == department_id)
        .where(Issue.id.in_([match.id for match in matches]))
    )
    found = {row[0]: row for row in rows}
    return [
        FaqHit(number, question, answer or "", department, match.score, id_)
        for match in matches
        for id_, number, question, answer, department in [found[match.id]]
    ]


async def search_faq(session: AsyncSession, words: str, limit: int = 5) -> list[FaqHit]:
    """The answered problems closest to `words`, best first, searched in question and answer."""
    index = (await _current(session)).index("faq")
    return await _hits(session, [m for m in index.search(words, limit=limit) if m.score > 0])


async def find_similar_answered(
    session: AsyncSession, text: str, industry: str | None
) -> FaqHit | None:
    """The answered problem most like a new report, if it is like enough to show first.

    Compared with the questions only (a report is a question), among what concerns the
    report's industry; None below SIMILAR_THRESHOLD.
    """
    if not text.strip():
        return None
    index = (await _current(session)).index("question", industry)
    # search() scores by the same idf-weighted cosine as similar(text, question, index).
    best = index.search(text, limit=1, at_least=SIMILAR_THRESHOLD)
    if not best:
        return None
    (hit,) = await _hits(session, best)
    return hit
