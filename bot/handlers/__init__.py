"""Handlers, one module per part of the product; `register` wires them in order."""

from __future__ import annotations

from bot.edge import NodeApplication
from bot.handlers import basic


def register(application: NodeApplication) -> None:
    basic.register_commands(application)
    # Catch-alls last: unknown commands, plain private text, stale buttons.
    basic.register_fallbacks(application)
