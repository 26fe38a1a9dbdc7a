"""The use cases on a course's runs that the API and the pages share: starting one as someone,
finding one that someone may see, undoing one, and the history a page at a time."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from fakes import FakeCourseStore, FakeRunQueue, homework

from gpb.handlers import course_runs
from gpb.handlers.course_runs import (
    HISTORY_PAGE,
    RunsRefused,
    request_run,
    run_history,
    visible_run,
)
from gpb.handlers.course_state import AssignmentRecord, AssignmentStored
from gpb.handlers.sync_service import InvalidRequest, SyncService
from gpb.handlers.syncs import RunInProgress, RunKind, RunStatus, SyncRequest, WriteRecord
from gpb.handlers.tokens import Principal, Role

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
TEACHER = Principal(Role.INSTRUCTOR, frozenset({"456"}), name="Ms. Frizzle")
OTHER_TEACHER = Principal(Role.INSTRUCTOR, frozenset({"789"}), name="Mr. Ratburn")
ADMIN = Principal(Role.ADMIN, frozenset())


def _service(runs: FakeRunQueue) -> SyncService:
    courses = FakeCourseStore()
    courses.apply([AssignmentStored(AssignmentRecord(homework(), (), True, 1))])
    # Nothing here carries a run out: real runs only wait in the queue.
    never = cast(Any, None)
    return SyncService(runs, never, courses, never)


async def test_a_run_is_queued_as_the_person_asked_it() -> None:
    runs = FakeRunQueue()
    run = await request_run(
        _service(runs), TEACHER, "456", RunKind.SYNC, dry_run=False, assignment_ids=["123", "123"]
    )
    assert (run.status, run.kind, run.requested_by) == (
        RunStatus.QUEUED,
        RunKind.SYNC,
        TEACHER.name,
    )
    assert run.assignment_ids == ("123",)  # asked twice, sent once
    unnamed = await request_run(
        _service(runs), ADMIN, "789", RunKind.REMASTER, dry_run=False, assignment_ids=None
    )
    assert (unnamed.requested_by, unnamed.assignment_ids) == ("admin", None)


async def test_the_service_refusals_reach_the_caller_as_they_are() -> None:
    service = _service(FakeRunQueue())
    with pytest.raises(InvalidRequest) as unknown:
        await request_run(
            service, TEACHER, "456", RunKind.SYNC, dry_run=False, assignment_ids=["999"]
        )
    assert unknown.value.code == "UNKNOWN_ASSIGNMENT"
    first = await request_run(
        service, TEACHER, "456", RunKind.REMASTER, dry_run=False, assignment_ids=None
    )
    with pytest.raises(RunInProgress) as busy:
        await request_run(
            service, TEACHER, "456", RunKind.SYNC, dry_run=False, assignment_ids=["123"]
        )
    assert (busy.value.code, busy.value.data) == ("SYNC_IN_PROGRESS", {"sync_id": first.id})


async def test_a_run_is_visible_only_to_who_may_see_its_course() -> None:
    runs = FakeRunQueue()
    run = await request_run(
        _service(runs), TEACHER, "456", RunKind.REMASTER, dry_run=False, assignment_ids=None
    )
    assert await visible_run(runs, TEACHER, run.id) == run
    assert await visible_run(runs, ADMIN, run.id) == run
    for who, sync_id in ((OTHER_TEACHER, run.id), (TEACHER, "99")):
        with pytest.raises(RunsRefused) as hidden:
            await visible_run(runs, who, sync_id)
        assert (hidden.value.code, hidden.value.message) == ("NOT_FOUND", "no such run")


async def test_an_undo_is_asked_as_the_person_who_asks() -> None:
    runs = FakeRunQueue()
    service = _service(runs)
    run = await request_run(
        service, TEACHER, "456", RunKind.REMASTER, dry_run=False, assignment_ids=None
    )
    runs.runs_by_id[run.id] = done = replace(run, status=RunStatus.SUCCEEDED)
    with pytest.raises(InvalidRequest) as nothing:
        await course_runs.undo_run(service, TEACHER, done, dry_run=False)
    assert nothing.value.code == "NOT_UNDOABLE"
    written = WriteRecord(done.id, "result", "r-1", "456", "123", "1", "2", None, "9")
    await runs.record_writes([written])
    undo = await course_runs.undo_run(service, TEACHER, done, dry_run=False)
    assert (undo.kind, undo.undo_of, undo.requested_by) == (RunKind.UNDO, done.id, TEACHER.name)


async def test_the_history_comes_a_page_at_a_time() -> None:
    runs = FakeRunQueue()
    preview = SyncRequest("456", RunKind.SYNC, True, ("123",), TEACHER.name)
    for _ in range(HISTORY_PAGE + 2):
        await runs.create_run(preview, NOW)
    first = await run_history(runs, "456", None)
    assert [r.id for r in first.runs] == [str(n) for n in range(HISTORY_PAGE + 2, 2, -1)]
    assert first.next_cursor == "3"
    last = await run_history(runs, "456", first.next_cursor)
    assert ([r.id for r in last.runs], last.next_cursor) == (["2", "1"], None)
    with pytest.raises(RunsRefused) as bad:
        await run_history(runs, "456", "not-a-cursor")
    assert (bad.value.code, bad.value.message) == (
        "INVALID_QUERY",
        "cursor is not one this API gave",
    )
