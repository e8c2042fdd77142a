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
    return update_id in await claim_updates(
        session, now, [(update_id, chat_telegram_id, message_id)]
    )


async def claim_updates(
    session: AsyncSession, now: datetime, updates: list[tuple[int, int | None, int | None]]
) -> set[int]:
    """`claim_update` for several updates (id, chat, message id) in one statement: the ids of
    those seen for the first time."""
    statement = prepared_insert(
        session.get_bind().dialect.name, ProcessedUpdate.__table__, "update_id"
    )
    values = [
        {
            "update_id": update_id,
            "chat_telegram_id": chat_telegram_id,
            "message_id": message_id,
            "processed_at": now,
        }
        for update_id, chat_telegram_id, message_id in updates
    ]
    return set((await session.execute(statement, values)).scalars())


async def forget_old_updates(session: AsyncSession, now: datetime) -> int:
    result = await session.execute(
        delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < now - REMEMBER_UPDATES_FOR)
    )
    return int(getattr(result, "rowcount", 0) or 0)
