import asyncio
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from canvas_events import grade_event, sample
from databases import database_url

from gpb.handlers.claims import Claim
from gpb.handlers.courses import CourseSeen
from gpb.handlers.envelope import parse_event
from gpb.handlers.eventlog import EventQuery, EventStatus, Finish, Rejection
from gpb.infra.store.store import SqlStore


def claim(holder: str = "one", at: datetime | None = None, seconds: float = 60) -> Claim:
    now = at or datetime.now(UTC)
    return Claim(holder, now, now + timedelta(seconds=seconds))


async def test_append_then_duplicate_then_a_different_event(store: SqlStore) -> None:
    first = await store.events.append(grade_event(9.5), "10.0.0.1")
    again = await store.events.append(grade_event(9.5), "10.0.0.1")
    other = await store.events.append(grade_event(7), "10.0.0.1")
    assert first.duplicate_of is None and other.duplicate_of is None
    assert again.duplicate_of == first.id
    duplicate = await store.events.get(again.id)
    assert duplicate is not None and duplicate.status is EventStatus.DUPLICATE


async def test_concurrent_appends_share_commits_and_each_gets_its_own_id(
    store: SqlStore,
) -> None:
    results = await asyncio.gather(*(store.events.append(grade_event(i), None) for i in range(300)))
    assert len({r.id for r in results}) == 300
    assert all(r.duplicate_of is None for r in results)
    # the same event posted 20 times at once is stored once
    same = await asyncio.gather(*(store.events.append(grade_event(1000), None) for _ in range(20)))
    assert len({r.duplicate_of or r.id for r in same}) == 1
    assert sum(r.duplicate_of is None for r in same) == 1


async def test_acknowledged_events_survive_a_reopen(tmp_path: Path) -> None:
    path = database_url(tmp_path)
    store = SqlStore(path)
    store.migrate()
    store.start()
    appended = await store.events.append(grade_event(3), None)
    await store.close()
    reopened = SqlStore(path)
    reopened.start()
    try:
        due = await reopened.events.claim_due(claim(), 10)
        assert [e.id for e in due] == [appended.id]
        assert due[0].payload == sample("grade_change_8_to_9_5") | {"body": due[0].payload["body"]}
    finally:
        await reopened.close()


async def test_finish_applies_changes_with_the_status(store: SqlStore) -> None:
    appended = await store.events.append(grade_event(5), None)
    await store.events.finish(
        appended.id,
        Finish(EventStatus.PROCESSED, 1, outcome={"ok": 1}, changes=(CourseSeen("456", 1),)),
    )
    event = await store.events.get(appended.id)
    assert event is not None and (event.status, event.attempts, event.outcome) == (
        EventStatus.PROCESSED,
        1,
        {"ok": 1},
    )
    (course,) = await store.courses.summaries(None)
    assert course.id == "456"
    assert await store.events.claim_due(claim(), 10) == []


async def test_a_claim_keeps_other_holders_off_the_event_and_its_course(store: SqlStore) -> None:
    first = await store.events.append(grade_event(1, course_id="456"), None)
    same_course = await store.events.append(grade_event(2, course_id="456"), None)
    other_course = await store.events.append(grade_event(3, course_id="789"), None)

    mine = await store.events.claim_due(claim("one"), 1)
    assert [e.id for e in mine] == [first.id]
    # Course 456 is being handled by "one": "two" gets only the other course's event.
    theirs = await store.events.claim_due(claim("two"), 10)
    assert [e.id for e in theirs] == [other_course.id]
    # "one" may claim its own course's next event; nobody gets an event twice.
    again = await store.events.claim_due(claim("one"), 10)
    assert [e.id for e in again] == [first.id, same_course.id]
    assert await store.events.claim_due(claim("three"), 10) == []

    await store.events.finish(first.id, Finish(EventStatus.PROCESSED, 1))
    await store.events.finish(same_course.id, Finish(EventStatus.PROCESSED, 1))
    assert await store.events.claim_due(claim("three"), 10) == []  # "two" still holds 789


async def test_a_claim_whose_holder_died_runs_out_and_another_takes_the_event(
    store: SqlStore,
) -> None:
    appended = await store.events.append(grade_event(4), None)
    now = datetime.now(UTC)
    assert len(await store.events.claim_due(claim("dead", at=now, seconds=30), 10)) == 1
    assert await store.events.claim_due(claim("alive", at=now + timedelta(seconds=29)), 10) == []
    taken = await store.events.claim_due(claim("alive", at=now + timedelta(seconds=31)), 10)
    assert [e.id for e in taken] == [appended.id]


