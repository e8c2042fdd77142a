"""Counters for benchmarks: what the bot asked for and what it was answered."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Stats:
    calls: Counter[str] = field(default_factory=Counter)
    responses: Counter[int] = field(default_factory=Counter)
    messages_accepted: int = 0
    # Messages accepted in private chats, and when the first and the last were (monotonic
    # seconds of the sandbox process): a benchmark's delivery rate as Telegram would see it.
    private_accepted: int = 0
    first_private_at: float | None = None
    last_private_at: float | None = None
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

    def accepted(self, is_private: bool) -> None:
        """Count one message the bot sent that was accepted."""
        self.messages_accepted += 1
        if is_private:
            now = time.monotonic()
            self.private_accepted += 1
            if self.first_private_at is None:
                self.first_private_at = now
            self.last_private_at = now

    @property
    def too_many_requests(self) -> int:
        return self.rate_limited + self.injected_flood

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": dict(sorted(self.calls.items())),
            "total_calls": sum(self.calls.values()),
            "responses": {str(code): n for code, n in sorted(self.responses.items())},
            "messages_accepted": self.messages_accepted,
            "private_accepted": self.private_accepted,
            "first_private_at": self.first_private_at,
            "last_private_at": self.last_private_at,
            "too_many_requests": self.too_many_requests,
            "rate_limited": self.rate_limited,
            "injected_flood": self.injected_flood,
            "injected_server_errors": self.injected_server_errors,
            "injected_timeouts": self.injected_timeouts,
            "updates_queued": self.updates_queued,
            "webhook_deliveries": self.webhook_deliveries,
            "webhook_failures": self.webhook_failures,
        }
