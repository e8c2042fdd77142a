"""The deadline sweep: one periodic job finds every card owed and every reminder due.

Deadlines live in the database (`deadlines.card_due_at`, `deadlines.next_reminder_at`, both
indexed); no scheduler job exists per item, so nothing is lost when the bot restarts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.clock import Clock
from models.services.issues import Desk, refresh_cards
from models.services.sweep import SWEEP_BATCH, CardsRaised, Swept, sweep
from models.tables import Issue

log = logging.getLogger(__name__)


def _show_cards(now: datetime, desk: Desk) -> CardsRaised:
    """Issue cards in the groups are edited to show a newly raised card."""

    async def show(session: AsyncSession, subjects: set[tuple[str, int]]) -> None:
        for subject_type, subject_id in sorted(subjects):
            issue = await session.get(Issue, subject_id) if subject_type == "issue" else None
            if issue is not None:
                await refresh_cards(session, now, desk, issue)

    return show


@dataclass
class SweepTotals:
    cards: int = 0
    reminders: int = 0
    messages: int = 0
    passes: int = 0


async def sweep_deadlines(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, desk: Desk, batch: int = SWEEP_BATCH
) -> SweepTotals:
    """Sweep in transactions of at most `batch` rows each until nothing more is due."""
    totals = SweepTotals()
    now = clock.now()
    while True:
        async with sessions() as session, session.begin():
            swept: Swept = await sweep(
                session, now, desk.zone, desk.language, batch, _show_cards(now, desk)
            )
        totals.passes += 1
        totals.cards += len(swept.cards)
        totals.reminders += swept.reminders
        totals.messages += swept.messages
        if swept.examined < batch:
            break
    if totals.cards or totals.reminders:
        log.info(
            "sweep: %d cards, %d reminders, %d messages",
            totals.cards,
            totals.reminders,
            totals.messages,
        )
    return totals
