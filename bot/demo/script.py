"""`nodedesk demo --script`: the sample county's direct line, walked through the control API.

Each step acts as a person and waits for what the bot must answer; a missing answer is a
failure. At the end the transcript of every chat is printed; the exit status is non-zero if
any step failed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from models.services import deadlines
from models.services.issues import issue_by_number

if TYPE_CHECKING:
    from bot.demo import Demo

LINES = Path(__file__).with_name("script.yaml")
Message = dict[str, Any]
WAIT = 15.0


@dataclass
class Walk:
    demo: Demo
    failures: list[str] = field(default_factory=list)
    steps: int = 0

    lines: dict[str, Any] = field(
        default_factory=lambda: yaml.safe_load(LINES.read_text(encoding="utf-8"))
    )

    def person(self, role: str) -> int:
        username = self.lines["people"][role]
        return next(int(p["id"]) for p in self.demo.county["people"] if p["username"] == username)

    def group(self, which: str) -> int:
        industry = self.lines["groups"][which]
        return next(int(g["id"]) for g in self.demo.county["groups"] if g["industry"] == industry)

    async def expect(
        self, what: str, chat_id: int, after: int, test: Callable[[Message], bool]
    ) -> Message | None:
        """Wait for a bot message in `chat_id` after `after` that passes `test`."""
        self.steps += 1
        control = self.demo.control
        seen = after
        for _ in range(int(WAIT)):
            try:
                found = await control.wait_for_bot_messages(
                    1, chat_id=chat_id, after_seq=seen, timeout=1.0
                )
            except TimeoutError:
                found = []
            for message in found:
                seen = max(seen, int(message["seq"]))
                if test(message):
                    print(f"  ✓ {what}")
                    return message
            # A card is edited in place rather than sent anew.
            for message in await control.messages(chat_id):
                if message["is_bot"] and message.get("edited") and test(message):
                    print(f"  ✓ {what}")
                    return message
        print(f"  ✗ {what}: no such answer")
        self.failures.append(what)
        return None

    async def check(self, what: str, ok: bool) -> None:
        self.steps += 1
        print(f"  {'✓' if ok else '✗'} {what}")
        if not ok:
            self.failures.append(what)

    async def press(
        self,
        message: Message | None,
        prefix: str,
        user: int,
        label: str | None = None,
        data_suffix: str = "",
    ) -> str | None:
        """Press the first button whose data starts with `prefix` (and label is `label`)."""
        if message is None:
            return None
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                data = str(button.get("callback_data", ""))
                wanted = data.startswith(prefix) and data.endswith(data_suffix)
                if wanted and label in (None, button.get("text")):
                    pressed = await self.demo.control.press_button(
                        message["chat_id"],
                        message["message_id"],
                        data=button["callback_data"],
                        from_user_id=user,
                        wait=WAIT,
                    )
                    answer = (pressed.get("answer") or {}).get("text")
                    print(f"    pressed {button['text']!r} → {answer!r}")
                    return str(answer) if answer is not None else ""
        self.failures.append(f"no {prefix} button")
        print(f"  ✗ no {prefix} button")
        return None


def _text(message: Message) -> str:
    return str(message.get("text") or "")


def _has_button(prefix: str) -> Callable[[Message], bool]:
    def test(message: Message) -> bool:
        keyboard = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        return any(str(b.get("callback_data", "")).startswith(prefix) for r in keyboard for b in r)

    return test


async def run_script(demo: Demo) -> int:
    walk = Walk(demo)
    control = demo.control
    lines = walk.lines
    chen, chu = walk.person("firm"), walk.person("second_firm")
    zhao, wei = walk.person("official"), walk.person("tea_firm")
    wang, zheng = walk.person("coordinator"), walk.person("finance")
    pharma, tea = walk.group("pharma"), walk.group("tea")

    print("1. A firm member starts the bot in private")
    cursor = await control.cursor()
    await control.send_text(chen, "/start", from_user_id=chen)
    await walk.expect("greeting with buttons", chen, cursor, _has_button("v1:help"))

    print("2. The firm raises a problem in its industry group")
    cursor = await control.cursor()
    report = await control.send_text(pharma, lines["report"], from_user_id=chen)
    await walk.expect(
        "issue card Q-2026-0001 in the group, routed to the power company",
        pharma,
        cursor,
        lambda m: "Q-2026-0001" in _text(m) and m.get("reply_to") == report["message_id"],
    )
    card = await walk.expect(
        "the power company's official gets the card with [Claim]",
        zhao,
        cursor,
        _has_button("v1:claim:"),
    )

    print("3. The official claims it, then answers by replying to the card")
    await walk.press(card, "v1:claim:", zhao)
    cursor = await control.cursor()
    if card is not None:
        await control.send_text(
            zhao,
            lines["answer"],
            from_user_id=zhao,
            reply_to=card["message_id"],
        )
    ack = await walk.expect("the answer is acknowledged", zhao, cursor, _has_button("v1:general:"))
    await walk.press(ack, "v1:general:", zhao)

    print("4. The firm confirms and rates; the general answer is broadcast")
    notice = await walk.expect(
        "the firm is asked whether it is solved", chen, cursor, _has_button("v1:confirm:")
    )
    cursor = await control.cursor()
    await walk.press(notice, "v1:confirm:", chen)
    rating = await walk.expect("the firm is asked to rate", chen, cursor, _has_button("v1:rate:"))
    await walk.press(rating, "v1:rate:", chen, data_suffix=":5")
    await walk.expect(
        "the answer is broadcast to the pharma group",
        pharma,
        cursor,
        lambda m: lines["answer"] in _text(m) and "Q-2026-0001" in _text(m),
    )

    print("5. Another firm asks the same: the earlier answer is shown first")
    cursor = await control.cursor()
    await control.send_text(pharma, lines["similar"], from_user_id=chu)
    similar = await walk.expect(
        "the similar answered issue is offered", pharma, cursor, _has_button("v1:draft:")
    )
    await walk.press(similar, "v1:draft:", chu)

    print("6. A problem no rule places goes to the coordinator, who assigns it")
    cursor = await control.cursor()
    await control.send_text(tea, lines["unplaced"], from_user_id=wei)
    await walk.expect(
        "the tea group sees card Q-2026-0002", tea, cursor, lambda m: "Q-2026-0002" in _text(m)
    )
    triage = await walk.expect(
        "the coordinator gets it with department buttons", wang, cursor, _has_button("v1:assign:")
    )
    await walk.press(triage, "v1:assign:", wang, label=lines["assign_to"])
    fin_card = await walk.expect(
        "the finance bureau gets the card", zheng, cursor, _has_button("v1:claim:")
    )

    print("7. Answered but never confirmed: moving the clock closes it as unconfirmed")
    await walk.press(fin_card, "v1:claim:", zheng)
    cursor = await control.cursor()
    await control.send_text(
        zheng,
        f"/answer Q-2026-0002 {lines['finance_answer']}",
        from_user_id=zheng,
    )
    await walk.expect("the tea firm is asked to confirm", wei, cursor, _has_button("v1:confirm:"))
    await control.advance_clock(4 * 24 * 3600)
    await walk.check(
        "four days later Q-2026-0002 is closed, unconfirmed (its cards are edited)",
        await _closed_kind(demo, "Q-2026-0002") == "unconfirmed",
    )

    print("8. Anyone searches the knowledge base; the firm reads the track")
    cursor = await control.cursor()
    await control.send_text(chen, f"/faq {lines['faq']}", from_user_id=chen)
    await walk.expect("/faq finds the answer", chen, cursor, lambda m: "Q-2026-0001" in _text(m))
    cursor = await control.cursor()
    await control.send_text(chen, "/history Q-2026-0001", from_user_id=chen)
    await walk.expect("/history shows the track", chen, cursor, lambda m: "Q-2026-0001" in _text(m))

    await _cards(walk)
    await _nodes(walk)

    print("11. The leader reads the digest, with its chart")
    li = walk.person("leader")
    cursor = await control.cursor()
    await control.send_text(li, "/digest", from_user_id=li)
    await walk.expect(
        "/digest answers with the chart and the day's figures",
        li,
        cursor,
        lambda m: (
            m.get("photo") is not None
            and walk.lines["expect"]["digest"] in str(m.get("caption") or "")
        ),
    )

    await _transcript(demo)
    print(f"\n{walk.steps - len(walk.failures)}/{walk.steps} expected answers arrived.")
    if walk.failures:
        print("Missing:", *walk.failures, sep="\n  ", file=sys.stderr)
        return 1
    return 0


async def _cards(walk: Walk) -> None:
    """Green for the limits met above; a claim limit missed, re-committed, approved, missed."""
    demo, control, lines = walk.demo, walk.demo.control, walk.lines
    shen, sun, li = walk.person("industrial_firm"), walk.person("hr"), walk.person("leader")
    print("9. Cards: green for limits met, yellow for one missed, red when the new date is missed")
    await walk.check(
        "Q-2026-0001 was claimed and answered in time: green cards",
        await _colours(demo, "Q-2026-0001") == ["green", "green"],
    )
    cursor = await control.cursor()
    await control.send_text(walk.group("industrial"), lines["late_report"], from_user_id=shen)
    await walk.expect("the HR bureau gets Q-2026-0003", sun, cursor, _has_button("v1:claim:"))
    cursor = await control.cursor()
    for _ in range(10):  # nobody claims it: day by day until its claim limit has passed
        await control.advance_clock(24 * 3600)
        if await _colours(demo, "Q-2026-0003"):
            break
    yellow = await walk.expect(
        "a yellow card asks the HR bureau for the reason and a new date",
        sun,
        cursor,
        _has_button("v1:rc:"),
    )
    cursor = await control.cursor()
    await walk.press(yellow, "v1:rc:", sun)
    await walk.expect("the bot asks why", sun, cursor, _mentions(lines["expect"]["why"]))
    cursor = await control.cursor()
    await control.send_text(sun, lines["late_reason"], from_user_id=sun)
    await walk.expect(
        "the bot asks for the new date", sun, cursor, _mentions(lines["expect"]["new_date"])
    )
    new_date = (demo.edge.clock.now() + timedelta(days=3)).astimezone(demo.edge.desk.zone)
    cursor = await control.cursor()
    await control.send_text(sun, new_date.date().isoformat(), from_user_id=sun)
    request = await walk.expect(
        "the leader is asked to approve the new date", li, cursor, _has_button("v1:ra:")
    )
    await walk.press(request, "v1:ra:", li)
    cursor = await control.cursor()
    await control.advance_clock(4 * 24 * 3600)
    await walk.expect(
        "the new date passed too: a red card and an interview notice",
        sun,
        cursor,
        _mentions(lines["expect"]["interview"]),
    )
    await walk.expect("the leader is told", li, cursor, _mentions(lines["expect"]["leader_told"]))
    cursor = await control.cursor()
    await control.send_text(li, "/supervision", from_user_id=li)
    await walk.expect("/supervision lists it", li, cursor, lambda m: "Q-2026-0003" in _text(m))


async def _nodes(walk: Walk) -> None:
    """A key project's node: assigned, progressed, completed, accepted in time: green."""
    demo, control, lines = walk.demo, walk.demo.control, walk.lines
    wang, zhou, li = walk.person("coordinator"), walk.person("land"), walk.person("leader")
    print("10. A key project's node, from assignment to acceptance, on the timeline")

    async def say(who: int, text: str, what: str, test: Callable[[Message], bool]) -> None:
        cursor = await control.cursor()
        await control.send_text(who, text, from_user_id=who)
        await walk.expect(what, who, cursor, test)

    project = lines["project"].split("|")[0].strip()
    await say(wang, f"/addproject {lines['project']}", "the project is added", _mentions(project))
    due = (demo.edge.clock.now() + timedelta(days=10)).astimezone(demo.edge.desk.zone)
    cursor = await control.cursor()
    node = lines["node"].format(date=due.date().isoformat())
    await say(wang, f"/addnode {project} | {node}", "the node N-1 is added", _mentions("N-1"))
    await walk.expect("its owner is told", zhou, cursor, _mentions("N-1"))
    await say(zhou, f"/progress N-1 {lines['progress']}", "progress is recorded", _mentions("60%"))
    cursor = await control.cursor()
    await control.send_text(zhou, f"/done N-1 {lines['done']}", from_user_id=zhou)
    request = await walk.expect(
        "the leader in charge is asked to accept it", li, cursor, _has_button("v1:na:")
    )
    await walk.press(request, "v1:na:", li)
    await control.advance_clock(60)
    await say(li, f"/timeline {project}", "the timeline shows it done, green", _mentions("🟢"))


