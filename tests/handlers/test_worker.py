import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from canvas_events import sample
from concurrency import InFlight
from fakes import FakeEventLog

from gpb.handlers.backoff import RetryPolicy
from gpb.handlers.courses import CourseSeen
from gpb.handlers.eventlog import EventStatus, StoredEvent
from gpb.handlers.ingest import IngestPolicy, ingest
from gpb.handlers.messagebus import Handled, MessageBus, Unusable
from gpb.handlers.signals import Burst
from gpb.handlers.worker import Worker


class JsonDecoder:
    async def decode(self, raw: bytes) -> object:
        return json.loads(raw)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def store(log: FakeEventLog, *names: str) -> list[str]:
    return [await store_event(log, sample(name)) for name in names]


async def store_event(log: FakeEventLog, event: dict[str, Any]) -> str:
    appended = await ingest(
        json.dumps(event).encode(), None, JsonDecoder(), log, IngestPolicy(root_account=None)
    )
    return appended.id


async def store_in_courses(log: FakeEventLog, *courses: str) -> list[str]:
    """One grade_change per course given, in that order (a course may come back)."""
    ids = []
    for k, course in enumerate(courses):
        event = sample("grade_change_8_to_9_5")
        event["metadata"].update(context_type="Course", context_id=course)
        event["body"]["score"] = k  # each event its own content
        ids.append(await store_event(log, event))
    return ids


async def test_events_are_handled_in_arrival_order_and_unknown_ones_ignored() -> None:
    log = FakeEventLog()
    seen: list[str] = []

    async def record(event: StoredEvent) -> Handled:
        seen.append(event.id)
        assert event.course_id is not None
        return Handled(changes=(CourseSeen(event.course_id, event.shard),))

    ids = await store(log, "assignment_created", "unknown_event", "grade_change_8_to_9_5")
    worker = Worker(
        log, MessageBus({"assignment_created": record, "grade_change": record}), RetryPolicy()
    )
    assert await worker.drain() == 3
    assert seen == [ids[0], ids[2]]
    assert [log.events[i].status for i in ids] == [
        EventStatus.PROCESSED,
        EventStatus.IGNORED,
        EventStatus.PROCESSED,
    ]
    assert "assignment_archived" in log.events[ids[1]].outcome["reason"]
    assert log.applied == [CourseSeen("456", 1), CourseSeen("456", 1)]
    assert await worker.drain() == 0


async def test_a_failing_handler_is_retried_with_backoff_until_attempts_run_out() -> None:
    log = FakeEventLog()
    clock = Clock()
    calls = 0

    async def broken(event: StoredEvent) -> Handled:
        nonlocal calls
        calls += 1
        raise RuntimeError("Canvas is down")

    (event_id,) = await store(log, "assignment_created")
    worker = Worker(
        log,
        MessageBus({"assignment_created": broken}),
        RetryPolicy(max_attempts=3, base_seconds=10),
        clock=clock,
    )
    await worker.drain()
    failed = log.events[event_id]
    assert (failed.status, failed.attempts) == (EventStatus.FAILED, 1)
    assert failed.error == {"code": "HANDLER_ERROR", "message": "Canvas is down"}
    assert failed.next_attempt_at is not None
    assert timedelta(seconds=5) <= failed.next_attempt_at - clock.now <= timedelta(seconds=10)

    assert await worker.drain() == 0  # not due yet
    clock.now += timedelta(seconds=11)
    await worker.drain()
    clock.now += timedelta(seconds=21)
    await worker.drain()
    final = log.events[event_id]
    assert (final.status, final.attempts, final.next_attempt_at) == (EventStatus.FAILED, 3, None)
    clock.now += timedelta(days=1)
    assert await worker.drain() == 0
    assert calls == 3


async def test_an_unusable_event_is_ignored_with_its_reason_and_not_retried() -> None:
    log = FakeEventLog()

    async def picky(event: StoredEvent) -> Handled:
        raise Unusable("the body has no assignment_id")

    (event_id,) = await store(log, "assignment_created")
    await Worker(log, MessageBus({"assignment_created": picky}), RetryPolicy()).drain()
    assert log.events[event_id].status is EventStatus.IGNORED
    assert log.events[event_id].outcome == {"reason": "the body has no assignment_id"}


async def test_a_replayed_event_is_handled_again() -> None:
    log = FakeEventLog()
    calls = 0

    async def count(event: StoredEvent) -> Handled:
        nonlocal calls
        calls += 1
        return Handled()

    (event_id,) = await store(log, "assignment_created")
    worker = Worker(log, MessageBus({"assignment_created": count}), RetryPolicy())
    await worker.drain()
    await log.requeue(event_id)
    await worker.drain()
    assert calls == 2


