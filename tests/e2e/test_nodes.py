"""Key projects through Telegram: a project and its node, progress with a photo, the owner asks
for acceptance, the leader accepts or sends it back, and the timeline shows it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.app import periodic_work
from models.tables import Deadline, Node, NodeUpdate
from tests.e2e.conftest import Line, button_data

PROJECT = "厂房项目"


async def _project_with_a_group(line: Line) -> int:
    """The project, led by the county leader, and its group, bound by the coordinator."""
    stack = line.stack
    coordinator = line.uid("coordinator")
    added = await stack.say(
        coordinator, coordinator, f"/addproject {PROJECT} | 工业项目 | 营商办 | 31"
    )
    assert added["text"].startswith(f"🏗 Key project added: {PROJECT}"), added["text"]
    assert "Leader in charge: 周县长" in added["text"]
    members = [line.uid(who) for who in ("coordinator", "electrician", "leader", "stranger")]
    group = await stack.group("厂房项目群", members, admins=(coordinator,))
    refused = await stack.say(group, line.uid("stranger"), f"/bindproject {PROJECT}")
    assert refused["text"] == "You are not allowed to do that."
    bound = await stack.say(group, coordinator, f"/bindproject {PROJECT}")
    assert "is now the group of the project" in bound["text"]
    return group


async def _node(line: Line, title: str) -> int:
    stack = line.stack
    coordinator, electrician = line.uid("coordinator"), line.uid("electrician")
    cursor = await stack.control.cursor()
    added = await stack.say(
        coordinator,
        coordinator,
        f"/addnode {PROJECT} | {title} | 供电公司 | 11 | 2026-03-20 | 3 | 变压器投运，送电正常",
    )
    assert added["text"].startswith("📌 Node added:"), added["text"]
    assert "Due: 2026-03-20 17:30; weight 3" in added["text"]
    (told,) = await stack.replies(electrician, cursor)
    assert "A node for you" in told["text"] and title in told["text"]
    async with stack.db.sessions() as session:
        node_id = await session.scalar(select(Node.id).where(Node.title == title))
    assert node_id is not None
    return node_id


async def _ask_acceptance(line: Line, node_id: int) -> dict[str, Any]:
    """The owner's /done; the leader's request with its buttons."""
    stack = line.stack
    electrician, leader = line.uid("electrician"), line.uid("leader")
    cursor = await stack.control.cursor()
    asked = await stack.say(electrician, electrician, f"/done N-{node_id} 已送电")
    assert asked["text"] == f"Acceptance of N-{node_id} requested from the leader in charge."
    (request,) = await stack.replies(leader, cursor)
    assert "Node awaiting acceptance" in request["text"]
    assert "Closing standard: 变压器投运，送电正常" in request["text"]
    return request


async def test_a_node_from_its_adding_to_acceptance_and_the_timeline(line: Line) -> None:
    stack, control = line.stack, line.stack.control
    group = await _project_with_a_group(line)
    node_id = await _node(line, "厂区通电")
    ref = f"N-{node_id}"
    electrician, leader = line.uid("electrician"), line.uid("leader")

    # A photo captioned /progress is the evidence; the project group sees the progress.
    cursor = await control.cursor()
    await control.send_photo(
        electrician, from_user_id=electrician, caption=f"/progress {ref} 60 主体完成"
    )
    (ack,) = await stack.replies(electrician, cursor)
    assert ack["text"] == f"Progress of {ref} recorded: 60%."
    (posted,) = await stack.replies(group, cursor)
    assert f"{ref} {PROJECT} · 厂区通电: 60% (赵电力)" in posted["text"]
    assert "Evidence: 📷 photo" in posted["text"]
    async with stack.db.sessions() as session:
        update = await session.scalar(select(NodeUpdate))
        assert update is not None and update.file_kind == "photo" and update.file_id

    wrong = await stack.say(electrician, electrician, f"/progress {ref} 120")
    assert wrong["text"] == "Progress is a whole number from 0 to 100, not “120”."
    request = await _ask_acceptance(line, node_id)
    assert "Evidence: 📷 photo: 主体完成 (赵电力" in request["text"]
    accept = button_data(request, "v1:na:")

    # Someone else's press, and a forged one, change nothing.
    denied = await stack.press(leader, request["message_id"], accept, line.uid("stranger"))
    assert denied == "You are not allowed to do that."
    forged = await stack.press(leader, request["message_id"], "v1:na:999", leader)
    assert forged is not None and forged.startswith("There is no node N-999")

    cursor = await control.cursor()
    accepted = await stack.press(leader, request["message_id"], accept, leader)
    assert accepted == f"Accepted: {ref} is closed."
    (told,) = await stack.replies(electrician, cursor)
    assert "accepted by 周县长; the node is closed" in told["text"]
    await stack.quiet()
    edited = await line.latest(leader, request["message_id"])
    assert "✅ Accepted by 周县长" in edited["text"]
    stale = await stack.press(leader, request["message_id"], accept, leader)
    assert stale == f"{ref} has moved on (now: closed); the action no longer applies."

    # The sweep scores it green; the timeline shows it, and is published in the group.
    await periodic_work(stack.edge)
    async with stack.db.sessions() as session:
        row = await session.scalar(select(Deadline).where(Deadline.subject_type == "node"))
        assert row is not None and row.cards == "green"
    shown = await stack.say(leader, leader, f"/timeline {PROJECT}")
    assert f"Timeline of {PROJECT}" in shown["text"] and "Closed 1/1" in shown["text"]
    assert f"{ref}</b>" not in shown["text"] and f"{ref} 厂区通电" in shown["text"]
    assert "closed · done 2026-03-02" in shown["text"] and "🟢" in shown["text"]
    cursor = await control.cursor()
    coordinator = line.uid("coordinator")
    published = await stack.say(coordinator, coordinator, f"/timeline {PROJECT} publish")
    assert "is published in the project's group" in published["text"]
    (in_group,) = await stack.replies(group, cursor)
    assert f"Timeline of {PROJECT}" in in_group["text"] and "🟢" in in_group["text"]


async def test_a_node_sent_back_with_a_reason_and_a_stale_button(line: Line) -> None:
    stack, control = line.stack, line.stack.control
    await _project_with_a_group(line)
    node_id = await _node(line, "道路通车")
    ref = f"N-{node_id}"
    electrician, leader = line.uid("electrician"), line.uid("leader")
    request = await _ask_acceptance(line, node_id)
    assert "Evidence: none yet" in request["text"]

    cursor = await control.cursor()
    asked = await stack.press(leader, request["message_id"], button_data(request, "v1:nr:"), leader)
    assert asked == f"Please reply with why {ref} goes back."
    (question,) = await stack.replies(leader, cursor)
    assert "why does it go back?" in question["text"] and ref in question["text"]
    cursor = await control.cursor()
    sent_back = await stack.say(leader, leader, "缺少送电记录")
    assert sent_back["text"] == f"Sent back: {ref}; its owner is told why."
    (told,) = await stack.replies(electrician, cursor)
    assert "not accepted" in told["text"] and "Reason: 缺少送电记录" in told["text"]
    await stack.quiet()
    edited = await line.latest(leader, request["message_id"])
    assert "↩️ Sent back by 周县长. Reason: 缺少送电记录" in edited["text"]

    # The old request's buttons no longer apply; neither does a command on the open node.
    stale = await stack.press(leader, request["message_id"], button_data(request, "v1:na:"), leader)
    assert stale == f"{ref} has moved on (now: in progress); the action no longer applies."
    again = await stack.say(leader, leader, f"/sendback {ref} 还是不行")
    assert again["text"].startswith(f"{ref} has moved on (now: in progress)")
    malformed = await stack.press(leader, request["message_id"], "v1:na:x", leader)
    assert malformed == "This button is no longer valid."

    # Asked again and sent back by command this time.
    await _ask_acceptance(line, node_id)
    denied = await stack.say(electrician, electrician, f"/sendback {ref} 不行")
    assert denied["text"] == "You are not allowed to do that."
    back = await stack.say(leader, leader, f"/sendback {ref} 照片不清楚")
    assert back["text"] == f"Sent back: {ref}; its owner is told why."
    usage = await stack.say(leader, leader, "/accept")
    assert usage["text"].startswith("Usage: /accept")
    async with stack.db.sessions() as session:
        node = await session.get(Node, node_id)
        assert node is not None and (node.status, node.returned_reason) == ("open", "照片不清楚")
    listed = await stack.say(leader, leader, "/projects")
    assert f"{PROJECT} · 工业项目 · 营商办 · leader: 周县长" in listed["text"]
    assert "1 nodes: 0 closed, 0 awaiting acceptance, 1 in progress" in listed["text"]


async def test_setpolicy_takes_its_new_options_through_telegram(line: Line) -> None:
    stack, coordinator = line.stack, line.uid("coordinator")
    said = await stack.say(
        coordinator, coordinator, "/setpolicy default 5 3 claim=4h remind=24,2 quiet=off"
    )
    assert "claim within 4 office hours; reminders 24, 2 h before; no quiet hours" in said["text"]
    bad = await stack.say(coordinator, coordinator, "/setpolicy default 5 3 quiet=22:00")
    assert bad["text"].startswith("The quiet hours “22:00” are wrong")
    usage = await stack.say(coordinator, coordinator, "/setpolicy default 5 3 colour=red")
    assert usage["text"].startswith("Usage: /setpolicy") and "claim=4h|eod" in usage["text"]
