"""Automatic syncs on the real store (SQLite, or PostgreSQL with GPB_TEST_POSTGRES), with injected
clocks: a round fires once, after grading paused or at the nightly time; a burst goes as one run;
replicas never queue a round twice; claims keep automatic runs within IC's load rules; a replica
that dies leaves nothing lost; an assignment that keeps failing is left out until the teacher acts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from databases import database_url

from gpb.handlers.auto_sync import (
    AutoMode,
    AutoSyncPolicy,
    AutoSyncScheduler,
    InvalidChoice,
    NightlyWindow,
)
from gpb.handlers.claims import Claim
from gpb.handlers.courses import CourseSeen
from gpb.handlers.grades import GradeChanged
from gpb.handlers.school_hours import SchoolHours
from gpb.handlers.syncs import RunKind, RunStatus, SyncRequest, SyncRun
from gpb.infra.store.store import SqlStore

ZONE = ZoneInfo("America/Chicago")
# Tuesday 1 December 2026: 10:00 in Chicago is school time; 21:00 is in the nightly window.
SCHOOL_TIME = datetime(2026, 12, 1, 10, 0, tzinfo=ZONE).astimezone(UTC)
EVENING = datetime(2026, 12, 1, 21, 0, tzinfo=ZONE).astimezone(UTC)
DELAY = timedelta(minutes=10)


def policy(**overrides: Any) -> AutoSyncPolicy:
    values: dict[str, Any] = {
        "allowed": frozenset(AutoMode),
        "default": AutoMode.OFF,
        "delay": DELAY,
        "window": NightlyWindow.parse("18:00-06:00"),
        "zone": ZONE,
        "school": SchoolHours.parse("mon-fri", "07:00-17:00", ZONE),
        "max_runs": 2,
        "sis_concurrency": 5,
        "max_failures": 3,
    }
    return AutoSyncPolicy(**(values | overrides))


@dataclass
class Grading:
    """Pending grades by course and assignment, and which assignments are eligible."""

    pending: dict[str, dict[str, int]] = field(default_factory=dict)
    ineligible: set[str] = field(default_factory=set)

    async def counts(self, course_id: str) -> dict[str, int]:
        return dict(self.pending.get(course_id, {}))

    async def course_state(self, course_id: str) -> Any:
        records = {
            a: SimpleNamespace(eligible=a not in self.ineligible)
            for a in self.pending.get(course_id, {})
        }
        return SimpleNamespace(assignments=records)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def replicas(tmp_path: Path) -> AsyncIterator[tuple[SqlStore, SqlStore]]:
    """Two processes' stores on one database."""
    url = database_url(tmp_path)
    first, second = SqlStore(url), SqlStore(url)
    first.migrate()
    first.start()
    second.start()
    yield first, second
    await first.close()
    await second.close()


@pytest.fixture
def store(replicas: tuple[SqlStore, SqlStore]) -> SqlStore:
    return replicas[0]


def scheduler(
    store: SqlStore, grading: Grading, clock: Clock, **overrides: Any
) -> AutoSyncScheduler:
    return AutoSyncScheduler(
        store=store.auto_sync,
        pending=grading,
        courses=grading,  # type: ignore[arg-type]
        policy=policy(**overrides),
        clock=clock,
    )


async def known(store: SqlStore, *course_ids: str) -> None:
    await store.apply([CourseSeen(course_id, None) for course_id in course_ids])


async def graded(store: SqlStore, course_id: str, at: datetime) -> None:
    await store.apply([CourseSeen(course_id, None), GradeChanged(course_id, at)])


async def finish(store: SqlStore, run: SyncRun, status: RunStatus = RunStatus.SUCCEEDED) -> None:
    await store.syncs.finish(run.id, status, {"grades": []}, run.created_at)


