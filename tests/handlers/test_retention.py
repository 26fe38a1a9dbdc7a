"""The daily retention job: the cutoff it asks for, and that a failed day does not stop it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from gpb.handlers.retention import DAY_SECONDS, Purge, RetentionJob

NOW = datetime(2026, 9, 1, 12, tzinfo=UTC)


class Events:
    def __init__(self, *outcomes: Purge | Exception) -> None:
        self.outcomes = list(outcomes)
        self.cutoffs: list[datetime] = []

    async def purge_events(self, before: datetime) -> Purge:
        self.cutoffs.append(before)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


class Days:
    """A sleep that records each wait and ends the job after `days` of them."""

    def __init__(self, days: int) -> None:
        self.days = days
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if len(self.waits) == self.days:
            raise asyncio.CancelledError


async def test_one_run_purges_what_is_older_than_the_retention() -> None:
    events = Events(Purge(purged=3, kept=1))
    result = await RetentionJob(events, 400, clock=lambda: NOW).run_once()
    assert result == Purge(purged=3, kept=1)
    assert events.cutoffs == [datetime(2025, 7, 28, 12, tzinfo=UTC)]


async def test_the_job_runs_daily_and_outlives_a_failed_day() -> None:
    events = Events(Purge(1, 0), OSError("disk full"), Purge(2, 0))
    days = Days(3)
    job = RetentionJob(events, 30, clock=lambda: NOW, sleep=days)
    with pytest.raises(asyncio.CancelledError):
        await job.run()
    assert len(events.cutoffs) == 3
    assert days.waits == [DAY_SECONDS] * 3
