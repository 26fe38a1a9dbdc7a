"""The courses to reconcile, on SQLite."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from canvas_events import grade_event

from gpb.handlers.courses import CourseSeen
from gpb.handlers.eventlog import EventStatus, Finish
from gpb.infra.store.store import SqlStore


async def append(store: SqlStore, course_id: str, score: float) -> str:
    return (await store.events.append(grade_event(score, course_id), None)).id


async def test_a_course_with_an_event_since_is_reconciled_be_it_handled_or_waiting(
    store: SqlStore,
) -> None:
    for score, course_id in enumerate(("456", "789", "1000")):
        seen = await append(store, course_id, score)
        await store.events.finish(
            seen, Finish(EventStatus.PROCESSED, 1, changes=(CourseSeen(course_id, 1),))
        )
    await asyncio.sleep(0.002)
    since = datetime.now(UTC)
    await append(store, "456", 10)  # still waiting for the worker
    handled = await append(store, "789", 11)
    await store.events.finish(handled, Finish(EventStatus.PROCESSED, 1))

    courses = await store.reconciliations.courses_to_reconcile(since)
    assert [course.course_id for course in courses] == ["456", "789"]
    everyone = await store.reconciliations.courses_to_reconcile(None)
    assert [course.course_id for course in everyone] == ["456", "789", "1000"]
