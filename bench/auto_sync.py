"""A school day of grading across 2,000 courses, every one syncing after each change.

What is gpb's own code: the automatic-sync scheduler (its rounds, the marks that fire each round
once, the choice of assignments), the store (SQLite, in a temporary folder) that keeps the marks and
the runs, and the sync service of several replicas claiming the runs under the district's limits
(one automatic run at a time across the district in school hours, GPB_AUTO_SYNC_MAX_RUNS off-peak,
each with its share of GPB_SIS_MAX_CONCURRENCY calls in flight). What is simulated: the clock (a
virtual one: the day passes in minutes, and database work takes no simulated time), the teachers
(grading sessions of a grade every few seconds to a minute, spread over the day and the evening),
and the run itself, which makes IC's calls (two reads of what IC holds and the line item per
section, then one PUT per grade) against a stand-in that answers each call after IC's latency and
counts the calls in flight across all replicas.

It reports the most calls ever in flight in school hours and off-peak against the limits (the
exit code is 1 when a limit was crossed or a grade never reached IC), and how long grades waited
from Canvas to IC, p50 and p95, by when they were graded.

    .venv/bin/python bench/auto_sync.py [--courses 2000] [--replicas 3] [--latency 0.2]
    .venv/bin/python bench/auto_sync.py --courses 200          # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import random
import selectors
import statistics
import sys
import tempfile
import time as wall
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from gpb.handlers.auto_sync import AutoMode, AutoSyncPolicy, AutoSyncScheduler, NightlyWindow
from gpb.handlers.grades import GradeChanged
from gpb.handlers.school_hours import SchoolHours
from gpb.handlers.sync_service import SyncService
from gpb.handlers.syncs import RunReport, RunStatus, SyncRun
from gpb.infra.store.store import SqlStore

ZONE = ZoneInfo("America/Chicago")
DAY = datetime(2026, 12, 1, 6, 0, tzinfo=ZONE)  # a Tuesday; the simulation starts at 06:00
ASSIGNMENT = "124"
T = TypeVar("T")


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock jumps to the next timer whenever nothing is ready, except while
    database work is in flight on another thread: that takes no simulated time."""

    def __init__(self, busy: Callable[[], bool]) -> None:
        super().__init__(selectors.DefaultSelector())
        self._now = 0.0
        selector = self._selector  # type: ignore[attr-defined]
        real_select = selector.select

        def select(timeout: float | None = None) -> list[Any]:
            if busy():
                return real_select(timeout)  # the thread's answer wakes the loop
            events = real_select(0)
            if not events and timeout is not None and timeout > 0:
                self._now += timeout
            return events

        selector.select = select

    def time(self) -> float:
        return self._now


@dataclass
class CountingStore:
    """The store's database, counting the calls under way (the loop's clock waits for them)."""

    store: SqlStore
    under_way: int = 0

    def wrap(self) -> None:
        db = self.store.db
        read, write = db.read, db.write

        async def counted(call: Callable[[Any], Awaitable[T]], fn: Any) -> T:
            self.under_way += 1
            try:
                return await call(fn)
            finally:
                self.under_way -= 1

        db.read = lambda fn: counted(read, fn)  # type: ignore[method-assign]
        db.write = lambda fn: counted(write, fn)  # type: ignore[method-assign]


@dataclass
class Ic:
    """IC's answers after its latency, with the calls in flight counted across all replicas."""

    latency: float
    school: SchoolHours
    clock: Callable[[], datetime]
    in_flight: int = 0
    most_in_school: int = 0
    most_off_peak: int = 0
    calls: int = 0

    async def call(self) -> None:
        self.in_flight += 1
        self.calls += 1
        if self.school.contains(self.clock()):
            self.most_in_school = max(self.most_in_school, self.in_flight)
        else:
            self.most_off_peak = max(self.most_off_peak, self.in_flight)
        try:
            await asyncio.sleep(self.latency * random.uniform(0.5, 1.5))
        finally:
            self.in_flight -= 1


@dataclass
class Grading:
    """The teachers: pending grades by course, as (graded at, student) pairs."""

    pending: dict[str, list[datetime]] = field(default_factory=dict)
    waits: list[tuple[datetime, float]] = field(default_factory=list)  # (graded at, seconds)

    async def counts(self, course_id: str) -> dict[str, int]:
        count = len(self.pending.get(course_id, ()))
        return {ASSIGNMENT: count} if count else {}

    async def course_state(self, course_id: str) -> Any:
        return SimpleNamespace(assignments={ASSIGNMENT: SimpleNamespace(eligible=True)})


@dataclass
class SimulatedRunner:
    """A run of the pending grades: per section two reads and the line item, then one PUT per
    grade, at most `concurrency` calls at once (the service's share for automatic runs)."""

    store: SqlStore
    grading: Grading
    ic: Ic
    clock: Callable[[], datetime]
    default_concurrency: int

    async def execute(self, run: SyncRun, concurrency: int | None = None) -> RunStatus:
        await self.store.syncs.set_status(run.id, RunStatus.RUNNING, self.clock())
        graded = self.grading.pending.pop(run.course_id, [])
        slots = asyncio.Semaphore(concurrency or self.default_concurrency)

        async def one(graded_at: datetime | None) -> None:
            async with slots:
                await self.ic.call()
            if graded_at is not None:
                waited = (self.clock() - graded_at).total_seconds()
                self.grading.waits.append((graded_at, waited))

        for _ in range(3):  # the section's reads and its line item come first
            await one(None)
        await asyncio.gather(*(one(at) for at in graded))
        await self.store.syncs.finish(
            run.id, RunStatus.SUCCEEDED, RunReport().as_json(), self.clock()
        )
        return RunStatus.SUCCEEDED


