"""Template parameters for the big screen (merged into `samples.SAMPLE`): the figures as
`models.services.screen.figures` returns them, with every branch the board shows."""

from __future__ import annotations

from typing import Any


def _standing(position: int, name: str, on_time: float | None, stars: float | None) -> Any:
    return {
        "name": name,
        "points": 2.5,
        "green": 3,
        "yellow": 1,
        "red": 0,
        "on_time": on_time,
        "satisfaction": stars,
        "position": position,
    }


def _overdue(card: str | None, kind: str, minutes: int) -> dict[str, Any]:
    return {
        "subject": "node" if kind == "node" else "issue",
        "kind": kind,
        "label": "Q-2026-0001 · 厂区经常停电 <script>",
        "department": "供电公司",
        "card": card,
        "due": "03-02 17:30",
        "late_minutes": minutes,
    }


SAMPLE: dict[str, Any] = {
    "screen": {
        "updated": "2026-03-10 09:00:00",
        "year": 2026,
        "month": 3,
        "totals": {
            "month": {"reported": 12, "open": 4, "closed": 9},
            "all": {"reported": 340, "open": 17, "closed": 323},
        },
        "cards": {"green": 30, "yellow": 5, "red": 1},
        "nodes": [
            {"category": "工业项目 <b>", "done": 1, "total": 3, "percent": 33},
            {"category": "construction", "done": 2, "total": 2, "percent": 100},
        ],
        "overdue": [
            _overdue("red", "close", 3 * 1440 + 120),
            _overdue("yellow", "claim#1", 2 * 1440),
            _overdue(None, "stage:受理", 90),
            _overdue(None, "node", 60),
            _overdue("yellow", "node", 25),
        ],
        "overdue_count": 27,
        "ranking": [
            _standing(1, "供电公司", 0.75, 4.5),
            _standing(2, "人社局 <i>", None, None),
        ],
        "closures": [
            {
                "number": "Q-2026-0007",
                "department": "供电公司",
                "closed_at": "03-05 09:00",
                "text": "园区道路年久失修 <script>",
                "rating": 5,
            },
            {
                "number": "Q-2026-0004",
                "department": None,
                "closed_at": "03-03 09:00",
                "text": None,
                "rating": None,
            },
        ],
    },
    "screen_board": "<header>the board, rendered from screen_board</header>",
    "screen_refresh": 30,
    "screen_style": "body { color: #fff; }",
    "screen_script": "void 0;",
    "screen_nonce": "n0nce",
    "screen_failed": True,
}
