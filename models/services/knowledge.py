"""The knowledge base: problems already answered, searched by /faq and shown before a new report.

What is in it: closed issues that have an answer and are not private. A private issue enters
only when its official marked it general: its question and answer were then broadcast
anonymised anyway, and a hit never carries the firm, the reporter or where it was raised (only
the number, the question, the answer and the department). Other private issues stay out, since
their firm raised them in confidence.

The index is built from the database on every call: simple and always current, and cheap at a
county's scale (hundreds of answered problems a year). Keep one in memory if that grows.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.rules.similarity import SIMILAR_THRESHOLD, KnowledgeIndex
from models.tables import Department, Issue, IssueStatus, Person


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
    number: str
    question: str
    answer: str
    department: str | None


def _in_knowledge_base() -> ColumnElement[bool]:
    """Closed, answered, and public or (if private) marked general."""
    return (
        (Issue.status == IssueStatus.CLOSED)
        & Issue.answer.is_not(None)
        & or_(Issue.is_private.is_(False), Issue.is_general.is_(True))
    )


async def _entries(session: AsyncSession, industry: str | None = None) -> list[_Entry]:
    """The knowledge base; with `industry`, what concerns it: its own, the unlabelled, general."""
    answerer = Person.__table__.alias("answerer")
    department_id = func.coalesce(Issue.department_id, answerer.c.department_id)
    statement = (
        select(Issue.id, Issue.number, Issue.text, Issue.answer, Department.name)
        .outerjoin(answerer, answerer.c.id == Issue.answered_by_id)
        .outerjoin(Department, Department.id == department_id)
        .where(_in_knowledge_base())
        .order_by(Issue.id)
    )
    if industry is not None:
        statement = statement.where(
            or_(
                Issue.industry == industry,
                Issue.industry.is_(None),
                Issue.is_general.is_(True),
            )
        )
    rows = await session.execute(statement)
    return [
        _Entry(id_, number, text, answer or "", department)
        for id_, number, text, answer, department in rows.all()
    ]


def _hit(entry: _Entry, score: float) -> FaqHit:
    return FaqHit(entry.number, entry.question, entry.answer, entry.department, score, entry.id)


async def search_faq(session: AsyncSession, words: str, limit: int = 5) -> list[FaqHit]:
    """The answered problems closest to `words`, best first, searched in question and answer."""
    entries = {entry.id: entry for entry in await _entries(session)}
    index = KnowledgeIndex((e.id, f"{e.question}\n{e.answer}") for e in entries.values())
    return [
        _hit(entries[match.id], match.score)
        for match in index.search(words, limit=limit)
        if match.score > 0
    ]


async def find_similar_answered(
    session: AsyncSession, text: str, industry: str | None
) -> FaqHit | None:
    """The answered problem most like a new report, if it is like enough to show first.

    Compared with the questions only (a report is a question), among what concerns the
    report's industry; None below SIMILAR_THRESHOLD.
    """
    entries = {entry.id: entry for entry in await _entries(session, industry)}
    if not entries or not text.strip():
        return None
    index = KnowledgeIndex((entry.id, entry.question) for entry in entries.values())
    # search() scores by the same idf-weighted cosine as similar(text, question, index).
    best = index.search(text, limit=1)
    if not best or best[0].score < SIMILAR_THRESHOLD:
        return None
    return _hit(entries[best[0].id], best[0].score)
