"""Template parameters for the calendar, scoring and ranking templates (merged into
`samples.SAMPLE`)."""

from __future__ import annotations

from typing import Any

_STANDING = {
    "name": "供电公司 <b>",
    "points": -1.5,
    "green": 2,
    "yellow": 1,
    "red": 1,
    "on_time": 2 / 3,
    "satisfaction": 4.5,
    "position": 1,
}

SAMPLE: dict[str, Any] = {
    "calendar_command": "holiday",
    "calendar_value": "2026-02-30 <i>",
    "calendar_reason": "out_of_range",
    "calendar_day": "2026-04-30",
    "calendar_limit": 200,
    "calendar_earliest": "2025-03-01",
    "calendar_latest": "2028-03-02",
    "calendar_change": "updated",
    "calendar_exception": {
        "day": "2026-04-30",
        "weekday": 3,
        "working": False,
        "note": "县庆 <b>",
    },
    "calendar_exceptions": [
        {"day": "2026-04-30", "weekday": 3, "working": False, "note": "县庆"},
        {"day": "2026-05-09", "weekday": 5, "working": True, "note": ""},
    ],
    "calendar_hours": ["08:30-12:00", "14:30-17:30"],
    "calendar_zone": "Asia/Shanghai",
    "calendar_years": {"first": 2004, "last": 2026},
    "scoring_command": "setpoints",
    "scoring_categories": ["financing", "land"],
    "scoring_reason": "unknown_department",
    "scoring_value": "供水 <b>",
    "scoring_limit": 100.0,
    "scoring_known": ["供电公司", "人社局"],
    "scoring_change": "created",
    "scoring_points": {"category": "land", "green": 2.0, "yellow": -0.5, "red": -3.0},
    "scoring_weight": {"scope": "unit_kind", "key": "乡镇", "weight": 1.25},
    "scoring_units": 0,
    "scoring_kind": {"department": "供电公司", "kind": "国企", "previous": "部门", "weight": 1.2},
    "ranking_period": "quarter",
    "ranking_year": 2026,
    "ranking_month": 1,
    "ranking_quarter": 1,
    "ranking_from": "2026-01-01",
    "ranking_to": "2026-03-31",
    "ranking_departments": [
        _STANDING,
        {**_STANDING, "name": "人社局", "points": 0.0, "green": 0, "yellow": 0, "red": 0}
        | {"on_time": None, "satisfaction": None, "position": 2},
    ],
    "ranking_officials": [{**_STANDING, "name": "赵电力"}],
}
