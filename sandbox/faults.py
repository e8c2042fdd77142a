"""Fault injection: random and one-shot failures for Bot API calls."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, get_args

FaultKind = Literal["server_error", "timeout", "flood"]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)


@dataclass(frozen=True)
class FaultConfig:
    """Per-request probabilities; one random draw per request picks at most one fault."""

    server_error_rate: float = 0.0
    server_error_codes: tuple[int, ...] = (500, 502)
    timeout_rate: float = 0.0
    # How long a "timed out" request is held before it is answered; longer than the
    # client's read timeout, or the client sees no timeout at all.
    timeout_seconds: float = 10.0
    # Whether a timed-out send was carried out anyway: Telegram may deliver a message
    # whose response never reached the bot, which is what makes blind retries duplicate.
    timeout_delivered: bool = False
    flood_rate: float = 0.0
    flood_retry_after: int = 5
    # Lower-cased method names the random faults apply to; None means every method.
    methods: frozenset[str] | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["server_error_codes"] = list(self.server_error_codes)
        data["methods"] = sorted(self.methods) if self.methods is not None else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultConfig:
        known = {f.name for f in fields(cls)} | {"seed"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        methods = data.get("methods")
        rates = [
            float(data.get(n, 0.0)) for n in ("server_error_rate", "timeout_rate", "flood_rate")
        ]
        if any(r < 0 for r in rates) or sum(rates) > 1:
            raise ValueError("fault rates must be >= 0 and add up to at most 1")
        return cls(
            server_error_rate=rates[0],
            server_error_codes=tuple(int(c) for c in data.get("server_error_codes", (500, 502))),
            timeout_rate=rates[1],
            timeout_seconds=float(data.get("timeout_seconds", 10.0)),
            timeout_delivered=bool(data.get("timeout_delivered", False)),
            flood_rate=rates[2],
            flood_retry_after=int(data.get("flood_retry_after", 5)),
            methods=frozenset(m.lower() for m in methods) if methods is not None else None,
        )


@dataclass(frozen=True)
class OneShotFault:
    """A fault for the next request that matches method (and chat_id, when given)."""

    kind: FaultKind
    method: str | None = None
    chat_id: int | None = None
    status: int = 500
    retry_after: int = 5
    timeout_seconds: float | None = None
    delivered: bool | None = None

    def matches(self, method: str, chat_id: int | None) -> bool:
        if self.method is not None and self.method.lower() != method.lower():
            return False
        return self.chat_id is None or self.chat_id == chat_id

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OneShotFault:
        kind = data.get("kind")
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {list(FAULT_KINDS)}")
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        return cls(**data)


@dataclass(frozen=True)
class Fault:
    """What to do to one request."""

    kind: FaultKind
    status: int = 500
    retry_after: int = 5
    hold_seconds: float = 0.0
    delivered: bool = False


class FaultInjector:
    def __init__(self, seed: int | None = None) -> None:
        self.config = FaultConfig()
        self.pending: list[OneShotFault] = []
        self._random = random.Random(seed)

    def configure(self, config: FaultConfig, seed: int | None = None) -> None:
        self.config = config
        if seed is not None:
            self._random.seed(seed)

    def clear(self) -> None:
        self.config = FaultConfig()
        self.pending.clear()

    def draw(self, method: str, chat_id: int | None) -> Fault | None:
        config = self.config
        for index, queued in enumerate(self.pending):
            if queued.matches(method, chat_id):
                del self.pending[index]
                return Fault(
                    kind=queued.kind,
                    status=queued.status,
                    retry_after=queued.retry_after,
                    hold_seconds=(
                        queued.timeout_seconds
                        if queued.timeout_seconds is not None
                        else config.timeout_seconds
                    ),
                    delivered=(
                        queued.delivered
                        if queued.delivered is not None
                        else config.timeout_delivered
                    ),
                )
        if config.methods is not None and method.lower() not in config.methods:
            return None
        roll = self._random.random()
        if roll < config.server_error_rate:
            return Fault("server_error", status=self._random.choice(config.server_error_codes))
        roll -= config.server_error_rate
        if roll < config.timeout_rate:
            return Fault(
                "timeout",
                hold_seconds=config.timeout_seconds,
                delivered=config.timeout_delivered,
            )
        roll -= config.timeout_rate
        if roll < config.flood_rate:
            return Fault("flood", retry_after=config.flood_retry_after)
        return None
