"""Counters for benchmarks: what the bot asked for and what it was answered."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Stats:
    calls: Counter[str] = field(default_factory=Counter)
    responses: Counter[int] = field(default_factory=Counter)
    messages_accepted: int = 0
    rate_limited: int = 0
    injected_flood: int = 0
    injected_server_errors: int = 0
    injected_timeouts: int = 0
    updates_queued: int = 0
    webhook_deliveries: int = 0
    webhook_failures: int = 0

    def reset(self) -> None:
        # In place, because the update queue and the webhook hold this object.
        vars(self).update(vars(Stats()))

    @property
    def too_many_requests(self) -> int:
        return self.rate_limited + self.injected_flood

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": dict(sorted(self.calls.items())),
            "total_calls": sum(self.calls.values()),
            "responses": {str(code): n for code, n in sorted(self.responses.items())},
            "messages_accepted": self.messages_accepted,
            "too_many_requests": self.too_many_requests,
            "rate_limited": self.rate_limited,
            "injected_flood": self.injected_flood,
            "injected_server_errors": self.injected_server_errors,
            "injected_timeouts": self.injected_timeouts,
            "updates_queued": self.updates_queued,
            "webhook_deliveries": self.webhook_deliveries,
            "webhook_failures": self.webhook_failures,
        }
