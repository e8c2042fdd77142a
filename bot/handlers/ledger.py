"""The ledger (台账) at the edge: `/export [month|quarter|year|all] [csv]`."""

from __future__ import annotations

from telegram.ext import CommandHandler

from bot.edge import NodeApplication, Turn, transactional
from models.rules.permissions import Action
from models.services import ledger


@transactional
async def export(turn: Turn) -> None:
    if not await turn.allowed(Action.EXPORT_LEDGER):
        return
    assert turn.contact is not None
    request = ledger.parse_request(turn.args)
    if request is None:
        await turn.reply("ledger_usage")
        return
    outcome = await ledger.export_ledger(
        turn.session, turn.now, turn.contact, turn.edge.desk.zone, turn.language, request
    )
    if outcome.refused is ledger.Refusal.PRIVATE_ONLY:
        await turn.reply("ledger_private_only")
    elif outcome.refused is not None:
        await turn.reply("not_allowed")


def register(application: NodeApplication) -> None:
    application.add_handler(CommandHandler("export", export))
