"""Taking sync and remaster requests, and running them: real runs one at a time in the background,
dry runs at once beside them (they write nothing to IC and never wait)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar, Literal, get_args

from gpb.handlers.auto_sync import AutoSyncPolicy
from gpb.handlers.claims import Claim
from gpb.handlers.course_state import CourseState
from gpb.handlers.delta import PendingEntry, pending_entries
from gpb.handlers.line_items import LineItemChange, changed_line_items
from gpb.handlers.ports import (
    ConfirmedStore,
    CourseStateStore,
    GradeStore,
    SyncStore,
    WrittenLineItems,
)
from gpb.handlers.refusals import Refused
from gpb.handlers.signals import Wakeup, drain_forever
from gpb.handlers.sync_runner import SyncRunner
from gpb.handlers.syncs import (
    ACTIVE,
    RunError,
    RunKind,
    RunReport,
    RunStatus,
    SyncRequest,
    SyncRun,
)
from gpb.handlers.timefmt import utcnow
from gpb.handlers.undo import UndoRunner

log = logging.getLogger("gpb.sync")

AfterRun = Callable[[SyncRun], Awaitable[None]]


RequestRefusalCode = Literal[
    "NO_ASSIGNMENTS",
    "UNKNOWN_ASSIGNMENT",
    "ASSIGNMENTS_NOT_ALLOWED",
    "NOT_RESUMABLE",
    "UNDO_OF_UNDO",
    "NOT_UNDOABLE",
    "ALREADY_UNDONE",
]


class InvalidRequest(Refused):
    """A run that cannot be started, resumed or undone as asked."""

    codes: ClassVar[tuple[str, ...]] = get_args(RequestRefusalCode)

    def __init__(self, code: RequestRefusalCode, message: str) -> None:
        super().__init__(code, message)


@dataclass
class Pending:
    """The pending delta of a course, as the API and pages show it: grades, and the line items
    IC holds whose assignment changed since."""

    courses: CourseStateStore
    grades: GradeStore
    confirmed: ConfirmedStore
    written: WrittenLineItems
    hold_unposted: bool = False  # GPB_UNPOSTED_GRADES=hold

    async def entries(self, course_id: str) -> list[PendingEntry]:
        return await self._entries(await self.courses.course_state(course_id))

    async def line_items(self, course_id: str) -> list[LineItemChange]:
        return await self._line_items(await self.courses.course_state(course_id))

    async def counts(self, course_id: str) -> dict[str, int]:
        """Pending changes per assignment: grades, and line items to send again (the course's
        state read once for both)."""
        state = await self.courses.course_state(course_id)
        ids = [e.assignment_id for e in await self._entries(state)]
        ids += [c.assignment_id for c in await self._line_items(state)]
        return dict(Counter(ids))

    async def _entries(self, state: CourseState) -> list[PendingEntry]:
        return pending_entries(
            state,
            await self.grades.grades(state.course_id),
            await self.confirmed.confirmed(state.course_id),
            hold_unposted=self.hold_unposted,
        )

    async def _line_items(self, state: CourseState) -> list[LineItemChange]:
        written = await self.written.written_line_items(state.course_id)
        return changed_line_items(state, written)


class NewerRuns(Refused):
    """Later runs wrote some of the records the run to undo wrote: they are undone first."""

    codes: ClassVar[tuple[str, ...]] = ("UNDO_NEWER_RUNS",)

    def __init__(self, sync_ids: list[str]) -> None:
        super().__init__(
            "UNDO_NEWER_RUNS",
            "later runs changed some of the same grades in IC; undo them first, newest first: "
            + ", ".join(sync_ids),
            data={"sync_ids": sync_ids},
        )
        self.sync_ids = sync_ids


class SyncService:
    def __init__(
        self,
        runs: SyncStore,
        runner: SyncRunner,
        courses: CourseStateStore,
        undo_runner: UndoRunner,
        *,
        holder: str = "gpb",
        lease_seconds: float = 300.0,
        alone_on_database: bool = True,
        idle_poll_seconds: float = 2.0,
        automatic: AutoSyncPolicy | None = None,
        after_run: AfterRun | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._runs = runs
        self._runner = runner
        self._undo_runner = undo_runner
        self._courses = courses
        self._holder = holder
        self._lease = timedelta(seconds=lease_seconds)
        self._alone = alone_on_database
        self._wakeup = Wakeup()
        self._idle_poll = idle_poll_seconds
        self._dry_runs: set[asyncio.Task[None]] = set()
        self._automatic = automatic
        self._after_run = after_run
        self._clock = clock

    def wake(self) -> None:
        """Something was queued: look for it now rather than at the next poll."""
        self._wakeup.set()

    async def request(self, request: SyncRequest) -> SyncRun:
        """Queues a run after checking the request; raises InvalidRequest or RunInProgress."""
        await self._validate(request)
        run = await self._runs.create_run(request, utcnow())
        if run.dry_run:
            task = asyncio.create_task(self._execute_claimed(run), name=f"gpb-dry-run-{run.id}")
            self._dry_runs.add(task)
            task.add_done_callback(self._dry_runs.discard)
        else:
            self._wakeup.set()
        return run

    async def resume(self, run: SyncRun) -> SyncRun:
        if run.status is not RunStatus.INTERRUPTED:
            raise InvalidRequest(
                "NOT_RESUMABLE", f"only an interrupted run can be resumed; this one is {run.status}"
            )
        resumed = await self._runs.resume(run.id)
        assert resumed is not None
        self._wakeup.set()
        return resumed

    async def undo(self, run: SyncRun, *, dry_run: bool, requested_by: str | None) -> SyncRun:
        """Queues a run taking `run` back; raises InvalidRequest, NewerRuns or RunInProgress."""
        await self._check_undoable(run)
        request = SyncRequest(
            run.course_id, RunKind.UNDO, dry_run, None, requested_by, undo_of=run.id
        )
        return await self.request(request)

    async def _check_undoable(self, run: SyncRun) -> None:
        if run.kind is RunKind.UNDO:
            raise InvalidRequest("UNDO_OF_UNDO", "an undo cannot be undone; sync again instead")
        if run.dry_run:
            raise InvalidRequest("NOT_UNDOABLE", "a dry run wrote nothing to IC")
        if run.status in ACTIVE:
            raise InvalidRequest("NOT_UNDOABLE", "the run is still going; undo it once it ends")
        undone = await self._runs.undone_by(run.id)
        if undone is not None:
            raise InvalidRequest("ALREADY_UNDONE", f"run {undone} already undid this run")
        if not await self._runs.writes_of(run.id):
            raise InvalidRequest("NOT_UNDOABLE", "the run wrote nothing to IC that gpb can undo")
        newer = await self._runs.newer_runs_touching(run)
        if newer:
            raise NewerRuns(newer)

    async def _validate(self, request: SyncRequest) -> None:
        ids = request.assignment_ids
        if request.kind is RunKind.REMASTER and ids is not None:
            raise InvalidRequest(
                "ASSIGNMENTS_NOT_ALLOWED", "a remaster sends every eligible assignment"
            )
        if ids is None:
            return
        if not ids:
            raise InvalidRequest("NO_ASSIGNMENTS", "choose at least one assignment")
        known = (await self._courses.course_state(request.course_id)).assignments
        unknown = [a for a in ids if a not in known or known[a].assignment.deleted]
        if unknown:
            raise InvalidRequest(
                "UNKNOWN_ASSIGNMENT",
                f"gpb knows no assignment {', '.join(unknown)} in course {request.course_id}:"
                " it may have been deleted in Canvas",
            )

    async def run_forever(self) -> None:
        """Runs queued real runs in order, each claimed so that one process runs it. Alone on
        its database, a process knows at start that runs left `running` were stopped with their
        process: they become `interrupted` and wait for someone to resume them. Among replicas,
        a run whose holder stopped renewing its claim is resumed by whoever claims it next; a
        replica that starts ends its earlier self's claims, so that its runs go on at once."""
        if self._alone:
            await self._runs.interrupt_unfinished(utcnow())
        else:
            await self._runs.end_claims(self._holder, self._clock())
        await drain_forever(self._run_next, self._wakeup, self._idle_poll, "running queued runs")

    async def _run_next(self) -> int:
        limit = self._automatic.run_limit(self._clock()) if self._automatic else None
        run = await self._runs.claim_next_run(self._claim(), limit)
        if run is None:
            return 0
        await self._execute_claimed(run)
        return 1

    def _claim(self) -> Claim:
        return Claim.starting(self._holder, self._clock(), self._lease)

    async def _execute_claimed(self, run: SyncRun) -> None:
        """Runs `run` while renewing its claim, a third of the lease at a time."""
        await self._runs.renew_claim(run.id, self._claim())
        heartbeat = asyncio.create_task(self._renew(run.id), name=f"gpb-run-claim-{run.id}")
        try:
            await self._execute(run)
        finally:
            heartbeat.cancel()

    async def _renew(self, sync_id: str) -> None:
        while True:
            await asyncio.sleep(self._lease.total_seconds() / 3)
            try:
                await self._runs.renew_claim(sync_id, self._claim())
            except Exception:  # the next renewal may go through; the lease has room for two
                log.exception("could not renew the claim on run %s", sync_id)

    async def _execute(self, run: SyncRun) -> None:
        try:
            if run.kind is RunKind.UNDO:
                await self._undo_runner.execute(run)
            elif run.kind.automatic and self._automatic is not None:
                await self._runner.execute(run, self._automatic.concurrency(self._clock()))
            else:
                await self._runner.execute(run)
        except Exception as exc:  # a defect, not an outside failure: say so, keep serving
            log.exception("run %s failed unexpectedly", run.id)
            report = RunReport()
            report.errors.append(
                RunError(
                    "INTERNAL_ERROR",
                    f"the run stopped on an unexpected error ({type(exc).__name__})",
                    "Start the run again; if it recurs, report it with gpb's log.",
                )
            )
            await self._runs.finish(run.id, RunStatus.FAILED, report.as_json(), utcnow())
        if self._after_run is not None and not run.dry_run:
            finished = await self._runs.run(run.id)
            if finished is not None and finished.status not in ACTIVE:
                await self._after_run(finished)
