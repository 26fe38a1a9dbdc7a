"""Launches in the store: nonces spent once across replicas, launches in the event log, searchable
like events, and kept out of the health readings of Canvas's deliveries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gpb.handlers.eventlog import EventQuery, EventStatus, LaunchEntry
from gpb.handlers.replay import ReplayRefused, replay
from gpb.infra.store.store import SqlStore

NOW = datetime.now(UTC)


async def test_a_nonce_is_used_once(store: SqlStore) -> None:
    assert await store.lti_nonces.use("n-1", NOW)
    assert not await store.lti_nonces.use("n-1", NOW + timedelta(seconds=1))
    assert await store.lti_nonces.use("n-2", NOW)


async def test_old_nonces_are_forgotten(store: SqlStore) -> None:
    assert await store.lti_nonces.use("n-old", NOW - timedelta(days=2))
    assert await store.lti_nonces.use("n-new", NOW)  # deletes what is older than a day
    assert await store.lti_nonces.use("n-old", NOW)


async def test_launches_are_in_the_event_log(store: SqlStore) -> None:
    accepted = await store.events.append_launch(
        LaunchEntry("456", "789", "instructor", None, "10.0.0.1")
    )
    refusal = {"code": "LTI_ROLE_NOT_ALLOWED", "message": "students get nothing"}
    refused = await store.events.append_launch(LaunchEntry("456", "1201", None, refusal, None))
    page = await store.events.search(EventQuery(event_name="lti_launch", course_id="456"))
    assert [e.id for e in page.events] == [refused, accepted]
    first = await store.events.get(accepted)
    assert first is not None
    assert (first.status, first.user_id, first.outcome) == (
        EventStatus.PROCESSED,
        "789",
        {"role": "instructor"},
    )
    assert first.payload is None and first.raw is None
    second = await store.events.get(refused)
    assert second is not None and second.status is EventStatus.REJECTED
    assert second.error == refusal
    rejected = await store.events.search(EventQuery(status=EventStatus.REJECTED))
    assert [e.id for e in rejected.events] == [refused]
    # a launch is no event to handle again
    with pytest.raises(ReplayRefused) as refused:
        await replay(store.events, accepted)
    assert refused.value.code == "NOT_REPLAYABLE"
    kept = await store.events.get(accepted)
    assert kept is not None and kept.status is EventStatus.PROCESSED


async def test_launches_are_not_deliveries_to_the_health_job(store: SqlStore) -> None:
    refusal = {"code": "LTI_EXPIRED", "message": "old"}
    await store.events.append_launch(LaunchEntry(None, None, None, refusal, None))
    await store.events.append_launch(LaunchEntry("456", "789", "instructor", None, None))
    assert await store.health.last_event_received() is None
    assert await store.health.failed_event_count(NOW - timedelta(hours=1)) == 0
