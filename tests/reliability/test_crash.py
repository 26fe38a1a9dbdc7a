"""`gpb serve` killed with SIGKILL at random moments while events pour in, and started again.

A 2xx means the event is on disk: every event that got one is in the log exactly once, and every
event is handled exactly once, however the kills fell (while a request was read, while its commit
was in flight, while the worker handled it). The final grade snapshot and pending delta equal what
a gpb that was never killed makes of the same events delivered in order.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import event_stream
import httpx
import pytest
from running_gpb import ADMIN_TOKEN, GpbProcess, auth

from gpb.infra.sandbox.server import RunningSandbox, run_sandbox

pytestmark = pytest.mark.reliability

SEED = 7
SENDERS = 4


class Delivery:
    """Canvas's side: each event is sent until it gets a 2xx, over SENDERS connections; a failed
    attempt (gpb was killed under it) is sent again once gpb answers."""

    def __init__(self, gpb: GpbProcess, sandbox: RunningSandbox, events: list[dict[str, Any]]):
        self.gpb = gpb
        self.sandbox = sandbox
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for event in events:
            self.queue.put_nowait(event)
        self.acknowledged: dict[str, tuple[int, str]] = {}  # request_id -> (status, event id)
        self.progress = asyncio.Condition()

    async def send_all(self) -> None:
        await asyncio.gather(*(self._sender() for _ in range(SENDERS)))

    async def _sender(self) -> None:
        async with httpx.AsyncClient(base_url=self.gpb.url, timeout=30) as client:
            while not self.queue.empty():
                event = self.queue.get_nowait()
                status, event_id = await self._until_stored(client, event)
                async with self.progress:
                    self.acknowledged[event["metadata"]["request_id"]] = (status, event_id)
                    self.progress.notify_all()

    async def _until_stored(self, client: httpx.AsyncClient, event: dict[str, Any]) -> Any:
        body = self.sandbox.sign_event(event)
        while True:
            try:
                answer = await client.post("/events/canvas", content=body)
            except httpx.TransportError:
                await asyncio.sleep(0.05)  # killed under this delivery: send it again
                continue
            assert answer.status_code in (200, 202), answer.text
            return answer.status_code, answer.json()["id"]

    async def reached(self, count: int) -> None:
        async with self.progress:
            await self.progress.wait_for(lambda: len(self.acknowledged) >= count)


async def kill_at_random(gpb: GpbProcess, delivery: Delivery, kills: int, total: int) -> None:
    """Kills gpb after random numbers of acknowledged events, a few milliseconds on (so the kill
    lands on requests, commits and handling alike), and starts it again."""
    rng = random.Random(SEED)
    for threshold in sorted(rng.sample(range(total // 10, total * 9 // 10), kills)):
        await delivery.reached(threshold)
        await asyncio.sleep(rng.uniform(0, 0.05))
        await gpb.kill()
        await gpb.start()


async def stored_events(gpb: GpbProcess) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=gpb.url, timeout=60) as client:
        answer = await client.get("/api/events/export", headers=auth(ADMIN_TOKEN))
    assert answer.status_code == 200, answer.text
    return [json.loads(line) for line in answer.text.splitlines()]


def assert_each_event_stored_once(
    stored: list[dict[str, Any]], acknowledged: dict[str, tuple[int, str]]
) -> None:
    first_copies: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in stored:
        if entry["status"] not in ("duplicate", "rejected"):
            first_copies[entry["payload"]["metadata"]["request_id"]].append(entry)
    assert set(first_copies) == set(acknowledged)
    for request_id, (status, event_id) in acknowledged.items():
        (entry,) = first_copies[request_id]
        # A 200 names the first copy too: an earlier attempt was stored before its answer was
        # lost, and the retry was logged as a duplicate of it.
        assert entry["id"] == event_id
        if status == 200:
            assert any(e.get("duplicate_of") == event_id for e in stored), request_id


def assert_each_event_handled_once(stored: list[dict[str, Any]]) -> None:
    """Handled and finished in one transaction, once: one attempt each, and for each grade the
    handlers' before/after outcomes link up in the order they ran, so no change was applied
    twice or lost between one event and the next."""
    handled = sorted(
        (e for e in stored if e["status"] not in ("duplicate", "rejected")),
        key=lambda e: int(e["id"]),
    )
    assert {(e["status"], e["attempts"]) for e in handled} == {("processed", 1)}
    last_after: dict[tuple[str, str], Any] = {}
    for entry in handled:
        outcome = entry["outcome"]
        if "before" not in outcome:
            continue  # an assignment event, or a stale one that changed nothing
        key = (outcome["assignment_id"], outcome["student_id"])
        if key in last_after:
            assert outcome["before"] == last_after[key], entry["id"]
        last_after[key] = outcome["after"]


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
            delivery = Delivery(gpb, sandbox, events)
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
