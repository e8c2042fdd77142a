"""The command line as a person meets it: help, settings mistakes, the schema."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import sqlite3
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from models.services import issues
from models.services.issues import Report
from models.tables import AuditEntry
from tests.conftest import Database
from tests.integration.county import DESK, build_county

TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345678"


def nodedesk(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NODEDESK_")}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "command", [[], ["run"], ["demo"], ["db"], ["db", "upgrade"], ["check-config"]]
)
def test_every_command_has_help(command: list[str], tmp_path: Path) -> None:
    result = nodedesk(*command, "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "usage: nodedesk" in result.stdout


def test_run_without_a_token_explains_and_points_to_the_demo(tmp_path: Path) -> None:
    result = nodedesk("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "@BotFather" in result.stderr
    assert "nodedesk demo" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_malformed_setting_stops_with_one_line_naming_it(tmp_path: Path) -> None:
    result = nodedesk("run", cwd=tmp_path, NODEDESK_TIMEZONE="Nowhere/Special")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "NODEDESK_TIMEZONE" in result.stderr


def test_check_config_hides_the_token(tmp_path: Path) -> None:
    result = nodedesk("check-config", cwd=tmp_path, NODEDESK_TOKEN=TOKEN)
    assert result.returncode == 0
    assert TOKEN not in result.stdout + result.stderr
    assert "NODEDESK_TOKEN=(hidden)" in result.stdout
    assert "NODEDESK_TIMEZONE=Asia/Shanghai" in result.stdout


def test_db_upgrade_builds_the_schema(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'county.sqlite3'}"
    result = nodedesk("db", "upgrade", cwd=tmp_path, NODEDESK_DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "county.sqlite3") as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"issues", "nodes", "outbox", "audit_log", "people", "chats", "firms"} <= tables


# --- nodedesk export --------------------------------------------------------------------------


def test_export_has_help(tmp_path: Path) -> None:
    result = nodedesk("export", "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "usage: nodedesk export" in result.stdout and "--period" in result.stdout


async def test_export_writes_the_ledger_as_a_workbook_a_csv_folder_or_a_zip(
    db: Database, tmp_path: Path
) -> None:
    # The command reads the wall clock: the issues are this month's and one from long ago.
    now = datetime.now(UTC)
    async with db.sessions() as session, session.begin():
        county = await build_county(session, now)
        who = await county.in_group(session, county.owner)
        for moment in (now - timedelta(days=800), now):
            report = Report(text="厂区经常停电", chat=who.chat, reporter=who)
            assert (await issues.report_issue(session, moment, DESK, report)).issue is not None
    env = {"NODEDESK_DATABASE_URL": db.url, "NODEDESK_LANGUAGE": "en"}

    def export(*args: str) -> subprocess.CompletedProcess[str]:
        return nodedesk("export", *args, cwd=tmp_path, **env)

    book = tmp_path / "ledger.xlsx"
    result = await asyncio.to_thread(export, str(book))
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert line.startswith(f"{book}: Ledger · {now.astimezone(ZoneInfo('Asia/Shanghai')):%Y-%m}")
    assert "1 issue," in line
    workbook = load_workbook(book)
    assert workbook.sheetnames == ["Issues", "Nodes", "Cards", "Points"]
    assert workbook["Issues"].max_row == 2

    folder = tmp_path / "csv"
    result = await asyncio.to_thread(
        export, "--period", "全部", "--format", "csv", "--language", "zh_CN", str(folder)
    )
    assert result.returncode == 0, result.stderr
    assert "问题 2 件" in result.stdout
    names = sorted(path.name for path in folder.iterdir())
    assert len(names) == 4 and all(n.startswith("ledger-all-") for n in names)
    (issues_csv,) = folder.glob("*-issues.csv")
    rows = list(csv.reader(io.StringIO(issues_csv.read_bytes().decode("utf-8-sig"))))
    assert rows[0][:2] == ["编号", "反映时间"] and len(rows) == 3

    archive = tmp_path / "ledger.zip"
    result = await asyncio.to_thread(export, "--period", "year", "--format", "csv", str(archive))
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(archive) as opened:
        assert len(opened.namelist()) == 4

    async with db.sessions() as session:
        entries = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "ledger_exported"))
        )
    assert [(e.detail["period"], e.detail["format"], e.detail["via"]) for e in entries] == [
        ("month", "xlsx", "cli"),
        ("all", "csv", "cli"),
        ("year", "csv", "cli"),
    ]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--period", "week"], "--period"),
        (["--format", "pdf"], "--format"),
        (["--language", "fr"], "--language"),
    ],
)
def test_export_refuses_what_it_does_not_know(args: list[str], named: str, tmp_path: Path) -> None:
    result = nodedesk("export", *args, str(tmp_path / "out.xlsx"), cwd=tmp_path)
    assert result.returncode == 2
    assert named in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out.xlsx").exists()


def test_export_to_a_place_it_cannot_write_says_so(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'county.sqlite3'}"
    out = tmp_path / "missing" / "ledger.xlsx"
    result = nodedesk("export", str(out), cwd=tmp_path, NODEDESK_DATABASE_URL=url)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("nodedesk: [Errno 2] No such file")
    assert "Traceback" not in result.stderr
    with sqlite3.connect(tmp_path / "county.sqlite3") as connection:
        audited = connection.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'ledger_exported'"
        ).fetchone()
    assert audited == (0,)


def test_bench_lists_the_benchmarks_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    shown = nodedesk("bench", "--help", cwd=tmp_path)
    assert shown.returncode == 0
    names = [path.stem for path in (Path(__file__).parents[2] / "bench").glob("*.py")]
    assert "intake" in names
    for name in names:
        assert f"\n  {name} " in shown.stdout
    unknown = nodedesk("bench", "no-such-bench", cwd=tmp_path)
    assert unknown.returncode == 2
    (line,) = unknown.stderr.splitlines()
    assert "no benchmark 'no-such-bench'" in line and "intake" in line
