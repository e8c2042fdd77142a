"""The big screen over HTTP: who may see it, and what a real browser shows at 1920x1080."""

from __future__ import annotations

import asyncio
import os
import shutil
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from bot.app import build_application, web_app
from bot.screen import COOKIE, cookie_value
from models.clock import Clock, FrozenClock
from models.config import Settings
from models.services import screen
from models.tables import Deadline, Department, Issue, Node, Project
from tests.conftest import START, Database
from tests.e2e.conftest import TOKEN, free_port
from tests.integration.test_screen import NOW, ZONE, seed

SCREEN_TOKEN = "hall-screen-token-0123456789"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Elements with no end tag: the DOM Chromium dumps writes them as <meta …>, not <meta …/>.
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


# --- reading the board ------------------------------------------------------------------------


@dataclass
class Board:
    """What a page shows: the html element's attributes, each `data-figure` outside a row, and
    each `data-row` with its attributes and the figures inside it."""

    root: dict[str, str] = field(default_factory=dict)
    figures: dict[str, str] = field(default_factory=dict)
    rows: list[dict[str, str]] = field(default_factory=list)
    text: str = ""

    def of(self, kind: str) -> list[dict[str, str]]:
        return [row for row in self.rows if row["row"] == kind]


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.board = Board()
        # Per open element: the figure it captures (with its text so far) and the row it opens.
        self.open: list[tuple[str, list[str] | None, dict[str, str] | None]] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "html":
            self.board.root = values
        if tag in VOID:
            return
        row = None
        if "data-row" in values:
            row = {"row": values["data-row"], **{k: v for k, v in values.items() if k != "class"}}
            self.board.rows.append(row)
        capture = [values["data-figure"]] if "data-figure" in values else None
        self.open.append((tag, capture, row))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "html":
            self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.texts.append(data)
        for _, capture, _ in self.open:
            if capture is not None:
                capture.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        while self.open:
            name, capture, _ = self.open.pop()
            if capture is not None:
                figure, text = capture[0], "".join(capture[1:]).strip()
                rows = [r for _, _, r in self.open if r is not None]
                (rows[-1] if rows else self.board.figures)[figure] = text
            if name == tag:
                return


def read_board(html: str) -> Board:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    reader.board.text = "".join(reader.texts)
    return reader.board


def assert_shows_the_seeded_county(board: Board) -> None:
    """The figures of tests/integration/test_screen.py's county, as the page shows them."""
    assert board.figures["updated"] == "2026-03-10 09:00:00"
    expected = {
        "month-reported": "5",
        "month-open": "2",
        "month-closed": "3",
        "all-reported": "7",
        "all-open": "3",
        "all-closed": "4",
        "cards-green": "1",
        "cards-yellow": "5",
        "cards-red": "1",
        "overdue-count": "5",
    }
    assert {name: board.figures[name] for name in expected} == expected
    assert [
        (r["data-category"], r["done"], r["total"], r["percent"]) for r in board.of("nodes")
    ] == [
        ("工业项目", "1", "3", "33%"),
        ("招商引资", "2", "2", "100%"),
    ]
    overdue = board.of("overdue")
    assert [(r["data-card"], r["department"], r["late"]) for r in overdue] == [
        ("yellow", "供电公司", "7天23小时"),
        ("yellow", "人社局", "7天21小时"),
        ("red", "人社局", "5天"),
        ("yellow", "人社局", "3天"),
        ("", "供电公司", "30分钟"),
    ]
    assert [r["data-minutes"] for r in overdue] == ["11460", "11340", "7200", "4320", "30"]
    assert overdue[0]["label"] == "认领Q-2026-0005 · 问题5"
    assert overdue[2]["label"] == "节点N-1 新材料产业园 · 通电"
    assert [(r["position"], r["name"], r["points"], r["on-time"]) for r in board.of("ranking")] == [
        ("1", "供电公司", "1", "50%"),
        ("2", "人社局", "-1", "0%"),
    ]
    closures = board.of("closure")
    assert [(r["number"], r["department"], r["closed-at"]) for r in closures] == [
        ("Q-2026-0007", "供电公司", "03-05 09:00"),
        ("Q-2026-0004", "供电公司", "03-03 09:00"),
        ("Q-2026-0003", "人社局", "03-02 11:00"),
        ("Q-2026-0001", "供电公司", "02-12 10:00"),
    ]
    assert closures[1]["text"] == "（企业私下反映，内容不公开）"
    assert closures[1]["rating"] == "★★★★★"
    # A private issue's text is shown nowhere, neither among the closures nor overdue.
    assert "私密" not in board.text


