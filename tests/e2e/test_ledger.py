"""The ledger through Telegram: /export sends a leader the workbook (or the CSV files in a ZIP)
in private; a firm member is refused, and a group is told to ask in private."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import httpx
from openpyxl import load_workbook

from tests.e2e.conftest import Line, bound, report


async def _document(
    line: Line, chat_id: int, user_id: int, text: str
) -> tuple[dict[str, Any], bytes]:
    """Send a command and return the bot's answer, a document, with the file's bytes."""
    message = await line.stack.say(chat_id, user_id, text)
    assert message["document"] is not None, message["text"]
    async with httpx.AsyncClient(base_url=line.stack.sandbox.url) as client:
        response = await client.get(message["document"]["url"])
    response.raise_for_status()
    return message, response.content


async def test_a_leader_gets_the_ledger_workbook_in_private(line: Line) -> None:
    await bound(line)
    await report(line)
    await line.stack.quiet()
    leader = line.uid("leader")
    message, data = await _document(line, leader, leader, "/export")
    assert message["document"]["file_name"] == "ledger-2026-03.xlsx"
    assert message["caption"].startswith("Ledger · 2026-03 (2026-03-01 to 2026-03-31, as of")
    assert "1 issue, 0 nodes, 0 cards, 0 points entries" in message["caption"]
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Issues", "Nodes", "Cards", "Points"]
    header, row = book["Issues"].iter_rows(values_only=True)
    assert header[:3] == ("Number", "Reported", "Status")
    assert row[0] == "Q-2026-0001" and "厂区经常停电" in row[header.index("Problem")]
    assert row[header.index("Firm")] == "皖南药业"


async def test_the_coordinator_gets_csv_files_in_a_zip(line: Line) -> None:
    await bound(line)
    await report(line)
    await line.stack.quiet()
    coordinator = line.uid("coordinator")
    message, data = await _document(line, coordinator, coordinator, "/export 季度 csv")
    assert message["document"]["file_name"] == "ledger-2026-Q1.zip"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        issues = archive.read("ledger-2026-Q1-issues.csv").decode("utf-8-sig")
    assert len(names) == 4
    assert issues.startswith("Number,Reported,Status") and "Q-2026-0001" in issues


async def test_no_ledger_for_a_firm_member_nor_in_a_group_and_usage_otherwise(
    line: Line,
) -> None:
    stack = line.stack
    owner, leader = line.uid("owner"), line.uid("leader")
    refused = await stack.say(owner, owner, "/export")
    assert refused["text"] == "You are not allowed to do that." and refused["document"] is None
    in_group = await stack.say(line.group, line.uid("coordinator"), "/export")
    assert in_group["text"].startswith("The ledger names firms, so it is sent in private only")
    assert in_group["document"] is None
    usage = await stack.say(leader, leader, "/export weekly")
    assert usage["text"].startswith("Usage: /export [month|quarter|year|all] [csv]")