async def test_after_change_waits_for_grading_to_pause_and_sends_a_burst_as_one_run(
    store: SqlStore,
) -> None:
    grading = Grading({"456": {"124": 3, "125": 1}}, ineligible={"125"})
    clock = Clock(SCHOOL_TIME)
    auto = scheduler(store, grading, clock)
    await auto.choose("456", AutoMode.AFTER_CHANGE, None)
    for minute in range(5):  # a grading session: a change a minute
        await graded(store, "456", SCHOOL_TIME + timedelta(minutes=minute, seconds=1))
        clock.now = SCHOOL_TIME + timedelta(minutes=minute, seconds=30)
        assert await auto.round() == []
    last = SCHOOL_TIME + timedelta(minutes=4, seconds=1)
    clock.now = last + DELAY - timedelta(seconds=1)
    assert await auto.round() == []
    clock.now = last + DELAY
    (run,) = await auto.round()
    # the blocked assignment goes along, so that the run reports it left out
    assert (run.kind, run.assignment_ids, run.requested_by) == (
        RunKind.AUTO,
        ("124", "125"),
        "automatic",
    )
    await finish(store, run)
    clock.now += timedelta(minutes=30)
    assert await auto.round() == []  # fired once


async def test_nothing_eligible_pending_starts_no_run(store: SqlStore) -> None:
    grading = Grading({"456": {"125": 1}}, ineligible={"125"})
    clock = Clock(SCHOOL_TIME)
    auto = scheduler(store, grading, clock)
    await auto.choose("456", AutoMode.AFTER_CHANGE, None)
    await graded(store, "456", SCHOOL_TIME + timedelta(seconds=1))
    clock.now += DELAY * 2
    assert await auto.round() == []
    assert await store.syncs.runs("456", None, 10) == []


async def test_a_course_with_a_run_under_way_is_tried_again_and_covers_later_changes(
    store: SqlStore,
) -> None:
    grading = Grading({"456": {"124": 1}})
    clock = Clock(SCHOOL_TIME)
    auto = scheduler(store, grading, clock)
    await auto.choose("456", AutoMode.AFTER_CHANGE, None)
    manual = await store.syncs.create_run(
        SyncRequest("456", RunKind.SYNC, False, None, "teacher"), SCHOOL_TIME
    )
    await graded(store, "456", SCHOOL_TIME + timedelta(seconds=1))
    clock.now += DELAY * 2
    assert await auto.round() == []  # one run at a time per course
    await finish(store, manual)
    (run,) = await auto.round()
    assert run.kind is RunKind.AUTO


async def test_replicas_never_queue_a_round_twice(replicas: tuple[SqlStore, SqlStore]) -> None:
    first, second = replicas
    courses = [str(400 + i) for i in range(12)]
    grading = Grading({c: {"124": 1} for c in courses})
    clock = Clock(SCHOOL_TIME)
    one, two = scheduler(first, grading, clock), scheduler(second, grading, clock)
    for course in courses:
        await one.choose(course, AutoMode.AFTER_CHANGE, None)
        await graded(first, course, SCHOOL_TIME + timedelta(seconds=1))
    clock.now += DELAY * 2
    queued = await asyncio.gather(one.round(), two.round(), one.round(), two.round())
    runs = [run for batch in queued for run in batch]
    assert sorted(run.course_id for run in runs) == courses