# --- the app ----------------------------------------------------------------------------------


class SteppingClock:
    """Each reading a minute after the one before, so a refreshed board shows a later time."""

    def __init__(self, start: datetime) -> None:
        self.next = start

    def now(self) -> datetime:
        current, self.next = self.next, self.next + timedelta(minutes=1)
        return current


def _settings(db: Database, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "token": TOKEN,
        "database_url": db.url,
        "language": "zh_CN",
        "screen_token": SCREEN_TOKEN,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def app_for(db: Database) -> AsyncIterator[Any]:
    """The bot's web app (not started: the screen needs only the database) for some settings."""
    built = []

    def make(clock: Clock | None = None, **overrides: Any) -> Starlette:
        application = build_application(_settings(db, **overrides), clock or FrozenClock(NOW))
        built.append(application)
        return web_app(application)

    yield make
    for application in built:
        await application.bot_data["edge"].engine.dispose()


def _client(app: Starlette, base: str = "http://hall") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base)


# --- who may see it ---------------------------------------------------------------------------


async def test_with_no_token_set_the_screen_is_off(app_for: Any) -> None:
    async with _client(app_for(screen_token=None)) as http:
        for url in ("/screen", f"/screen?token={SCREEN_TOKEN}", "/screen/data"):
            assert (await http.get(url)).status_code == 404
        assert (await http.get("/healthz")).status_code == 200


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_without_the_token_the_screen_asks_for_it_and_shows_nothing(
    db: Database, clock: FrozenClock, app_for: Any, mode: str
) -> None:
    await seed(db, clock)
    extra = {"webhook_url": "https://bot.example", "webhook_secret": "s3cret"}
    app = app_for(mode=mode, **(extra if mode == "webhook" else {}))
    async with _client(app) as http:
        asked = await http.get("/screen")
        assert asked.status_code == 401
        assert asked.headers["content-type"].startswith("text/html")
        assert 'name="token"' in asked.text and 'method="post"' in asked.text
        assert "令牌不正确" not in asked.text
        assert read_board(asked.text).figures == {}

        wrong = await http.get("/screen", params={"token": SCREEN_TOKEN + "x"})
        assert wrong.status_code == 401
        assert "令牌不正确" in wrong.text
        assert "set-cookie" not in wrong.headers

        data = await http.get("/screen/data")
        assert data.status_code == 401
        assert data.json() == {"error": "unauthorized"}

        http.cookies.set(COOKIE, "0" * 64)
        assert (await http.get("/screen")).status_code == 401
        assert (await http.get("/screen/data")).status_code == 401


async def test_the_token_becomes_a_cookie_that_opens_the_screen(
    db: Database, clock: FrozenClock, app_for: Any
) -> None:
    await seed(db, clock)
    async with _client(app_for()) as http:
        traded = await http.get("/screen", params={"token": SCREEN_TOKEN})
        assert traded.status_code == 303
        # Relative, and without the token: the address bar and the history forget it.
        assert traded.headers["location"] == "screen"
        cookie = traded.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}=")
        for attribute in ("HttpOnly", "SameSite=strict", "Path=/", "Max-Age="):
            assert attribute.lower() in cookie.lower()
        assert "secure" not in cookie.lower()  # plain HTTP: a Secure cookie would never return
        assert SCREEN_TOKEN not in cookie

        page = await http.get("/screen")
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        policy = page.headers["content-security-policy"]
        nonce = policy.split("'nonce-")[1].split("'")[0]
        assert f'<script nonce="{nonce}">' in page.text
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
        board = read_board(page.text)
        assert board.root["data-refresh"] == "30"
        assert board.root["lang"] == "zh-CN"
        assert_shows_the_seeded_county(board)

        data = await http.get("/screen/data")
        assert data.status_code == 200
        async with db.sessions() as session:
            assert data.json()["figures"] == await screen.figures(session, NOW, ZONE)
        assert_shows_the_seeded_county(read_board(data.json()["board"]))


