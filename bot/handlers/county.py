"""The county's own rules at the edge: its working-time calendar, its scoring, the rankings."""

from __future__ import annotations

from telegram.ext import CommandHandler

from bot.edge import NodeApplication, Turn, transactional
from models.rules.categories import CATEGORIES
from models.rules.permissions import Action
from models.rules.worktime import ChineseCalendarSource, WorkCalendar
from models.services import calendar, scoring
from models.services.calendar import CalendarOutcome
from models.services.scoring import ScoringOutcome
from models.texts import is_keyword

# --- the working-time calendar ----------------------------------------------------------------


@transactional
async def holiday(turn: Turn) -> None:
    await _set_or_clear(turn, "holiday", working=False)


@transactional
async def workday(turn: Turn) -> None:
    await _set_or_clear(turn, "workday", working=True)


async def _set_or_clear(turn: Turn, command: str, working: bool) -> None:
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    if not turn.args:
        await turn.reply("calendar_usage", calendar_command=command)
        return
    day = calendar.parse_day(turn.args[0])
    if day is None:
        await turn.reply("calendar_bad_date", calendar_value=turn.args[0])
        return
    rest = turn.args[1:]
    if len(rest) == 1 and is_keyword(rest[0], "clear"):
        outcome = await calendar.clear_exception(turn.session, turn.now, turn.contact, day)
    else:
        outcome = await calendar.set_exception(
            turn.session, turn.now, turn.contact, turn.edge.desk.zone, day, working, " ".join(rest)
        )
    if outcome.ok and outcome.change is not calendar.Change.UNCHANGED:
        # Deadlines computed from here on, in this process, must see the change at once.
        running = turn.edge.desk.calendar
        if isinstance(running, WorkCalendar):
            await calendar.load_exceptions(turn.session, running)
    await _calendar_answer(turn, outcome)


async def _calendar_answer(turn: Turn, outcome: CalendarOutcome) -> None:
    if outcome.refused is calendar.Refusal.NOT_ALLOWED:
        await turn.reply("not_allowed")
    elif outcome.refused is not None:
        await turn.reply(
            "calendar_refused",
            calendar_reason=outcome.refused.value,
            calendar_day=outcome.exception.day.isoformat() if outcome.exception else None,
            calendar_limit=outcome.limit,
            calendar_earliest=outcome.earliest.isoformat() if outcome.earliest else None,
            calendar_latest=outcome.latest.isoformat() if outcome.latest else None,
        )
    else:
        assert outcome.change is not None and outcome.exception is not None
        await turn.reply(
            "calendar_set",
            calendar_change=outcome.change.value,
            calendar_exception=outcome.exception.params(),
        )


@transactional
async def calendar_list(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    desk = turn.edge.desk
    outcome = await calendar.list_exceptions(turn.session, turn.now, turn.contact, desk.zone)
    if outcome.refused is not None:
        await turn.reply("not_allowed")
        return
    years = ChineseCalendarSource.years()
    await turn.reply(
        "calendar_list",
        calendar_exceptions=[e.params() for e in outcome.exceptions],
        calendar_hours=[
            f"{s.start:%H:%M}-{s.end:%H:%M}" for s in desk.calendar.office_hours.sessions
        ],
        calendar_zone=desk.zone.key,
        calendar_years={"first": years.start, "last": years.stop - 1},
    )


# --- scoring ----------------------------------------------------------------------------------


async def _scoring_usage(turn: Turn, command: str) -> None:
    await turn.reply("scoring_usage", scoring_command=command, scoring_categories=list(CATEGORIES))


async def _scoring_answer(turn: Turn, outcome: ScoringOutcome, template: str) -> None:
    if outcome.refused is scoring.Refusal.NOT_ALLOWED:
        await turn.reply("not_allowed")
    elif outcome.refused is not None:
        await turn.reply("scoring_refused", **scoring.refusal_params(outcome))
    else:
        assert outcome.change is not None
        await turn.reply(template, scoring_change=outcome.change.value, **outcome.detail)


@transactional
async def setpoints(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    if len(turn.args) != 4:
        await _scoring_usage(turn, "setpoints")
        return
    category, green, yellow, red = turn.args
    outcome = await scoring.set_points(
        turn.session, turn.now, turn.contact, category, green, yellow, red
    )
    await _scoring_answer(turn, outcome, "scoring_points_set")


@transactional
async def setweight(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    if len(turn.args) < 3:
        await _scoring_usage(turn, "setweight")
        return
    scope, name, weight = turn.args[0], " ".join(turn.args[1:-1]), turn.args[-1]
    outcome = await scoring.set_weight(turn.session, turn.now, turn.contact, scope, name, weight)
    await _scoring_answer(turn, outcome, "scoring_weight_set")


@transactional
async def deptkind(turn: Turn) -> None:
    if not await turn.needs_person():
        return
    assert turn.contact is not None
    if len(turn.args) < 2:
        await _scoring_usage(turn, "deptkind")
        return
    department, kind = " ".join(turn.args[:-1]), turn.args[-1]
    outcome = await scoring.set_department_kind(
        turn.session, turn.now, turn.contact, department, kind
    )
    await _scoring_answer(turn, outcome, "scoring_kind_set")


# --- rankings ---------------------------------------------------------------------------------


@transactional
async def ranking(turn: Turn) -> None:
    if not await turn.allowed(Action.VIEW_RANKING):
        return
    assert turn.contact is not None
    period = scoring.parse_period(" ".join(turn.args))
    if period is None:
        await turn.reply("ranking_usage")
        return
    view = await scoring.ranking(turn.session, turn.now, turn.edge.desk.zone, period)
    await turn.reply("ranking_table", **scoring.ranking_params(view))


def register(application: NodeApplication) -> None:
    for name, handler in (
        ("holiday", holiday),
        ("workday", workday),
        ("calendar", calendar_list),
        ("setpoints", setpoints),
        ("setweight", setweight),
        ("deptkind", deptkind),
        ("ranking", ranking),
    ):
        application.add_handler(CommandHandler(name, handler))
