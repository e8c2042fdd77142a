"""Long polling that confirms an update to Telegram only once it has been handled.

PTB's Updater confirms a batch (the next getUpdates' offset) as soon as it has queued it, so a
bot killed while handling loses those updates: Telegram has already forgotten them. Here a batch
is handled first and confirmed after, so a crash at any instant means the batch comes again;
each update's id is claimed in the transaction that handles it (bot/edge.py), so what was
already saved is skipped the second time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from telegram import Update
from telegram.error import Conflict, InvalidToken, TelegramError

from bot.edge import NodeApplication, read_update

log = logging.getLogger(__name__)

LONG_POLL_S = 30
FIRST_BACKOFF_S = 1.0
LONGEST_BACKOFF_S = 30.0


@dataclass
class Poller:
    """Fetch, handle, then confirm: the bot's updates in polling mode."""

    application: NodeApplication
    long_poll: int = LONG_POLL_S
    _task: asyncio.Task[None] | None = field(default=None, init=False)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        # A webhook left from webhook mode makes getUpdates fail; the pending updates stay.
        await self.application.bot.delete_webhook(drop_pending_updates=False)
        self._task = asyncio.create_task(self._poll(), name="nodedesk-polling")

    async def stop(self) -> None:
        """Stop fetching; a batch being handled is abandoned, to come again at the next start."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _poll(self) -> None:
        offset: int | None = None
        backoff = FIRST_BACKOFF_S
        while True:
            try:
                updates = await self._fetch(offset)
            except InvalidToken:
                log.critical("Telegram refuses the bot token; polling stops")
                raise
            except (Conflict, TelegramError) as exc:
                # Conflict: another instance polls with this token. Others: network, 5xx.
                log.warning("getUpdates failed (%s); again in %.0f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, LONGEST_BACKOFF_S)
                continue
            backoff = FIRST_BACKOFF_S
            if not updates:
                continue
            # Side by side, as PTB's concurrent updates would; a handler's failure goes to the
            # error handler inside process_update, so one bad update does not hold the rest.
            await asyncio.gather(*(self.application.process_update(u) for u in updates))
            offset = updates[-1].update_id + 1

    async def _fetch(self, offset: int | None) -> list[Update]:
        """The next batch, read again by the edge from Telegram's JSON (it mends what it must)."""
        bot = self.application.bot
        updates = await bot.get_updates(
            offset=offset, timeout=self.long_poll, allowed_updates=Update.ALL_TYPES
        )
        return [read_update(update.to_dict(), bot) for update in updates]