async def test_a_restarted_holder_releases_its_own_claims_only(store: SqlStore) -> None:
    mine = await store.events.append(grade_event(5, course_id="456"), None)
    theirs = await store.events.append(grade_event(6, course_id="789"), None)
    await store.events.claim_due(claim("me"), 1)
    await store.events.claim_due(claim("them"), 10)
    assert await store.events.release_claims("me") == 1
    assert [e.id for e in await store.events.claim_due(claim("new"), 10)] == [mine.id]
    assert await store.events.release_claims(None) == 2  # "new" and "them"
    assert [e.id for e in await store.events.claim_due(claim("x"), 10)] == [mine.id, theirs.id]


async def test_a_failing_change_rolls_back_the_finish(store: SqlStore) -> None:
    appended = await store.events.append(grade_event(5), None)
    with pytest.raises(TypeError):
        await store.events.finish(
            appended.id, Finish(EventStatus.PROCESSED, 1, changes=(object(),))
        )
    event = await store.events.get(appended.id)
    assert event is not None and event.status is EventStatus.ACCEPTED


async def test_failed_events_come_due_at_their_retry_time(store: SqlStore) -> None:
    appended = await store.events.append(grade_event(5), None)
    retry_at = datetime.now(UTC) + timedelta(minutes=5)
    await store.events.finish(
        appended.id,
        Finish(
            EventStatus.FAILED, 1, error={"code": "X", "message": "m"}, next_attempt_at=retry_at
        ),
    )
    assert await store.events.claim_due(claim(), 10) == []
    due = await store.events.claim_due(claim(at=retry_at + timedelta(seconds=1)), 10)
    assert [e.id for e in due] == [appended.id]
    requeued = await store.events.requeue(appended.id)
    assert requeued is not None and (requeued.status, requeued.attempts) == (
        EventStatus.ACCEPTED,
        0,
    )


async def test_search_filters_and_pages_newest_first(store: SqlStore) -> None:
    ids = [(await store.events.append(grade_event(i), None)).id for i in range(7)]
    other = parse_event(
        sample("assignment_created")
        | {"metadata": sample("assignment_created")["metadata"] | {"context_id": "10000000000999"}}
    )
    other_id = (await store.events.append(other, None)).id
    rejected_id = await store.events.append_rejected(
        Rejection("BAD_SIGNATURE", "no", b"junk", "10.0.0.9")
    )

    page = await store.events.search(EventQuery(course_id="456", limit=3))
    assert [e.id for e in page.events] == ids[::-1][:3]
    page2 = await store.events.search(
        EventQuery(course_id="456", limit=3, before_id=page.next_cursor)
    )
    page3 = await store.events.search(
        EventQuery(course_id="456", limit=3, before_id=page2.next_cursor)
    )
    assert [e.id for e in page2.events + page3.events] == ids[::-1][3:]
    assert page3.next_cursor is None

    assert [e.id for e in (await store.events.search(EventQuery(course_id="999"))).events] == [
        other_id
    ]
    assert [
        e.id
        for e in (await store.events.search(EventQuery(event_name="assignment_created"))).events
    ] == [other_id]
    rejected = (await store.events.search(EventQuery(status=EventStatus.REJECTED))).events
    assert [e.id for e in rejected] == [rejected_id]
    assert rejected[0].raw == "junk" and rejected[0].source_ip == "10.0.0.9"


async def test_search_by_time_range(store: SqlStore) -> None:
    before = datetime.now(UTC)
    await asyncio.sleep(0.01)
    inside = (await store.events.append(grade_event(1), None)).id
    await asyncio.sleep(0.01)
    middle = datetime.now(UTC)
    await asyncio.sleep(0.01)
    later = (await store.events.append(grade_event(2), None)).id
    assert [
        e.id for e in (await store.events.search(EventQuery(since=before, until=middle))).events
    ] == [inside]
    assert [e.id for e in (await store.events.search(EventQuery(since=middle))).events] == [later]
    assert (
        await store.events.search(EventQuery(since=datetime.now(UTC) + timedelta(hours=1)))
    ).events == []


async def test_export_streams_every_matching_event(store: SqlStore) -> None:
    await asyncio.gather(*(store.events.append(grade_event(i), None) for i in range(1204)))
    await store.events.append(
        parse_event(
            sample("unknown_event")
            | {"metadata": sample("unknown_event")["metadata"] | {"context_id": "10000000000999"}}
        ),
        None,
    )
    exported = [e.id async for e in store.events.export(EventQuery(course_id="456"))]
    assert len(exported) == 1204 and len(set(exported)) == 1204
    assert exported == sorted(exported, key=int, reverse=True)


async def test_refused_bodies_are_kept_only_up_to_the_bound(tmp_path: Path) -> None:
    store = SqlStore(str(tmp_path / "gpb.db"), keep_raw_bytes=10)
    store.migrate()
    store.start()
    try:
        event_id = await store.events.append_rejected(
            Rejection("PAYLOAD_TOO_LARGE", "big", b"x" * 1000, None)
        )
        event = await store.events.get(event_id)
        assert event is not None and event.raw == "x" * 10
    finally:
        await store.close()