async def test_the_login_form_posts_the_token(db: Database, app_for: Any) -> None:
    async with _client(app_for()) as http:
        wrong = await http.post("/screen", data={"token": "not-the-token"})
        assert wrong.status_code == 401
        assert "令牌不正确" in wrong.text
        oversized = await http.post("/screen", data={"token": SCREEN_TOKEN, "x": "y" * 5000})
        assert oversized.status_code == 401

        signed_in = await http.post("/screen", data={"token": SCREEN_TOKEN})
        assert signed_in.status_code == 303
        assert http.cookies[COOKIE] == cookie_value(_settings(db).screen_token)  # type: ignore[arg-type]
        page = await http.get("/screen")
        assert page.status_code == 200
        # An empty county: zeros, and each list says it is empty.
        board = read_board(page.text)
        assert board.figures["all-reported"] == board.figures["overdue-count"] == "0"
        for empty in ("没有超期事项", "还没有办结的问题", "还没有重点项目节点"):
            assert empty in board.text


async def test_over_https_the_cookie_is_secure_only(db: Database, app_for: Any) -> None:
    async with _client(app_for(), base="https://hall") as http:
        traded = await http.get("/screen", params={"token": SCREEN_TOKEN})
        assert "; secure" in traded.headers["set-cookie"].lower()


async def test_a_program_may_read_the_figures_with_the_token_as_bearer(
    db: Database, app_for: Any
) -> None:
    async with _client(app_for(language="en")) as http:
        refused = await http.get("/screen/data", headers={"Authorization": "Bearer wrong"})
        assert refused.status_code == 401
        read = await http.get("/screen/data", headers={"Authorization": f"Bearer {SCREEN_TOKEN}"})
        assert read.status_code == 200
        assert read.json()["figures"]["totals"]["all"] == {"reported": 0, "open": 0, "closed": 0}
        assert "Nothing is overdue." in read.json()["board"]


async def test_a_new_token_signs_every_screen_out(db: Database, app_for: Any) -> None:
    async with _client(app_for()) as http:
        await http.get("/screen", params={"token": SCREEN_TOKEN})
        assert (await http.get("/screen")).status_code == 200
        kept = http.cookies[COOKIE]
    async with _client(app_for(screen_token="another-token-for-the-hall")) as http:
        http.cookies.set(COOKIE, kept)
        assert (await http.get("/screen")).status_code == 401


# --- in a real browser ------------------------------------------------------------------------


def _need_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing; CI installs it (.ci/run)")
    pytest.skip("chromium is not installed (apt-get install chromium fonts-noto-cjk)")


async def _chromium(profile: Path, url: str, *args: str, budget: int = 5000) -> str:
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1920,1080",
        f"--virtual-time-budget={budget}",
        *args,
        url,
    ]
    # Not subprocess.run: the server answering the browser runs on this event loop.
    browser = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(browser.communicate(), timeout=90)
    except TimeoutError:
        browser.kill()
        await browser.wait()
        raise
    assert browser.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode()


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and header[12:16] == b"IHDR"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


