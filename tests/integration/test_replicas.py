"""Three `gpb serve` processes on one PostgreSQL database behave as one service: events posted to
any replica are stored once and handled once, even when a replica is killed under load; an alert
raised on one reaches a stream open on another; a sync runs on one replica, the 409 holds across
them, and a run whose replica died is finished by another."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import event_stream
import httpx
import pytest
from databases import database_url, on_postgres, query
from delivery import (
    Delivery,
    assert_each_event_handled_once,
    assert_each_event_stored_once,
    stored_events,
)
from running_gpb import ADMIN_TOKEN, HOLD_WRITES, GpbProcess, auth, until_held
from sse import open_stream

from gpb.infra.sandbox.faults import FaultConfig
from gpb.infra.sandbox.server import RunningSandbox, run_sandbox

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not on_postgres(), reason="replicas share a PostgreSQL database"),
]

REPLICAS = 3
LEASE_SECONDS = 3


class Cluster:
    def __init__(self, sandbox: RunningSandbox, replicas: list[GpbProcess], database: str):
        self.sandbox = sandbox
        self.replicas = replicas
        self.database = database

    async def post(self, replica: int, name: str, **body: Any) -> httpx.Response:
        from canvas_events import sample

        event = sample(name)
        event["body"].update(body)
        async with httpx.AsyncClient(base_url=self.replicas[replica].url) as client:
            return await client.post("/events/canvas", content=self.sandbox.sign_event(event))

    async def api(self, replica: int, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.replicas[replica].url, timeout=30) as client:
            return await client.request(method, path, headers=auth(ADMIN_TOKEN), **kwargs)

    async def handled(self, event_id: str) -> dict[str, Any]:
        return await self._settled(f"/api/events/{event_id}", ("accepted", "failed"), within=20)

    async def finished(self, sync_id: str) -> dict[str, Any]:
        return await self._settled(f"/api/syncs/{sync_id}", ("queued", "running"), within=60)

    async def _settled(self, path: str, unsettled: tuple[str, ...], within: float) -> Any:
        """The resource at `path` once its status is none of `unsettled`."""
        deadline = asyncio.get_running_loop().time() + within
        while asyncio.get_running_loop().time() < deadline:
            found = (await self.api(1, "GET", path)).json()
            if found["status"] not in unsettled:
                return found
            await asyncio.sleep(0.05)
        raise AssertionError(f"{path} stayed {unsettled}")


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    database = database_url(tmp_path)
    async with run_sandbox() as sandbox:
        replicas = []
        for number in range(REPLICAS):
            folder = tmp_path / f"replica-{number}"
            folder.mkdir()
            environment = sandbox.gpb_environment() | {
                "GPB_DATABASE_URL": database,
                "GPB_REPLICA_NAME": f"replica-{number}",
                "GPB_EVENT_LEASE_SECONDS": str(LEASE_SECONDS),
                "GPB_SESSION_SECRET": "one-secret-for-every-replica-of-gpb",
            }
            replicas.append(GpbProcess(folder, environment))
        # Started together: they migrate in turn, under the advisory lock.
        await asyncio.gather(*(replica.start() for replica in replicas))
        try:
            yield Cluster(sandbox, replicas, database)
        finally:
            await asyncio.gather(*(replica.stop() for replica in replicas))


async def test_events_from_any_replica_are_stored_and_handled_once_through_a_kill(
    cluster: Cluster, tmp_path: Path
) -> None:
    events = list(event_stream.events(11, 300))
    events += random.Random(11).sample(events, 30)  # Canvas sends some twice
    expected = await event_stream.in_order(tmp_path / "in-order", events)
    delivery = Delivery(cluster.replicas, cluster.sandbox, events)

    async def kill_one_midway() -> None:
        await delivery.reached(len(events) // 2)
        await cluster.replicas[1].kill()

    await asyncio.gather(delivery.send_all(), kill_one_midway())
    # The dead replica's claims run out, and the others handle what it had taken.
    async with httpx.AsyncClient(base_url=cluster.replicas[0].url, timeout=60) as client:
        got = await event_stream.outcome(client, cluster.database)
    stored = await stored_events(cluster.replicas[2])

    assert_each_event_stored_once(stored, delivery.acknowledged)
    assert_each_event_handled_once(stored)
    assert got == expected
    # Each event names the replica that handled it. The stream is one course's, and a course's
    # events go to one replica at a time, so one replica may have handled them all; that other
    # courses go to other replicas meanwhile is test_store_eventlog.py's claim test.
    handlers = {
        row[0]
        for row in query(
            cluster.database, "SELECT claimed_by FROM events WHERE payload IS NOT NULL"
        )
    }
    assert handlers and handlers <= {f"replica-{n}" for n in range(REPLICAS)}, handlers


async def test_the_same_event_posted_to_every_replica_at_once_is_stored_once(
    cluster: Cluster,
) -> None:
    answers = await asyncio.gather(
        *(cluster.post(n, "grade_change_8_to_9_5") for n in range(REPLICAS) for _ in range(3))
    )
    assert sorted(a.status_code for a in answers) == [200] * (3 * REPLICAS - 1) + [202]
    assert len({a.json()["id"] for a in answers}) == 1


async def test_an_alert_raised_on_one_replica_reaches_a_stream_on_another(
    cluster: Cluster,
) -> None:
    created = await cluster.post(0, "assignment_created", assignment_id="10000000000124")
    await cluster.handled(created.json()["id"])
    async with (
        httpx.AsyncClient(base_url=cluster.replicas[2].url) as client,
        open_stream(client, "/api/courses/456/alerts/stream", auth(ADMIN_TOKEN)) as stream,
    ):
        async with httpx.AsyncClient(base_url=cluster.sandbox.base_url) as sandbox:
            renamed = await sandbox.post(
                "/_sandbox/canvas/assignments/124", json={"name": "x" * 35}
            )
            assert renamed.status_code == 200, renamed.text
        posted = await cluster.post(
            0, "assignment_updated_title_35", assignment_id="10000000000124", title="long"
        )
        assert posted.status_code == 202, posted.text
        # Well within the 15 s keep-alive, after which a stream would look again by itself.
        opened = await stream.next(within=5)
    assert (opened.event, opened.data["code"], opened.data["state"]) == (
        "alert",
        "NAME_TOO_LONG",
        "open",
    )


async def test_logging_out_on_one_replica_ends_the_session_on_every_other(
    cluster: Cluster,
) -> None:
    async with (
        httpx.AsyncClient(base_url=cluster.replicas[0].url) as client,
        httpx.AsyncClient(base_url=cluster.replicas[1].url) as copy,
    ):
        form = await client.get("/login")
        csrf = form.text.split('name="csrf_token" value="')[1].split('"')[0]
        await client.post("/login", data={"token": ADMIN_TOKEN, "csrf_token": csrf})
        copy.cookies["gpb_session"] = client.cookies["gpb_session"]
        assert (await copy.get("/api/courses")).status_code == 200
        page = await client.get("/")
        csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        assert (await client.post("/logout", data={"csrf_token": csrf})).status_code == 303
        assert (await copy.get("/api/courses")).status_code == 401


async def test_a_sync_runs_on_one_replica_and_is_finished_by_another_when_its_dies(
    cluster: Cluster,
) -> None:
    created = await cluster.post(0, "assignment_created", assignment_id="10000000000124")
    await cluster.handled(created.json()["id"])
    faults = cluster.sandbox.state.sis_faults
    faults.configure(HOLD_WRITES)  # the run stays under way while the other replicas are asked
    started = await cluster.api(0, "POST", "/api/courses/456/syncs", json={"kind": "remaster"})
    assert started.status_code == 202, started.text
    sync_id = started.json()["id"]
    for replica in (1, 2):  # one real run per course, whichever replica is asked
        again = await cluster.api(replica, "POST", "/api/courses/456/syncs", json={"kind": "sync"})
        assert again.status_code == 409 and again.json()["sync_id"] == sync_id

    faults.configure(FaultConfig(latency_seconds=0.2))
    holder = await _holder_once_running(cluster, sync_id)
    faults.configure(HOLD_WRITES)  # nor can the run end before its holder dies
    await until_held(faults)
    await cluster.replicas[int(holder.removeprefix("replica-"))].kill()
    faults.configure(FaultConfig())

    done = await cluster.finished(sync_id)
    assert done["status"] == "succeeded", done["errors"]
    (finisher,) = query(cluster.database, f"SELECT claimed_by FROM sync_runs WHERE id = {sync_id}")
    assert finisher[0] is None  # the claim ends with the run
    puts = Counter(
        w.sourced_id
        for w in cluster.sandbox.state.ic.writes
        if w.kind == "result" and w.method == "PUT" and w.applied
    )
    # Confirmed values are not sent again by the replica that took over; the one PUT in flight
    # when its first holder died may have been applied with its answer lost.
    assert puts and sum(count - 1 for count in puts.values()) <= 1, puts


async def _holder_once_running(cluster: Cluster, sync_id: str) -> str:
    """The replica that claimed the run, once IC has applied a first result of it."""
    for _ in range(500):
        applied = any(w.applied for w in cluster.sandbox.state.ic.writes if w.kind == "result")
        rows = query(cluster.database, f"SELECT claimed_by FROM sync_runs WHERE id = {sync_id}")
        if applied and rows and rows[0][0]:
            return str(rows[0][0])
        await asyncio.sleep(0.02)
    raise AssertionError("the run did not start")
