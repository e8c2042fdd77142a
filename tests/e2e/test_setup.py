"""Setting up a county through Telegram: departments, rules, binding groups, firms, members."""

from __future__ import annotations

from models.rules.creditcode import make_credit_code
from tests.e2e.conftest import ADMIN_ID, Stack

CODE = make_credit_code("91341003MA2N0A1C3")


async def _admin(stack: Stack) -> int:
    await stack.control.create_user("Admin Wang", id=ADMIN_ID, username="wang")
    chat = await stack.control.create_chat("private", user_id=ADMIN_ID)
    await stack.say(int(chat["id"]), ADMIN_ID, "/start")
    return int(chat["id"])


async def test_a_county_is_set_up_and_a_report_is_routed_by_its_rule(stack: Stack) -> None:
    admin = await _admin(stack)
    member, _ = await stack.control.private_chat("Chen", username="chen")
    chen = int(member["id"])
    group = await stack.group("医药企业群", [ADMIN_ID, chen], admins=(ADMIN_ID,))

    not_admin = await stack.say(group, chen, "/bindgroup 医药")
    assert not_admin["text"] == "You are not allowed to do that."
    bound = await stack.say(group, ADMIN_ID, "/bindgroup 医药 融资")
    assert "now the 医药 industry group" in bound["text"]

    added = await stack.say(admin, ADMIN_ID, "/adddept 供电公司")
    assert added["text"] == "Department “供电公司” added."
    wrong = await stack.say(admin, ADMIN_ID, f"/addfirm 皖南药业 {CODE[:-1]}X 医药")
    assert "is wrong" in wrong["text"] and CODE[-1] in wrong["text"]
    firm = await stack.say(admin, ADMIN_ID, f"/addfirm 皖南药业 {CODE} 医药")
    assert "Firm registered: 皖南药业" in firm["text"]
    rule = await stack.say(admin, ADMIN_ID, "/addrule 停电,用电 utilities 供电公司")
    assert rule["text"].startswith("Routing rule #1 added: 停电, 用电")

    cursor = await stack.control.cursor()
    await stack.control.send_text(group, "/join 皖南药业", from_user_id=chen)
    (sent,) = await stack.replies(group, cursor)
    assert "sent to the coordinator office" in sent["text"]
    request = (await stack.replies(admin, cursor))[0]
    assert "asks to be recorded as a member of 皖南药业" in request["text"]
    keyboard = request["reply_markup"]["inline_keyboard"]
    confirm = next(
        b["callback_data"] for row in keyboard for b in row if b["callback_data"].endswith(":ok")
    )
    assert await stack.press(admin, request["message_id"], confirm, chen) == (
        "You are not allowed to do that."
    )
    await stack.press(admin, request["message_id"], confirm, ADMIN_ID)
    again = await stack.press(admin, request["message_id"], confirm, ADMIN_ID)
    assert again is not None and "already" in again
    await stack.quiet()
    whoami = await stack.say(group, chen, "/whoami")
    assert "Firm: 皖南药业" in whoami["text"] and "firm member" in whoami["text"]

    card = await stack.say(group, chen, "/report 厂区停电影响生产")
    assert "Q-2026-0001" in card["text"] and "Lead: 供电公司" in card["text"]
    assert "(unverified)" not in card["text"]
