import pytest

from models.rules.creditcode import (
    CHARSET,
    CreditCodeProblem,
    credit_check_char,
    make_credit_code,
    organisation_check_char,
    validate_credit_code,
)

# Codes published on business licences, which pass both checks.
PUBLIC_CODES = ["91350100M000100Y43", "91440300708461136T", "914403001922038216"]
# A demo firm in a county of Anhui (division 341122), built the way demo data builds them.
DEMO = make_credit_code("91341122" + "MA2TX6B1" + organisation_check_char("MA2TX6B1"))


@pytest.mark.parametrize("code", [*PUBLIC_CODES, DEMO])
def test_valid_codes_pass(code: str) -> None:
    check = validate_credit_code(code)
    assert check.ok
    assert check.normalised == code
    assert check.reason is None
    assert check.expected_check is None
    assert check.organisation_code_ok


def test_the_check_character_worked_by_hand() -> None:
    # Positions 1-17 of 91350100M000100Y4 (M = 21, Y = 30 in the charset) weighted
    # 1, 3, 9, 27, ... sum to 1640; 1640 % 31 = 28, and 31 - 28 = 3.
    assert credit_check_char("91350100M000100Y4") == "3"
    assert make_credit_code("91350100M000100Y4") == "91350100M000100Y43"
    # GB 11714: M000100Y weighted 3, 7, 9, 10, 5, 8, 4, 2 is 139; 11 - 139 % 11 = 4.
    assert organisation_check_char("M000100Y") == "4"


def test_the_organisation_check_maps_ten_to_x_and_eleven_to_zero() -> None:
    assert organisation_check_char("00000000") == "0"  # 11 - 0 = 11
    assert organisation_check_char("00000006") == "X"  # 11 - 12 % 11 = 10
    assert organisation_check_char("00000003") == "5"  # 11 - 6 = 5


def test_make_credit_code_normalises_and_refuses_bad_input() -> None:
    assert make_credit_code("91350100m000100y4") == "91350100M000100Y43"
    with pytest.raises(ValueError):
        make_credit_code("91350100M000100Y")  # 16 characters
    with pytest.raises(ValueError):
        make_credit_code("91350100M000100I4")  # I is not in the charset


@pytest.mark.parametrize("text", ["", "   ", "\u3000"])
def test_empty(text: str) -> None:
    check = validate_credit_code(text)
    assert not check.ok
    assert check.reason is CreditCodeProblem.EMPTY


@pytest.mark.parametrize("text", ["91350100M000100Y4", "91350100M000100Y433", "9135"])
def test_wrong_length(text: str) -> None:
    check = validate_credit_code(text)
    assert not check.ok
    assert check.reason is CreditCodeProblem.WRONG_LENGTH


@pytest.mark.parametrize(
    "text",
    [
        "91350100m000100y43",  # lower case
        "９１３５０１００Ｍ０００１００Ｙ４３",  # full width, as Chinese input methods type it
        "９１３５０１００ｍ０００１００ｙ４３",  # full-width lower case
        "  91350100M000100Y43\n",
        "9135 0100 M000 100Y 43",  # pasted in groups
        "91350100\u3000M000100Y43",  # an ideographic space
    ],
)
def test_input_is_normalised(text: str) -> None:
    check = validate_credit_code(text)
    assert check.ok
    assert check.normalised == "91350100M000100Y43"


@pytest.mark.parametrize("letter", list("IOZSV"))
def test_letters_outside_the_charset_are_refused(letter: str) -> None:
    code = "91350100M" + letter + "00100Y43"
    check = validate_credit_code(code)
    assert not check.ok
    assert check.reason is CreditCodeProblem.BAD_CHARACTER
    assert check.position == 10
    assert letter not in CHARSET


@pytest.mark.parametrize(
    ("code", "position"),
    [
        ("B1350100M000100Y43", 1),  # B is no registration authority
        ("01350100M000100Y43", 1),
        ("9135A100M000100Y43", 5),  # the division code is digits only
        ("91350100M000-00Y43", 13),
        ("9135010０M000100Y4？", 18),  # full-width '?' becomes '?', still not allowed
    ],
)
def test_other_bad_characters_say_where(code: str, position: int) -> None:
    check = validate_credit_code(code)
    assert check.reason is CreditCodeProblem.BAD_CHARACTER
    assert check.position == position


def test_a_wrong_check_character_says_what_was_expected() -> None:
    check = validate_credit_code("91350100M000100Y44")
    assert not check.ok
    assert check.reason is CreditCodeProblem.BAD_CHECK_DIGIT
    assert check.expected_check == "3"
    assert check.organisation_code_ok  # the body is fine; only the last character is off


def test_a_failing_inner_organisation_check_is_not_a_refusal() -> None:
    # Old organisations carried their organisation code over, check mistakes and all.
    code = make_credit_code("91350100M000100Y5")
    check = validate_credit_code(code)
    assert check.ok
    assert not check.organisation_code_ok


@pytest.mark.parametrize("code", [*PUBLIC_CODES, DEMO])
def test_every_single_changed_character_is_detected(code: str) -> None:
    for index in range(18):
        for char in CHARSET:
            if char == code[index]:
                continue
            changed = code[:index] + char + code[index + 1 :]
            check = validate_credit_code(changed)
            assert not check.ok, changed
            # Outside positions 1 and 3-8 (which have their own rules) it is the check digit.
            if index == 1 or index >= 8:
                assert check.reason is CreditCodeProblem.BAD_CHECK_DIGIT, changed
                expected_unchanged = index == 17
                assert (check.expected_check == code[17]) is expected_unchanged, changed


@pytest.mark.parametrize("code", [*PUBLIC_CODES, DEMO])
def test_every_transposition_is_detected_except_first_with_last(code: str) -> None:
    # The weights are powers of 3 modulo 31 and the check character acts as weight 1, so
    # two different characters swapped anywhere change the sum, except positions 1 and 18,
    # which both weigh 1.
    for i in range(18):
        for j in range(i + 1, 18):
            if code[i] == code[j] or (i, j) == (0, 17):
                continue
            swapped = list(code)
            swapped[i], swapped[j] = swapped[j], swapped[i]
            assert not validate_credit_code("".join(swapped)).ok, (i + 1, j + 1)


def test_swapping_the_first_and_last_character_is_the_blind_spot() -> None:
    code = "914403001922038216"
    swapped = code[17] + code[1:17] + code[0]
    assert swapped == "614403001922038219"
    # 6 is a registration authority too (tourism), so nothing else gives the swap away.
    assert validate_credit_code(swapped).ok