async def test_counts_by_time_buckets_each_status_by_minute_and_hour(store: SqlStore) -> None:
    ids = [(await store.events.append(grade_event(i), None)).id for i in range(5)]
    rejected = await store.events.append_rejected(Rejection("BAD_SIGNATURE", "no", b"x", None))
    await store.events.finish(ids[1], Finish(EventStatus.FAILED, attempts=1))
    for event_id in (ids[2], ids[3], ids[4]):
        await store.events.finish(event_id, Finish(EventStatus.PROCESSED, attempts=1))
    # received_at rises with the id: spread the events over two hours and three minutes
    stamps = {
        ids[0]: "2024-10-22T08:59:59.000000Z",
        ids[1]: "2024-10-22T09:30:05.000000Z",
        ids[2]: "2024-10-22T09:30:40.000000Z",
        ids[3]: "2024-10-22T09:31:00.000000Z",
        ids[4]: "2024-10-22T09:31:30.000000Z",
        rejected: "2024-10-22T10:02:00.000000Z",
    }

    def restamp(conn: sqlite3.Connection) -> None:
        for event_id, stamp in stamps.items():
            conn.execute("UPDATE events SET received_at = ? WHERE id = ?", (stamp, int(event_id)))

    await store.db.write(restamp)
    since = datetime(2024, 10, 22, 9, 0, tzinfo=UTC)

    def at(hour: int, minute: int) -> datetime:
        return datetime(2024, 10, 22, hour, minute, tzinfo=UTC)

    by_minute = {
        (c.start, c.status): c.count for c in await store.events.counts_by_time(since, "minute")
    }
    assert by_minute == {
        (at(9, 30), EventStatus.FAILED): 1,
        (at(9, 30), EventStatus.PROCESSED): 1,
        (at(9, 31), EventStatus.PROCESSED): 2,
        (at(10, 2), EventStatus.REJECTED): 1,
    }
    by_hour = {
        (c.start, c.status): c.count for c in await store.events.counts_by_time(since, "hour")
    }
    assert by_hour == {
        (at(9, 0), EventStatus.FAILED): 1,
        (at(9, 0), EventStatus.PROCESSED): 3,
        (at(10, 0), EventStatus.REJECTED): 1,
    }
    assert await store.events.counts_by_time(at(11, 0), "hour") == []


async def every_page(store: SqlStore, query: EventQuery) -> list[list[str]]:
    pages = []
    while True:
        page = await store.events.search(query)
        pages.append([e.id for e in page.events])
        if page.next_cursor is None:
            return pages
        query = replace(query, before_id=page.next_cursor)


async def test_a_search_finds_waiting_and_handled_events_alike(store: SqlStore) -> None:
    ids = [(await store.events.append(grade_event(i, course_id="456"), None)).id for i in range(6)]
    other = (await store.events.append(grade_event(9, course_id="789"), None)).id
    handled = [ids[0], ids[2], ids[3]]
    for event_id in handled:
        await store.events.finish(event_id, Finish(EventStatus.PROCESSED, 1))
    waiting = [ids[1], ids[4], ids[5]]

    # Pages of every size cross from the waiting events to the handled ones and back.
    for limit in range(1, 8):
        pages = await every_page(store, EventQuery(course_id="456", limit=limit))
        assert [event_id for page in pages for event_id in page] == ids[::-1]
        assert [len(page) for page in pages[:-1]] == [limit] * (len(pages) - 1)
        assert all(pages)
    named = await every_page(store, EventQuery(event_name="grade_change", limit=2))
    assert [event_id for page in named for event_id in page] == [other, *ids[::-1]]
    both = EventQuery(course_id="456", event_name="grade_change", limit=4)
    assert sum(await every_page(store, both), []) == ids[::-1]

    async def found(**filters: Any) -> list[str]:
        return [e.id for e in (await store.events.search(EventQuery(**filters))).events]

    assert await found(status=EventStatus.PROCESSED) == handled[::-1]
    assert await found(status=EventStatus.ACCEPTED) == [other, *waiting[::-1]]
    assert await found(course_id="456", status=EventStatus.ACCEPTED) == waiting[::-1]
    assert (
        await found(course_id="456", event_name="grade_change", status=EventStatus.PROCESSED)
        == (handled[::-1])
    )
    assert await found(course_id="789", status=EventStatus.PROCESSED) == []
    assert await store.events.counts_by_status() == {"accepted": 4, "failed": 0}
    oldest = await store.events.get(ids[1])
    assert oldest is not None and await store.events.oldest_waiting() == oldest.received_at
