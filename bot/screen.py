"""The big screen (/screen): a read-only page of the county's figures for the government hall.

The token in NODEDESK_SCREEN_TOKEN is offered once, in the URL or through the login form; the
browser then holds a cookie derived from it, so the token leaves the address bar and the
history, and a new token signs every screen out. The page is rendered on the server, so it
shows the figures even without JavaScript; with it, it fetches /screen/data every
REFRESH_SECONDS and swaps in the board rendered there, from the same template.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import parse_qs

from markupsafe import Markup
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.edge import Edge
from models.services.screen import figures
from models.texts import render

COOKIE = "nodedesk_screen"
COOKIE_MAX_AGE = 365 * 24 * 3600  # the hall's display should not have to sign in again
REFRESH_SECONDS = 30
FORM_LIMIT = 4096  # bytes of a login form; a token field needs far less
# Relative (the script fetches "screen/data"), so the page also works under a proxy's prefix.
PAGE_URL = "screen"

HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

STYLE = """
* { box-sizing: border-box; margin: 0; padding: 0; }
/* 20px on a 1920x1080 display; everything is sized in rem, so the layout scales with it. */
html { font-size: min(1.0417vw, 1.852vh); background: #0b1020; color: #e8ecf5;
  font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei",
  sans-serif; font-variant-numeric: tabular-nums; }
