"""The issue categories routing rules, service policies and cards speak of.

Their display names live in the templates (the `category_label` macro of each `_macros.j2`).
"""

from __future__ import annotations

OTHER = "other"

# The order cards, usage texts and reports list them in.
CATEGORIES: tuple[str, ...] = (
    "financing",
    "utilities",
    "labour",
    "subsidies",
    "land",
    "property",
    "construction",
    "sales",
    OTHER,
)


def is_category(text: str) -> bool:
    return text in CATEGORIES
