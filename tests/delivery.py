"""Delivering a stream of signed events to one gpb or several replicas while they are killed, and
checking what they made of it: each acknowledged event stored once, each handled once."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import httpx
from databases import on_postgres
from running_gpb import ADMIN_TOKEN, GpbProcess, auth

from gpb.infra.sandbox.server import RunningSandbox

SENDERS = 4


class Delivery:
    """Canvas's side: each event is sent until it gets a 2xx, over SENDERS connections; a failed
    attempt (the gpb it reached was killed under it) is sent again, to another replica when there
    are several, as a load balancer would."""

    def __init__(
        self, replicas: Sequence[GpbProcess], sandbox: RunningSandbox, events: list[dict[str, Any]]
    ) -> None:
        self.replicas = replicas
        self.sandbox = sandbox
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for event in events:
            self.queue.put_nowait(event)
        self.acknowledged: dict[str, tuple[int, str]] = {}  # request_id -> (status, event id)
        self.progress = asyncio.Condition()
        self._rng = random.Random(len(events))

    async def send_all(self) -> None:
        await asyncio.gather(*(self._sender() for _ in range(SENDERS)))

    async def _sender(self) -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            while not self.queue.empty():
                event = self.queue.get_nowait()
                status, event_id = await self._until_stored(client, event)
                async with self.progress:
                    self.acknowledged[event["metadata"]["request_id"]] = (status, event_id)
                    self.progress.notify_all()

    async def _until_stored(self, client: httpx.AsyncClient, event: dict[str, Any]) -> Any:
        body = self.sandbox.sign_event(event)
        while True:
            replica = self._rng.choice(self.replicas)
            try:
                answer = await client.post(f"{replica.url}/events/canvas", content=body)
            except httpx.TransportError:
                await asyncio.sleep(0.05)  # killed under this delivery: send it again
                continue
            assert answer.status_code in (200, 202), answer.text
            return answer.status_code, answer.json()["id"]

    async def reached(self, count: int) -> None:
        async with self.progress:
            await self.progress.wait_for(lambda: len(self.acknowledged) >= count)


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
    handlers' before/after outcomes link up, so no change was applied twice or lost between one
    event and the next.

    On SQLite one writer gives ids in the order events are committed, and the worker handles them
    in that order: the links hold in id order. On PostgreSQL two events that arrive together may
    become visible, and be handled, in either order (handling is order-tolerant by event_time):
    the links must still form one chain, in whatever order they ran."""
    handled = sorted(
        (e for e in stored if e["status"] not in ("duplicate", "rejected")),
        key=lambda e: int(e["id"]),
    )
    assert {(e["status"], e["attempts"]) for e in handled} == {("processed", 1)}
    steps: dict[tuple[str, str], list[tuple[Any, Any, str]]] = defaultdict(list)
    for entry in handled:
        outcome = entry["outcome"]
        if "before" in outcome:  # else an assignment event, or a stale one that changed nothing
            key = (outcome["assignment_id"], outcome["student_id"])
            steps[key].append((outcome["before"], outcome["after"], entry["id"]))
    for key, links in steps.items():
        if on_postgres():
            assert _one_chain([(before, after) for before, after, _ in links]), key
        else:
            for (_, after, _), (before, _, event_id) in itertools.pairwise(links):
                assert before == after, event_id


def _one_chain(links: list[tuple[Any, Any]]) -> bool:
    """Whether the (before, after) links, in some order, make one chain: each state a link leaves
    is the state the next one finds, but at the chain's two ends. A change applied twice leaves a
    state found twice; a lost one, a state nobody found."""
    found = Counter(json.dumps(before, sort_keys=True) for before, _ in links)
    left = Counter(json.dumps(after, sort_keys=True) for _, after in links)
    return (found - left).total() <= 1 and (left - found).total() <= 1