@pytest.mark.timeout(240)
async def test_the_screen_in_a_browser_at_1920_by_1080(
    db: Database, clock: FrozenClock, app_for: Any, tmp_path: Path
) -> None:
    _need_chromium()
    await seed(db, clock)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app_for(SteppingClock(NOW)),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
        )
    )
    serving = asyncio.create_task(server.serve())
    url = f"http://127.0.0.1:{port}/screen?token={SCREEN_TOKEN}"
    try:
        while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
            await asyncio.sleep(0.01)
        # The token, traded for the cookie, then the page rendered on the server.
        loaded = read_board(await _chromium(tmp_path / "profile", url, "--dump-dom"))
        assert loaded.root["lang"] == "zh-CN"
        assert_shows_the_seeded_county(loaded)
        assert "全县运行态势" in loaded.text
        # 20 overdue rows would fit too; this board fits with room to spare, at full size.
        assert (loaded.root["data-fits"], loaded.root["data-scale"]) == ("true", "100")
        assert "data-stale" not in loaded.root

        # After 30 s (of the browser's virtual time) the page fetched /screen/data and re-rendered.
        refreshed = read_board(
            await _chromium(tmp_path / "profile", url, "--dump-dom", budget=35_000)
        )
        assert refreshed.root["data-stale"] == "false"
        assert refreshed.figures["updated"] > "2026-03-10 09:01:00"
        assert refreshed.figures["month-reported"] == "5"
        # The clock moved on: the node due at 09:00 sharp is now late too.
        assert refreshed.figures["overdue-count"] == "6"
        assert refreshed.of("overdue")[-1]["label"] == "节点N-5 · 准时"

        shot = tmp_path / "screen.png"
        await _chromium(tmp_path / "profile", url, f"--screenshot={shot}")
        assert _png_size(shot) == (1920, 1080)
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(shot, ARTIFACTS / "screen.png")
    finally:
        server.should_exit = True
        await serving


async def test_twenty_overdue_rows_fit_on_the_screen(
    db: Database, app_for: Any, tmp_path: Path
) -> None:
    _need_chromium()
    await _seed_a_busy_county(db)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app_for(FrozenClock(NOW)),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
        )
    )
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
            await asyncio.sleep(0.01)
        url = f"http://127.0.0.1:{port}/screen?token={SCREEN_TOKEN}"
        board = read_board(await _chromium(tmp_path / "profile", url, "--dump-dom"))
        assert len(board.of("overdue")) == 20
        assert len(board.of("ranking")) == 10
        assert len(board.of("closure")) == 10
        assert (board.root["data-fits"], board.root["data-scale"]) == ("true", "100")
        shot = tmp_path / "busy.png"
        await _chromium(tmp_path / "profile", url, f"--screenshot={shot}")
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(shot, ARTIFACTS / "screen-busy.png")
    finally:
        server.should_exit = True
        await serving


async def _seed_a_busy_county(db: Database) -> None:
    """Long names and labels, more of everything than the screen lists."""
    async with db.sessions() as session, session.begin():
        units = [
            Department(name=f"县自然资源和规划局第{n}分局", created_at=START) for n in range(12)
        ]
        session.add_all(units)
        await session.flush()
        for n in range(25):
            session.add(
                Deadline(
                    subject_type="node",
                    subject_id=n,
                    kind="node",
                    label=f"N-{n} 经济开发区标准化厂房三期工程 · 完成土地征收与青苗补偿",
                    department_id=units[n % 12].id,
                    due_at=NOW - (n + 1) * timedelta(hours=7),
                    cards="yellow,red" if n % 3 == 0 else "yellow",
                    created_at=START,
                    updated_at=START,
                )
            )
            closed = NOW - timedelta(hours=n)
            session.add(
                Issue(
                    number=f"Q-2026-{n + 1:04d}",
                    status="closed",
                    text="园区道路年久失修，货车进出困难，雨天积水严重，希望尽快安排维修" * 2,
                    department_id=units[n % 12].id,
                    rating=n % 5 + 1,
                    created_at=closed - timedelta(days=2),
                    closed_at=closed,
                    updated_at=closed,
                )
            )
        for n in range(8):
            project = Project(name=f"项目{n}", category=f"重点项目类别{n}", created_at=START)
            session.add(project)
            await session.flush()
            for k in range(n + 1):
                session.add(
                    Node(
                        project_id=project.id,
                        title=f"节点{k}",
                        deadline=NOW,
                        status="done" if k % 2 else "open",
                        created_at=START,
                    )
                )
