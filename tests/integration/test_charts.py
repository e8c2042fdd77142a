"""The digest's chart renders with or without a font for Chinese."""

from __future__ import annotations

import logging

import pytest

from models.services import charts

LABELS = {
    "title": "政企直通车每日简报",
    "on_time": "本月按时办结率（%）",
    "cards": "亮牌",
    "none": "暂无",
    "green": "绿牌",
    "yellow": "黄牌",
    "red": "红牌",
}


def test_the_chart_is_a_png() -> None:
    png = charts.digest_chart(LABELS, [("水电气", 0.75), ("劳务用工", None)], {"green": 3})
    assert png.startswith(b"\x89PNG") and len(png) > 5000


def test_without_a_cjk_font_the_chart_still_renders_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(charts, "CJK_FONTS", ("No Such Font SC",))
    charts.cjk_font.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="models.services.charts"):
            png = charts.digest_chart(LABELS, [], {})
    finally:
        charts.cjk_font.cache_clear()
    assert png.startswith(b"\x89PNG")
    assert "no CJK font" in caplog.text
