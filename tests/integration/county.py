"""A small county for service tests: departments, people, a bound group, a firm, rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from models.rules.permissions import Role
from models.rules.worktime import OfficeHours
from models.services.contacts import Contact, roles_of
from models.services.issues import Desk
from models.tables import (
    Chat,
    ChatPurpose,
    Department,
    Firm,
    Person,
    PersonRole,
    RoutingRule,
)


class StepCalendar:
    """Claim by 8 hours on, close after N plain days: easy to assert, not the real calendar."""

    office_hours = OfficeHours()

    def end_of_working_day(self, moment: datetime) -> datetime:
        return moment + timedelta(hours=8)

    def add_working_days(self, moment: datetime, days: int) -> datetime:
        return moment + timedelta(days=days)

    def add_working_hours(self, moment: datetime, hours: float) -> datetime:
        return moment + timedelta(hours=hours)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5


DESK = Desk(StepCalendar(), ZoneInfo("Asia/Shanghai"), "zh_CN")


@dataclass
class County:
    office: Department
    power: Department
    hr: Department
    coordinator: Person
    electrician: Person
    lineman: Person
    recruiter: Person
    owner: Person
    stranger: Person
    firm: Firm
    group: Chat
    hr_chat: Chat
    chats: dict[int, Chat]
    leader: Person
    head: Person

    async def contact(self, session: AsyncSession, person: Person) -> Contact:
        fresh = await session.get(Person, person.id)
        assert fresh is not None
        return Contact(fresh, self.chats[person.telegram_id], await roles_of(session, person.id))

    async def in_group(self, session: AsyncSession, person: Person) -> Contact:
        fresh = await session.get(Person, person.id)
        assert fresh is not None
        group = await session.get(Chat, self.group.id)
        assert group is not None
        return Contact(fresh, group, await roles_of(session, person.id))


async def build_county(session: AsyncSession, now: datetime) -> County:
    office = Department(name="营商办", is_coordinator=True, created_at=now)
    power = Department(name="供电公司", created_at=now)
    hr = Department(name="人社局", created_at=now)
    session.add_all([office, power, hr])
    await session.flush()
    firm = Firm(name="皖南药业", industry="医药", created_at=now)
    session.add(firm)
    await session.flush()

    async def person(tid: int, name: str, roles: list[Role], **kw: object) -> Person:
        row = Person(telegram_id=tid, full_name=name, created_at=now, **kw)
        session.add(row)
        await session.flush()
        for role in roles:
            session.add(PersonRole(person_id=row.id, role=role))
        chat = Chat(telegram_id=tid, kind="private", purpose=ChatPurpose.PRIVATE, created_at=now)
        session.add(chat)
        chats[tid] = chat
        return row

    chats: dict[int, Chat] = {}
    coordinator = await person(1, "王营商", [Role.COORDINATOR], department_id=office.id)
    electrician = await person(11, "赵电力", [Role.OFFICIAL], department_id=power.id)
    lineman = await person(12, "钱电工", [Role.OFFICIAL], department_id=power.id)
    recruiter = await person(21, "孙人社", [Role.OFFICIAL], department_id=hr.id)
    owner = await person(101, "陈药企", [Role.FIRM], firm_id=firm.id)
    stranger = await person(999, "路人", [])
    leader = await person(31, "周县长", [Role.LEADER])
    head = await person(13, "李主任", [Role.HEAD], department_id=power.id)
    firm.liaison_id = recruiter.id
    group = Chat(
        telegram_id=-1001,
        kind="supergroup",
        title="医药企业群",
        purpose=ChatPurpose.INDUSTRY,
        industry="医药",
        created_at=now,
    )
    hr_chat = Chat(
        telegram_id=-2001,
        kind="supergroup",
        title="人社工作群",
        purpose=ChatPurpose.DEPARTMENT,
        department_id=hr.id,
        created_at=now,
    )
    session.add_all([group, hr_chat])
    session.add_all(
        [
            RoutingRule(
                keywords=["用电", "停电"],
                category="utilities",
                lead_department_id=power.id,
                assist_department_ids=[hr.id],
                created_at=now,
            ),
            RoutingRule(
                keywords=["招工", "用工"],
                category="labour",
                lead_department_id=hr.id,
                created_at=now,
            ),
        ]
    )
    await session.flush()
    return County(
        office,
        power,
        hr,
        coordinator,
        electrician,
        lineman,
        recruiter,
        owner,
        stranger,
        firm,
        group,
        hr_chat,
        chats,
        leader,
        head,
    )
