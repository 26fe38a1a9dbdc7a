"""The loop every scheduled job runs in: a failed round is logged and the next one still comes;
a round another replica took is skipped; cancelling is the only way out."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from gpb.handlers.claims import Turns
from gpb.handlers.periodic import Every, run_periodically

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


class Slots:
    """Another replica takes every second round."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def take(self, job: str, slot: str, holder: str, now: datetime) -> bool:
        self.asked.append(f"{job}:{slot}")
        return len(self.asked) % 2 == 1


async def test_a_failed_round_is_logged_and_the_rounds_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = [NOW]
    ran: list[datetime] = []

    async def sleep(seconds: float) -> None:
        clock[0] += timedelta(seconds=seconds)
        if clock[0] >= NOW + timedelta(minutes=5):
            raise asyncio.CancelledError

    async def run_once() -> None:
        ran.append(clock[0])
        if len(ran) == 1:
            raise OSError("database is locked")

    slots = Slots()
    every = Every(60, lambda now: now.strftime("%H:%M"), lambda: clock[0], sleep)
    with caplog.at_level(logging.ERROR), pytest.raises(asyncio.CancelledError):
        await run_periodically(
            "demo", run_once, every, Turns(slots, "a"), lambda: clock[0], failed="demo failed"
        )
    assert slots.asked == [f"demo:12:0{n}" for n in range(5)]
    assert ran == [NOW, NOW + timedelta(minutes=2), NOW + timedelta(minutes=4)]
    assert [(r.name, r.message) for r in caplog.records] == [("gpb.demo", "demo failed")]
