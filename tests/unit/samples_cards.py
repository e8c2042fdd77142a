"""Template parameters for the deadline, card and re-commitment templates."""

from __future__ import annotations

from typing import Any

_ITEM = {
    "deadline": "node",
    "label": "N-7 产业园 · 完成土地征收",
    "due": "2026-03-09 17:30",
    "new_due": "2026-03-13 17:30",
    "reason": "材料未到 <b>",
    "department": "自然资源局",
    "done": None,
}

SAMPLE: dict[str, Any] = {
    "items": [
        {**_ITEM, "kind": kind}
        for kind in (
            "before_due",
            "yellow",
            "recommit_needed",
            "approval_needed",
            "red",
            "red_leader",
        )
    ]
    + [
        {**_ITEM, "kind": "red", "deadline": d, "new_due": None}
        for d in ("claim#1", "close", "stage:到场")
    ],
    "label": _ITEM["label"],
    "due": _ITEM["due"],
    "new_due": _ITEM["new_due"],
    "by": "李四",
    "approved": False,
    "note": "理由不充分",
    "step": "proposed",
    "usage": "/recommit N-7 2026-03-13 材料未到",
    "carded": [{"deadline": "claim#1", "colour": "yellow"}, {"deadline": "close", "colour": "red"}],
}
