"""Claims on sync runs, notices and scheduled jobs' rounds: what lets several replicas share one
database without two of them doing the same work (events: test_store_eventlog.py)."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from databases import on_postgres

from gpb.handlers.claims import Claim
from gpb.handlers.syncs import RunInProgress, RunKind, RunStatus, SyncRequest
from gpb.infra.store.database import ALERTS_CHANNEL
from gpb.infra.store.postgres import listen_forever
from gpb.infra.store.store import SqlStore

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def claim(holder: str, at: datetime = T0, seconds: float = 60) -> Claim:
    return Claim.starting(holder, at, timedelta(seconds=seconds))


async def request(store: SqlStore, course_id: str, *, dry_run: bool = False) -> str:
    run = await store.syncs.create_run(
        SyncRequest(course_id, RunKind.SYNC, dry_run, None, "test"), T0
    )
    return run.id


async def test_a_queued_run_is_claimed_by_one_holder(store: SqlStore) -> None:
    first = await request(store, "456")
    second = await request(store, "789")
    mine = await store.syncs.claim_next_run(claim("one"))
    theirs = await store.syncs.claim_next_run(claim("two"))
    assert mine is not None and theirs is not None
    assert (mine.id, theirs.id) == (first, second)
    assert await store.syncs.claim_next_run(claim("three")) is None


async def test_concurrent_claims_never_share_a_run(store: SqlStore) -> None:
    ids = {await request(store, str(course)) for course in range(100, 120)}
    claimed = await asyncio.gather(*(store.syncs.claim_next_run(claim(f"h{i}")) for i in range(30)))
    got = [run.id for run in claimed if run is not None]
    assert sorted(got) == sorted(ids)  # each run once, and no more claims than runs


async def test_a_running_run_whose_holder_stopped_renewing_is_taken_over(store: SqlStore) -> None:
    run_id = await request(store, "456")
    assert await store.syncs.claim_next_run(claim("dead", seconds=30)) is not None
    await store.syncs.set_status(run_id, RunStatus.RUNNING, T0)
    assert await store.syncs.claim_next_run(claim("alive", T0 + timedelta(seconds=29))) is None
    # A renewal keeps it; only once the renewed claim runs out may another holder take it.
    await store.syncs.renew_claim(run_id, claim("dead", T0 + timedelta(seconds=20), seconds=30))
    assert await store.syncs.claim_next_run(claim("alive", T0 + timedelta(seconds=45))) is None
    taken = await store.syncs.claim_next_run(claim("alive", T0 + timedelta(seconds=51)))
    assert taken is not None and (taken.id, taken.status) == (run_id, RunStatus.RUNNING)
    # Still the one active run of its course: a second real run is refused.
    with pytest.raises(RunInProgress):
        await request(store, "456")


async def test_a_dry_run_whose_holder_died_is_interrupted(store: SqlStore) -> None:
    dry = await request(store, "456", dry_run=True)
    await store.syncs.renew_claim(dry, claim("dead", seconds=30))
    await store.syncs.claim_next_run(claim("alive", T0 + timedelta(seconds=10)))
    assert (await store.syncs.run(dry)).status is RunStatus.QUEUED  # type: ignore[union-attr]
    await store.syncs.claim_next_run(claim("alive", T0 + timedelta(seconds=31)))
    assert (await store.syncs.run(dry)).status is RunStatus.INTERRUPTED  # type: ignore[union-attr]


async def test_each_round_of_a_job_goes_to_the_first_taker(store: SqlStore) -> None:
    takers = await asyncio.gather(
        *(store.job_slots.take("reconcile", "2026-12-01", f"h{i}", T0) for i in range(10))
    )
    assert sorted(takers) == [False] * 9 + [True]
    assert await store.job_slots.take("reconcile", "2026-12-02", "h0", T0)
    assert await store.job_slots.take("retention", "2026-12-01", "h0", T0)
    # Old slots are forgotten, so the table does not grow with the years.
    assert await store.job_slots.take("reconcile", "2026-12-09", "h0", T0 + timedelta(days=8))
    assert await store.job_slots.take("reconcile", "2026-12-01", "h0", T0 + timedelta(days=8))


@pytest.mark.skipif(not on_postgres(), reason="NOTIFY is PostgreSQL's")
async def test_an_alert_written_on_one_connection_wakes_listeners_of_another(
    store: SqlStore,
) -> None:
    from gpb.handlers.alerts import AlertOpened

    heard: asyncio.Queue[str] = asyncio.Queue()
    listening = asyncio.create_task(listen_forever(store.db.url, ALERTS_CHANNEL, heard.put_nowait))
    try:
        assert await asyncio.wait_for(heard.get(), 5) == ""  # connected (and listening)
        await store.apply([AlertOpened("456", "123", "NAME_TOO_LONG", "error", "long", "cut")])
        assert await asyncio.wait_for(heard.get(), 5) == "456"
    finally:
        listening.cancel()


async def test_a_run_claimed_by_a_process_that_stopped_before_starting_it_is_free_at_restart(
    store: SqlStore,
) -> None:
    run_id = await request(store, "456")
    assert await store.syncs.claim_next_run(claim("dead", seconds=300)) is not None
    # The process stopped between claiming the run and starting it; the next one, alone on the
    # database, interrupts what was running and takes this run at once, not in five minutes.
    assert await store.syncs.interrupt_unfinished(T0 + timedelta(seconds=1)) == []
    taken = await store.syncs.claim_next_run(claim("next", T0 + timedelta(seconds=2)))
    assert taken is not None and (taken.id, taken.status) == (run_id, RunStatus.QUEUED)


async def test_a_replica_that_starts_again_takes_its_earlier_selfs_runs_over_at_once(
    store: SqlStore,
) -> None:
    running = await request(store, "456")
    queued = await request(store, "789")
    assert await store.syncs.claim_next_run(claim("replica-a", seconds=300)) is not None
    await store.syncs.set_status(running, RunStatus.RUNNING, T0)
    assert await store.syncs.claim_next_run(claim("replica-a", seconds=300)) is not None
    await request(store, "999")
    assert await store.syncs.claim_next_run(claim("replica-b", seconds=300)) is not None
    # replica-a starts again (its earlier self was killed): its two runs are free at once,
    # replica-b's claim stands.
    later = T0 + timedelta(seconds=5)
    assert await store.syncs.end_claims("replica-a", later) == 2
    taken = [await store.syncs.claim_next_run(claim("replica-a", later)) for _ in range(3)]
    assert [(r.id, r.status) for r in taken if r is not None] == [
        (running, RunStatus.RUNNING),  # taken over: resumed, not started again
        (queued, RunStatus.QUEUED),
    ]
    assert await store.syncs.claim_next_run(claim("replica-c", later)) is None  # not `other`
