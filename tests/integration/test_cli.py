"""The command line as a person meets it: help, settings mistakes, the schema."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

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
