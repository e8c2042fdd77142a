import ast
import logging
from pathlib import Path

from bot.logs import RedactingFormatter

ROOT = Path(__file__).resolve().parents[2]


def test_rules_import_neither_telegram_nor_sqlalchemy() -> None:
    for path in (ROOT / "models" / "rules").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in {"telegram", "sqlalchemy"}, (path, name)


def test_nothing_below_the_edge_reads_the_wall_clock() -> None:
    for folder in ("models", "reminders", "bot"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "clock.py":
                continue
            source = path.read_text(encoding="utf-8")
            for call in ("datetime.now(", "datetime.utcnow(", "date.today(", "time.time("):
                assert call not in source, (path, call)


def test_logs_never_show_the_token() -> None:
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    formatter = RedactingFormatter("s3cret-webhook")
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        "POST https://api.telegram.org/bot%s/getMe %s",
        (token, "s3cret-webhook"),
        None,
    )
    line = formatter.format(record)
    assert token not in line
    assert "s3cret-webhook" not in line
    assert "<token>" in line
