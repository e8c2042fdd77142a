"""Handlers, one module per part of the product; `register` wires them in order."""

from __future__ import annotations

from bot.edge import NodeApplication
from bot.handlers import (
    basic,
    cards,
    county,
    digest,
    issues,
    knowledge,
    ledger,
    nodes,
    setup,
)


def register(application: NodeApplication) -> None:
    basic.register_commands(application)
    issues.register(application)
    knowledge.register(application)
    setup.register(application)
    nodes.register(application)
    cards.register(application)
    county.register(application)
    digest.register(application)
    ledger.register(application)
    # Catch-alls last: unknown commands, plain private text, stale buttons.
    basic.register_fallbacks(application)
