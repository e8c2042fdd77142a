import re
from html.parser import HTMLParser
from typing import Any

import pytest
from jinja2 import UndefinedError

from models.texts import LANGUAGES, MESSAGE_LIMIT, render, split_message, template_keys

# Parameters that make every template render; a new template must add what it needs here.
SAMPLE: dict[str, Any] = {
    "name": "张三 <script>",
    "commands": ["start", "help", "whoami"],
    "telegram_id": 42,
    "roles": ["admin", "official"],
    "department": "供电公司",
    "firm": "皖药集团",
    "language": "zh_CN",
    "command": "grant",
    "role": "official",
    "granted": True,
    "ref": "@nobody",
    "title": "医药企业群",
    "reason": "Forbidden: bot was kicked",
    "number": "Q-2026-0001",
    "status": "claimed",
    "category": "utilities",
    "text": "厂区经常停电",
    "verified": False,
    "assists": ["人社局"],
    "routing_reason": "停电 → 供电公司",
    "claim_by": "2026-03-02 17:30",
    "close_by": "2026-03-09 09:00",
    "claimed_by": "赵电力",
    "answer": "已安排抢修",
    "close_kind": "confirmed",
    "reopen_count": 1,
    "private": False,
    "question": "停电怎么办",
    "official": "赵电力",
    "days": 3,
    "files": 2,
    "what": "claimed",
    "limit": 2000,
    "length": 2345,
    "n": 5,
    "issues": [{"number": "Q-2026-0001", "status": "routed", "due": "03-02 17:30", "text": "停电"}],
    "entries": [{"at": "03-02 09:00", "actor": "陈药企", "action": "issue_reported", "note": None}],
    "here": False,
    "origin": "医药企业群",
    "topic": "utilities",
    "words": "停电",
    "hits": [
        {
            "number": "Q-2026-0001",
            "question": "停电怎么办",
            "answer": "已抢修",
            "department": "供电公司",
            "score": 0.8,
            "issue_id": 1,
        }
    ],
    "industries": ["医药", "花茶"],
    "categories": ["financing", "utilities"],
    "outcome": "subscribed",
    "topics": ["医药", "labour"],
    "count": 7,
    "groups": 4,
    "people": 3,
    "title_limit": 300,
    "text_limit": 3000,
    "months": [{"month": "2026-03", "policies": 2, "recipients": 14, "delivered": 12}],
}


class _Balance(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"unbalanced </{tag}>"
        self.stack.pop()


def assert_balanced(html: str) -> None:
    parser = _Balance()
    parser.feed(html)
    assert parser.stack == []


def test_both_languages_have_the_same_templates() -> None:
    assert template_keys("zh_CN") == template_keys("en")
    assert "start" in template_keys("en")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("key", template_keys("zh_CN"))
def test_every_template_renders_in_every_language(key: str, language: str) -> None:
    text = render(key, language, SAMPLE)
    assert text.strip()
    assert "<script>" not in text
    assert_balanced(text)


def test_parameters_are_html_escaped() -> None:
    assert "张三 &lt;script&gt;" in render("start", "zh_CN", {"name": "张三 <script>"})


def test_a_missing_parameter_is_an_error_not_a_blank() -> None:
    with pytest.raises(UndefinedError):
        render("start", "en", {})


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="language"):
        render("start", "fr", SAMPLE)


def test_short_messages_are_not_split() -> None:
    assert split_message("hello") == ["hello"]


def test_long_messages_split_at_line_breaks_within_the_limit() -> None:
    lines = [f"第{i}行 " + "字" * 50 for i in range(300)]
    parts = split_message("\n".join(lines))
    assert len(parts) > 1
    assert all(len(part) <= MESSAGE_LIMIT for part in parts)
    assert "\n".join(parts).split("\n") == lines


def test_a_split_never_cuts_a_tag_or_an_entity_and_reopens_what_was_open() -> None:
    body = " ".join(['<i>x</i> &amp; <a href="https://e.example/">link</a>'] * 400)
    html = "<b>" + body + "</b>"
    parts = split_message(html)
    assert len(parts) > 1
    for part in parts:
        assert len(part) <= MESSAGE_LIMIT
        assert_balanced(part)
        assert not re.search(r"&[a-z]*$", part.rstrip("</b>"))
        assert part.startswith("<b>")


def test_one_endless_word_is_cut_hard() -> None:
    parts = split_message("x" * 10_000)
    assert "".join(parts) == "x" * 10_000
    assert all(len(part) <= MESSAGE_LIMIT for part in parts)
