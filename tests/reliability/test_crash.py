"""`gpb serve` killed with SIGKILL at random moments while events pour in, and in the middle of a
remaster, and started again.

A 2xx means the event is on disk: every event that got one is in the log exactly once, and every
event is handled exactly once, however the kills fell (while a request was read, while its commit
was in flight, while the worker handled it). The final grade snapshot and pending delta equal what
a gpb that was never killed makes of the same events delivered in order.

A run killed midway sends nothing again that it had stored as confirmed when it resumes; what it
had not stored yet (the calls in flight, the confirmations still waiting to share a commit) it
sends once more, and IC ends with every grade.
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
from running_gpb import (
    HOLD_WRITES,
    RUN_GOING,
    GpbProcess,
    SandboxedGpb,
    applied_result_puts,
    graded_in_canvas,
    resumed_to_the_end,
    sandbox_settings,
)

from gpb.infra.sandbox.faults import FaultConfig
from gpb.infra.sandbox.server import run_sandbox
from gpb.infra.store.store import SqlStore

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


async def confirmed_in_run(database_url: str, sync_id: str) -> dict[str, str]:
    """What the run had stored as confirmed, read from the database a killed gpb left."""
    store = SqlStore(database_url)
    store.start()
    try:
        return await store.syncs.confirmed_in_run(sync_id)
    finally:
        await store.close()


async def test_a_run_killed_midway_sends_nothing_again_that_it_had_stored(tmp_path: Path) -> None:
    async with run_sandbox() as sandbox:
        # Four calls in flight, each answered after 50 ms: several confirmations come within
        # one wait for a shared commit, so the kill may fall on some still waiting.
        sandbox.state.sis_faults.configure(FaultConfig(latency_seconds=0.05))
        gpb = GpbProcess(tmp_path, sandbox.gpb_environment() | {"GPB_SIS_MAX_CONCURRENCY": "4"})
        await gpb.start()
        try:
            async with httpx.AsyncClient(base_url=gpb.url, timeout=30) as client:
                env = SandboxedGpb(sandbox, sandbox_settings(sandbox, tmp_path), client)
                await env.handled(
                    await env.post("assignment_created", assignment_id="10000000000124")
                )
                await graded_in_canvas(
                    env,
                    [
                        (assignment_id, str(user_id), {"score": user_id % 10})
                        for assignment_id in ("124", "125")
                        for user_id in range(1201, 1213)
                    ],
                )
                started = await env.post_json("/api/courses/456/syncs", {"kind": "remaster"})
                assert started.status_code == 202, started.text
                sync_id = started.json()["id"]
                for _ in range(3000):  # until the run has stored a few confirmations
                    run = (await env.get(f"/api/syncs/{sync_id}")).json()
                    if run["progress"]["confirmed"] >= 4 or run["status"] not in RUN_GOING:
                        break
                    await asyncio.sleep(0.005)
                # IC holds what comes next, so that the run cannot end before the kill.
                sandbox.state.sis_faults.configure(HOLD_WRITES)
            await gpb.kill()
            stored = await confirmed_in_run(gpb.environment["GPB_DATABASE_URL"], sync_id)
            sandbox.state.sis_faults.configure(FaultConfig())
            await gpb.start()
            async with httpx.AsyncClient(base_url=gpb.url, timeout=30) as client:
                env = SandboxedGpb(sandbox, sandbox_settings(sandbox, tmp_path), client)
                done = await resumed_to_the_end(env, sync_id)
        finally:
            await gpb.stop()

    assert done["status"] == "succeeded", done["errors"]
    puts = applied_result_puts(sandbox)
    results = {k for k in sandbox.state.ic.results if k.startswith("canvas-a")}
    assert set(puts) == results  # IC holds every grade
    assert 4 <= len(stored) < len(results), (
        f"the kill fell mid-run: {len(stored)} of {len(results)}"
    )
    assert all(puts[sourced_id] == 1 for sourced_id in stored), puts  # nothing stored sent again
    assert all(count <= 2 for count in puts.values()), puts  # the rest at most once more
