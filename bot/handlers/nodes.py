"""(being written)"""

from __future__ import annotations

from bot.edge import NodeApplication


def register(application: NodeApplication) -> None:
    """Nothing yet."""
