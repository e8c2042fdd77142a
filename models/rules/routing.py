"""Routing: which department leads on a problem, which assist, and why."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

UNPLACED = "other"


@dataclass(frozen=True)
class Rule:
    id: int
    keywords: tuple[str, ...]
    category: str
    lead: int
    assists: tuple[int, ...] = ()
    industry: str | None = None
    priority: int = 100


@dataclass(frozen=True)
class Routing:
    category: str
    lead: int | None
    assists: tuple[int, ...]
    rule_id: int | None
    keyword: str | None

    @property
    def placed(self) -> bool:
        return self.lead is not None


def normalise(text: str) -> str:
    """Full-width to half-width, case folded: 'ＡＢＣ用电' and 'abc用电' match alike."""
    return unicodedata.normalize("NFKC", text).casefold()


def route(text: str, industry: str | None, rules: Iterable[Rule]) -> Routing:
    """The best rule whose keyword the text contains; none places it with the coordinator.

    Best: the lowest priority number, then a rule for this industry over a general one, then
    the longest keyword (the more specific phrase), then the oldest rule.
    """
    body = normalise(text)
    best: tuple[tuple[int, int, int, int], Rule, str] | None = None
    for rule in rules:
        if rule.industry is not None and rule.industry != industry:
            continue
        for keyword in rule.keywords:
            if keyword and normalise(keyword) in body:
                rank = (rule.priority, 0 if rule.industry else 1, -len(keyword), rule.id)
                if best is None or rank < best[0]:
                    best = (rank, rule, keyword)
    if best is None:
        return Routing(UNPLACED, None, (), None, None)
    _, rule, keyword = best
    assists = tuple(dict.fromkeys(a for a in rule.assists if a != rule.lead))
    return Routing(rule.category, rule.lead, assists, rule.id, keyword)


def issue_number(year: int, sequence: int) -> str:
    """Q-2026-0001: the year and the year's running number, at least four digits."""
    return f"Q-{year}-{sequence:04d}"


def parse_issue_number(text: str) -> str | None:
    """A number as people type it ('q-2026-1', 'Q-2026-0001') in its canonical form."""
    parts = normalise(text.strip()).split("-")
    if len(parts) != 3 or parts[0] != "q" or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    if len(parts[1]) != 4 or not 0 < int(parts[2]) < 10**7:
        return None
    return issue_number(int(parts[1]), int(parts[2]))


_NUMBER_IN_TEXT = re.compile(r"\bQ-\d{4}-\d{4,7}\b")


def find_issue_number(text: str) -> str | None:
    """The first issue number shown in a text, such as a card's title."""
    found = _NUMBER_IN_TEXT.search(text)
    return found.group(0) if found else None
