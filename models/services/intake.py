"""Idempotent intake: Telegram re-delivers updates after restarts and slow webhooks."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from models.services.common import prepared_insert
from models.tables import ProcessedUpdate

# Telegram keeps an unconfirmed update for 24 hours; a week is a safe margin to remember ids.
REMEMBER_UPDATES_FOR = timedelta(days=7)


async def claim_update(
    session: AsyncSession,
    now: datetime,
    update_id: int,
    chat_telegram_id: int | None = None,
    message_id: int | None = None,
) -> bool:
    """True the first time an update (or a message, by chat and id) is seen.

    The mark is written in the transaction that handles the update, so an update whose handling
    failed is not marked and will be handled when it comes again.
    """
    statement = prepared_insert(
        session.get_bind().dialect.name, ProcessedUpdate.__table__, "update_id"
    )
    values = {
        "update_id": update_id,
        "chat_telegram_id": chat_telegram_id,
        "message_id": message_id,
        "processed_at": now,
    }
    return (await session.execute(statement, values)).scalar() is not None


async def forget_old_updates(session: AsyncSession, now: datetime) -> int:
    result = await session.execute(
        delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < now - REMEMBER_UPDATES_FOR)
    )
    return int(getattr(result, "rowcount", 0) or 0)
