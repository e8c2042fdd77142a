"""Template parameters for the ledger's caption, usage and refusal."""

from __future__ import annotations

from typing import Any

SAMPLE: dict[str, Any] = {
    "ledger_period": "quarter",
    "ledger_year": 2026,
    "ledger_month": 1,
    "ledger_quarter": 1,
    "ledger_from": "2026-01-01",
    "ledger_to": "2026-03-31",
    "ledger_as_of": "2026-03-02 09:00",
    "ledger_issues": 3,
    "ledger_nodes": 1,
    "ledger_cards": 4,
    "ledger_points": 4,
}
