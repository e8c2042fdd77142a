"""The unified social credit code (统一社会信用代码) of GB 32100-2015: checking one as typed.

Layout of the 18 characters (1-based positions):
  1      registration authority (1-9, A, N, Y)
  2      organisation category
  3-8    administrative division (GB/T 2260, digits)
  9-17   organisation code (GB 11714), whose 9th character is its own check character
  18     check character over positions 1-17

Only a wrong final check character is refused. The inner GB 11714 check is reported in
`organisation_code_ok` but not enforced, because codes carried over from old organisation
codes sometimes fail it and are still valid registrations.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(CHARSET)}
# 3**i mod 31: every weight differs from its neighbour, so any swap of two adjacent
# characters among positions 1-17 changes the check character.
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
AUTHORITIES = "123456789ANY"

_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


class CreditCodeProblem(enum.Enum):
    """Why a code was refused; the words for the user live in the templates."""

    EMPTY = "empty"
    WRONG_LENGTH = "wrong_length"
    BAD_CHARACTER = "bad_character"
    BAD_CHECK_DIGIT = "bad_check_digit"


@dataclass(frozen=True)
class CreditCodeCheck:
    """The outcome of `validate_credit_code`.

    `position` is the 1-based place of the first bad character (BAD_CHARACTER only);
    `expected_check` is the check character positions 1-17 call for (BAD_CHECK_DIGIT only);
    `organisation_code_ok` is False whenever the code is too broken to compute it.
    """

    ok: bool
    normalised: str
    reason: CreditCodeProblem | None = None
    expected_check: str | None = None
    organisation_code_ok: bool = False
    position: int | None = None


def normalise_credit_code(text: str) -> str:
    """Full-width to half-width, all whitespace removed (codes are pasted with spaces), upper."""
    return "".join(_half_width(c) for c in text if not c.isspace()).upper()


def credit_check_char(first17: str) -> str:
    """The GB 32100 check character (position 18) for 17 characters of the charset."""
    if len(first17) != 17 or any(c not in _VALUE for c in first17):
        raise ValueError(f"need 17 characters from {CHARSET}: {first17!r}")
    total = sum(_VALUE[c] * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def organisation_check_char(first8: str) -> str:
    """The GB 11714 check character for the first 8 characters of an organisation code."""
    if len(first8) != 8 or not all(c.isascii() and c.isalnum() and not c.islower() for c in first8):
        raise ValueError(f"need 8 digits or capital letters: {first8!r}")
    total = sum(int(c, 36) * w for c, w in zip(first8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def make_credit_code(first17: str) -> str:
    """The 18-character code: `first17` (normalised) with its check character appended."""
    first17 = normalise_credit_code(first17)
    return first17 + credit_check_char(first17)


def validate_credit_code(text: str) -> CreditCodeCheck:
    """Check a code as a user typed it: empty, length, characters, then the check character."""
    code = normalise_credit_code(text)
    if not code:
        return CreditCodeCheck(False, code, CreditCodeProblem.EMPTY)
    if len(code) != 18:
        return CreditCodeCheck(False, code, CreditCodeProblem.WRONG_LENGTH)
    bad = _first_bad_position(code)
    if bad is not None:
        return CreditCodeCheck(False, code, CreditCodeProblem.BAD_CHARACTER, position=bad)
    organisation = code[8:17]
    organisation_ok = organisation_check_char(organisation[:8]) == organisation[8]
    expected = credit_check_char(code[:17])
    if code[17] != expected:
        return CreditCodeCheck(
            False,
            code,
            CreditCodeProblem.BAD_CHECK_DIGIT,
            expected_check=expected,
            organisation_code_ok=organisation_ok,
        )
    return CreditCodeCheck(True, code, organisation_code_ok=organisation_ok)


def _first_bad_position(code: str) -> int | None:
    for index, char in enumerate(code):
        if char not in _VALUE:
            return index + 1
        if index == 0 and char not in AUTHORITIES:
            return 1
        if 2 <= index <= 7 and not char.isdigit():
            return index + 1
    return None


def _half_width(char: str) -> str:
    # Only the full-width ASCII block (the ideographic space is whitespace, already dropped):
    # NFKC would also turn circled digits and the like into characters the user never typed.
    code = ord(char)
    if 0xFF01 <= code <= 0xFF5E:
        return chr(code - 0xFEE0)
    return char
