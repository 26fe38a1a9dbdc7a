"""Delivery as it really goes: the same events arrive duplicated, out of order within a few seconds,
and retried after answers that never came back. gpb must end exactly where in-order delivery of
each event once ends: the same grade snapshot, the same pending delta."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import event_stream
import pytest
from running_gpb import SandboxedGpb, sandboxed_gpb

pytestmark = pytest.mark.reliability

SEED = 20261102
DISORDER_SECONDS = 3.0
DUPLICATE_SHARE = 0.10
ABANDONED_SHARE = 0.05
SENDERS = 4


def chaotic(events: list[dict[str, Any]], rng: random.Random) -> list[tuple[dict[str, Any], bool]]:
    """(event, abandoned) deliveries: each event at its time plus up to DISORDER_SECONDS, about
    one in ten twice, and some first sent by a client that hangs up before the answer (then
    sent again, as Canvas retries a delivery it heard nothing back from)."""
    timed: list[tuple[float, dict[str, Any], bool]] = []
    for n, event in enumerate(events):
        at = n * 0.2  # about the stream's pace; only the order matters
        copies = 2 if rng.random() < DUPLICATE_SHARE else 1
        for _ in range(copies):
            abandoned = rng.random() < ABANDONED_SHARE
            arrives = at + rng.uniform(0, DISORDER_SECONDS)
            if abandoned:
                timed.append((arrives, event, True))
            timed.append((arrives + 0.001, event, False))
    timed.sort(key=lambda item: item[0])
    return [(event, abandoned) for _, event, abandoned in timed]


async def abandon(base_url: str, body: str) -> None:
    """Sends a delivery and hangs up without reading the answer."""
    url = urlsplit(base_url)
    assert url.hostname is not None and url.port is not None
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    data = body.encode()
    writer.write(
        b"POST /events/canvas HTTP/1.1\r\nHost: gpb\r\nContent-Type: application/jwt\r\n"
        + f"Content-Length: {len(data)}\r\n\r\n".encode()
        + data
    )
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def deliver(env: SandboxedGpb, deliveries: list[tuple[dict[str, Any], bool]]) -> None:
    """SENDERS connections take the deliveries in turn, as a subscription's senders do."""
    queue: asyncio.Queue[tuple[dict[str, Any], bool]] = asyncio.Queue()
    for delivery in deliveries:
        queue.put_nowait(delivery)

    async def sender() -> None:
        while not queue.empty():
            event, abandoned = queue.get_nowait()
            if abandoned:
                await abandon(str(env.client.base_url), env.sandbox.sign_event(event))
            else:
                await env.post_event(event)

    await asyncio.gather(*(sender() for _ in range(SENDERS)))


async def stored_events(env: SandboxedGpb) -> list[dict[str, Any]]:
    answer = await env.get("/api/events/export")
    return [json.loads(line) for line in answer.text.splitlines()]


async def test_duplicates_disorder_and_retries_end_where_in_order_delivery_does(
    tmp_path: Path, long_run: bool
) -> None:
    events = list(event_stream.events(SEED, 3000 if long_run else 400))
    expected = await event_stream.in_order(tmp_path / "in-order", events)

    deliveries = chaotic(events, random.Random(SEED))
    async with sandboxed_gpb(tmp_path / "chaos") as chaos:
        await deliver(chaos, deliveries)
        got = await event_stream.outcome(chaos.client, chaos.settings.database_url)
        stored = await stored_events(chaos)

    first_copies = [e for e in stored if e["status"] not in ("duplicate", "rejected")]
    assert len(first_copies) == len(events)  # each event stored once, whatever its deliveries
    assert all(e["status"] == "processed" for e in first_copies)
    event_stream.assert_newest_event_wins(got.grades, events)
    assert got == expected
