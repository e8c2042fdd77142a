from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from models.rules.cards import Colour
from models.rules.scoring import (
    LedgerEntry,
    PointsPolicy,
    Rating,
    Standing,
    Tally,
    Weights,
    period_bounds,
    points_for,
    rank,
    red_black_lists,
    tally,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
GREEN, YELLOW, RED = Colour.GREEN, Colour.YELLOW, Colour.RED
AT = datetime(2026, 3, 10, 9, 0, tzinfo=SHANGHAI)
NO_WEIGHTS = Weights()


def sh(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SHANGHAI)


def entry(
    unit: str, colour: Colour, points: float, person: str | None = None, at: datetime = AT
) -> LedgerEntry:
    return LedgerEntry(unit, person, points, colour, at)


def standing(name: str, points: float, position: int, red: int = 0) -> Standing:
    return Standing(name, points, 0, 0, red, None, None, position)


# --- points for one card -------------------------------------------------------------------


def test_by_default_green_earns_a_point_yellow_nothing_and_red_costs_one() -> None:
    scores = [points_for(c, 1.0, None, None, {}, NO_WEIGHTS) for c in (GREEN, YELLOW, RED)]
    assert scores == [1.0, 0.0, -1.0]


def test_a_category_policy_overrides_the_general_one() -> None:
    policies = {None: PointsPolicy(), "land": PointsPolicy(green=2.0, yellow=-0.5, red=-3.0)}
    assert points_for(YELLOW, 1.0, "land", None, policies, NO_WEIGHTS) == -0.5
    assert points_for(RED, 1.0, "land", None, policies, NO_WEIGHTS) == -3.0


def test_a_category_without_a_policy_falls_back_to_the_general_one() -> None:
    policies = {None: PointsPolicy(yellow=-0.5), "land": PointsPolicy(green=2.0)}
    assert points_for(YELLOW, 1.0, "labour", None, policies, NO_WEIGHTS) == -0.5
    assert points_for(YELLOW, 1.0, None, None, policies, NO_WEIGHTS) == -0.5


def test_points_multiply_the_item_category_and_unit_kind_weights() -> None:
    weights = Weights({"industrial": 1.5}, {"township": 0.8})
    assert points_for(GREEN, 2.0, "industrial", "township", {}, weights) == 2.4
    assert points_for(RED, 2.0, "industrial", "township", {}, weights) == -2.4


def test_unlisted_categories_and_unit_kinds_weigh_the_default() -> None:
    weights = Weights({"industrial": 1.5}, {"township": 0.8}, default=0.5)
    assert points_for(GREEN, 1.0, "livelihood", None, {}, weights) == 0.25
    assert points_for(GREEN, 1.0, None, "department", {}, weights) == 0.25


def test_points_are_rounded_to_two_decimals() -> None:
    assert points_for(GREEN, 1.0, "x", None, {}, Weights({"x": 1 / 3})) == 0.33


def test_a_zero_weight_deduction_is_plain_zero() -> None:
    points = points_for(RED, 0.0, None, None, {}, NO_WEIGHTS)
    assert points == 0.0
    assert str(points) == "0.0"


@pytest.mark.parametrize("weight", [-1.0, float("nan"), float("inf")])
def test_nonsense_weights_are_refused(weight: float) -> None:
    with pytest.raises(ValueError, match="weight"):
        Weights({"x": weight}, {})
    with pytest.raises(ValueError, match="weight"):
        points_for(GREEN, weight, None, None, {}, NO_WEIGHTS)


@pytest.mark.parametrize(
    "policy", [{"green": -1.0}, {"yellow": 0.5}, {"red": 1.0}, {"red": float("nan")}]
)
def test_a_policy_that_rewards_lateness_is_refused(policy: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="points"):
        PointsPolicy(**policy)


# --- totals --------------------------------------------------------------------------------


def test_a_tally_counts_cards_and_sums_points_without_float_noise() -> None:
    entries = [entry("power", GREEN, 0.1), entry("power", GREEN, 0.2), entry("power", YELLOW, 0)]
    assert tally(entries) == [Tally("power", 0.3, green=2, yellow=1)]


def test_the_on_time_rate_is_greens_among_deadlines_met_or_missed() -> None:
    entries = [
        entry("power", GREEN, 1),
        entry("power", YELLOW, 0),
        entry("power", RED, -1),
        entry("power", GREEN, 1),
        entry("power", GREEN, 1),
    ]
    (power,) = tally(entries)
    assert power.on_time_rate == 0.75


def test_satisfaction_is_the_mean_of_the_stars() -> None:
    ratings = [Rating("power", None, 5, AT), Rating("power", None, 4, AT)]
    (power,) = tally([], ratings)
    assert (power.satisfaction, power.on_time_rate, power.points) == (4.5, None, 0.0)


def test_a_rating_has_one_to_five_stars() -> None:
    for stars in (0, 6):
        with pytest.raises(ValueError, match="stars"):
            Rating("power", None, stars, AT)


def test_cards_loaded_as_plain_strings_are_counted() -> None:
    (power,) = tally([LedgerEntry("power", None, 1.0, "green", AT)])  # type: ignore[arg-type]
    assert power.green == 1


def test_by_person_leaves_out_what_no_person_owned() -> None:
    entries = [entry("power", GREEN, 1, person="zhao"), entry("power", RED, -1)]
    assert [t.name for t in tally(entries, by="person")] == ["zhao"]
    assert tally(entries, by="person")[0].points == 1.0


def test_only_what_happened_within_the_period_counts() -> None:
    start, end = sh(2026, 3, 1), sh(2026, 4, 1)
    entries = [
        entry("power", GREEN, 1, at=start),
        entry("power", GREEN, 1, at=end - timedelta(seconds=1)),
        entry("power", GREEN, 1, at=end),
        entry("power", GREEN, 1, at=start - timedelta(seconds=1)),
    ]
    assert tally(entries, within=(start, end))[0].green == 2


def test_named_units_with_nothing_to_count_are_listed_with_nothing() -> None:
    totals = tally([entry("power", GREEN, 1)], names=["water", "power"])
    assert totals == [Tally("power", 1.0, green=1), Tally("water")]


# --- the table -----------------------------------------------------------------------------


def test_most_points_rank_first() -> None:
    table = rank([entry("water", GREEN, 1), entry("power", GREEN, 2), entry("land", RED, -1)])
    assert [(s.name, s.position) for s in table] == [("power", 1), ("water", 2), ("land", 3)]


def test_equal_points_are_separated_by_the_on_time_rate() -> None:
    entries = [
        entry("water", GREEN, 1),
        entry("water", YELLOW, 0),
        entry("power", GREEN, 1),
    ]
    assert [s.name for s in rank(entries)] == ["power", "water"]


def test_no_on_time_rate_ranks_below_any_rate() -> None:
    entries = [entry("water", YELLOW, 0)]
    table = rank(entries, names=["power"])
    assert [(s.name, s.on_time_rate) for s in table] == [("water", 0.0), ("power", None)]


def test_then_fewer_reds_rank_higher() -> None:
    entries = [
        entry("water", YELLOW, 0),
        entry("water", RED, 0),
        entry("power", YELLOW, 0),
    ]
    assert [s.name for s in rank(entries)] == ["power", "water"]


def test_equals_share_a_position_and_the_next_skips() -> None:
    entries = [
        entry("water", GREEN, 1),
        entry("power", GREEN, 1),
        entry("land", GREEN, 1),
        entry("land", YELLOW, 0),
        entry("gas", RED, -1),
    ]
    table = rank(entries)
    assert [(s.name, s.position) for s in table] == [
        ("power", 1),
        ("water", 1),
        ("land", 3),
        ("gas", 4),
    ]


def test_a_standing_carries_the_totals() -> None:
    ratings = [Rating("power", None, 3, AT)]
    (power,) = rank([entry("power", GREEN, 1.5), entry("power", YELLOW, 0)], ratings)
    assert power == Standing("power", 1.5, 1, 1, 0, 0.5, 3.0, 1)


# --- periods -------------------------------------------------------------------------------


def test_a_month_runs_from_the_first_local_midnight_to_the_next() -> None:
    # 31 March 20:00 in UTC is already 1 April in the county.
    now = datetime(2026, 3, 31, 20, 0, tzinfo=UTC)
    start, end = period_bounds("month", now, SHANGHAI)
    assert (start, end) == (sh(2026, 4, 1), sh(2026, 5, 1))
    assert start.tzinfo is UTC and end.tzinfo is UTC


def test_december_ends_at_the_new_year() -> None:
    assert period_bounds("month", sh(2026, 12, 31, 23, 59), SHANGHAI) == (
        sh(2026, 12, 1),
        sh(2027, 1, 1),
    )


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        (sh(2026, 1, 1), sh(2026, 1, 1), sh(2026, 4, 1)),
        (sh(2026, 5, 15), sh(2026, 4, 1), sh(2026, 7, 1)),
        (sh(2026, 9, 30, 23, 59), sh(2026, 7, 1), sh(2026, 10, 1)),
        (sh(2026, 11, 2), sh(2026, 10, 1), sh(2027, 1, 1)),
    ],
)
def test_quarters_are_calendar_quarters(now: datetime, start: datetime, end: datetime) -> None:
    assert period_bounds("quarter", now, SHANGHAI) == (start, end)


