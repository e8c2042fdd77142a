"""The digest's chart: on-time rates by category and the cards raised, as one PNG.

matplotlib with the Agg backend (no screen). Chinese labels need a CJK font; without one the
chart still renders (the glyphs show as boxes) and a warning is logged once.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Sequence
from functools import cache

import matplotlib

matplotlib.use("Agg")

from matplotlib import font_manager
from matplotlib import pyplot as plt

log = logging.getLogger(__name__)

# Fonts with Chinese glyphs, as Debian and other systems name them, best first.
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "AR PL UMing CN",
)
COLOURS = {"green": "#2e9d4f", "yellow": "#e0b020", "red": "#d03a2f"}


@cache
def cjk_font() -> str | None:
    """The first CJK-capable font installed, or None (logged once)."""
    installed = {font.name for font in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in installed:
            return name
    log.warning("no CJK font installed (e.g. Debian's fonts-noto-cjk): chart labels lose Chinese")
    return None


def digest_chart(
    labels: dict[str, str],
    categories: Sequence[tuple[str, float | None]],
    cards: dict[str, int],
) -> bytes:
    """A PNG: on-time rate (%) per category on the left, cards by colour on the right."""
    font = cjk_font()
    families = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    with plt.rc_context({"font.sans-serif": families}), warnings.catch_warnings():
        # Without a CJK font matplotlib warns once per missing glyph; the log line above says it.
        warnings.simplefilter("ignore", UserWarning)
        figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
        names = [name for name, _ in categories] or [labels["none"]]
        rates = [100 * rate if rate is not None else 0 for _, rate in categories] or [0]
        left.barh(names, rates, color="#3b6fb6")
        left.set_xlim(0, 100)
        left.set_title(labels["on_time"])
        left.invert_yaxis()
        colours = ["green", "yellow", "red"]
        right.bar(
            [labels[c] for c in colours],
            [cards.get(c, 0) for c in colours],
            color=[COLOURS[c] for c in colours],
        )
        right.set_title(labels["cards"])
        figure.suptitle(labels["title"])
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        plt.close(figure)
    return buffer.getvalue()
