"""The ledger (台账): a period's issues, nodes, cards and points, as a workbook or CSV files.

Rows are read into plain dicts keyed by column, holding codes ("closed", "yellow") and aware
UTC datetimes; the writers turn them into the chosen language (headers and coded values come
from the `_ledger.j2` macros) and into the county's local time.
"""

from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

from markupsafe import Markup
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from models.rules.permissions import Action, can
from models.rules.scoring import period_bounds
from models.rules.worktime import as_utc
from models.services.common import OutgoingFile, audit, enqueue
from models.services.contacts import Contact
from models.services.nodes import DONE
from models.services.scoring import PERIOD_WORDS
from models.tables import (
    Card,
    Deadline,
    Department,
    Firm,
    Issue,
    Node,
    Person,
    PointsEntry,
    Project,
)
from models.texts import environment

Period = Literal["month", "quarter", "year", "all"]
Format = Literal["xlsx", "csv"]
FORMATS: tuple[Format, ...] = get_args(Format)
LEDGER_PERIOD_WORDS: dict[str, Period] = {**PERIOD_WORDS, "all": "all", "全部": "all"}

# Each sheet's columns, in order; their headers are the `column` macro of `_ledger.j2`.
SHEETS: dict[str, tuple[str, ...]] = {
    "issues": (
        "number",
        "reported_at",
        "status",
        "category",
        "industry",
        "priority",
        "source",
        "firm",
        "text",
        "lead_department",
        "claimed_by",
        "claimed_at",
        "claim_due_at",
        "close_due_at",
        "answer",
        "answered_at",
        "closed_at",
        "close_kind",
        "rating",
        "reopen_count",
        "cards",
    ),
    "nodes": (
        "ref",
        "project",
        "project_category",
        "title",
        "department",
        "owner",
        "deadline",
        "weight",
        "node_status",
        "progress",
        "completion_requested_at",
        "accepted_at",
        "closing_standard",
        "cards",
    ),
    "cards": (
        "raised_at",
        "colour",
        "ref",
        "item",
        "limit",
        "department",
        "owner",
        "due_at",
        "missed_due_at",
        "done_at",
        "recommit_due_at",
        "recommit_status",
        "supervised_at",
    ),
    "points": ("booked_at", "department", "person", "colour", "points", "ref", "item", "reason"),
}
# Columns holding codes that the `value` macro names in the chosen language.
CODED = frozenset(
    {
        "status",
        "category",
        "project_category",
        "priority",
        "source",
        "close_kind",
        "node_status",
        "colour",
        "limit",
        "recommit_status",
        "cards",
    }
)
DATE_FORMAT = "yyyy-mm-dd hh:mm"
DATE_WIDTH = 17
MIN_WIDTH, MAX_WIDTH = 8, 50
# A text cell starting like a formula is prefixed in CSV, so that a spreadsheet shows it as text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Row = dict[str, Any]


@dataclass(frozen=True)
class Request:
    """What `/export` asked for."""

    period: Period = "month"
    format: Format = "xlsx"


def parse_request(words: Sequence[str]) -> Request | None:
    """`[month|quarter|year|all] [csv|xlsx]`, in any order (or 月, 季度, 年, 全部); None when
    unclear."""
    period: Period | None = None
    format_: Format | None = None
    for word in (w.strip().lower() for w in words):
        if word in LEDGER_PERIOD_WORDS and period is None:
            period = LEDGER_PERIOD_WORDS[word]
        elif word in FORMATS and format_ is None:
            format_ = word
        else:
            return None
    return Request(period or "month", format_ or "xlsx")


