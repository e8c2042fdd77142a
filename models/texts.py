"""Every user-facing text comes from templates/<language>/<key>.j2, rendered here; the words
the bot reads in commands and messages from templates/<language>/keywords.toml."""

from __future__ import annotations

import html
import re
import tomllib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from jinja2.ext import Extension

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
LANGUAGES = ("zh_CN", "en")
MESSAGE_LIMIT = 4096


_BLOCK_ONLY_LINE = re.compile(r"^\s*(\{%(?:(?!%\}).)*%\}\s*)+$")


class BlockLines(Extension):
    """A line holding only block tags leaves no line break; any other line keeps its own.

    Jinja's trim_blocks would also eat the break after an inline `{% endif %}` that ends a line
    of text, gluing it to the next line; this keeps the template's lines as they are written.
    """

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        lines = source.split("\n")
        return (
            "".join(line if _BLOCK_ONLY_LINE.match(line) else line + "\n" for line in lines[:-1])
            + lines[-1]
        )


@lru_cache(maxsize=4)
def environment(root: Path = TEMPLATES) -> Environment:
    # Messages go out with parse_mode=HTML, so every value is escaped unless marked safe.
    return Environment(
        loader=FileSystemLoader(root),
        autoescape=True,
        undefined=StrictUndefined,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        extensions=[BlockLines],
    )


def render(key: str, language: str, params: Mapping[str, Any] | None = None) -> str:
    """The text of message `key` in `language`, with HTML-escaped parameters."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}")
    template = environment().get_template(f"{language}/{key}.j2")
    return template.render(**(params or {})).strip()


@lru_cache
def keywords(name: str) -> frozenset[str]:
    """The words that mean `name` (publish, clear, issue_tag …), case-folded, in every language:
    a person may type either language's word whatever the chat's language."""
    words: set[str] = set()
    for language in LANGUAGES:
        with (TEMPLATES / language / "keywords.toml").open("rb") as file:
            words.update(word.casefold() for word in tomllib.load(file)[name])
    return frozenset(words)


def is_keyword(word: str, name: str) -> bool:
    return word.casefold() in keywords(name)


_ANY_TAG = re.compile(r"<[^>]+>")
CALLBACK_ANSWER_LIMIT = 200


def plain(html_text: str, limit: int = CALLBACK_ANSWER_LIMIT) -> str:
    """Rendered HTML as plain text, for places Telegram shows no markup (button answers)."""
    text = html.unescape(_ANY_TAG.sub("", html_text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def template_keys(language: str) -> list[str]:
    root = TEMPLATES / language
    # Files whose names start with "_" hold macros, not messages.
    return sorted(
        str(p.relative_to(root).with_suffix(""))
        for p in root.rglob("*.j2")
        if not p.name.startswith("_")
    )


_TAG = re.compile(r"<(/?)([a-zA-Z-]+)([^>]*)>")
_TOKEN = re.compile(r"(<[^>]*>|&[#a-zA-Z0-9]+;)")


def split_message(html: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Cut an HTML message into parts of at most `limit` characters.

    Cuts at line breaks where it can, then at spaces, never inside a tag or an entity; a tag open
    at a cut is closed at the end of one part and opened again at the start of the next.
    """
    if len(html) <= limit:
        return [html]
    # Room for the closing and reopening tags each part may need.
    budget = max(limit - 256, limit // 2)
    parts: list[str] = []
    reopen = ""
    rest = html
    while rest:
        room = budget - len(reopen)
        if len(rest) <= room:
            parts.append(reopen + rest)
            break
        cut = _cut_point(rest, room)
        piece, rest = rest[:cut], rest[cut:].lstrip("\n")
        open_tags = _open_tags(reopen + piece)
        closers = "".join(f"</{name}>" for name, _ in reversed(open_tags))
        parts.append(reopen + piece.rstrip() + closers)
        reopen = "".join(f"<{name}{attrs}>" for name, attrs in open_tags)
    return parts


def _cut_point(text: str, room: int) -> int:
    window = text[:room]
    for separator in ("\n", " "):
        at = window.rfind(separator)
        if at > room // 2:
            return _outside_tokens(text, at + 1)
    return _outside_tokens(text, room)


def _outside_tokens(text: str, at: int) -> int:
    """Move a cut back so that it does not fall inside a tag or an entity."""
    for match in _TOKEN.finditer(text, max(0, at - 300), at + 300):
        if match.start() < at < match.end():
            return match.start()
    return at


def _open_tags(html: str) -> list[tuple[str, str]]:
    stack: list[tuple[str, str]] = []
    for closing, name, attrs in _TAG.findall(html):
        if not closing:
            stack.append((name, attrs))
        elif stack and stack[-1][0] == name:
            stack.pop()
    return stack
