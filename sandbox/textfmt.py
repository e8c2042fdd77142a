"""Message text: Telegram's HTML parse mode, entity detection, and safe HTML for the web chat.

Telegram measures entity offsets and lengths in UTF-16 code units, so every offset here
is one too.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from .errors import ApiError, bad_request

Entity = dict[str, Any]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# Tag -> entity type, as listed under "HTML style" in the Bot API documentation.
_HTML_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


class _ParseError(Exception):
    pass


@dataclass
class _OpenTag:
    tag: str
    attrs: dict[str, str | None]
    offset: int
    language: str | None = None


class _TelegramHTMLParser(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        self.parts: list[str] = []
        self.entities: list[Entity] = []
        self.utf16_offset = 0
        self.stack: list[_OpenTag] = []
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", source)]

    def _byte_offset(self) -> int:
        line, column = self.getpos()
        index = self._line_starts[line - 1] + column
        return len(self.source[:index].encode())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag not in _HTML_TAGS or (tag == "span" and attributes.get("class") != "tg-spoiler"):
            raise _ParseError(f'Unsupported start tag "{tag}" at byte offset {self._byte_offset()}')
        self.stack.append(_OpenTag(tag, attributes, self.utf16_offset))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack:
            raise _ParseError(f"Unexpected end tag at byte offset {self._byte_offset()}")
        opened = self.stack.pop()
        if opened.tag != tag:
            raise _ParseError(
                f"Unmatched end tag at byte offset {self._byte_offset()}, "
                f'expected "</{opened.tag}>", found "</{tag}>"'
            )
        length = self.utf16_offset - opened.offset
        css_class = opened.attrs.get("class") or ""
        parent = self.stack[-1] if self.stack else None
        # <pre><code class="language-x"> is one pre entity with a language, not two entities.
        if tag == "code" and parent and parent.tag == "pre" and css_class.startswith("language-"):
            parent.language = css_class.removeprefix("language-")
            return
        if length <= 0:
            return
        entity: Entity = {"type": _HTML_TAGS[tag], "offset": opened.offset, "length": length}
        if tag == "a":
            href = opened.attrs.get("href")
            if not href:
                return
            entity["url"] = href
        elif tag == "pre" and opened.language:
            entity["language"] = opened.language
        elif tag == "blockquote" and "expandable" in opened.attrs:
            entity["type"] = "expandable_blockquote"
        elif tag == "tg-emoji":
            entity["custom_emoji_id"] = opened.attrs.get("emoji-id") or ""
        self.entities.append(entity)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
        self.utf16_offset += utf16_len(data)


def parse_html(source: str) -> tuple[str, list[Entity]]:
    """Turn Telegram-flavoured HTML into plain text and entities, as the Bot API does."""
    parser = _TelegramHTMLParser(source)
    try:
        parser.feed(source)
        parser.close()
        if parser.stack:
            raise _ParseError(
                f'Can\'t find end tag corresponding to start tag "{parser.stack[-1].tag}"'
            )
    except _ParseError as err:
        raise bad_request(f"can't parse entities: {err}") from None
    entities = sorted(parser.entities, key=lambda e: (e["offset"], -e["length"]))
    return "".join(parser.parts), entities


def format_text(
    text: str, parse_mode: str | None, entities: list[Entity] | None
) -> tuple[str, list[Entity]]:
    """Apply a send method's parse_mode/entities the way the Bot API does.

    Markdown and MarkdownV2 are accepted but kept verbatim (no entities): the bot under
    test speaks HTML, and a half-right Markdown parser would give false confidence.
    """
    mode = (parse_mode or "").lower()
    if mode == "html":
        return parse_html(text)
    if mode in ("", "markdown", "markdownv2"):
        return text, list(entities or [])
    raise bad_request(f"unsupported parse_mode {parse_mode}")


def check_length(text: str, limit: int, error: ApiError) -> None:
    # Telegram counts "characters"; counting UTF-16 units is at least as strict, so a bot
    # that fits here fits there.
    if utf16_len(text) > limit:
        raise error


_COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w@])")
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}(?!\w)")
_URL = re.compile(r"(?<!\S)https?://[^\s<>\"]+")


def detect_entities(text: str) -> list[Entity]:
    """The entities Telegram's clients attach to a plain text a user types."""
    found: list[Entity] = []
    for kind, pattern in (("bot_command", _COMMAND), ("mention", _MENTION), ("url", _URL)):
        for match in pattern.finditer(text):
            found.append(
                {
                    "type": kind,
                    "offset": utf16_len(text[: match.start()]),
                    "length": utf16_len(match.group()),
                }
            )
    return sorted(found, key=lambda e: (e["offset"], -e["length"]))


_SAFE_URL = re.compile(r"^(https?|tg|mailto):", re.IGNORECASE)


def _open_tag(entity: Entity, text_of: str) -> tuple[str, str]:
    kind = str(entity["type"])
    simple = {
        "bold": "b",
        "italic": "i",
        "underline": "u",
        "strikethrough": "s",
        "code": "code",
        "pre": "pre",
        "blockquote": "blockquote",
        "expandable_blockquote": "blockquote",
    }
    if kind in simple:
        tag = simple[kind]
        return f"<{tag}>", f"</{tag}>"
    if kind in ("text_link", "url"):
        url = str(entity.get("url", text_of)) if kind == "text_link" else text_of
        if _SAFE_URL.match(url):
            href = html.escape(url, quote=True)
            return f'<a href="{href}" target="_blank" rel="noopener noreferrer">', "</a>"
    css = {"spoiler": "spoiler", "bot_command": "command", "mention": "mention"}.get(kind, kind)
    return f'<span class="{html.escape(css, quote=True)}">', "</span>"


def to_safe_html(text: str, entities: list[Entity]) -> str:
    """Render text + entities as HTML built only from whitelisted tags and escaped text."""
    units = text.encode("utf-16-le")

    def slice16(start: int, end: int) -> str:
        return units[start * 2 : end * 2].decode("utf-16-le", errors="replace")

    spans = []
    for entity in sorted(entities, key=lambda e: (e["offset"], -e["length"])):
        start, end = entity["offset"], entity["offset"] + entity["length"]
        if 0 <= start < end <= len(units) // 2:
            spans.append((start, end, *_open_tag(entity, slice16(start, end))))
    out: list[str] = []
    stack: list[tuple[int, int, str, str]] = []
    position = 0
    boundaries = sorted({0, len(units) // 2, *(s[0] for s in spans), *(s[1] for s in spans)})
    for point in boundaries:
        out.append(html.escape(slice16(position, point), quote=False))
        position = point
        # Close what ends here; reopen anything that was closed only because of bad nesting.
        reopen: list[tuple[int, int, str, str]] = []
        while any(span[1] <= point for span in stack):
            span = stack.pop()
            out.append(span[3])
            if span[1] > point:
                reopen.append(span)
        for span in reversed(reopen):
            out.append(span[2])
            stack.append(span)
        for span in spans:
            if span[0] == point:
                out.append(span[2])
                stack.append(span)
    return "".join(out)
