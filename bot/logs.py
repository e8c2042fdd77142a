"""Logging that never shows the bot token, even inside URLs and tracebacks."""

from __future__ import annotations

import logging
import re

# Bot API URLs carry the token (…/bot123456:ABC…/sendMessage); so can exception texts.
_TOKEN_SHAPE = re.compile(r"\d{3,}:[A-Za-z0-9_-]{20,}")


class RedactingFormatter(logging.Formatter):
    def __init__(self, *secrets: str) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.secrets = [secret for secret in secrets if secret]

    def format(self, record: logging.LogRecord) -> str:
        text = _TOKEN_SHAPE.sub("<token>", super().format(record))
        for secret in self.secrets:
            text = text.replace(secret, "<secret>")
        return text


def setup(level: int = logging.INFO, *secrets: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter(*secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