@dataclass(frozen=True)
class Ledger:
    """A period's rows, sheet by sheet; `start` and `end` are None for everything."""

    period: Period
    now: datetime
    zone: ZoneInfo
    start: datetime | None
    end: datetime | None
    sheets: dict[str, list[Row]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {name: len(self.sheets.get(name, [])) for name in SHEETS}

    def local(self, moment: datetime) -> datetime:
        """A moment as the county's wall-clock time, without a zone (what Excel can hold)."""
        return as_utc(moment).astimezone(self.zone).replace(tzinfo=None)

    def stem(self) -> str:
        """The files' name without suffix: ledger-2026-03, ledger-2026-Q1, ledger-all-2026-03-02."""
        if self.start is None:
            return f"ledger-all-{self.local(self.now):%Y-%m-%d}"
        first = self.local(self.start)
        if self.period == "month":
            return f"ledger-{first:%Y-%m}"
        if self.period == "quarter":
            return f"ledger-{first.year}-Q{(first.month - 1) // 3 + 1}"
        return f"ledger-{first.year}"

    def params(self) -> dict[str, Any]:
        """What the caption (`ledger_caption`) and the command line's summary show."""
        first = self.local(self.start) if self.start else None
        last = self.local(self.end) - timedelta(days=1) if self.end else None
        counts = self.counts()
        return {
            "ledger_period": self.period,
            "ledger_year": first.year if first else None,
            "ledger_month": first.month if first else None,
            "ledger_quarter": (first.month - 1) // 3 + 1 if first else None,
            "ledger_from": f"{first:%Y-%m-%d}" if first else None,
            "ledger_to": f"{last:%Y-%m-%d}" if last else None,
            "ledger_as_of": f"{self.local(self.now):%Y-%m-%d %H:%M}",
            **{f"ledger_{name}": count for name, count in counts.items()},
        }


# --- reading ----------------------------------------------------------------------------------


async def read_ledger(
    session: AsyncSession, now: datetime, zone: ZoneInfo, period: Period
) -> Ledger:
    """Issues reported in the period; nodes due in it or not yet done; cards raised and points
    booked in it. `all`: everything."""
    start, end = period_bounds(period, now, zone) if period != "all" else (None, None)
    return Ledger(
        period,
        now,
        zone,
        start,
        end,
        {
            "issues": await _issues(session, start, end),
            "nodes": await _nodes(session, start, end),
            "cards": await _cards(session, start, end),
            "points": await _points(session, start, end),
        },
    )


def _within(column: Any, start: datetime | None, end: datetime | None) -> list[ColumnElement[bool]]:
    return [] if start is None or end is None else [column >= start, column < end]


async def _issues(session: AsyncSession, start: datetime | None, end: datetime | None) -> list[Row]:
    within = _within(Issue.created_at, start, end)
    claimer = aliased(Person)
    cards = await _cards_by_subject(session, "issue", select(Issue.id).where(*within))
    result = await session.execute(
        select(Issue, Firm.name, Department.name, claimer.full_name)
        .outerjoin(Firm, Firm.id == Issue.firm_id)
        .outerjoin(Department, Department.id == Issue.department_id)
        .outerjoin(claimer, claimer.id == Issue.claimed_by_id)
        .where(*within)
        .order_by(Issue.created_at, Issue.id)
    )
    return [
        {
            "number": issue.number,
            "reported_at": issue.created_at,
            "status": issue.status,
            "category": issue.category,
            "industry": issue.industry,
            "priority": issue.priority,
            "source": issue.source,
            "firm": firm,
            "text": issue.text,
            "lead_department": department,
            "claimed_by": claimed_by,
            "claimed_at": issue.claimed_at,
            "claim_due_at": issue.claim_due_at,
            "close_due_at": issue.close_due_at,
            "answer": issue.answer,
            "answered_at": issue.answered_at,
            "closed_at": issue.closed_at,
            "close_kind": issue.close_kind,
            "rating": issue.rating,
            "reopen_count": issue.reopen_count,
            "cards": cards.get(issue.id, []),
        }
        for issue, firm, department, claimed_by in result
    ]


async def _nodes(session: AsyncSession, start: datetime | None, end: datetime | None) -> list[Row]:
    due = _within(Node.deadline, start, end)
    which = [or_(Node.status != DONE, and_(*due))] if due else []
    owner = aliased(Person)
    cards = await _cards_by_subject(session, "node", select(Node.id).where(*which))
    result = await session.execute(
        select(Node, Project.name, Project.category, Department.name, owner.full_name)
        .join(Project, Project.id == Node.project_id)
        .outerjoin(Department, Department.id == Node.department_id)
        .outerjoin(owner, owner.id == Node.owner_id)
        .where(*which)
        .order_by(Project.name, Node.deadline, Node.id)
    )
    return [
        {
            "ref": f"N-{node.id}",
            "project": project,
            "project_category": category,
            "title": node.title,
            "department": department,
            "owner": owner_name,
            "deadline": node.deadline,
            "weight": node.weight,
            "node_status": node.status,
            "progress": node.progress,
            "completion_requested_at": node.completion_requested_at,
            "accepted_at": node.accepted_at,
            "closing_standard": node.closing_standard,
            "cards": cards.get(node.id, []),
        }
        for node, project, category, department, owner_name in result
    ]


async def _cards_by_subject(
    session: AsyncSession, subject_type: str, subjects: Select[Any]
) -> dict[int, list[tuple[str, str]]]:
    """Each subject's cards as (deadline kind, colour), in the order they were raised."""
    result = await session.execute(
        select(Deadline.subject_id, Deadline.kind, Card.colour)
        .join(Card, Card.deadline_id == Deadline.id)
        .where(Deadline.subject_type == subject_type, Deadline.subject_id.in_(subjects))
        .order_by(Card.raised_at, Card.id)
    )
    cards: dict[int, list[tuple[str, str]]] = {}
    for subject_id, kind, colour in result:
        cards.setdefault(subject_id, []).append((kind, colour))
    return cards


def _issue_of_deadline() -> ColumnElement[bool]:
    return and_(Deadline.subject_type == "issue", Issue.id == Deadline.subject_id)


def _ref(deadline: Deadline, number: str | None) -> str:
    return number if number is not None else f"N-{deadline.subject_id}"


async def _cards(session: AsyncSession, start: datetime | None, end: datetime | None) -> list[Row]:
    owner = aliased(Person)
    result = await session.execute(
        select(Card, Deadline, Department.name, owner.full_name, Issue.number)
        .join(Deadline, Deadline.id == Card.deadline_id)
        .outerjoin(Department, Department.id == Deadline.department_id)
        .outerjoin(owner, owner.id == Deadline.owner_id)
        .outerjoin(Issue, _issue_of_deadline())
        .where(*_within(Card.raised_at, start, end))
        .order_by(Card.raised_at, Card.id)
    )
    return [
        {
            "raised_at": card.raised_at,
            "colour": card.colour,
            "ref": _ref(deadline, number),
            "item": deadline.label,
            "limit": deadline.kind,
            "department": department,
            "owner": owner_name,
            "due_at": deadline.due_at,
            "missed_due_at": card.missed_due_at,
            "done_at": deadline.done_at,
            "recommit_due_at": deadline.recommit_due_at,
            "recommit_status": deadline.recommit_status,
            "supervised_at": deadline.supervised_at,
        }
        for card, deadline, department, owner_name, number in result
    ]


async def _points(session: AsyncSession, start: datetime | None, end: datetime | None) -> list[Row]:
    person = aliased(Person)
    result = await session.execute(
        select(PointsEntry, Deadline, Department.name, person.full_name, Issue.number)
        .join(Card, Card.id == PointsEntry.card_id)
        .join(Deadline, Deadline.id == Card.deadline_id)
        .outerjoin(Department, Department.id == PointsEntry.department_id)
        .outerjoin(person, person.id == PointsEntry.person_id)
        .outerjoin(Issue, _issue_of_deadline())
        .where(*_within(PointsEntry.at, start, end))
        .order_by(PointsEntry.at, PointsEntry.id)
    )
    return [
        {
            "booked_at": entry.at,
            "department": department,
            "person": person_name,
            "colour": entry.colour,
            "points": entry.points,
            "ref": _ref(deadline, number),
            "item": deadline.label,
            "reason": entry.reason,
        }
        for entry, deadline, department, person_name, number in result
    ]


# --- writing ----------------------------------------------------------------------------------


class _Words:
    """Sheet names, headers and coded values in one language, from `_ledger.j2`."""

    def __init__(self, language: str) -> None:
        self.macros: Any = environment().get_template(f"{language}/_ledger.j2").module

    @staticmethod
    def _plain(markup: str) -> str:
        return Markup(markup).unescape().strip()

    def sheet(self, name: str) -> str:
        return self._plain(self.macros.sheet(name))

    def column(self, key: str) -> str:
        return self._plain(self.macros.column(key))

    def value(self, key: str, value: Any) -> Any:
        if value is None or key not in CODED:
            return value
        if key == "cards" and not value:
            return None
        return self._plain(self.macros.value(key, value))


def _cells(ledger: Ledger, words: _Words, sheet: str) -> list[list[Any]]:
    """A sheet's rows as cell values: named codes, local naive datetimes, None for nothing,
    text without control characters."""
    columns = SHEETS[sheet]
    rows: list[list[Any]] = []
    for row in ledger.sheets.get(sheet, []):
        cells: list[Any] = []
        for key in columns:
            value = words.value(key, row[key])
            if isinstance(value, datetime):
                value = ledger.local(value)
            elif isinstance(value, str):
                # Control characters (but tab and line breaks) are not allowed in a workbook, and
                # a spreadsheet shows them as junk in a CSV file.
                value = ILLEGAL_CHARACTERS_RE.sub("", value)
            cells.append(value)
        rows.append(cells)
    return rows


def workbook(ledger: Ledger, language: str) -> bytes:
    """One sheet per part, headers in `language`, bold and frozen; dates as Excel dates."""
    words = _Words(language)
    book = Workbook()
    first = book.active
    if first is not None:
        book.remove(first)
    stamp = ledger.local(ledger.now)
    book.properties.created = book.properties.modified = stamp
    book.properties.creator = "Nodedesk"
    for name, columns in SHEETS.items():
        sheet = book.create_sheet(words.sheet(name))
        headers = [words.column(key) for key in columns]
        sheet.append(headers)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        widths = [_width(header) for header in headers]
        for values in _cells(ledger, words, name):
            sheet.append(values)
            for position, cell in enumerate(sheet[sheet.max_row]):
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # never a formula, whatever the text starts with
                elif isinstance(cell.value, datetime):
                    cell.number_format = DATE_FORMAT
                widths[position] = max(widths[position], _width(cell.value))
        for position, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(position)].width = width
        sheet.freeze_panes = "A2"
        sheet.auto_filter.ref = sheet.dimensions
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _width(value: Any) -> float:
    if value is None:
        return MIN_WIDTH
    if isinstance(value, datetime):
        return DATE_WIDTH
    text = str(value)
    longest = max(
        sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)
        for line in text.splitlines() or [""]
    )
    return float(min(max(longest + 2, MIN_WIDTH), MAX_WIDTH))