async def test_a_course_s_events_are_handled_in_order_while_courses_go_side_by_side() -> None:
    log = FakeEventLog()
    ids = await store_in_courses(log, "1", "2", "1", "3", "2", "1")
    course_of = {event_id: log.events[event_id].course_id for event_id in ids}
    seen: list[str] = []
    in_flight = InFlight()

    async def grade(event: StoredEvent) -> Handled:
        await in_flight.call()  # a read from Canvas or the store
        seen.append(event.id)
        return Handled()

    worker = Worker(log, MessageBus({"grade_change": grade}), RetryPolicy(), lanes=2)
    assert await worker.drain() == 6
    assert in_flight.most == 2
    for course in ("1", "2", "3"):
        mine = [event_id for event_id in ids if course_of[event_id] == course]
        assert [event_id for event_id in seen if course_of[event_id] == course] == mine
    assert all(log.events[event_id].status is EventStatus.PROCESSED for event_id in ids)


async def test_courses_are_handled_side_by_side_not_one_after_another() -> None:
    log = FakeEventLog()
    first, second = await store_in_courses(log, "1", "2")
    second_done = asyncio.Event()

    async def grade(event: StoredEvent) -> Handled:
        if event.id == first:
            # Course 1 waits for course 2: one course after the other would never get there.
            await asyncio.wait_for(second_done.wait(), timeout=5)
        else:
            second_done.set()
        return Handled()

    worker = Worker(log, MessageBus({"grade_change": grade}), RetryPolicy())
    assert await worker.drain() == 2
    assert log.events[first].status is log.events[second].status is EventStatus.PROCESSED


async def test_past_half_its_claim_a_worker_stops_and_leaves_the_rest_claimed_for_later() -> None:
    log = FakeEventLog()
    clock = Clock()
    ids = await store_in_courses(log, "1", "1", "1")

    async def slow(event: StoredEvent) -> Handled:
        clock.now += timedelta(seconds=20)  # past half of a 60 s claim after two events
        return Handled()

    worker = Worker(
        log, MessageBus({"grade_change": slow}), RetryPolicy(), clock=clock, lease_seconds=60
    )
    assert await worker.drain() == 2
    assert log.events[ids[2]].status is EventStatus.ACCEPTED
    assert await worker.drain() == 1
    assert log.events[ids[2]].status is EventStatus.PROCESSED


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(base_seconds=5, max_seconds=60)
    assert policy.delay(1, rand=lambda: 1.0) == 5
    assert policy.delay(1, rand=lambda: 0.0) == 2.5
    assert policy.delay(3, rand=lambda: 1.0) == 20
    assert policy.delay(10, rand=lambda: 1.0) == 60


class Seconds:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_more_deliveries_than_the_limit_within_one_to_two_windows() -> None:
    clock = Seconds()
    burst = Burst(3, 1.0, clock)
    for _ in range(3):
        burst.begun()
    assert not burst.on()  # a steady trickle: up to the limit
    burst.begun()
    assert burst.on()
    clock.now += 1.5  # the next window: the last one's deliveries still count
    assert burst.on()
    burst.begun()
    clock.now += 1.0  # two windows on, with one delivery in the last: the burst has passed
    assert not burst.on()
    for _ in range(4):
        burst.begun()
    clock.now += 2.5  # a long silence forgets everything
    assert not burst.on()


async def test_the_worker_gives_way_to_a_burst_of_deliveries_then_drains() -> None:
    log = FakeEventLog()
    handled: list[str] = []

    async def record(event: StoredEvent) -> Handled:
        handled.append(event.id)
        return Handled()

    ids = await store(log, "assignment_created")
    clock = Seconds()
    burst = Burst(1, 0.01, clock)
    bus = MessageBus({"assignment_created": record})
    worker = Worker(log, bus, RetryPolicy(), yield_seconds=3600, deliveries=burst)
    burst.begun()
    burst.begun()
    drain = asyncio.create_task(worker.drain())
    for _ in range(5):  # the worker looks again and again: the burst goes on (the clock stands)
        await asyncio.sleep(0.01)
    assert handled == []
    clock.now += 1  # the burst has passed
    assert await asyncio.wait_for(drain, timeout=30) == 1
    assert handled == ids


async def test_a_burst_that_goes_on_still_lets_the_worker_drain() -> None:
    log = FakeEventLog()
    ids = await store(log, "assignment_created")

    async def record(event: StoredEvent) -> Handled:
        return Handled()

    clock = Seconds()
    burst = Burst(1, 0.01, clock)
    bus = MessageBus({"assignment_created": record})
    worker = Worker(log, bus, RetryPolicy(), yield_seconds=0, deliveries=burst)
    burst.begun()
    burst.begun()
    assert burst.on()
    assert await asyncio.wait_for(worker.drain(), timeout=30) == 1
    assert log.events[ids[0]].status is EventStatus.PROCESSED


async def test_outside_a_burst_the_worker_does_not_wait() -> None:
    log = FakeEventLog()
    await store(log, "assignment_created")

    async def record(event: StoredEvent) -> Handled:
        return Handled()

    # A single delivery (an alert's event): a wait of an hour would show.
    worker = Worker(
        log, MessageBus({"assignment_created": record}), RetryPolicy(), yield_seconds=3600
    )
    worker.delivery_begun()
    assert await asyncio.wait_for(worker.drain(), timeout=30) == 1
