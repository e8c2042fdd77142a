"""The web chat page: one self-contained HTML file on top of the control API."""

from __future__ import annotations

from functools import cache
from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse


@cache
def _page() -> str:
    return resources.files(__package__).joinpath("webchat.html").read_text(encoding="utf-8")


async def webchat_page(request: Request) -> HTMLResponse:
    return HTMLResponse(_page())
