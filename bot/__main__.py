"""The command line: `nodedesk run | demo | db upgrade | import | export | bench | check-config`."""

from __future__ import annotations

import argparse
import ast
import asyncio
import logging
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot import logs
from models.clock import Clock, FileClock, SystemClock
from models.config import Settings, SettingsError, load_settings
from models.migrate import upgrade

if TYPE_CHECKING:
    from models.services import ledger

log = logging.getLogger("nodedesk")

EXIT_BAD_SETTINGS = 2
EXIT_USAGE = 2
# The benchmarks live in the source checkout, beside the packages.
BENCH = Path(__file__).resolve().parents[1] / "bench"

NO_TOKEN = (
    "NODEDESK_TOKEN is not set. Get a bot token from @BotFather in Telegram (/newbot), then "
    "run: NODEDESK_TOKEN=<token> nodedesk run\n"
    "To try Nodedesk without Telegram, run: nodedesk demo"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nodedesk", description="Nodedesk, the county's government–enterprise direct line."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "run",
        help="run the bot against Telegram",
        description="Bring the schema up to date, "
        "then run the bot (long polling, or webhook when NODEDESK_MODE=webhook).",
    )
    demo = commands.add_parser(
        "demo",
        help="run the bot on a local sandbox with a sample county",
        description="Start the local Telegram sandbox, the bot and the web chat on a fresh "
        "SQLite file seeded with a sample county.",
    )
    demo.add_argument("--script", action="store_true", help="run the scripted scenario and exit")
    demo.add_argument("--host", default="127.0.0.1", help="web chat host (default 127.0.0.1)")
    demo.add_argument("--port", type=int, default=8080, help="web chat port (default 8080)")
    demo.add_argument(
        "--database", default=None, help="SQLite file for the demo (default: a fresh temp file)"
    )
    db = commands.add_parser("db", help="database tasks", description="Database tasks.")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="TASK")
    db_commands.add_parser(
        "upgrade", help="bring the schema up to date", description="Run Alembic to head."
    )
    importer = commands.add_parser(
        "import",
        help="load a county's set-up from a YAML or Excel file",
        description="Check the whole file (departments, people, firms, groups, department "
        "chats, routing rules, service policies); if anything is wrong, list every problem with "
        "its place and write nothing, else write it all in one transaction. Rows already there "
        "are updated by their natural keys. Or write a template to fill in with --template.",
    )
    importer.add_argument(
        "file", nargs="?", help="the .yaml, .yml, .xlsx or .csv (nodes) file to import"
    )
    importer.add_argument("--dry-run", action="store_true", help="only check the file")
    importer.add_argument(
        "--template",
        metavar="OUT",
        help="write an example .yaml, .xlsx or .csv (nodes) file to OUT and exit",
    )
    export = commands.add_parser(
        "export",
        help="write the ledger (issues, nodes, cards, points) to a file",
        description="Write the ledger of a period: the issues reported in it, the nodes due in it "
        "or not yet done, the cards raised and the points booked in it. An Excel workbook with "
        "one sheet each, or with --format csv four CSV files (UTF-8 with a BOM) in the folder "
        "OUT, or in one ZIP when OUT ends with .zip.",
    )
    export.add_argument(
        "out", metavar="OUT", help="the .xlsx file (or a folder for it); for csv a folder or a .zip"
    )
    export.add_argument(
        "--period",
        default="month",
        help="month, quarter or year (the one under way), or all (default: month)",
    )
    export.add_argument("--format", default="xlsx", help="xlsx or csv (default: xlsx)")
    export.add_argument("--language", default=None, help="zh_CN or en (default: NODEDESK_LANGUAGE)")
    benchmarks = _benchmarks()
    listing = "\n".join(f"  {name:<12} {summary}" for name, summary in benchmarks.items())
    bench = commands.add_parser(
        "bench",
        help="run a benchmark from bench/ (JSON lines)",
        description="Run bench/NAME.py from the source checkout with the arguments that follow; "
        "it prints one JSON line per result (`nodedesk bench NAME --help` lists a benchmark's "
        "options, for those that take any).",
        epilog=f"benchmarks:\n{listing}" if benchmarks else f"no benchmarks in {BENCH}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench.add_argument("name", metavar="NAME", help="the benchmark (see below)")
    bench.add_argument("args", nargs=argparse.REMAINDER, help="passed on to the benchmark")
    commands.add_parser(
        "check-config",
        help="validate the settings and print them (secrets hidden)",
        description="Read NODEDESK_* settings and .env, report the first problem or print them.",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "export":
        _check_export(parser, args)
    if args.command == "bench":
        # A benchmark sets up its own database and bot; it needs no settings.
        return _bench(args.name, args.args)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"nodedesk: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    secrets = [s.get_secret_value() for s in (settings.token, settings.webhook_secret) if s]
    logs.setup(logging.INFO, *secrets)

    if args.command == "check-config":
        return _check_config(settings)
    if args.command == "db":
        asyncio.run(upgrade(settings.database_url))
        print("schema is up to date")
        return 0
    if args.command == "import":
        from bot.importer import command

        return command(settings, args.file, template=args.template, dry_run=args.dry_run)
    if args.command == "export":
        return asyncio.run(_export(settings, args))
    if args.command == "demo":
        from bot.demo import run_demo

        return asyncio.run(
            run_demo(settings, args.host, args.port, script=args.script, database=args.database)
        )
    if settings.token is None:
        print(f"nodedesk: {NO_TOKEN}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    return asyncio.run(_run(settings))


def _check_config(settings: Settings) -> int:
    for name, value in settings.model_dump().items():
        shown = "(hidden)" if name in {"token", "webhook_secret"} and value else value
        print(f"NODEDESK_{name.upper()}={shown}")
    return 0


def _benchmarks() -> dict[str, str]:
    """The benchmarks in bench/, by name, each with the first line of its docstring."""
    found = {}
    for path in sorted(BENCH.glob("*.py")) if BENCH.is_dir() else ():
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        found[path.stem] = doc.partition("\n")[0]
    return found


def _bench(name: str, args: list[str]) -> int:
    """`nodedesk bench NAME [args…]`: run bench/NAME.py from the checkout; its exit status."""
    benchmarks = _benchmarks()
    if name not in benchmarks:
        known = ", ".join(benchmarks) or f"none in {BENCH}"
        print(f"nodedesk bench: no benchmark {name!r} (there are: {known})", file=sys.stderr)
        return EXIT_USAGE
    script = BENCH / f"{name}.py"
    return subprocess.run([sys.executable, str(script), *args], cwd=BENCH.parent).returncode


def _check_export(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Turn --period, --format and --language into what the ledger takes, or stop (status 2)."""
    from models.services.ledger import FORMATS, LEDGER_PERIOD_WORDS
    from models.texts import LANGUAGES

    period = LEDGER_PERIOD_WORDS.get(args.period.strip().lower())
    if period is None:
        parser.error(f"--period: {args.period!r} is not month, quarter, year or all")
    args.period = period
    if args.format not in FORMATS:
        parser.error(f"--format: {args.format!r} is not {' or '.join(FORMATS)}")
    if args.language is not None and args.language not in LANGUAGES:
        parser.error(f"--language: {args.language!r} is not {' or '.join(LANGUAGES)}")


async def _export(settings: Settings, args: argparse.Namespace) -> int:
    """`nodedesk export`: read the ledger, write its file(s), record it; one line says what."""
    from models.db import create_engine, create_sessionmaker
    from models.services import ledger
    from models.texts import plain, render

    language = args.language or settings.language.value
    await upgrade(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        sessions = create_sessionmaker(engine)
        async with sessions() as session, session.begin():
            now = SystemClock().now()
            book = await ledger.read_ledger(session, now, settings.zone, args.period)
            # Written before the audit entry commits: a file that cannot be written is no export.
            written = _write_ledger(book, Path(args.out), args.format, language)
            ledger.record_export(session, now, book, args.format, language, None, "cli")
    except OSError as exc:
        print(f"nodedesk: {exc}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    summary = plain(render("ledger_caption", language, book.params()), limit=1000)
    print(f"{written}: {summary}")
    return 0


def _write_ledger(book: ledger.Ledger, out: Path, format_: ledger.Format, language: str) -> Path:
    """The workbook to OUT (or into the folder OUT); the CSV files into the folder OUT, or the
    ZIP the bot sends when OUT ends with .zip. What was written comes back."""
    from models.services import ledger

    if format_ == "xlsx":
        path = out / f"{book.stem()}.xlsx" if out.is_dir() else out
        path.write_bytes(ledger.workbook(book, language))
        return path
    files = ledger.csv_files(book, language)
    if out.suffix.lower() == ".zip":
        out.write_bytes(ledger.zipped(book, files))
        return out
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / f"{book.stem()}-{name}").write_bytes(data)
    return out


async def _run(settings: Settings) -> int:
    from bot.app import build_application, serve

    await upgrade(settings.database_url)
    clock: Clock = SystemClock()
    if settings.clock_file is not None:
        log.warning("the time is read from %s, not the system clock", settings.clock_file)
        clock = FileClock(settings.clock_file)
    application = build_application(settings, clock)
    await serve(application)
    return 0


if __name__ == "__main__":
    sys.exit(main())
