"""`nodedesk import`: a county's set-up from a YAML file or an Excel workbook, or a list of
project nodes from a CSV file.

Every format is read into the same raw entries (with each entry's place: a YAML path, or a
sheet row and its columns), which `models.services.setup.import_county` checks as a whole and
then writes in one transaction, or refuses with every problem listed.

A workbook has one sheet per section, named like the YAML keys (departments, people, firms,
groups, department_chats, rules, policies, projects, nodes); row 1 holds the field names, each
further row one entry; lists (roles, tags, keywords, assists, reminder_hours) are
comma-separated. Sheets whose names start with "_" are notes and are skipped.

A CSV file holds nodes, one a row, with their project's particulars in the first columns
(`CSV_FIELDS`); a project it names is created when it does not exist yet.
"""

from __future__ import annotations

import asyncio
import csv
import html
import io
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zipfile import BadZipFile

import yaml
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from bot.app import make_calendar
from models.clock import Clock, SystemClock
from models.config import Settings
from models.db import create_engine, create_sessionmaker
from models.migrate import upgrade
from models.services.issues import Desk
from models.services.setup import (
    CSV_FIELDS,
    CSV_PROJECT_FIELDS,
    SECTIONS,
    Flaw,
    ImportOutcome,
    Place,
    Problem,
    RawEntry,
    import_county,
    raw_from_mapping,
)
from models.texts import render

YAML_SUFFIXES = frozenset({".yaml", ".yml"})
WORKBOOK_SUFFIXES = frozenset({".xlsx"})
CSV_SUFFIXES = frozenset({".csv"})
SUFFIXES_SAID = "use .yaml, .yml, .xlsx or .csv"
# Excel saves CSV as UTF-8 with a BOM, or, on a Chinese Windows, as GB18030 (GBK).
CSV_ENCODINGS = ("utf-8-sig", "gb18030")
EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
# Fields whose list values a workbook cell holds comma-separated.
LIST_FIELDS = frozenset({"roles", "tags", "keywords", "assists", "reminder_hours"})
# Written as text cells, or Excel mangles long numbers and turns dates into its own.
TEXT_FIELDS = frozenset({"credit_code", "deadline"})
_TAG = re.compile(r"<[^>]+>")

Raw = dict[str, list[RawEntry]]


def read_file(path: Path) -> tuple[Raw, list[Problem]]:
    """The raw entries of a YAML file or a workbook, and what made parts of it unreadable."""
    suffix = path.suffix.lower()
    if suffix not in YAML_SUFFIXES | WORKBOOK_SUFFIXES | CSV_SUFFIXES:
        return {}, [Problem(Flaw.UNREADABLE, value=f"{path.name}: {SUFFIXES_SAID}")]
    if not path.is_file():
        return {}, [Problem(Flaw.UNREADABLE, value=f"{path}: no such file")]
    if suffix in YAML_SUFFIXES:
        return read_yaml(path.read_bytes())
    if suffix in CSV_SUFFIXES:
        return read_csv(path.read_bytes())
    return read_workbook(path)


def read_yaml(content: bytes) -> tuple[Raw, list[Problem]]:
    try:
        data = yaml.safe_load(content)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        return {}, [Problem(Flaw.UNREADABLE, value=str(exc.problem or exc), line=line)]
    except yaml.YAMLError as exc:
        return {}, [Problem(Flaw.UNREADABLE, value=str(exc))]
    return raw_from_mapping(data)


def read_workbook(path: Path) -> tuple[Raw, list[Problem]]:
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, OSError, KeyError, ValueError) as exc:
        return {}, [Problem(Flaw.UNREADABLE, value=f"{path.name}: {exc}")]
    raw: Raw = {}
    problems: list[Problem] = []
    try:
        for sheet in workbook.worksheets:
            name = sheet.title.strip().lower()
            if name.startswith("_"):
                continue
            if name not in SECTIONS:
                problems.append(Problem(Flaw.UNKNOWN_SECTION, value=sheet.title))
                continue
            entries = _read_sheet(name, sheet.iter_rows(values_only=True), problems)
            if entries:
                raw.setdefault(name, []).extend(entries)
    finally:
        workbook.close()
    if not raw and not problems:
        problems.append(Problem(Flaw.EMPTY_FILE))
    return raw, problems