def sessions(rng: random.Random, courses: int) -> list[tuple[float, str]]:
    """(seconds after 06:00, course) of every grade: each course graded in one to three sessions
    of 10 to 30 grades, a grade every 5 to 60 seconds, mostly in school hours, some in the
    evening."""
    grades = []
    for n in range(courses):
        course_id = str(10_000 + n)
        for _ in range(rng.randint(1, 3)):
            evening = rng.random() < 0.3
            hour = rng.uniform(18.0, 21.5) if evening else rng.uniform(7.5, 16.0)
            at = (hour - 6.0) * 3600
            for _ in range(rng.randint(10, 30)):
                grades.append((at, course_id))
                at += rng.uniform(5, 60)
    return sorted(grades)


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(share * 100) - 1]


async def simulate(args: argparse.Namespace, store: SqlStore, counting: CountingStore) -> int:
    loop = asyncio.get_running_loop()

    def clock() -> datetime:
        return (DAY + timedelta(seconds=loop.time())).astimezone(UTC)

    school = SchoolHours.parse("mon-fri", "07:00-17:00", ZONE)
    policy = AutoSyncPolicy(
        allowed=frozenset({AutoMode.OFF, AutoMode.AFTER_CHANGE}),
        default=AutoMode.AFTER_CHANGE,
        delay=timedelta(minutes=args.delay_minutes),
        window=NightlyWindow.parse("18:00-06:00"),
        zone=ZONE,
        school=school,
        max_runs=args.max_runs,
        sis_concurrency=args.sis_concurrency,
        max_failures=3,
    )
    ic = Ic(args.latency, school, clock)
    grading = Grading()
    services: list[SyncService] = []
    tasks = []
    for replica in range(args.replicas):
        runner = SimulatedRunner(store, grading, ic, clock, args.sis_concurrency)
        service = SyncService(
            store.syncs,
            runner,  # type: ignore[arg-type]
            grading,  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
            holder=f"replica-{replica}",
            alone_on_database=False,
            idle_poll_seconds=10.0,  # each replica's own scheduler wakes it at once
            automatic=policy,
            clock=clock,
        )
        services.append(service)
        scheduler = AutoSyncScheduler(
            store=store.auto_sync,
            pending=grading,
            courses=grading,  # type: ignore[arg-type]
            policy=policy,
            on_queued=service.wake,
            clock=clock,
            round_seconds=30.0,
        )
        tasks.append(asyncio.create_task(service.run_forever()))
        tasks.append(asyncio.create_task(scheduler.run_forever()))

    grades = sessions(random.Random(args.seed), args.courses)
    for at, course_id in grades:
        delay = at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        graded_at = clock()
        grading.pending.setdefault(course_id, []).append(graded_at)
        await store.apply([GradeChanged(course_id, graded_at)])
    # until every grade reached IC, or a simulated day more
    deadline = loop.time() + 24 * 3600
    while any(grading.pending.values()) or ic.in_flight:
        if loop.time() > deadline:
            break
        await asyncio.sleep(60)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return report(args, grades, grading, ic, clock, school)


def report(
    args: argparse.Namespace,
    grades: list[tuple[float, str]],
    grading: Grading,
    ic: Ic,
    clock: Callable[[], datetime],
    school: SchoolHours,
) -> int:
    lost = sum(len(v) for v in grading.pending.values())
    in_school = [w for at, w in grading.waits if school.contains(at)]
    evening = [w for at, w in grading.waits if not school.contains(at)]
    print(
        f"{args.courses} courses, {len(grades)} grades, {args.replicas} replicas, IC latency"
        f" {args.latency:.2f} s a call, delay {args.delay_minutes:g} min, {ic.calls} calls to IC"
    )
    print(f"the last grade reached IC at {clock().astimezone(ZONE):%a %H:%M} (the day: Tue)")
    print(f"calls in flight, most: school hours {ic.most_in_school} (limit 1),", end=" ")
    print(f"off-peak {ic.most_off_peak} (limit {args.sis_concurrency})")
    for name, waits in (("graded in school hours", in_school), ("graded off-peak", evening)):
        print(
            f"Canvas to IC, {name}: {len(waits)} grades, p50 {percentile(waits, 0.5) / 60:.1f}"
            f" min, p95 {percentile(waits, 0.95) / 60:.1f} min"
        )
    every = [w for _, w in grading.waits]
    print(
        f"Canvas to IC, all: p50 {percentile(every, 0.5) / 60:.1f} min,"
        f" p95 {percentile(every, 0.95) / 60:.1f} min; never reached IC: {lost}"
    )
    crossed = ic.most_in_school > 1 or ic.most_off_peak > args.sis_concurrency
    return 1 if crossed or lost else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--courses", type=int, default=2000)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.2, help="IC's seconds a call")
    parser.add_argument("--delay-minutes", type=float, default=10.0)
    parser.add_argument("--max-runs", type=int, default=2, help="GPB_AUTO_SYNC_MAX_RUNS")
    parser.add_argument("--sis-concurrency", type=int, default=5, help="GPB_SIS_MAX_CONCURRENCY")
    parser.add_argument("--seed", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = SqlStore(f"sqlite:///{Path(folder) / 'gpb.db'}")
        store.migrate()
        store.start()
        counting = CountingStore(store)
        counting.wrap()
        loop = VirtualTimeLoop(lambda: counting.under_way > 0)
        started = wall.monotonic()
        try:
            code = loop.run_until_complete(simulate(args, store, counting))
            loop.run_until_complete(store.close())
        finally:
            loop.close()
        print(f"(simulated in {wall.monotonic() - started:.0f} s of real time)")
    return code


if __name__ == "__main__":
    sys.exit(main())