body { height: 100vh; padding: 1rem 1.5rem; }
.board { height: 100%; display: flex; flex-direction: column; gap: 0.8rem; }
.top { display: flex; align-items: baseline; justify-content: space-between; }
.top h1 { font-size: 2rem; font-weight: 700; letter-spacing: 0.05em; }
.updated { font-size: 1.2rem; color: #8b95ad; }
.kpis { display: grid; grid-template-columns: repeat(9, 1fr); gap: 0.8rem; }
.kpi { background: #131a2e; border-radius: 0.6rem; padding: 0.5rem 0.9rem; }
.kpi .label { display: block; font-size: 1.05rem; color: #8b95ad; }
.kpi .value { display: block; font-size: 3rem; font-weight: 700; line-height: 1.15; }
.kpi.all { background: #10172a; }
.kpi.green .value { color: #2ecc71; }
.kpi.yellow .value { color: #f1c40f; }
.kpi.red .value { color: #ff5b4a; }
.columns { flex: 1; display: grid; grid-template-columns: 26rem 1fr 23rem; gap: 0.8rem; }
.stack { display: flex; flex-direction: column; gap: 0.8rem; }
.panel { background: #131a2e; border-radius: 0.6rem; padding: 0.6rem 1rem; }
.panel h2 { font-size: 1.3rem; color: #8fb4ff; margin-bottom: 0.3rem; font-weight: 600; }
.panel h2 .note { font-size: 1rem; color: #8b95ad; font-weight: 400; margin-left: 0.5rem; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; font-size: 1.05rem; }
th { text-align: left; font-weight: 400; color: #8b95ad; font-size: 0.9rem; padding: 0 0.3rem; }
td { height: 1.7rem; padding: 0 0.3rem; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; border-top: 1px solid #1f2840; }
.num { text-align: right; }
col.pos { width: 2.6rem; } col.pts { width: 3.6rem; } col.rate { width: 4.6rem; }
col.sat { width: 4.2rem; } col.bar { width: 7rem; } col.frac { width: 4.5rem; }
col.pct { width: 4rem; } col.card { width: 4.6rem; } col.dept { width: 7.5rem; }
col.due { width: 6.4rem; } col.by { width: 6.8rem; }
td[data-figure="due"] { font-size: 0.95rem; color: #8b95ad; }
.empty { color: #8b95ad; font-size: 1.1rem; padding: 0.4rem 0; }
.badge { display: inline-block; min-width: 2.6rem; text-align: center; border-radius: 0.3rem;
  font-size: 0.9rem; padding: 0 0.3rem; }
.badge.red { background: #ff5b4a; color: #fff; }
.badge.yellow { background: #f1c40f; color: #1a1a1a; }
.badge.none { border: 1px solid #8b95ad; color: #8b95ad; }
.late { color: #ff8a7a; }
.kind { color: #8b95ad; font-size: 0.85rem; margin-right: 0.3rem; }
meter { width: 100%; height: 0.9rem; }
meter::-webkit-meter-bar { background: #1f2840; border: none; border-radius: 0.3rem; }
meter::-webkit-meter-optimum-value { background: #2ecc71; border-radius: 0.3rem; }
.closures li { list-style: none; border-top: 1px solid #1f2840; padding: 0.25rem 0; }
.closures .head { font-size: 1.05rem; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
.closures .text { font-size: 0.9rem; color: #8b95ad; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
.closures .stars { color: #f1c40f; }
.stale-note { display: none; position: fixed; right: 1.5rem; bottom: 0.3rem; font-size: 1rem;
  color: #ff8a7a; }
[data-stale="true"] .stale-note { display: block; }
[data-stale="true"] .updated { color: #ff8a7a; }
body.login { display: flex; align-items: center; justify-content: center; }
.login form { background: #131a2e; border-radius: 0.8rem; padding: 2rem 2.5rem; width: 32rem;
  display: flex; flex-direction: column; gap: 1rem; }
.login h1 { font-size: 1.8rem; }
.login label { font-size: 1.2rem; color: #8b95ad; }
.login input, .login button { font: inherit; font-size: 1.3rem; padding: 0.5rem 0.8rem;
  border-radius: 0.4rem; border: 1px solid #2b3656; background: #0b1020; color: inherit; }
.login button { background: #2f6fdb; border: none; cursor: pointer; }
.login .error { color: #ff8a7a; font-size: 1.1rem; }
"""

SCRIPT = """
(function () {
  "use strict";
  var root = document.documentElement;
  var board = document.getElementById("board");
  var every = Number(root.getAttribute("data-refresh")) * 1000 || 30000;
  function overflows() {
    return root.scrollHeight > root.clientHeight || root.scrollWidth > root.clientWidth;
  }
  // Designed for 1920x1080; on a screen where it does not fit, shrink the type until it does.
  function fit() {
    root.style.fontSize = "";
    var size = parseFloat(getComputedStyle(root).fontSize);
    var percent = 100;
    while (overflows() && percent > 50) {
      percent -= 5;
      root.style.fontSize = (size * percent / 100) + "px";
    }
    root.setAttribute("data-scale", String(percent));
    root.setAttribute("data-fits", String(!overflows()));
  }
  function refresh() {
    fetch("screen/data", {
      credentials: "same-origin", cache: "no-store", headers: {"Accept": "application/json"}
    }).then(function (response) {
      if (response.status === 401) { location.reload(); return null; }
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    }).then(function (data) {
      if (data === null) { return; }
      board.innerHTML = data.board;
      root.setAttribute("data-stale", "false");
      fit();
    }).catch(function () {
      // Keep the last figures on the wall, marked as such, and try again next time.
      root.setAttribute("data-stale", "true");
    });
  }
  fit();
  window.addEventListener("resize", fit);
  setInterval(refresh, every);
})();
"""


def cookie_value(token: SecretStr) -> str:
    """What the browser keeps: derived from the token, never the token itself."""
    return hmac.new(
        token.get_secret_value().encode(), b"nodedesk screen cookie", hashlib.sha256
    ).hexdigest()


def routes(edge: Edge) -> list[Route]:
    """GET /screen (the page, or the login form) and /screen/data; nothing when no token is set."""
    token = edge.settings.screen_token
    if token is None:
        return []
    language = edge.settings.language.value
    signed = cookie_value(token)

    def token_is(offered: str) -> bool:
        return hmac.compare_digest(offered.encode(), token.get_secret_value().encode())

    def signed_in(request: Request) -> bool:
        if hmac.compare_digest(request.cookies.get(COOKIE, "").encode(), signed.encode()):
            return True
        scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and token_is(offered.strip())

    async def board() -> tuple[dict[str, Any], str]:
        # A session of its own, only read from: it rolls back when it closes.
        async with edge.sessions() as session:
            shown = await figures(session, edge.clock.now(), edge.settings.zone)
        return shown, render("screen_board", language, {"screen": shown})

    def html(body: str, nonce: str, status_code: int = 200) -> HTMLResponse:
        policy = (
            f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
            "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        )
        return HTMLResponse(
            body, status_code, headers={**HEADERS, "Content-Security-Policy": policy}
        )

    def login(failed: bool) -> HTMLResponse:
        nonce = secrets.token_urlsafe(16)
        params = {"screen_failed": failed, "screen_style": Markup(STYLE), "screen_nonce": nonce}
        return html(render("screen_login", language, params), nonce, 401)

    async def offered_token(request: Request) -> str | None:
        """The token in the URL or the posted form, if one was offered."""
        if request.method == "GET":
            return request.query_params.get("token")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > FORM_LIMIT:
                return ""
        fields = parse_qs(body.decode("utf-8", "replace"))
        return fields.get("token", [""])[0]

    async def page(request: Request) -> Response:
        offered = await offered_token(request)
        if offered is not None:
            if not token_is(offered):
                return login(failed=True)
            # Trade the token for the cookie, and take it out of the address bar.
            response = RedirectResponse(PAGE_URL, status_code=303, headers=HEADERS)
            response.set_cookie(
                COOKIE,
                signed,
                max_age=COOKIE_MAX_AGE,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
            )
            return response
        if not signed_in(request):
            return login(failed=False)
        _, rendered = await board()
        nonce = secrets.token_urlsafe(16)
        params = {
            "screen_board": Markup(rendered),
            "screen_refresh": REFRESH_SECONDS,
            "screen_style": Markup(STYLE),
            "screen_script": Markup(SCRIPT),
            "screen_nonce": nonce,
        }
        return html(render("screen_page", language, params), nonce)

    async def data(request: Request) -> Response:
        if not signed_in(request):
            return JSONResponse({"error": "unauthorized"}, 401, headers=HEADERS)
        shown, rendered = await board()
        return JSONResponse({"figures": shown, "board": rendered}, headers=HEADERS)

    return [
        Route("/screen", page, methods=["GET", "POST"]),
        Route("/screen/data", data, methods=["GET"]),
    ]
