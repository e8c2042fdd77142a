"""The ledger (台账) on a real database: a period's issues, nodes, cards and points, written as a
workbook and as CSV files and read back; /export's use case sends it in private only."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select

from models.clock import FrozenClock
from models.services import issues, ledger, nodes
from models.services.issues import Report
from models.services.ledger import Ledger, Refusal, Request, parse_request
from models.tables import (
    AuditEntry,
    Card,
    Deadline,
    Issue,
    Node,
    OutboxFile,
    OutboxMessage,
    PointsEntry,
)
from models.texts import plain, render
from reminders.sweep import sweep_deadlines
from tests.conftest import START, Database
from tests.integration.county import DESK, County, build_county

ZONE = ZoneInfo("Asia/Shanghai")
HOUR = timedelta(hours=1)
FORMULA = '=HYPERLINK("http://example.com") 招工\x0b难'

ZH_SHEETS = ["问题", "节点", "亮牌", "积分"]
EN_SHEETS = ["Issues", "Nodes", "Cards", "Points"]
ZH_ISSUE_HEADERS = [
    "编号",
    "反映时间",
    "状态",
    "类别",
    "行业",
    "紧急程度",
    "来源",
    "企业",
    "问题描述",
    "承办单位",
    "认领人",
    "认领时间",
    "认领时限",
    "办结时限",
    "答复内容",
    "答复时间",
    "办结时间",
    "办结方式",
    "满意度（1-5）",
    "退回次数",
    "亮牌",
]
EN_POINTS_HEADERS = [
    "Booked",
    "Department",
    "Official",
    "Colour",
    "Points",
    "Item",
    "Description",
    "Reason",
]


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZONE).astimezone(UTC)


@pytest.fixture
async def county(db: Database, clock: FrozenClock) -> County:
    """The county, with a ledger's worth of history.

    Monday 2 March 09:00: the firm reports a power cut (claim limit missed: yellow) and a hiring
    problem (claimed in time: green). Earlier: a closed issue in February and one in December
    2025; a project with a node done in January (its green card and point booked then), one
    due on 10 March and one due in April.
    """
    async with db.sessions() as session, session.begin():
        county = await build_county(session, clock.now())
        who = await county.in_group(session, county.owner)
        for text in ("厂区经常停电", FORMULA):
            outcome = await issues.report_issue(
                session, clock.now(), DESK, Report(text=text, chat=who.chat, reporter=who)
            )
            assert outcome.issue is not None
        for number, reported, closed in (
            ("Q-2026-0100", local(2026, 2, 10, 10), local(2026, 2, 12, 16)),
            ("Q-2025-0007", local(2025, 12, 30, 10), local(2025, 12, 31, 16)),
        ):
            session.add(
                Issue(
                    number=number,
                    status="closed",
                    text="社保补贴怎么申请",
                    category="subsidies",
                    industry="医药",
                    priority="urgent",
                    source="visit",
                    firm_id=county.firm.id,
                    department_id=county.hr.id,
                    claimed_by_id=county.recruiter.id,
                    claimed_at=reported + HOUR,
                    answer="已解决 <b>",
                    answered_at=closed - HOUR,
                    closed_at=closed,
                    close_kind="confirmed",
                    rating=5,
                    assist_department_ids=[],
                    created_at=reported,
                    updated_at=closed,
                )
            )
        project = await nodes.create_project(
            session, clock.now(), "产业园", "land", county.power.id, county.leader, None
        )
        for title, due in (
            ("完成土地征收", local(2026, 3, 10, 17, 30)),
            ("开工建设", local(2026, 4, 20)),
        ):
            await nodes.create_node(
                session,
                clock.now(),
                DESK,
                project,
                title,
                county.power,
                county.electrician,
                due,
                3,
                "拿到土地证",
                None,
            )
        january = local(2026, 1, 15, 17, 30)
        done = Node(
            project_id=project.id,
            title="立项",
            department_id=county.power.id,
            owner_id=county.electrician.id,
            deadline=january,
            weight=1,
            status="done",
            progress=100,
            completion_requested_at=january - 2 * HOUR,
            accepted_at=january - HOUR,
            created_at=january - 30 * 24 * HOUR,
        )
        session.add(done)
        await session.flush()
        deadline = Deadline(
            subject_type="node",
            subject_id=done.id,
            kind="node",
            label=nodes.label(done, project),
            department_id=county.power.id,
            owner_id=county.electrician.id,
            due_at=january,
            done_at=january - HOUR,
            cards="green",
            created_at=january,
            updated_at=january,
        )
        session.add(deadline)
        await session.flush()
        card = Card(deadline_id=deadline.id, colour="green", raised_at=january)
        session.add(card)
        await session.flush()
        session.add(
            PointsEntry(
                card_id=card.id,
                department_id=county.power.id,
                person_id=county.electrician.id,
                colour="green",
                points=1.0,
                reason="按期完成",
                at=january,
            )
        )
    clock.advance(HOUR)
    async with db.sessions() as session, session.begin():
        hiring = await issues.issue_by_number(session, "Q-2026-0002")
        assert hiring is not None
        who = await county.contact(session, county.recruiter)
        assert (await issues.claim_issue(session, clock.now(), DESK, who, hiring.id)).ok
    clock.advance(8 * HOUR)  # 18:00: the power cut's claim limit has passed
    assert (await sweep_deadlines(db.sessions, clock, DESK)).cards == 2
    clock.advance(HOUR)
    return county


async def _read(db: Database, clock: FrozenClock, period: ledger.Period) -> Ledger:
    async with db.sessions() as session:
        return await ledger.read_ledger(session, clock.now(), ZONE, period)


def _book(data: bytes) -> Any:
    return load_workbook(io.BytesIO(data))


def _rows(sheet: Worksheet) -> list[list[Any]]:
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def _by_header(sheet: Worksheet) -> list[dict[str, Any]]:
    header, *rows = _rows(sheet)
    return [dict(zip(header, row, strict=True)) for row in rows]


# --- reading a period -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "counts", "numbers"),
    [
        ("month", (2, 2, 2, 2), ["Q-2026-0001", "Q-2026-0002"]),
        ("quarter", (3, 3, 3, 3), ["Q-2026-0100", "Q-2026-0001", "Q-2026-0002"]),
        ("year", (3, 3, 3, 3), ["Q-2026-0100", "Q-2026-0001", "Q-2026-0002"]),
        ("all", (4, 3, 3, 3), ["Q-2025-0007", "Q-2026-0100", "Q-2026-0001", "Q-2026-0002"]),
    ],
)
async def test_a_period_holds_its_issues_its_nodes_due_or_open_its_cards_and_points(
    db: Database,
    clock: FrozenClock,
    county: County,
    period: ledger.Period,
    counts: tuple[int, int, int, int],
    numbers: list[str],
) -> None:
    read = await _read(db, clock, period)
    assert tuple(read.counts().values()) == counts
    assert [row["number"] for row in read.sheets["issues"]] == numbers
    titles = [row["title"] for row in read.sheets["nodes"]]
    # The node done in January is not this month's; the one due in April is open, so it is.
    assert titles == (["完成土地征收", "开工建设"] if period == "month" else ["立项", *titles[1:]])


async def test_the_rows_hold_codes_names_and_utc_times(
    db: Database, clock: FrozenClock, county: County
) -> None:
    read = await _read(db, clock, "month")
    power_cut, hiring = read.sheets["issues"]
    assert power_cut["reported_at"] == START
    assert power_cut["status"] == "routed" and power_cut["category"] == "utilities"
    assert power_cut["firm"] == "皖南药业" and power_cut["lead_department"] == "供电公司"
    assert power_cut["cards"] == [("claim#1", "yellow")]
    assert hiring["claimed_by"] == "孙人社" and hiring["cards"] == [("claim#1", "green")]
    cards = {row["ref"]: row for row in read.sheets["cards"]}
    yellow, green = cards["Q-2026-0001"], cards["Q-2026-0002"]
    assert (yellow["colour"], yellow["ref"], yellow["limit"]) == (
        "yellow",
        "Q-2026-0001",
        "claim#1",
    )
    assert yellow["raised_at"] == START + 9 * HOUR
    # A claim limit is the department's: nobody owned it yet.
    assert green["owner"] is None and green["department"] == "人社局"
    points = {row["ref"]: row for row in read.sheets["points"]}
    assert points["Q-2026-0002"]["points"] == 1.0 and points["Q-2026-0002"]["person"] is None
    assert (
        points["Q-2026-0001"]["points"] == 0.0 and points["Q-2026-0001"]["department"] == "供电公司"
    )


# --- the workbook -----------------------------------------------------------------------------


async def test_the_workbook_has_a_sheet_each_with_chinese_headers_bold_and_frozen(
    db: Database, clock: FrozenClock, county: County
) -> None:
    book = _book(ledger.workbook(await _read(db, clock, "month"), "zh_CN"))
    assert book.sheetnames == ZH_SHEETS
    issues_sheet = book["问题"]
    assert _rows(issues_sheet)[0] == ZH_ISSUE_HEADERS
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2"
        assert all(cell.font.bold for cell in sheet[1])
        assert sheet.auto_filter.ref == sheet.dimensions
    assert [sheet.max_row for sheet in book.worksheets] == [3, 3, 3, 3]
    power_cut, hiring = _by_header(issues_sheet)
    assert power_cut["编号"] == "Q-2026-0001"
    # Excel dates in the county's zone, without a zone.
    assert power_cut["反映时间"] == datetime(2026, 3, 2, 9, 0)
    assert issues_sheet["B2"].number_format == "yyyy-mm-dd hh:mm"
    assert power_cut["认领时限"] == datetime(2026, 3, 2, 17, 0)
    assert (power_cut["状态"], power_cut["类别"], power_cut["来源"]) == (
        "待认领",
        "水电气",
        "群内反映",
    )
    assert (power_cut["企业"], power_cut["承办单位"]) == ("皖南药业", "供电公司")
    assert power_cut["亮牌"] == "认领时限黄牌"
    assert power_cut["认领人"] is None and power_cut["退回次数"] == 0
    # Text that starts like a formula stays text; control characters are dropped.
    assert hiring["问题描述"] == FORMULA.replace("\x0b", "")
    assert issues_sheet["I3"].data_type == "s"
    assert hiring["认领人"] == "孙人社" and hiring["亮牌"] == "认领时限绿牌"
    # Sensible widths: wide enough for the Chinese header, a date, and capped for long text.
    assert issues_sheet.column_dimensions["A"].width >= len("Q-2026-0001")
    assert issues_sheet.column_dimensions["B"].width == ledger.DATE_WIDTH
    assert issues_sheet.column_dimensions["I"].width <= ledger.MAX_WIDTH

    area, start_work = _by_header(book["节点"])
    assert (area["项目"], area["节点"], area["类别"]) == ("产业园", "完成土地征收", "土地")
    assert (area["责任单位"], area["责任人"], area["权重"]) == ("供电公司", "赵电力", 3)
    assert (area["状态"], area["进度（%）"], area["销号标准"]) == ("推进中", 0, "拿到土地证")
    assert area["完成时限"] == datetime(2026, 3, 10, 17, 30)
    assert area["事项编号"].startswith("N-") and area["亮牌"] is None
    assert start_work["节点"] == "开工建设"

    cards = {row["事项编号"]: row for row in _by_header(book["亮牌"])}
    yellow, green = cards["Q-2026-0001"], cards["Q-2026-0002"]
    assert (yellow["颜色"], yellow["事项编号"], yellow["时限类型"]) == (
        "黄牌",
        "Q-2026-0001",
        "认领时限",
    )
    assert yellow["亮牌时间"] == datetime(2026, 3, 2, 18, 0)
    assert yellow["事项"].startswith("Q-2026-0001 · 厂区经常停电")
    assert green["颜色"] == "绿牌" and green["完成时间"] == datetime(2026, 3, 2, 10, 0)

    booked = {row["事项编号"]: row for row in _by_header(book["积分"])}
    assert booked["Q-2026-0002"]["分值"] == 1 and booked["Q-2026-0002"]["责任人"] is None
    assert booked["Q-2026-0001"]["分值"] == 0 and booked["Q-2026-0001"]["责任单位"] == "供电公司"


async def test_the_workbook_speaks_english_when_asked(
    db: Database, clock: FrozenClock, county: County
) -> None:
    book = _book(ledger.workbook(await _read(db, clock, "quarter"), "en"))
    assert book.sheetnames == EN_SHEETS
    assert _rows(book["Points"])[0] == EN_POINTS_HEADERS
    assert [sheet.max_row for sheet in book.worksheets] == [4, 4, 4, 4]
    february, power_cut, _ = _by_header(book["Issues"])
    assert february["Number"] == "Q-2026-0100"
    assert (february["Status"], february["Category"], february["Priority"]) == (
        "closed",
        "policy subsidies",
        "urgent",
    )
    assert (february["Source"], february["How it closed"], february["Rating (1-5)"]) == (
        "visit",
        "confirmed by the firm",
        5,
    )
    assert february["Answer"] == "已解决 <b>"  # plain text, not escaped
    assert february["Closed"] == datetime(2026, 2, 12, 16, 0)
    assert power_cut["Cards"] == "claim limit: yellow"
    done = _by_header(book["Nodes"])[0]
    assert (done["Node"], done["Status"], done["Progress (%)"]) == ("立项", "accepted", 100)
    assert done["Cards"] == "node deadline: green"
    assert done["Accepted"] == datetime(2026, 1, 15, 16, 30)
    january = _by_header(book["Cards"])[0]
    assert (january["Colour"], january["Limit"], january["Done"]) == (
        "green",
        "node deadline",
        datetime(2026, 1, 15, 16, 30),
    )
    booked = _by_header(book["Points"])[0]
    assert (booked["Official"], booked["Points"], booked["Reason"]) == ("赵电力", 1, "按期完成")


async def test_an_empty_period_still_has_every_sheet_and_header(
    db: Database, clock: FrozenClock
) -> None:
    async with db.sessions() as session:
        empty = await ledger.read_ledger(session, clock.now(), ZONE, "month")
    book = _book(ledger.workbook(empty, "en"))
    assert book.sheetnames == EN_SHEETS
    assert [sheet.max_row for sheet in book.worksheets] == [1, 1, 1, 1]
    assert _rows(book["Points"]) == [EN_POINTS_HEADERS]


# --- CSV --------------------------------------------------------------------------------------


async def test_csv_files_one_per_sheet_utf8_with_a_bom(
    db: Database, clock: FrozenClock, county: County
) -> None:
    files = ledger.csv_files(await _read(db, clock, "month"), "zh_CN")
    assert list(files) == ["issues.csv", "nodes.csv", "cards.csv", "points.csv"]
    assert all(data.startswith(b"\xef\xbb\xbf") for data in files.values())
    rows = list(csv.reader(io.StringIO(files["issues.csv"].decode("utf-8-sig"))))
    assert rows[0] == ZH_ISSUE_HEADERS
    header = rows[0]
    power_cut, hiring = (dict(zip(header, row, strict=True)) for row in rows[1:])
    assert power_cut["反映时间"] == "2026-03-02 09:00" and power_cut["状态"] == "待认领"
    assert power_cut["认领人"] == "" and power_cut["亮牌"] == "认领时限黄牌"
    # A spreadsheet must not run a firm's text as a formula.
    assert hiring["问题描述"] == "'" + FORMULA.replace("\x0b", "")
    points = list(csv.DictReader(io.StringIO(files["points.csv"].decode("utf-8-sig"))))
    assert sorted(row["分值"] for row in points) == ["0", "1"]
    assert len(list(csv.reader(io.StringIO(files["nodes.csv"].decode("utf-8-sig"))))) == 3


async def test_the_csv_zip_holds_the_four_files_named_after_the_period(
    db: Database, clock: FrozenClock, county: County
) -> None:
    read = await _read(db, clock, "quarter")
    file = ledger.ledger_file(read, "csv", "en")
    assert (file.kind, file.file_name) == ("document", "ledger-2026-Q1.zip")
    with zipfile.ZipFile(io.BytesIO(file.data)) as archive:
        assert archive.namelist() == [
            f"ledger-2026-Q1-{name}"
            for name in ("issues.csv", "nodes.csv", "cards.csv", "points.csv")
        ]
        assert archive.getinfo("ledger-2026-Q1-issues.csv").date_time == (2026, 3, 2, 19, 0, 0)
        text = archive.read("ledger-2026-Q1-cards.csv").decode("utf-8-sig")
    assert text.splitlines()[0].startswith("Raised,Colour,Item,Description,Limit")
    assert len(list(csv.reader(io.StringIO(text)))) == 4


@pytest.mark.parametrize(
    ("period", "name", "shown"),
    [
        ("month", "ledger-2026-03.xlsx", "Ledger · 2026-03 (2026-03-01 to 2026-03-31, as of"),
        ("quarter", "ledger-2026-Q1.xlsx", "Ledger · Q1 2026 (2026-01-01 to 2026-03-31, as of"),
        ("year", "ledger-2026.xlsx", "Ledger · 2026 (2026-01-01 to 2026-12-31, as of"),
        ("all", "ledger-all-2026-03-02.xlsx", "Ledger · everything (as of 2026-03-02 19:00)"),
    ],
)
async def test_each_period_names_its_file_and_caption(
    db: Database, clock: FrozenClock, county: County, period: ledger.Period, name: str, shown: str
) -> None:
    read = await _read(db, clock, period)
    assert ledger.ledger_file(read, "xlsx", "en").file_name == name
    caption = plain(render("ledger_caption", "en", read.params()), limit=1000)
    assert caption.startswith(shown)
    assert "\n" not in caption


# --- /export's use case -----------------------------------------------------------------------


async def _outbox(db: Database) -> list[tuple[OutboxMessage, OutboxFile | None]]:
    async with db.sessions() as session:
        result = await session.execute(
            select(OutboxMessage, OutboxFile)
            .outerjoin(OutboxFile, OutboxFile.outbox_id == OutboxMessage.id)
            .where(OutboxMessage.template.like("ledger%"))
            .order_by(OutboxMessage.id)
        )
        return [(message, file) for message, file in result]


async def test_a_leader_gets_the_workbook_in_private_and_the_export_is_audited(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        who = await county.contact(session, county.leader)
        outcome = await ledger.export_ledger(session, clock.now(), who, ZONE, "en", Request())
    assert outcome.refused is None and outcome.ledger is not None
    ((message, file),) = await _outbox(db)
    assert message.chat_id == county.chats[county.leader.telegram_id].id
    assert (message.template, message.language, message.has_file) == ("ledger_caption", "en", True)
    assert message.params["ledger_issues"] == 2 and message.params["ledger_period"] == "month"
    assert file is not None and (file.kind, file.file_name) == ("document", "ledger-2026-03.xlsx")
    assert _book(file.data).sheetnames == EN_SHEETS
    async with db.sessions() as session:
        (entry,) = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "ledger_exported")
        )
    assert entry.actor_id == county.leader.id and entry.subject_type == "ledger"
    assert entry.detail == {
        "period": "month",
        "format": "xlsx",
        "language": "en",
        "via": "bot",
        "counts": {"issues": 2, "nodes": 2, "cards": 2, "points": 2},
    }


async def test_the_coordinator_gets_the_csv_zip(
    db: Database, clock: FrozenClock, county: County
) -> None:
    async with db.sessions() as session, session.begin():
        who = await county.contact(session, county.coordinator)
        await ledger.export_ledger(session, clock.now(), who, ZONE, "zh_CN", Request("all", "csv"))
    ((message, file),) = await _outbox(db)
    assert file is not None and file.file_name == "ledger-all-2026-03-02.zip"
    with zipfile.ZipFile(io.BytesIO(file.data)) as archive:
        assert len(archive.namelist()) == 4
    assert message.params["ledger_issues"] == 4


@pytest.mark.parametrize(
    ("who", "in_group", "refused"),
    [
        ("owner", False, Refusal.NOT_ALLOWED),
        ("electrician", False, Refusal.NOT_ALLOWED),
        ("leader", True, Refusal.PRIVATE_ONLY),
    ],
)
async def test_no_ledger_for_firms_or_officials_nor_in_a_group(
    db: Database, clock: FrozenClock, county: County, who: str, in_group: bool, refused: Refusal
) -> None:
    person = getattr(county, who)
    async with db.sessions() as session, session.begin():
        contact = await (county.in_group if in_group else county.contact)(session, person)
        outcome = await ledger.export_ledger(session, clock.now(), contact, ZONE, "en", Request())
    assert outcome.refused is refused and outcome.file is None
    assert await _outbox(db) == []
    async with db.sessions() as session:
        audited = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "ledger_exported")
        )
        assert list(audited) == []


# --- what /export accepts ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "request_"),
    [
        ([], Request("month", "xlsx")),
        (["quarter"], Request("quarter", "xlsx")),
        (["YEAR", "csv"], Request("year", "csv")),
        (["csv"], Request("month", "csv")),
        (["csv", "all"], Request("all", "csv")),
        (["月"], Request("month", "xlsx")),
        (["季度"], Request("quarter", "xlsx")),
        (["季", "csv"], Request("quarter", "csv")),
        (["年"], Request("year", "xlsx")),
        (["全部"], Request("all", "xlsx")),
        (["xlsx"], Request("month", "xlsx")),
    ],
)
def test_export_takes_a_period_and_a_format_in_either_language(
    words: list[str], request_: Request
) -> None:
    assert parse_request(words) == request_


@pytest.mark.parametrize(
    "words", [["week"], ["month", "month"], ["csv", "xlsx"], ["month", "csv", "x"], ["2026-03"]]
)
def test_anything_else_is_not_understood(words: list[str]) -> None:
    assert parse_request(words) is None
