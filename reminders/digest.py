"""Leaders' reports: the daily digest and the red/black lists, each sent once per period."""

from __future__ import annotations

import logging
from datetime import time

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.clock import Clock
from models.services.digest import send_due
from models.services.issues import Desk

log = logging.getLogger(__name__)


async def send_reports(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, desk: Desk, at: time
) -> int:
    """Write every report due now into the outbox; a report already sent is not sent again."""
    async with sessions() as session, session.begin():
        written = await send_due(session, clock.now(), desk, at)
    if written:
        log.info("sent %d leaders' reports", written)
    return written
