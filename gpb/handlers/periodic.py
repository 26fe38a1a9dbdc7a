"""The loop of the scheduled jobs (health checks, retention, the nightly reconciliation).

Each round waits for its time, runs the job if this process takes the round's turn (with several
replicas on one database, one of them does), and outlives a failed round: the failure is logged
and the next round comes as planned. Cancelling the task is the only way out of the loop.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Protocol

from gpb.handlers.claims import Turns
from gpb.handlers.timefmt import format_time

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


class Schedule(Protocol):
    async def next_round(self) -> str:
        """Waits until the next round is due; returns its slot, the name replicas take it by."""
        ...


class Every:
    """A round at once, then one `seconds` after the previous ended; `slot` names a round by the
    time it starts (a minute, a day), so replicas starting rounds near each other agree on it."""

    def __init__(
        self, seconds: float, slot: Callable[[datetime], str], clock: Clock, sleep: Sleep
    ) -> None:
        self._seconds = seconds
        self._slot = slot
        self._clock = clock
        self._sleep = sleep
        self._started = False

    async def next_round(self) -> str:
        if self._started:
            await self._sleep(self._seconds)
        self._started = True
        return self._slot(self._clock())


class DailyAt:
    """A round each day at `at`, a local time of `zone`, named by the moment it is due."""

    def __init__(self, at: time, zone: tzinfo, clock: Clock, sleep: Sleep) -> None:
        self._at = at
        self._zone = zone
        self._clock = clock
        self._sleep = sleep

    async def next_round(self) -> str:
        moment = next_run(self._clock(), self._at, self._zone)
        # In steps, so that a clock set right (or a machine woken from sleep) is noticed.
        while (left := (moment - self._clock()).total_seconds()) > 0:
            await self._sleep(min(left, 3600.0))
        return format_time(moment)


def next_run(now: datetime, at: time, zone: tzinfo) -> datetime:
    """The next moment after `now` whose local time in `zone` is `at`, in UTC."""
    day = now.astimezone(zone).date()
    for candidate_day in (day, day + timedelta(days=1)):
        candidate = datetime.combine(candidate_day, at, zone).astimezone(UTC)
        if candidate > now:
            return candidate
    raise AssertionError("a local time recurs within two days")


async def run_periodically(
    job: str,
    run_once: Callable[[], Awaitable[object]],
    schedule: Schedule,
    turns: Turns,
    clock: Clock,
    *,
    failed: str,
) -> None:
    """Runs `run_once` at each round of `schedule` this process takes; `failed` is logged (with
    the traceback, on the `gpb.<job>` logger) when a round fails, which does not stop the loop."""
    log = logging.getLogger(f"gpb.{job}")
    while True:
        slot = await schedule.next_round()
        try:
            if await turns.mine(job, slot, clock()):
                await run_once()
        except Exception:  # a locked or full database, an outside system down: the next round
            log.exception(failed)
