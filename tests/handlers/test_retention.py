"""The daily retention job: the cutoff it asks for, and that a failed day does not stop it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from gpb.handlers.claims import Turns
from gpb.handlers.retention import DAY_SECONDS, Purge, RetentionJob

NOW = datetime(2026, 9, 1, 12, tzinfo=UTC)


class Events:
    def __init__(self, *outcomes: Purge | Exception) -> None:
        self.outcomes = list(outcomes)
        self.cutoffs: list[datetime] = []
        self.rejected_cutoffs: list[datetime] = []
        self.request_fields_cutoffs: list[datetime] = []

    async def purge_events(self, before: datetime) -> Purge:
        self.cutoffs.append(before)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def purge_rejected(self, before: datetime) -> int:
        self.rejected_cutoffs.append(before)
        return 5

    async def remove_request_fields(self, before: datetime) -> int:
        self.request_fields_cutoffs.append(before)
        return 7


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


async def test_refusals_and_request_fields_have_their_own_shorter_cutoffs() -> None:
    events = Events(Purge(purged=3, kept=1))
    job = RetentionJob(
        events, 400, rejected_keep_days=7, request_fields_keep_days=30, clock=lambda: NOW
    )
    result = await job.run_once()
    assert result == Purge(purged=3, kept=1, rejected_purged=5, request_fields_removed=7)
    assert events.rejected_cutoffs == [NOW - timedelta(days=7)]
    assert events.request_fields_cutoffs == [NOW - timedelta(days=30)]


async def test_the_job_runs_daily_and_outlives_a_failed_day() -> None:
    events = Events(Purge(1, 0), OSError("disk full"), Purge(2, 0))
    days = Days(3)
    job = RetentionJob(events, 30, clock=lambda: NOW, sleep=days)
    with pytest.raises(asyncio.CancelledError):
        await job.run()
    assert len(events.cutoffs) == 3
    assert days.waits == [DAY_SECONDS] * 3


class Slots:
    """Job slots another replica took first on every second day."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, str]] = []

    async def take(self, job: str, slot: str, holder: str, now: datetime) -> bool:
        self.asked.append((job, slot, holder))
        return len(self.asked) % 2 == 1


async def test_among_replicas_the_job_runs_only_the_rounds_it_takes() -> None:
    events = Events(Purge(1, 0), Purge(2, 0))
    slots = Slots()
    days = Days(4)
    job = RetentionJob(
        events,
        30,
        clock=lambda: NOW + timedelta(days=len(days.waits)),  # a day passes with each wait
        sleep=days,
        turns=Turns(slots, "replica-a"),
    )
    with pytest.raises(asyncio.CancelledError):
        await job.run()
    assert [slot for _, slot, _ in slots.asked] == [
        "2026-09-01",
        "2026-09-02",
        "2026-09-03",
        "2026-09-04",
    ]
    assert len(events.cutoffs) == 2  # the first and third rounds; the others were taken
