from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.rules.cards import (
    Colour,
    Deadline,
    Recommit,
    RecommitProblem,
    card_due_at,
    check_recommit,
    next_card,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
GREEN, YELLOW, RED = Colour.GREEN, Colour.YELLOW, Colour.RED
DUE = datetime(2026, 3, 9, 17, 30, tzinfo=SHANGHAI)
NEW_DUE = DUE + timedelta(days=7)
MINUTE = timedelta(minutes=1)


def node(**changes: Any) -> Deadline:
    return replace(Deadline("node", DUE), **changes)


def yellow(**changes: Any) -> Deadline:
    return node(**{"cards": (YELLOW,), **changes})


def approved(**changes: Any) -> Deadline:
    return yellow(recommitted_due=NEW_DUE, recommit_approved=True, **changes)


def recorded(deadline: Deadline, card: Colour) -> Deadline:
    return replace(deadline, cards=(*deadline.cards, card))


# --- which card is owed ------------------------------------------------------------------


def test_work_done_on_time_earns_green() -> None:
    assert next_card(node(done_at=DUE - timedelta(days=1)), DUE + timedelta(days=3)) == GREEN


def test_work_done_exactly_at_the_deadline_is_on_time() -> None:
    assert next_card(node(done_at=DUE), DUE) == GREEN


def test_an_open_deadline_exactly_at_its_date_owes_nothing_yet() -> None:
    assert next_card(node(), DUE) is None
    assert next_card(node(), DUE - timedelta(days=2)) is None


def test_a_deadline_passing_undone_raises_yellow() -> None:
    assert next_card(node(), DUE + MINUTE) == YELLOW


def test_work_done_late_before_anyone_noticed_raises_yellow_not_green() -> None:
    assert next_card(node(done_at=DUE + MINUTE), DUE + timedelta(hours=1)) == YELLOW


def test_a_yellow_without_a_recommitment_never_turns_red() -> None:
    assert next_card(yellow(), DUE + timedelta(days=200)) is None


def test_work_done_after_a_yellow_without_a_recommitment_leaves_the_yellow_standing() -> None:
    assert next_card(yellow(done_at=DUE + timedelta(days=3)), DUE + timedelta(days=4)) is None


def test_a_recommitment_awaiting_approval_past_its_date_raises_no_red_yet() -> None:
    pending = yellow(recommitted_due=NEW_DUE)
    assert next_card(pending, NEW_DUE + timedelta(days=5)) is None
    assert card_due_at(pending) is None


def test_a_recommitment_approved_after_its_date_has_passed_raises_red_at_once() -> None:
    late_approval = yellow(recommitted_due=NEW_DUE, recommit_approved=True)
    assert next_card(late_approval, NEW_DUE + timedelta(days=1)) == RED


def test_a_missed_recommitted_deadline_raises_red() -> None:
    assert next_card(approved(), NEW_DUE + MINUTE) == RED


def test_the_recommitted_deadline_itself_is_still_in_time() -> None:
    assert next_card(approved(), NEW_DUE) is None
    assert next_card(approved(done_at=NEW_DUE), NEW_DUE + timedelta(days=1)) is None


def test_work_done_by_the_recommitted_date_raises_no_red() -> None:
    kept = approved(done_at=NEW_DUE - timedelta(days=1))
    assert next_card(kept, NEW_DUE + timedelta(days=30)) is None
    assert card_due_at(kept) is None


def test_work_done_after_the_recommitted_date_raises_red() -> None:
    assert next_card(approved(done_at=NEW_DUE + MINUTE), NEW_DUE + timedelta(days=1)) == RED


def test_a_recommitment_pending_when_the_work_is_done_in_time_then_approved_raises_no_red() -> None:
    done = yellow(recommitted_due=NEW_DUE, done_at=NEW_DUE - MINUTE)
    assert next_card(replace(done, recommit_approved=True), NEW_DUE + timedelta(days=1)) is None


def test_a_recorded_card_is_not_owed_again() -> None:
    now = DUE + timedelta(days=1)
    assert next_card(recorded(node(done_at=DUE), GREEN), now) is None
    assert next_card(recorded(node(), YELLOW), now) is None
    after = NEW_DUE + timedelta(days=1)
    assert next_card(recorded(approved(), RED), after) is None


def test_a_green_is_final_even_if_the_work_is_reopened() -> None:
    assert next_card(node(cards=(GREEN,)), DUE + timedelta(days=30)) is None


def test_a_moment_in_another_zone_is_compared_as_the_same_instant() -> None:
    just_before = (DUE - MINUTE).astimezone(UTC)
    assert next_card(node(), just_before) is None
    assert next_card(node(), (DUE + MINUTE).astimezone(ZoneInfo("Europe/Berlin"))) == YELLOW


def test_cards_loaded_as_plain_strings_become_colours() -> None:
    assert node(cards=("yellow", "red"), recommitted_due=NEW_DUE, recommit_approved=True).cards == (
        YELLOW,
        RED,
    )


@pytest.mark.parametrize("cards", [(GREEN, YELLOW), (RED,), (YELLOW, YELLOW), (GREEN, GREEN)])
def test_cards_cannot_be_recorded_out_of_order_or_twice(cards: tuple[Colour, ...]) -> None:
    with pytest.raises(ValueError, match="order"):
        node(cards=cards)


def test_an_approved_recommitment_needs_a_date() -> None:
    with pytest.raises(ValueError, match="date"):
        node(recommit_approved=True)


def test_naive_moments_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        Deadline("claim", datetime(2026, 3, 9, 17, 30))
    with pytest.raises(ValueError, match="naive"):
        next_card(node(), datetime(2026, 3, 9, 17, 30))


# --- when the sweep should look again ------------------------------------------------------


def test_an_open_deadline_is_looked_at_after_its_date_in_utc() -> None:
    due_at = card_due_at(node())
    assert due_at == DUE
    assert due_at is not None and due_at.tzinfo is UTC


def test_an_approved_yellow_is_looked_at_after_its_recommitted_date() -> None:
    assert card_due_at(approved()) == NEW_DUE


def test_a_deadline_with_no_card_left_to_come_is_never_looked_at() -> None:
    assert card_due_at(yellow()) is None
    assert card_due_at(node(done_at=DUE, cards=(GREEN,))) is None
    assert card_due_at(approved(cards=(YELLOW, RED))) is None


def test_work_done_but_not_yet_carded_is_looked_at_already() -> None:
    assert card_due_at(node(done_at=DUE - timedelta(days=1))) == DUE - timedelta(days=1)
    assert card_due_at(node(done_at=DUE + timedelta(days=1))) == DUE
    assert card_due_at(approved(done_at=NEW_DUE + timedelta(days=1))) == NEW_DUE


HOURS = st.integers(min_value=-2000, max_value=2000).map(lambda h: DUE + timedelta(hours=h))


@st.composite
def deadlines_and_now(draw: st.DrawFn) -> tuple[Deadline, datetime]:
    now = draw(HOURS)
    done_at = draw(st.one_of(st.none(), HOURS.filter(lambda d: d <= now)))
    recommitted_due = draw(st.one_of(st.none(), HOURS))
    approved = recommitted_due is not None and draw(st.booleans())
    cards = draw(st.sampled_from([(), (GREEN,), (YELLOW,), (YELLOW, RED)]))
    return Deadline("node", DUE, recommitted_due, approved, done_at, cards), now


@given(deadlines_and_now())
def test_a_card_is_owed_after_card_due_at_and_never_before(case: tuple[Deadline, datetime]) -> None:
    deadline, now = case
    due_at = card_due_at(deadline)
    if due_at is None:
        assert next_card(deadline, now) is None
    elif now > due_at:
        assert next_card(deadline, now) is not None
    elif now < due_at:
        assert next_card(deadline, now) is None


@given(deadlines_and_now())
def test_recording_every_card_owed_gives_at_most_one_of_each_and_never_green_after_yellow(
    case: tuple[Deadline, datetime],
) -> None:
    deadline, now = replace(case[0], cards=()), case[1]
    while (card := next_card(deadline, now)) is not None:
        deadline = recorded(deadline, card)
    assert deadline.cards in {(), (GREEN,), (YELLOW,), (YELLOW, RED)}


# --- re-committing a missed deadline -------------------------------------------------------

NOW = DUE + timedelta(days=1)
GOOD = Recommit("the land survey was delayed by rain", NEW_DUE)


def test_a_yellow_deadline_may_be_recommitted_with_a_reason_and_a_future_date() -> None:
    assert check_recommit(yellow(), GOOD, NOW) is None


def test_a_pending_recommitment_may_be_replaced() -> None:
    assert check_recommit(yellow(recommitted_due=NEW_DUE), GOOD, NOW) is None


def test_only_a_yellow_deadline_may_be_recommitted() -> None:
    assert check_recommit(node(), GOOD, NOW) == RecommitProblem.NOT_YELLOW
    assert check_recommit(node(done_at=DUE, cards=(GREEN,)), GOOD, NOW) == (
        RecommitProblem.NOT_YELLOW
    )


def test_an_approved_recommitment_cannot_be_changed() -> None:
    assert check_recommit(approved(), GOOD, NOW) == RecommitProblem.ALREADY_APPROVED
    red = approved(cards=(YELLOW, RED))
    assert check_recommit(red, GOOD, NEW_DUE + MINUTE) == RecommitProblem.ALREADY_APPROVED


def test_work_already_done_needs_no_recommitment() -> None:
    assert check_recommit(yellow(done_at=NOW), GOOD, NOW) == RecommitProblem.ALREADY_DONE


@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_a_recommitment_needs_a_reason(reason: str) -> None:
    assert check_recommit(yellow(), Recommit(reason, NEW_DUE), NOW) == RecommitProblem.NO_REASON


def test_a_reason_may_be_500_characters_but_not_more() -> None:
    assert check_recommit(yellow(), Recommit("x" * 500, NEW_DUE), NOW) is None
    too_long = Recommit("x" * 501, NEW_DUE)
    assert check_recommit(yellow(), too_long, NOW) == RecommitProblem.REASON_TOO_LONG


def test_blanks_around_a_reason_do_not_count_towards_its_length() -> None:
    assert check_recommit(yellow(), Recommit(" " + "x" * 500 + "\n", NEW_DUE), NOW) is None


def test_the_new_date_must_lie_in_the_future() -> None:
    assert check_recommit(yellow(), Recommit("rain", NOW), NOW) == RecommitProblem.NOT_IN_FUTURE
    assert check_recommit(yellow(), Recommit("rain", NOW + MINUTE), NOW) is None


def test_the_new_date_may_be_at_most_90_days_after_the_original() -> None:
    limit = DUE + timedelta(days=90)
    assert check_recommit(yellow(), Recommit("rain", limit), NOW) is None
    too_far = Recommit("rain", limit + MINUTE)
    assert check_recommit(yellow(), too_far, NOW) == RecommitProblem.TOO_FAR


def test_the_longest_delay_is_a_parameter() -> None:
    in_two_weeks = Recommit("rain", DUE + timedelta(days=14))
    assert check_recommit(yellow(), in_two_weeks, NOW, max_delay=timedelta(days=30)) is None
    assert check_recommit(yellow(), in_two_weeks, NOW, max_delay=timedelta(days=7)) == (
        RecommitProblem.TOO_FAR
    )