def _mentions(text: str) -> Callable[[Message], bool]:
    return lambda message: text in _text(message)


async def _colours(demo: Demo, number: str) -> list[str]:
    """The last card raised on each of the issue's limits, claim first."""
    async with demo.edge.sessions() as session:
        issue = await issue_by_number(session, number)
        rows = await deadlines.of_subject(session, "issue", issue.id) if issue else []
    return [row.cards.split(",")[-1] for row in rows if row.cards]


async def _closed_kind(demo: Demo, number: str) -> str | None:
    async with demo.edge.sessions() as session:
        issue = await issue_by_number(session, number)
        return issue.close_kind if issue else None


async def _transcript(demo: Demo) -> None:
    print("\n=== Transcript ===")
    names = {int(p["id"]): p["name"] for p in demo.county["people"]}
    for chat in await demo.control.chats():
        messages = await demo.control.messages(int(chat["id"]))
        if not messages:
            continue
        title = chat.get("title") or names.get(int(chat["id"]), str(chat["id"]))
        print(f"\n--- {title} ---")
        for message in messages:
            who = "bot" if message["is_bot"] else (message.get("from") or {}).get("first_name", "?")
            body = (message.get("text") or message.get("caption") or "").replace("\n", "\n    ")
            edited = " (edited)" if message.get("edited") else ""
            print(f"[{who}]{edited} {body}")
