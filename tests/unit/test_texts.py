import re
import tomllib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from jinja2 import UndefinedError

from models.texts import (
    LANGUAGES,
    MESSAGE_LIMIT,
    TEMPLATES,
    environment,
    is_keyword,
    keywords,
    plain,
    render,
    split_message,
    template_keys,
)
from tests.unit.samples import SAMPLE


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


def test_lines_of_text_keep_their_breaks_and_lines_of_tags_leave_none(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "t.j2").write_text(
        "{% if a %}\nA: {{ a }}{% if b %} (b){% endif %}\n{% endif %}\nnext\n", encoding="utf-8"
    )
    template = environment(tmp_path).get_template("en/t.j2")
    assert template.render(a=1, b=True) == "A: 1 (b)\nnext"
    assert template.render(a=0, b=False) == "next"


def test_button_answers_are_plain_text_within_telegrams_limit() -> None:
    assert plain("<b>Q-2026-0001</b> &amp; co") == "Q-2026-0001 & co"
    assert len(plain("x" * 500)) == 200


def test_every_language_names_the_same_keywords_and_either_language_s_word_is_read() -> None:
    names = [
        set(tomllib.loads((TEMPLATES / lang / "keywords.toml").read_text())) for lang in LANGUAGES
    ]
    assert all(found == names[0] for found in names)
    assert keywords("publish") == {"publish", "发布"}
    assert is_keyword("PUBLISH", "publish") and is_keyword("取消", "clear")
    assert not is_keyword("month", "publish")
