"""Template parameters for the project, node and timeline templates (merged into
`samples.SAMPLE`); their names are their own, so that they never clash with another part's."""

from __future__ import annotations

from typing import Any

_NODE = {
    "ref": "N-7",
    "project": "经开区标准化厂房 <b>",
    "title": "完成土地征收",
    "department": "自然资源局",
    "owner": "赵电力",
    "deadline": "2026-03-20 17:30",
    "new_due": None,
    "weight": 3,
    "closing_standard": "取得用地批复，土地交付施工单位",
    "status": "requested",
    "progress": 60,
    "cards": [],
    "done_at": None,
}
_PROJECT = {
    "name": "经开区标准化厂房 <b>",
    "category": "工业项目",
    "department": "县营商办",
    "leader": "周县长",
    "chat": "厂房项目群",
    "nodes": 3,
    "open": 1,
    "requested": 1,
    "done": 1,
}

SAMPLE: dict[str, Any] = {
    "usage_command": "addnode",
    "refusal": {
        "reason": "unknown_project",
        "ref": "N-7",
        "value": "厂房",
        "limit": 100,
        "known": ["经开区标准化厂房"],
        "status": "done",
        "name": "赵电力",
    },
    "project_view": _PROJECT,
    "project_list": [_PROJECT, {**_PROJECT, "name": "老旧小区改造", "leader": None, "chat": None}],
    "node_view": _NODE,
    "timeline_rows": [
        {**_NODE, "status": "done", "progress": 100, "done_at": "2026-03-19 16:00"}
        | {"cards": ["green"]},
        {**_NODE, "ref": "N-8", "status": "open", "cards": ["yellow", "red"]}
        | {"new_due": "2026-03-27 17:30"},
        _NODE,
    ],
    "node_action": "progress",
    "node_event": "progress",
    "node_note": "主体已完成 <i>",
    "evidence": {
        "kind": "photo",
        "file_name": None,
        "text": "现场照片",
        "progress": 60,
        "by": "赵电力",
        "at": "2026-03-10 10:00",
    },
    "return_reason": "缺少用地批复 <script>",
    "late": True,
    "node_accepted": False,
}
