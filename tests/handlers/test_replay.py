"""An admin's replay: which stored events can be handled again, stated once for the API, the
event's page and the CLI."""

from __future__ import annotations

from dataclasses import replace

import pytest
from canvas_events import sample
from fakes import FakeEventLog, stored_event

from gpb.handlers.envelope import parse_event
from gpb.handlers.eventlog import EventStatus, LaunchEntry, Rejection
from gpb.handlers.replay import ReplayRefused, replay, replayable


async def test_a_failed_event_is_queued_again_and_the_worker_woken() -> None:
    log = FakeEventLog()
    log.events["1"] = replace(
        stored_event(sample("assignment_created")), status=EventStatus.FAILED, attempts=5
    )
    woken: list[bool] = []
    requeued = await replay(log, "1", lambda: woken.append(True))
    assert (requeued.status, requeued.attempts) == (EventStatus.ACCEPTED, 0)
    assert log.events["1"].status is EventStatus.ACCEPTED
    assert woken == [True]


async def test_a_processed_event_can_be_handled_again() -> None:
    log = FakeEventLog()
    log.events["1"] = replace(
        stored_event(sample("assignment_created")), status=EventStatus.PROCESSED
    )
    assert replayable(log.events["1"])
    assert (await replay(log, "1")).status is EventStatus.ACCEPTED


async def _refused(log: FakeEventLog, event_id: str) -> ReplayRefused:
    before = log.events.get(event_id)
    woken: list[bool] = []
    with pytest.raises(ReplayRefused) as refused:
        await replay(log, event_id, lambda: woken.append(True))
    assert log.events.get(event_id) == before and woken == []
    return refused.value


async def test_a_refused_delivery_has_no_event_to_handle() -> None:
    log = FakeEventLog()
    rejected = await log.append_rejected(Rejection("INVALID_BODY", "not JSON", b"junk", None))
    refused = await _refused(log, rejected)
    assert (refused.code, refused.message) == (
        "NOT_REPLAYABLE",
        "a rejected delivery has no event to handle",
    )


async def test_a_duplicate_delivery_has_no_event_to_handle() -> None:
    log = FakeEventLog()
    event = parse_event(sample("assignment_created"))
    await log.append(event, None)
    duplicate = await log.append(event, None)
    assert duplicate.duplicate_of is not None
    assert (await _refused(log, duplicate.id)).code == "NOT_REPLAYABLE"


async def test_a_launch_from_canvas_is_no_event_to_handle() -> None:
    log = FakeEventLog()
    launch = await log.append_launch(LaunchEntry("456", "789", "instructor", None, None))
    assert log.events[launch].status is EventStatus.PROCESSED
    refused = await _refused(log, launch)
    assert (refused.code, refused.message) == (
        "NOT_REPLAYABLE",
        "a launch from Canvas has no event to handle",
    )


async def test_an_unknown_event_is_not_found() -> None:
    assert (await _refused(FakeEventLog(), "42")).code == "NOT_FOUND"