async def test_nightly_fires_once_at_the_chosen_time_inside_the_window_and_after_a_restart(
    replicas: tuple[SqlStore, SqlStore],
) -> None:
    first, second = replicas
    grading = Grading({"456": {"124": 2}, "789": {"124": 1}})
    clock = Clock(datetime(2026, 12, 1, 20, 0, tzinfo=ZONE).astimezone(UTC))
    auto = scheduler(first, grading, clock, default=AutoMode.NIGHTLY)
    await known(first, "456", "789")
    await auto.choose("456", AutoMode.NIGHTLY, time(22, 30))
    with pytest.raises(InvalidChoice) as outside:
        await auto.choose("456", AutoMode.NIGHTLY, time(12, 0))
    assert outside.value.code == "NIGHTLY_OUTSIDE_WINDOW"

    # 789 keeps the district's default, nightly at the window's opening: passed before the
    # first round of the evening, it fires then, once
    (default_run,) = await auto.round()
    assert (default_run.course_id, default_run.kind) == ("789", RunKind.NIGHTLY)
    await finish(first, default_run)
    clock.now = datetime(2026, 12, 1, 22, 29, tzinfo=ZONE).astimezone(UTC)
    assert await auto.round() == []
    # gpb was down at 22:30; another process, started at 23:10, still fires the slot, once
    clock.now = datetime(2026, 12, 1, 23, 10, tzinfo=ZONE).astimezone(UTC)
    restarted = scheduler(second, grading, clock, default=AutoMode.NIGHTLY)
    (run,) = await restarted.round()
    assert (run.course_id, run.kind) == ("456", RunKind.NIGHTLY)
    await finish(second, run)
    assert await restarted.round() == [] and await auto.round() == []
    # the next morning, outside the window, nothing; the next night, again
    clock.now = datetime(2026, 12, 2, 9, 0, tzinfo=ZONE).astimezone(UTC)
    assert await auto.round() == []
    clock.now = datetime(2026, 12, 2, 22, 31, tzinfo=ZONE).astimezone(UTC)
    assert sorted(r.course_id for r in await auto.round()) == ["456", "789"]


async def test_a_mode_the_district_does_not_allow_is_refused_and_not_in_effect(
    store: SqlStore,
) -> None:
    clock = Clock(SCHOOL_TIME)
    auto = scheduler(store, Grading(), clock)
    await known(store, "456", "789")
    await auto.choose("456", AutoMode.AFTER_CHANGE, None)
    strict = scheduler(store, Grading(), clock, allowed=frozenset({AutoMode.OFF}))
    with pytest.raises(InvalidChoice) as refused:
        await strict.choose("789", AutoMode.NIGHTLY, None)
    assert refused.value.code == "AUTO_SYNC_MODE_NOT_ALLOWED"
    assert (await strict.choice("456")).mode is AutoMode.OFF  # chosen before it was disallowed
    assert (await auto.courses_by_mode())[AutoMode.AFTER_CHANGE] == ["456"]
    assert (await strict.courses_by_mode())[AutoMode.OFF] == ["456", "789"]


@pytest.mark.parametrize(
    ("mode", "nightly_at", "code", "message"),
    [
        ("weekly", None, "INVALID_BODY", "choose off, after each change or nightly"),
        ("nightly", "25:00", "INVALID_BODY", "nightly_at is a time of day, HH:MM"),
        ("nightly", "12:00", "NIGHTLY_OUTSIDE_WINDOW", None),
    ],
)
async def test_a_choice_as_written_is_read_or_refused(
    store: SqlStore, mode: str, nightly_at: str | None, code: str, message: str | None
) -> None:
    auto = scheduler(store, Grading(), Clock(SCHOOL_TIME))
    await known(store, "456")
    chosen = await auto.choose_as_written("456", "nightly", "22:30")
    assert (chosen.mode, chosen.nightly_at) == (AutoMode.NIGHTLY, time(22, 30))
    with pytest.raises(InvalidChoice) as refused:
        await auto.choose_as_written("456", mode, nightly_at)
    assert refused.value.code == code
    assert message is None or refused.value.message == message
    assert (await auto.choice("456")).nightly_at == time(22, 30)  # unchanged
    assert (await auto.choose_as_written("456", None, None)).setting.mode is None


def claim(holder: str, at: datetime, seconds: float = 60) -> Claim:
    return Claim.starting(holder, at, timedelta(seconds=seconds))


async def queue_auto(store: SqlStore, course_id: str, at: datetime) -> SyncRun:
    request = SyncRequest(course_id, RunKind.AUTO, False, ("124",), "automatic")
    return await store.syncs.create_run(request, at)


