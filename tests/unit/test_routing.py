from models.rules.routing import Rule, find_issue_number, issue_number, parse_issue_number, route

POWER, HR, LAND, GAS = 1, 2, 3, 4
RULES = [
    Rule(1, ("用电", "停电", "电力"), "utilities", POWER),
    Rule(2, ("招工", "用工"), "labour", HR),
    Rule(3, ("土地", "用地"), "land", LAND, assists=(POWER, LAND)),
    Rule(4, ("用电报装",), "utilities", POWER, assists=(GAS,)),
    Rule(5, ("天然气",), "utilities", GAS, industry="茶叶"),
    Rule(6, ("电",), "utilities", GAS, priority=10),
]


def test_a_keyword_in_the_text_places_the_problem_and_says_which() -> None:
    routing = route("我们厂区经常停电，影响生产", "工业", RULES[:3])
    assert (routing.category, routing.lead, routing.keyword, routing.rule_id) == (
        "utilities",
        POWER,
        "停电",
        1,
    )


def test_nothing_matching_goes_to_the_coordinator() -> None:
    routing = route("想咨询一下出口退税", "医药", RULES)
    assert not routing.placed
    assert routing.category == "other"


def test_the_longest_keyword_wins_among_equals() -> None:
    routing = route("新厂房用电报装进度慢", None, RULES[:5])
    assert (routing.rule_id, routing.assists) == (4, (GAS,))


def test_a_lower_priority_number_wins_over_length() -> None:
    assert route("新厂房用电报装进度慢", None, RULES).rule_id == 6


def test_industry_rules_apply_only_to_their_industry() -> None:
    assert route("天然气接入", "茶叶", RULES[:5]).lead == GAS
    assert not route("天然气接入", "医药", RULES[:5]).placed


def test_the_lead_is_not_also_an_assistant() -> None:
    assert route("用地审批", None, RULES[:3]).assists == (POWER,)


def test_full_width_and_case_do_not_matter() -> None:
    rules = [Rule(1, ("ERP",), "sales", 9)]
    assert route("ｅｒｐ系统对接", None, rules).lead == 9


def test_issue_numbers_round_trip() -> None:
    assert issue_number(2026, 1) == "Q-2026-0001"
    assert issue_number(2026, 12345) == "Q-2026-12345"
    assert parse_issue_number(" q-2026-1 ") == "Q-2026-0001"
    assert parse_issue_number("Ｑ-2026-0007") == "Q-2026-0007"
    for bad in ("", "Q-26-1", "Q-2026-", "X-2026-1", "Q-2026-0", "Q-2026-1-2", "Q-abcd-1"):
        assert parse_issue_number(bad) is None


def test_a_card_shows_its_number() -> None:
    assert find_issue_number("📋 Q-2026-0012 · in hand") == "Q-2026-0012"
    assert find_issue_number("no number, only XQ-2026-0001X") is None
