"""Event retention: the log keeps what arrived in the last N days, and anything still needed.

Sync history lives in its own tables and is never purged here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from gpb.handlers.claims import ALONE, Turns
from gpb.handlers.timefmt import iso, utcnow

log = logging.getLogger("gpb.retention")

DAY_SECONDS = 86_400.0


@dataclass(frozen=True)
class Purge:
    purged: int  # events deleted
    kept: int  # events older than the cutoff that are still needed


class EventPurge(Protocol):
    async def purge_events(self, before: datetime) -> Purge:
        """Deletes the events received before `before` that are no longer needed: not waiting for
        their handler or a retry, and not the first copy of a duplicate that is kept."""
        ...


class RetentionJob:
    """Purges the event log once at start and then once a day."""

    def __init__(
        self,
        events: EventPurge,
        keep_days: int,
        *,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        every_seconds: float = DAY_SECONDS,
        turns: Turns = ALONE,
    ) -> None:
        self._events = events
        self._turns = turns
        self._keep = timedelta(days=keep_days)
        self._clock = clock
        self._sleep = sleep
        self._every = every_seconds

    async def run_once(self) -> Purge:
        cutoff = self._clock() - self._keep
        result = await self._events.purge_events(cutoff)
        log.info(
            "purged %d events received before %s; kept %d older ones still needed",
            result.purged,
            iso(cutoff),
            result.kept,
        )
        return result

    async def run(self) -> None:
        while True:
            try:
                now = self._clock()
                if await self._turns.mine("retention", now.date().isoformat(), now):
                    await self.run_once()
            except Exception:  # a full disk or a locked database today may be gone tomorrow
                log.exception("purging old events failed; trying again in a day")
            await self._sleep(self._every)