async def test_claims_keep_automatic_runs_within_the_limit_and_put_people_first(
    replicas: tuple[SqlStore, SqlStore],
) -> None:
    first, second = replicas
    limits = policy()
    for course in ("401", "402", "403"):
        await queue_auto(first, course, SCHOOL_TIME)
    manual = await first.syncs.create_run(
        SyncRequest("500", RunKind.SYNC, False, None, "teacher"), SCHOOL_TIME
    )
    now = SCHOOL_TIME
    in_school = limits.run_limit(now)
    assert (in_school, limits.concurrency(now)) == (1, 1)
    taken = await first.syncs.claim_next_run(claim("a", now), in_school)
    assert taken is not None and taken.id == manual.id  # a teacher's run goes first
    auto = await second.syncs.claim_next_run(claim("b", now), in_school)
    assert auto is not None and auto.kind is RunKind.AUTO
    # serial in school hours: no second automatic run, from any replica
    assert await first.syncs.claim_next_run(claim("a", now), in_school) is None
    assert await second.syncs.claim_next_run(claim("c", now), in_school) is None

    evening = EVENING
    off_peak = limits.run_limit(evening)
    assert (off_peak, limits.concurrency(evening)) == (2, 2)  # 2 runs x 2 calls <= 5
    await first.syncs.renew_claim(auto.id, claim("b", evening))
    await finish(first, taken)
    another = await first.syncs.claim_next_run(claim("a", evening), off_peak)
    assert another is not None and another.kind is RunKind.AUTO
    assert await second.syncs.claim_next_run(claim("c", evening), off_peak) is None


async def test_an_automatic_run_of_a_replica_that_died_is_taken_over_and_frees_its_place(
    replicas: tuple[SqlStore, SqlStore],
) -> None:
    first, second = replicas
    dying = await queue_auto(first, "401", SCHOOL_TIME)
    waiting = await queue_auto(first, "402", SCHOOL_TIME)
    claimed = await first.syncs.claim_next_run(claim("dies", SCHOOL_TIME, 30), 1)
    assert claimed is not None and claimed.id == dying.id
    await first.syncs.set_status(dying.id, RunStatus.RUNNING, SCHOOL_TIME)
    await first.close()  # the replica dies without a word
    later = SCHOOL_TIME + timedelta(seconds=20)
    assert await second.syncs.claim_next_run(claim("lives", later), 1) is None
    later = SCHOOL_TIME + timedelta(seconds=31)
    resumed = await second.syncs.claim_next_run(claim("lives", later), 1)
    assert resumed is not None and (resumed.id, resumed.status) == (dying.id, RunStatus.RUNNING)
    await finish(second, resumed)
    following = await second.syncs.claim_next_run(claim("lives", later), 1)
    assert following is not None and following.id == waiting.id


def report(*grades: tuple[str, str]) -> dict[str, Any]:
    return {"grades": [{"assignment_id": a, "outcome": o} for a, o in grades]}


async def test_an_assignment_that_keeps_failing_is_left_out_until_the_teacher_sends_it(
    store: SqlStore,
) -> None:
    grading = Grading({"456": {"124": 1, "125": 1}})
    clock = Clock(SCHOOL_TIME)
    auto = scheduler(store, grading, clock)

    async def ran(kind: RunKind, *grades: tuple[str, str]) -> None:
        run = SyncRun("1", "456", kind, False, RunStatus.PARTIAL, None, None, SCHOOL_TIME)
        await auto.after_run(SyncRun(**(vars(run) | {"report": report(*grades)})))

    for _ in range(3):
        assert await auto.assignments_to_send("456") == ["124", "125"]
        await ran(RunKind.AUTO, ("124", "failed"), ("125", "sent"))
    assert await auto.assignments_to_send("456") == ["125"]
    assert list((await auto.choice("456")).paused) == ["124"]
    await ran(RunKind.AUTO, ("125", "sent"))  # an automatic success of another changes nothing
    assert await auto.assignments_to_send("456") == ["125"]
    await ran(RunKind.SYNC, ("124", "sent"))  # the teacher synced it: back in
    assert await auto.assignments_to_send("456") == ["124", "125"]