def test_a_year_is_the_local_calendar_year() -> None:
    assert period_bounds("year", sh(2026, 7, 1), SHANGHAI) == (sh(2026, 1, 1), sh(2027, 1, 1))


def test_an_unknown_period_is_refused() -> None:
    with pytest.raises(ValueError, match="period"):
        period_bounds("week", AT, SHANGHAI)  # type: ignore[arg-type]


# --- red and black lists -------------------------------------------------------------------


def test_the_red_list_is_the_best_three_and_the_black_list_the_worst_three() -> None:
    table = [standing(name, 10 - i, i + 1) for i, name in enumerate("abcdefgh")]
    best, worst = red_black_lists(table)
    assert [s.name for s in best] == ["a", "b", "c"]
    assert [s.name for s in worst] == ["h", "g", "f"]


def test_with_few_units_no_one_is_on_both_lists() -> None:
    table = [standing(name, 10 - i, i + 1) for i, name in enumerate("abcde")]
    best, worst = red_black_lists(table)
    assert [s.name for s in best] == ["a", "b"]
    assert [s.name for s in worst] == ["e", "d"]


def test_a_single_unit_is_on_neither_list() -> None:
    assert red_black_lists([standing("a", 1, 1)]) == ([], [])


def test_a_tie_across_the_cut_is_left_off_whole() -> None:
    table = [
        standing("a", 9, 1),
        standing("b", 8, 2),
        standing("c", 7, 3),
        standing("d", 7, 3),
        standing("e", 5, 5),
        standing("f", 4, 6),
        standing("g", 4, 6),
        standing("h", 4, 6),
        standing("i", 1, 9),
    ]
    best, worst = red_black_lists(table)
    assert [s.name for s in best] == ["a", "b"]
    assert [s.name for s in worst] == ["i"]


def test_when_everyone_is_equal_no_one_is_listed() -> None:
    table = [standing(name, 0, 1) for name in "abcdef"]
    assert red_black_lists(table) == ([], [])


def test_the_list_size_is_a_parameter() -> None:
    table = rank([entry(name, GREEN, i) for i, name in enumerate("abcdef")])
    best, worst = red_black_lists(table, size=1)
    assert ([s.name for s in best], [s.name for s in worst]) == (["f"], ["a"])
