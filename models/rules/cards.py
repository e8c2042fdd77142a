"""Cards (红黄牌): green for a deadline met, yellow for one missed, red for a missed re-commitment.

One machinery serves every tracked deadline: an issue's claim and close limits and a node's
deadline. These rules say which card is owed; the service records it, and a recorded card is
never owed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from models.rules.worktime import as_utc

MAX_REASON_LENGTH = 500
MAX_RECOMMIT_DELAY = timedelta(days=90)


class Colour(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


# The only orders in which cards can be raised on one deadline.
_HISTORIES = ((), (Colour.GREEN,), (Colour.YELLOW,), (Colour.YELLOW, Colour.RED))


@dataclass(frozen=True)
class Deadline:
    """A limit being tracked. `cards` are the colours already raised for it, in order.

    A rejected re-commitment is not a state here: the service clears `recommitted_due`, and
    the unit proposes another.
    """

    kind: str
    due: datetime
    recommitted_due: datetime | None = None
    recommit_approved: bool = False
    done_at: datetime | None = None
    cards: tuple[Colour, ...] = ()

    def __post_init__(self) -> None:
        for moment in (self.due, self.recommitted_due, self.done_at):
            if moment is not None:
                as_utc(moment)
        if self.recommit_approved and self.recommitted_due is None:
            raise ValueError("an approved re-commitment needs its date")
        # Rows come back from the database as plain strings.
        cards = tuple(Colour(card) for card in self.cards)
        if cards not in _HISTORIES:
            raise ValueError(f"cards cannot be raised in this order: {cards}")
        object.__setattr__(self, "cards", cards)

    @property
    def approved_due(self) -> datetime | None:
        """The re-committed date, once the leader has approved it; until then it counts for
        nothing."""
        return self.recommitted_due if self.recommit_approved else None


def next_card(deadline: Deadline, now: datetime) -> Colour | None:
    """The card owed at `now` and not yet raised, or None.

    Work is judged at the moment it was done or, while it is open, at `now`; exactly at a
    date is still in time. Green: done in time, nothing raised yet. Yellow: judged after
    `due`. Red: after a yellow, judged after an *approved* re-committed date. A yellow with no
    re-commitment, or one still awaiting approval, stands alone: the leader is reminded instead.
    """
    as_utc(now)
    judged = deadline.done_at if deadline.done_at is not None else now
    if not deadline.cards:
        if judged > deadline.due:
            return Colour.YELLOW
        return Colour.GREEN if deadline.done_at is not None else None
    approved_due = deadline.approved_due
    if deadline.cards == (Colour.YELLOW,) and approved_due is not None and judged > approved_due:
        return Colour.RED
    return None


def card_due_at(deadline: Deadline) -> datetime | None:
    """The instant after which `next_card` owes a card if nothing else changes, in UTC; None
    when no card can be owed until something does (done, a re-commitment approved), or ever.

    A sweep stores this and looks at the rows whose instant has passed. It may already have
    passed when the deadline is done and its green or yellow is not yet recorded.
    """
    if not deadline.cards:
        if deadline.done_at is None or deadline.done_at > deadline.due:
            return as_utc(deadline.due)
        return as_utc(deadline.done_at)
    approved_due = deadline.approved_due
    if deadline.cards != (Colour.YELLOW,) or approved_due is None:
        return None
    kept = deadline.done_at is not None and deadline.done_at <= approved_due
    return None if kept else as_utc(approved_due)


@dataclass(frozen=True)
class Recommit:
    """The responsible unit's reason for a missed deadline and the date it now promises."""

    reason: str
    new_due: datetime


class RecommitProblem(StrEnum):
    NOT_YELLOW = "not_yellow"
    ALREADY_APPROVED = "already_approved"
    ALREADY_DONE = "already_done"
    NO_REASON = "no_reason"
    REASON_TOO_LONG = "reason_too_long"
    NOT_IN_FUTURE = "not_in_future"
    TOO_FAR = "too_far"


def check_recommit(
    deadline: Deadline,
    recommit: Recommit,
    now: datetime,
    max_delay: timedelta = MAX_RECOMMIT_DELAY,
) -> RecommitProblem | None:
    """Why this re-commitment cannot be put to the leader, or None if it can.

    Only a yellow deadline still open and not yet re-committed with approval may be
    re-committed; a pending proposal may be replaced. The reason is counted without the
    blanks around it; the new date must lie after `now` and at most `max_delay` after the
    original due date.
    """
    new_due = as_utc(recommit.new_due)
    if deadline.recommit_approved:
        return RecommitProblem.ALREADY_APPROVED
    if deadline.cards != (Colour.YELLOW,):
        return RecommitProblem.NOT_YELLOW
    if deadline.done_at is not None:
        return RecommitProblem.ALREADY_DONE
    reason = recommit.reason.strip()
    if not reason:
        return RecommitProblem.NO_REASON
    if len(reason) > MAX_REASON_LENGTH:
        return RecommitProblem.REASON_TOO_LONG
    if new_due <= as_utc(now):
        return RecommitProblem.NOT_IN_FUTURE
    if new_due - deadline.due > max_delay:
        return RecommitProblem.TOO_FAR
    return None