def _read_sheet(section: str, rows: Any, problems: list[Problem]) -> list[RawEntry]:
    header = next(rows, None)
    if header is None:
        return []
    columns: dict[int, str] = {}  # position → field
    for position, cell in enumerate(header):
        if cell is None or not str(cell).strip():
            continue
        field = str(cell).strip().lower()
        letter = get_column_letter(position + 1)
        if field not in SECTIONS[section]:
            problems.append(
                Problem(
                    Flaw.UNKNOWN_FIELD,
                    section=section,
                    row=1,
                    column=letter,
                    field=field,
                    value=str(cell),
                )
            )
            continue
        columns[position] = field
    letters = {field: get_column_letter(position + 1) for position, field in columns.items()}
    entries: list[RawEntry] = []
    for number, values in enumerate(rows, start=2):
        fields = {
            field: _cell(values[position])
            for position, field in columns.items()
            if position < len(values)
        }
        if all(value is None for value in fields.values()):
            continue
        place = Place(section, len(entries), number, letters)
        entries.append(RawEntry(place, fields))
    return entries


def read_csv(content: bytes) -> tuple[Raw, list[Problem]]:
    """Nodes, one a row, and the projects they name: each project from the first row naming it
    (created if absent); a later row that gives it other particulars is a problem."""
    for encoding in CSV_ENCODINGS:
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        return {}, [Problem(Flaw.UNREADABLE, value="not UTF-8 or GB18030 text")]
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        return {}, [Problem(Flaw.UNREADABLE, value=str(exc))]
    problems: list[Problem] = []
    header = rows[0] if rows else []
    columns: dict[int, str] = {}
    for position, cell in enumerate(header):
        name = cell.strip().lower()
        if not name:
            continue
        if name not in CSV_FIELDS:
            problems.append(
                Problem(
                    Flaw.UNKNOWN_FIELD,
                    section="nodes",
                    row=1,
                    column=get_column_letter(position + 1),
                    field=name,
                    value=cell.strip(),
                )
            )
            continue
        columns[position] = name
    letters = {name: get_column_letter(position + 1) for position, name in columns.items()}
    node_letters = {k: v for k, v in letters.items() if k in SECTIONS["nodes"]}
    project_letters = {
        CSV_PROJECT_FIELDS[k]: v for k, v in letters.items() if k in CSV_PROJECT_FIELDS
    }
    nodes: list[RawEntry] = []
    projects: dict[str, RawEntry] = {}
    for number, values in enumerate(rows[1:], start=2):
        cells = {
            name: _cell(values[position])
            for position, name in columns.items()
            if position < len(values)
        }
        if all(value is None for value in cells.values()):
            continue
        node = {k: v for k, v in cells.items() if k in SECTIONS["nodes"]}
        nodes.append(RawEntry(Place("nodes", len(nodes), number, node_letters), node))
        project_name = cells.get("project")
        if project_name is None:
            continue  # the node's missing project is told there
        project = {CSV_PROJECT_FIELDS[k]: v for k, v in cells.items() if k in CSV_PROJECT_FIELDS}
        first = projects.get(project_name)
        if first is None:
            place = Place("projects", len(projects), number, project_letters)
            projects[project_name] = RawEntry(place, project, if_absent=True)
            continue
        for field, value in project.items():
            if value is not None and value != first.fields.get(field):
                problems.append(
                    Place("projects", first.place.index, number, project_letters).problem(
                        Flaw.PROJECT_MISMATCH, field, value=str(value), other=first.place.row
                    )
                )
    raw: Raw = {}
    if projects:
        raw["projects"] = list(projects.values())
    if nodes:
        raw["nodes"] = nodes
    if not raw and not problems:
        problems.append(Problem(Flaw.EMPTY_FILE))
    return raw, problems


