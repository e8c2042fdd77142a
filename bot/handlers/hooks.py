"""Where other parts plug into the one handler that sees every plain message.

Telegram sends a photo's caption without command entities, so "/progress N-3 60" under a photo
reaches the message handler, not a CommandHandler; and a question the bot asked (a dialogue) is
answered by the person's next plain message. Each part registers its own here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.edge import Turn
from models.tables import Dialogue

# Dialogue kind → what continues it with the person's text.
Continuation = Callable[[Turn, Dialogue, str], Awaitable[None]]
CONTINUATIONS: dict[str, Continuation] = {}

# Command name (without the slash) → what handles a captioned photo or document with it; the
# handler gets the caption's text after the command.
CaptionCommand = Callable[[Turn, str], Awaitable[None]]
CAPTION_COMMANDS: dict[str, CaptionCommand] = {}


def caption_command(text: str) -> tuple[str, str] | None:
    """("progress", "N-3 60 浇筑完成") for "/progress@bot N-3 60 浇筑完成", if registered."""
    if not text.startswith("/"):
        return None
    head, _, rest = text[1:].partition(" ")
    name = head.split("@", 1)[0].lower()
    return (name, rest.strip()) if name in CAPTION_COMMANDS else None