def csv_files(ledger: Ledger, language: str) -> dict[str, bytes]:
    """One CSV per sheet (issues.csv, nodes.csv, cards.csv, points.csv), UTF-8 with a BOM so
    that Excel reads Chinese right."""
    words = _Words(language)
    files: dict[str, bytes] = {}
    for name, columns in SHEETS.items():
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([words.column(key) for key in columns])
        for values in _cells(ledger, words, name):
            writer.writerow([_csv_value(value) for value in values])
        files[f"{name}.csv"] = out.getvalue().encode("utf-8-sig")
    return files


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    if len(text) > 1 and text.startswith(FORMULA_START) and not isinstance(value, int | float):
        return "'" + text
    return text


def zipped(ledger: Ledger, files: Mapping[str, bytes]) -> bytes:
    """The files in one ZIP, each named `<stem>-<file>` and dated when the ledger was read."""
    stamp = ledger.local(ledger.now).timetuple()[:6]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(f"{ledger.stem()}-{name}", date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return out.getvalue()


def ledger_file(ledger: Ledger, format_: Format, language: str) -> OutgoingFile:
    """The document to send: the workbook, or a ZIP of the CSV files."""
    if format_ == "csv":
        data = zipped(ledger, csv_files(ledger, language))
        return OutgoingFile("document", f"{ledger.stem()}.zip", data)
    return OutgoingFile("document", f"{ledger.stem()}.xlsx", workbook(ledger, language))


# --- the use case -----------------------------------------------------------------------------


class Refusal(StrEnum):
    NOT_ALLOWED = "not_allowed"
    PRIVATE_ONLY = "private_only"


@dataclass(frozen=True)
class Outcome:
    ledger: Ledger | None = None
    file: OutgoingFile | None = None
    refused: Refusal | None = None


def record_export(
    session: AsyncSession,
    now: datetime,
    ledger: Ledger,
    format_: Format,
    language: str,
    actor_id: int | None,
    via: str,
) -> None:
    """The audit entry of an export, by the bot or the command line."""
    audit(
        session,
        now,
        "ledger_exported",
        "ledger",
        None,
        actor_id=actor_id,
        period=ledger.period,
        format=format_,
        language=language,
        via=via,
        counts=ledger.counts(),
    )


async def export_ledger(
    session: AsyncSession,
    now: datetime,
    who: Contact,
    zone: ZoneInfo,
    language: str,
    request: Request,
) -> Outcome:
    """/export: the ledger as a document, sent to the person's private chat only, since it
    names firms."""
    if not can(who.roles, Action.EXPORT_LEDGER):
        return Outcome(refused=Refusal.NOT_ALLOWED)
    if who.chat.kind != "private":
        return Outcome(refused=Refusal.PRIVATE_ONLY)
    ledger = await read_ledger(session, now, zone, request.period)
    file = ledger_file(ledger, request.format, language)
    record_export(session, now, ledger, request.format, language, who.person.id, "bot")
    await enqueue(session, now, who.chat, "ledger_caption", language, ledger.params(), file=file)
    return Outcome(ledger, file)
