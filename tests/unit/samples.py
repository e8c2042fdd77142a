"""Parameters that make every template render; a new template adds what it needs here."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any

from models.rules.creditcode import make_credit_code
from models.services.setup import Flaw, Problem

CODE = make_credit_code("91341003MA2N0A1C3")

SAMPLE: dict[str, Any] = {
    "name": "张三 <script>",
    "commands": ["start", "help", "whoami"],
    "telegram_id": 42,
    "roles": ["admin", "official"],
    "department": "供电公司",
    "firm": "皖药集团",
    "language": "zh_CN",
    "command": "grant",
    "role": "official",
    "granted": True,
    "ref": "@nobody",
    "title": "医药企业群",
    "reason": "Forbidden: bot was kicked",
    "number": "Q-2026-0001",
    "status": "claimed",
    "category": "utilities",
    "text": "厂区经常停电",
    "verified": False,
    "assists": ["人社局"],
    "routing_reason": "停电 → 供电公司",
    "claim_by": "2026-03-02 17:30",
    "close_by": "2026-03-09 09:00",
    "claimed_by": "赵电力",
    "answer": "已安排抢修",
    "close_kind": "confirmed",
    "reopen_count": 1,
    "private": False,
    "question": "停电怎么办",
    "official": "赵电力",
    "days": 3,
    "files": 2,
    "what": "claimed",
    "limit": 2000,
    "length": 2345,
    "n": 5,
    "issues": [{"number": "Q-2026-0001", "status": "routed", "due": "03-02 17:30", "text": "停电"}],
    "entries": [{"at": "03-02 09:00", "actor": "陈药企", "action": "issue_reported", "note": None}],
    "here": False,
    "purpose": "industry",
    "origin": "医药企业群",
    "topic": "utilities",
    "words": "停电",
    "hits": [
        {
            "number": "Q-2026-0001",
            "question": "停电怎么办",
            "answer": "已抢修",
            "department": "供电公司",
            "score": 0.8,
            "issue_id": 1,
        }
    ],
    "industries": ["医药", "花茶"],
    "categories": ["financing", "utilities"],
    "outcome": "subscribed",
    "topics": ["医药", "labour"],
    "count": 7,
    "groups": 4,
    "people": 3,
    "title_limit": 300,
    "text_limit": 3000,
    "months": [{"month": "2026-03", "policies": 2, "recipients": 14, "delivered": 12}],
    "change": "created",
    "coordinator": True,
    "made_official": True,
    "industry": "医药",
    "tags": ["融资", "花卉"],
    "previous": "茶叶",
    "credit_code": CODE,
    "liaison": "郑包保",
    "to_liaison": False,
    "told": 1,
    "username": "chen",
    "accepted": True,
    "decided_by": "王营商",
    "rule": {
        "id": 3,
        "keywords": ["停电", "用电"],
        "category": "utilities",
        "lead": "供电公司",
        "assists": ["人社局"],
        "industry": "医药",
        "priority": 100,
    },
    "rules": [
        {
            "id": 3,
            "keywords": ["停电"],
            "category": "utilities",
            "lead": "供电公司",
            "assists": [],
            "industry": None,
            "priority": 5,
        }
    ],
    "policy": {"category": None, "priority": "urgent", "close_days": 1, "confirm_days": 1},
    "policies": [
        {"category": None, "priority": "normal", "close_days": 5, "confirm_days": 3},
        {"category": "utilities", "priority": "urgent", "close_days": 1, "confirm_days": 1},
    ],
    "ok": False,
    "dry_run": False,
    "source": "county.xlsx",
    "problems": [
        Problem(Flaw.DUPLICATE, section="firms", row=4, column="A", field="name", other=2).params(),
        Problem(Flaw.REQUIRED, section="people", index=0, field="name").params(),
    ],
    "counts": [{"section": "firms", "created": 2, "updated": 1}],
}
# Each part of the product keeps its own parameters in tests/unit/samples_<part>.py, found here
# by name; a key defined twice must agree.
for _module in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
    if _module.name.startswith("samples_"):
        _part = importlib.import_module(f"tests.unit.{_module.name}")
        for _key, _value in _part.SAMPLE.items():
            assert SAMPLE.setdefault(_key, _value) == _value, _key