def _cell(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


# --- the template -----------------------------------------------------------------------------


def example(language: str) -> str:
    """The example county, as a commented YAML text in `language`."""
    return render("setup_import_example", language) + "\n"


def write_template(path: Path, language: str = "zh_CN") -> None:
    """An import file to fill in, with example rows: YAML (commented), a workbook, or the CSV
    of nodes."""
    text = example(language)
    suffix = path.suffix.lower()
    if suffix in YAML_SUFFIXES:
        path.write_text(text, encoding="utf-8")
        return
    if suffix not in WORKBOOK_SUFFIXES | CSV_SUFFIXES:
        raise ValueError(f"{path.name}: {SUFFIXES_SAID}")
    data: dict[str, list[dict[str, Any]]] = yaml.safe_load(text)
    if suffix in CSV_SUFFIXES:
        path.write_text(nodes_csv(data), encoding="utf-8-sig")
        return
    workbook = Workbook()
    first = workbook.active
    if first is not None:
        workbook.remove(first)
    for section, fields in SECTIONS.items():
        sheet = workbook.create_sheet(section)
        sheet.append(list(fields))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for entry in data.get(section) or []:
            sheet.append([_to_cell(field, entry.get(field)) for field in fields])
        for position, field in enumerate(fields, start=1):
            letter = get_column_letter(position)
            sheet.column_dimensions[letter].width = 24 if field != "keywords" else 36
            if field in TEXT_FIELDS:
                for row in range(2, 501):
                    sheet[f"{letter}{row}"].number_format = "@"
        sheet.freeze_panes = "A2"
    workbook.save(path)


def nodes_csv(data: dict[str, list[dict[str, Any]]]) -> str:
    """The example county's nodes as a CSV, each row with its project's particulars."""
    projects = {p["name"]: p for p in data.get("projects") or []}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for node in data.get("nodes") or []:
        project = projects.get(node["project"], {})
        cells = {
            **{csv_field: project.get(field) for csv_field, field in CSV_PROJECT_FIELDS.items()},
            **node,
        }
        writer.writerow(["" if cells.get(f) is None else cells[f] for f in CSV_FIELDS])
    return out.getvalue()


def _to_cell(field: str, value: Any) -> Any:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if field in TEXT_FIELDS and value is not None:
        return str(value)
    return value


# --- the command line -------------------------------------------------------------------------


def report_text(outcome: ImportOutcome, source: str, language: str) -> str:
    """What an import did, or every problem with its place, as plain text for the terminal."""
    rendered = render(
        "setup_import_report",
        language,
        {
            "ok": outcome.ok,
            "dry_run": outcome.dry_run,
            "source": source,
            "problems": [problem.params() for problem in outcome.problems],
            "counts": [
                {"section": c.section, "created": c.created, "updated": c.updated}
                for c in outcome.counts
            ],
        },
    )
    return html.unescape(_TAG.sub("", rendered))


async def run_import(
    settings: Settings,
    path: Path,
    *,
    dry_run: bool = False,
    clock: Clock | None = None,
    say: Callable[[str], None] = print,
) -> int:
    """`nodedesk import FILE [--dry-run]`: 0 when imported (or would be), 1 when refused.

    Node deadlines are read in the county's zone and office hours (the settings').
    """
    raw, problems = read_file(path)
    await upgrade(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        sessions = create_sessionmaker(engine)
        async with sessions() as session, session.begin():
            outcome = await import_county(
                session,
                (clock or SystemClock()).now(),
                raw,
                source=path.name,
                dry_run=dry_run,
                problems=problems,
                desk=Desk(make_calendar(settings), settings.zone, settings.language.value),
            )
    finally:
        await engine.dispose()
    say(report_text(outcome, path.name, settings.language.value))
    return EXIT_OK if outcome.ok else EXIT_REFUSED


def command(
    settings: Settings, file: str | None, *, template: str | None = None, dry_run: bool = False
) -> int:
    """`nodedesk import FILE [--dry-run]` or `nodedesk import --template OUT`."""
    if (file is None) == (template is None):
        print("nodedesk: give a FILE to import, or --template OUT (not both)", file=sys.stderr)
        return EXIT_USAGE
    if template is not None:
        try:
            write_template(Path(template), settings.language.value)
        except (ValueError, OSError) as exc:
            print(f"nodedesk: {exc}", file=sys.stderr)
            return EXIT_USAGE
        print(f"template written to {template}")
        return EXIT_OK
    assert file is not None
    return asyncio.run(run_import(settings, Path(file), dry_run=dry_run))
