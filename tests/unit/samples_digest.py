"""Template parameters for the leaders' digest and red/black lists."""

from __future__ import annotations

from typing import Any

_STANDING = {
    "name": "县供电公司",
    "points": 3.5,
    "on_time_rate": 0.75,
    "red": 1,
    "satisfaction": 4.5,
}

SAMPLE: dict[str, Any] = {
    "digest_since": "2026-03-01 08:30",
    "digest_now": "2026-03-02 08:30",
    "digest_new": 5,
    "digest_claimed": 4,
    "digest_closed": 3,
    "digest_overdue": 2,
    "digest_cards": {"green": 6, "yellow": 2, "red": 1},
    "digest_on_time": [
        {"category": "utilities", "green": 3, "settled": 4, "rate": 0.75},
        {"category": "工业项目", "green": 0, "settled": 0, "rate": None},
    ],
    "digest_behind": [{"department": "县人社局", "overdue": 2}],
    "digest_supervised": ["Q-2026-0003 · 技工招不到 <b>"],
    "digest_supervised_count": 1,
    "digest_rating": 4.5,
    "digest_ratings": 2,
    "lists_kind": "quarter",
    "lists_from": "2026-01-01",
    "lists_to": "2026-03-31",
    "lists_red": [{**_STANDING, "position": 1}],
    "lists_black": [{**_STANDING, "name": "县人社局", "on_time_rate": None, "position": 6}],
}
