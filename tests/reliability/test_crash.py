"""`gpb serve` killed with SIGKILL at random moments while events pour in, and started again.

A 2xx means the event is on disk: every event that got one is in the log exactly once, and every
event is handled exactly once, however the kills fell (while a request was read, while its commit
was in flight, while the worker handled it). The final grade snapshot and pending delta equal what
a gpb that was never killed makes of the same events delivered in order.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import event_stream
import httpx
import pytest
from delivery import (
    Delivery,
    assert_each_event_handled_once,
    assert_each_event_stored_once,
    stored_events,
)
from running_gpb import GpbProcess

from gpb.infra.sandbox.server import run_sandbox

pytestmark = pytest.mark.reliability

SEED = 7


async def kill_at_random(gpb: GpbProcess, delivery: Delivery, kills: int, total: int) -> None:
    """Kills gpb after random numbers of acknowledged events, a few milliseconds on (so the kill
    lands on requests, commits and handling alike), and starts it again."""
    rng = random.Random(SEED)
    for threshold in sorted(rng.sample(range(total // 10, total * 9 // 10), kills)):
        await delivery.reached(threshold)
        await asyncio.sleep(rng.uniform(0, 0.05))
        await gpb.kill()
        await gpb.start()


async def test_killed_at_random_it_loses_no_acknowledged_event_and_applies_none_twice(
    tmp_path: Path, long_run: bool
) -> None:
    count, kills = (3000, 10) if long_run else (600, 3)
    events = list(event_stream.events(SEED, count))
    expected = await event_stream.in_order(tmp_path / "in-order", events)
    async with run_sandbox() as sandbox:
        folder = tmp_path / "killed"
        folder.mkdir()
        gpb = GpbProcess(folder, sandbox.gpb_environment())
        await gpb.start()
        try:
            delivery = Delivery([gpb], sandbox, events)
            await asyncio.gather(delivery.send_all(), kill_at_random(gpb, delivery, kills, count))
            async with httpx.AsyncClient(base_url=gpb.url, timeout=60) as client:
                got = await event_stream.outcome(client, gpb.environment["GPB_DATABASE_URL"])
            stored = await stored_events(gpb)
        finally:
            await gpb.stop()

    assert_each_event_stored_once(stored, delivery.acknowledged)
    assert_each_event_handled_once(stored)
    event_stream.assert_newest_event_wins(got.grades, events)
    assert got == expected
