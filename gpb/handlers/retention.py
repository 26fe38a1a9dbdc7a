"""Event retention: the log keeps what arrived in the last N days, and anything still needed.

Refused deliveries go sooner (a flood of forged posts must not fill the disk for a year), and
Canvas's request fields about a person (login, address, browser, session) are removed from stored
events after a shorter time than the events themselves. Sync history lives in its own tables and is
never purged here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from gpb.handlers.claims import ALONE, Turns
from gpb.handlers.periodic import Every, run_periodically
from gpb.handlers.ports import EventPurge
from gpb.handlers.timefmt import iso, utcnow

log = logging.getLogger("gpb.retention")

DAY_SECONDS = 86_400.0


# Canvas's request context in an event's metadata that says who did it from where: kept for
# GPB_REQUEST_FIELDS_RETENTION_DAYS only (the rest of the event serves the whole retention).
REQUEST_FIELDS = ("user_login", "client_ip", "user_agent", "session_id")


@dataclass(frozen=True)
class Purge:
    purged: int  # events deleted
    kept: int  # events older than the cutoff that are still needed
    rejected_purged: int = 0  # refused deliveries deleted before the general cutoff
    request_fields_removed: int = 0  # events whose request fields were removed


class RetentionJob:
    """Purges the event log once at start and then once a day."""

    def __init__(
        self,
        events: EventPurge,
        keep_days: int,
        *,
        rejected_keep_days: int | None = None,
        request_fields_keep_days: int | None = None,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        every_seconds: float = DAY_SECONDS,
        turns: Turns = ALONE,
    ) -> None:
        self._events = events
        self._turns = turns
        self._keep = timedelta(days=keep_days)
        self._keep_rejected = _days(rejected_keep_days)
        self._keep_request_fields = _days(request_fields_keep_days)
        self._clock = clock
        self._sleep = sleep
        self._every = every_seconds

    async def run_once(self) -> Purge:
        now = self._clock()
        cutoff = now - self._keep
        result = await self._events.purge_events(cutoff)
        log.info(
            "purged %d events received before %s; kept %d older ones still needed",
            result.purged,
            iso(cutoff),
            result.kept,
        )
        if self._keep_rejected is not None and self._keep_rejected < self._keep:
            rejected = await self._events.purge_rejected(now - self._keep_rejected)
            log.info(
                "purged %d refused deliveries older than %d days",
                rejected,
                self._keep_rejected.days,
            )
            result = replace(result, rejected_purged=rejected)
        if self._keep_request_fields is not None:
            removed = await self._events.remove_request_fields(now - self._keep_request_fields)
            log.info(
                "removed Canvas's request fields from %d events older than %d days",
                removed,
                self._keep_request_fields.days,
            )
            result = replace(result, request_fields_removed=removed)
        return result

    async def run(self) -> None:
        every = Every(self._every, lambda now: now.date().isoformat(), self._clock, self._sleep)
        await run_periodically(
            "retention",
            self.run_once,
            every,
            self._turns,
            self._clock,
            failed="purging old events failed; trying again in a day",
        )


def _days(days: int | None) -> timedelta | None:
    return None if days is None else timedelta(days=days)
