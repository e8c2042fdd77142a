"""Periodic work on issues: answered issues the firm never confirmed close on their own."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.clock import Clock
from models.services.issues import Desk, close_unconfirmed

log = logging.getLogger(__name__)


async def close_unconfirmed_issues(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, desk: Desk
) -> int:
    """One pass: every answered issue whose confirmation window has passed closes, once."""
    async with sessions() as session, session.begin():
        closed = await close_unconfirmed(session, clock.now(), desk)
    if closed:
        log.info("closed %d issues the firms did not confirm", len(closed))
    return len(closed)
