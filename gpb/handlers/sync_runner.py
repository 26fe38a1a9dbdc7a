"""Carrying out a sync or remaster run against IC, and resuming one that was interrupted.

A result counts as sent only once IC confirmed it and the confirmation is stored; the pending delta
shrinks by exactly those. A resumed run skips what IC confirmed earlier in it, so nothing confirmed
and stored is written twice. Confirmations share commits (CONFIRMATION_LINGER_SECONDS), so a crash
can lose those of its last hundredth of a second, as it can lose the answers in flight: the resumed
run sends those results again, with the values IC holds already. IC refusing the credentials, or
Canvas failing a remaster's re-read, stops the run as `failed`; other failures fail the grades
they concern and the run goes on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from gpb.handlers.changes import Change
from gpb.handlers.course_state import CourseState
from gpb.handlers.delta import PendingEntry
from gpb.handlers.dictionary import entry
from gpb.handlers.eligibility import IcUnverified
from gpb.handlers.errors import ExternalError, SisAuthFailed, SisError
from gpb.handlers.failure_groups import to_report
from gpb.handlers.grades import GradeStored, SentValue, ic_value, read_grades
from gpb.handlers.ic_directory import IcDirectory
from gpb.handlers.model import IcRecord, LineItem, RecordKind
from gpb.handlers.ports import (
    Canvas,
    ChangeSink,
    ConfirmedStore,
    CourseStateStore,
    GradeStore,
    Sis,
    SyncStore,
)
from gpb.handlers.sync_plan import (
    Delete,
    Plan,
    PlanInput,
    SectionWork,
    Write,
    line_item_id,
    make_plan,
)
from gpb.handlers.syncs import (
    GradeOutcome,
    LineItemConfirmed,
    LineItemOutcome,
    Outcome,
    ResultConfirmed,
    ResultDeleted,
    RunError,
    RunKind,
    RunReport,
    RunStatus,
    SyncRun,
    WriteRecord,
)
from gpb.handlers.timefmt import utcnow

log = logging.getLogger("gpb.sync")

DELETED = "deleted"
# How long a result's confirmation may wait for others to share its commit. A remaster confirms
# thousands of results a minute; with a commit each, the hand-offs to the database's writer and
# their flushes cost about half as much CPU again as the PUTs themselves. A slot is free again
# before the confirmation is stored, so the wait holds no call back.
CONFIRMATION_LINGER_SECONDS = 0.01


class Interrupted(Exception):
    """The run outlived its time budget."""


def value_key(value: SentValue) -> str:
    return json.dumps(value.as_json(), sort_keys=True)


def line_item_key(item: LineItem) -> str:
    """What gpb writes in a line item, comparable with what IC answers for it later (IC keeps
    dates to the second)."""
    return json.dumps(
        {
            "title": item.title,
            "assign_date": _second(item.assign_date),
            "due_date": _second(item.due_date),
            "class_id": item.class_id,
            "school_id": item.school_id,
            "category_id": item.category_id,
            "result_value_max": item.result_value_max,
        },
        sort_keys=True,
    )


def record_key(record: IcRecord | None) -> str:
    """The comparable form of what IC holds: `DELETED` when it holds nothing."""
    if record is None:
        return DELETED
    if isinstance(record.value, LineItem):
        return line_item_key(record.value)
    return value_key(ic_value(record.value))


def _second(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class SyncSettings:
    time_zone: tzinfo
    time_budget_seconds: float
    concurrency: int
    hold_unposted: bool = False  # GPB_UNPOSTED_GRADES=hold


ReloadCourse = Callable[[str], Awaitable[list[Change]]]
Stepped = tuple[GradeOutcome, RunError | None]  # one grade's outcome, and its error if it failed


async def carried_out(work: Awaitable[None], report: RunReport) -> RunStatus:
    """Awaits a run's work (a sync's or an undo's) and says how the run ended: as its report
    says, interrupted when its time budget ran out, failed when an outside system stopped it (the
    error is added to the report)."""
    try:
        await work
        status = report.status()
    except* Interrupted:
        report.errors.append(run_error("SYNC_TIMED_OUT", "the run outlived its time budget"))
        status = RunStatus.INTERRUPTED
    except* ExternalError as group:
        failure = to_report(group)
        report.errors.append(run_error(failure.code, failure.message))
        status = RunStatus.FAILED
    return status


@dataclass
class SyncRunner:
    canvas: Canvas
    sis: Sis
    ic: IcDirectory
    courses: CourseStateStore
    grades: GradeStore
    confirmed: ConfirmedStore
    runs: SyncStore
    changes: ChangeSink
    reload_course: ReloadCourse  # reads the course from Canvas; returns the state changes
    settings: SyncSettings
    clock: Callable[[], datetime] = utcnow
    monotonic: Callable[[], float] = time.monotonic

    async def execute(self, run: SyncRun, concurrency: int | None = None) -> RunStatus:
        """Carries the run out with at most `concurrency` calls in flight (the configured limit
        unless a smaller one is given)."""
        deadline = self.monotonic() + self.settings.time_budget_seconds
        await self.runs.set_status(run.id, RunStatus.RUNNING, self.clock())
        report = RunReport()

        async def work() -> None:
            plan = await self._plan(run, report)
            slots = asyncio.Semaphore(concurrency or self.settings.concurrency)
            await self._carry_out(run, plan, report, deadline, slots)

        status = await carried_out(work(), report)
        await self.runs.finish(run.id, status, report.as_json(), self.clock())
        log.info("run %s of course %s: %s", run.id, run.course_id, status.value)
        return status

    async def _plan(self, run: SyncRun, report: RunReport) -> Plan:
        state = await self.courses.course_state(run.course_id)
        if run.kind is RunKind.REMASTER or not state.loaded:
            await self.changes.apply(await self.reload_course(run.course_id))
            state = await self.courses.course_state(run.course_id)
        if run.kind is RunKind.REMASTER:
            await self._reread_grades(state)
        class_ids = [s.sis_section_id for s in state.sections if s.sis_section_id]
        ic = await self.ic.knowledge(class_ids)
        for known in ic.values():
            # Refused credentials fail every class alike: the run stops, saying so.
            if isinstance(known, IcUnverified) and isinstance(known.failure, SisAuthFailed):
                raise known.failure
        written = await self.runs.written_line_items(run.course_id)
        plan = make_plan(
            PlanInput(
                state=state,
                grades=await self.grades.grades(run.course_id),
                confirmed=await self.confirmed.confirmed(run.course_id),
                ic=ic,
                kind=run.kind.plan_kind,
                assignment_ids=run.assignment_ids,
                time_zone=self.settings.time_zone,
                today=self.clock().astimezone(self.settings.time_zone).date(),
                written=tuple(written),
                hold_unposted=self.settings.hold_unposted,
            )
        )
        report.grades.extend(plan.filtered)
        report.warnings.extend(plan.warnings)
        report.section_sis_ids.update({s.id: s.sis_section_id for s in state.sections})
        report.assignment_titles.update(
            {a: r.assignment.title for a, r in state.assignments.items()}
        )
        return plan

    async def _reread_grades(self, state: CourseState) -> None:
        """A remaster trusts no event: every grade of every eligible assignment, from Canvas (of
        the course state just read again from Canvas)."""
        read_at = int(self.clock().timestamp() * 1000)
        grades = await read_grades(self.canvas, state, read_at)
        await self.changes.apply([GradeStored(grade) for grade in grades])

    async def _carry_out(
        self, run: SyncRun, plan: Plan, report: RunReport, deadline: float, slots: asyncio.Semaphore
    ) -> None:
        """Every section at once, under one limit of calls in flight: IC is never idle waiting
        for one section's last result before the next section's line item goes out. A section's
        results follow its own line item. What finished is reported in the plan's order, even when
        the run stops midway."""
        confirmed = await self.runs.confirmed_in_run(run.id)
        finished: list[list[Stepped] | None] = [None] * len(plan.work)
        total = plan.total  # counted once: the plan's sum over every section is not free
        progress = Progress(lambda done: self.runs.progress(run.id, done, total))

        async def counted(step: Awaitable[Stepped]) -> Stepped:
            outcome = await step
            progress.advance()
            return outcome

        async def carry_out_section(index: int, work: SectionWork) -> None:
            if self.monotonic() > deadline:
                raise Interrupted()
            unread = await self._befores_kept(run, work, report, slots)
            writable = unread or await self._line_item(run, work, report, slots)
            async with asyncio.TaskGroup() as group:
                tasks = [
                    group.create_task(
                        counted(self._write(run, w, writable, confirmed, slots, deadline))
                    )
                    for w in work.writes
                ] + [
                    group.create_task(
                        counted(self._delete(run, d, unread, confirmed, slots, deadline))
                    )
                    for d in work.deletes
                ]
            finished[index] = [task.result() for task in tasks]

        await self.runs.progress(run.id, 0, total)
        try:
            async with asyncio.TaskGroup() as sections:
                for index, work in enumerate(plan.work):
                    sections.create_task(carry_out_section(index, work))
        finally:
            await progress.flushed()
            for outcomes in finished:
                for outcome, error in outcomes or ():
                    report.grades.append(outcome)
                    if error is not None:
                        report.errors.append(error)

    async def _befores_kept(
        self, run: SyncRun, work: SectionWork, report: RunReport, slots: asyncio.Semaphore
    ) -> str | None:
        """None once IC's records before the section's writes are kept; else the code that
        fails them: a write nobody could take back waits for the next run."""
        try:
            await self._keep_befores(run, work, slots)
        except SisAuthFailed:
            raise
        except SisError as exc:
            _section_failed(report, work, exc.code, exc.message)
            return exc.code
        return None

    async def _line_item(
        self, run: SyncRun, work: SectionWork, report: RunReport, slots: asyncio.Semaphore
    ) -> str | None:
        """Upserts the section's line item (holding a slot for the call only, not for storing its
        confirmation); returns None when results can be written, else the code that fails
        them."""
        if not work.writes and work.refresh is None:
            return None  # IC gets a line item only with its first result
        if work.problem is not None:
            code, message = work.problem
            _section_failed(report, work, code, message)
            _refreshed(report, work, Outcome.FAILED)
            return code
        if run.dry_run:
            _refreshed(report, work, Outcome.SENT)
            return None
        assert work.line_item is not None
        try:
            async with slots:
                await self.sis.put_line_item(work.line_item)
        except SisAuthFailed:
            raise
        except SisError as exc:
            _section_failed(report, work, exc.code, exc.message)
            _refreshed(report, work, Outcome.FAILED)
            return exc.code
        await self.changes.apply(
            [
                LineItemConfirmed(
                    run.course_id,
                    work.assignment_id,
                    work.section_id,
                    work.line_item.sourced_id,
                    work.details,
                )
            ]
        )
        _refreshed(report, work, Outcome.SENT)
        return None

    async def _write(
        self,
        run: SyncRun,
        write: Write,
        failed_code: str | None,
        confirmed: dict[str, str],
        slots: asyncio.Semaphore,
        deadline: float,
    ) -> tuple[GradeOutcome, RunError | None]:
        pending = write.entry
        if failed_code is not None:
            return _outcome(pending, Outcome.FAILED, failed_code), None
        change = ResultConfirmed(
            run.id,
            run.course_id,
            pending.assignment_id,
            pending.section_id,
            pending.student_id,
            write.result.sourced_id,
            write.value,
        )
        step = _Step(pending, write.result.sourced_id, value_key(write.value), Outcome.SENT, change)
        return await self._apply(
            run, step, lambda: self.sis.put_result(write.result), confirmed, slots, deadline
        )

    async def _delete(
        self,
        run: SyncRun,
        delete: Delete,
        failed_code: str | None,
        confirmed: dict[str, str],
        slots: asyncio.Semaphore,
        deadline: float,
    ) -> tuple[GradeOutcome, RunError | None]:
        pending = delete.entry
        if failed_code is not None:
            return _outcome(pending, Outcome.FAILED, failed_code), None
        change = ResultDeleted(
            run.id,
            run.course_id,
            pending.assignment_id,
            pending.section_id,
            pending.student_id,
            delete.sourced_id,
        )
        step = _Step(pending, delete.sourced_id, DELETED, Outcome.DELETED, change)
        return await self._apply(
            run, step, lambda: self.sis.delete_result(delete.sourced_id), confirmed, slots, deadline
        )

    async def _apply(
        self,
        run: SyncRun,
        step: _Step,
        call: Callable[[], Awaitable[None]],
        confirmed: dict[str, str],
        slots: asyncio.Semaphore,
        deadline: float,
    ) -> tuple[GradeOutcome, RunError | None]:
        """One result: skipped when IC confirmed it earlier in this run, previewed in a dry run,
        else written and its confirmation stored before it counts."""
        pending = step.pending
        if confirmed.get(step.sourced_id) == step.key:
            return _outcome(pending, step.success, sis=step.sis), None
        async with slots:
            if run.dry_run:
                current = await self._current(step.sourced_id)
                same = step.success is Outcome.SENT and current == step.sis
                return _outcome(
                    pending, Outcome.UNCHANGED if same else step.success, sis=current
                ), None
            if self.monotonic() > deadline:
                raise Interrupted()
            try:
                await call()
            except SisAuthFailed:
                raise
            except SisError as exc:
                error = run_error(
                    exc.code,
                    exc.message,
                    pending.assignment_id,
                    pending.student_id,
                    pending.section_id,
                )
                return _outcome(pending, Outcome.FAILED, exc.code), error
        await self.changes.apply([step.change], linger=CONFIRMATION_LINGER_SECONDS)
        return _outcome(pending, step.success, sis=step.sis), None

    async def _keep_befores(
        self, run: SyncRun, work: SectionWork, slots: asyncio.Semaphore
    ) -> None:
        """Keeps what IC holds before the section's writes, so that an undo can put it back: one
        read of the line item and one of its results for the whole section, under one slot
        (the second needs the first's class); they are stored once the slot is free again."""
        if run.dry_run or (work.problem is not None and not work.deletes):
            return  # nothing will be written
        item_id = line_item_id(work.assignment_id, work.section_id)
        held: dict[str, IcRecord] = {}
        async with slots:
            item = await self.sis.read_record("lineItem", item_id)
            if item is not None:
                assert isinstance(item.value, LineItem)
                for result in await self.sis.read_results_of(item.value.class_id, item_id):
                    held[result.sourced_id] = result

        records: list[WriteRecord] = []

        def record(kind: RecordKind, sourced_id: str, user_id: str | None, written: str) -> None:
            before = item if kind == "lineItem" else held.get(sourced_id)
            records.append(
                WriteRecord(
                    run.id,
                    kind,
                    sourced_id,
                    run.course_id,
                    work.assignment_id,
                    work.section_id,
                    user_id,
                    before,
                    written,
                )
            )

        if (work.writes or work.refresh) and work.line_item is not None and work.problem is None:
            record("lineItem", item_id, None, line_item_key(work.line_item))
        for write in work.writes:
            record(
                "result", write.result.sourced_id, write.entry.student_id, value_key(write.value)
            )
        for delete in work.deletes:
            record("result", delete.sourced_id, delete.entry.student_id, DELETED)
        await self.runs.record_writes(records)

    async def _current(self, sourced_id: str) -> dict[str, object] | None:
        """IC's value of a result, for a dry run's preview; None when it has none or cannot say."""
        try:
            result = await self.sis.get_result(sourced_id)
        except SisError:
            return None
        if result is None:
            return None
        return ic_value(result).as_json()


def _section_failed(report: RunReport, work: SectionWork, code: str, message: str) -> None:
    """Reports an error of a whole section's work (its line item, or IC's records before it)."""
    report.errors.append(run_error(code, message, work.assignment_id, None, work.section_id))


def _refreshed(report: RunReport, work: SectionWork, outcome: Outcome) -> None:
    """Reports a line item sent because its assignment changed (with or without results)."""
    if work.refresh is not None:
        report.line_items.append(
            LineItemOutcome(work.assignment_id, work.section_id, outcome, work.refresh.message)
        )


class Progress:
    """How many grades of a run are done, told to the store grade by grade. Writes never queue
    up behind one another: while one is under way, later counts wait for it and the newest goes
    next, so a fast run costs few writes and a slow one shows every grade."""

    def __init__(self, write: Callable[[int], Awaitable[None]]) -> None:
        self._write = write
        self._done = 0
        self._written = 0
        self._writer: asyncio.Task[None] | None = None

    def advance(self) -> None:
        self._done += 1
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._catch_up(), name="gpb-run-progress")

    async def flushed(self) -> None:
        """Waits until the store holds the last count."""
        if self._writer is not None:
            await asyncio.shield(self._writer)

    async def _catch_up(self) -> None:
        while self._written < self._done:
            done = self._done
            try:
                await self._write(done)
            except Exception:  # progress is a courtesy: the run goes on, the next count retries
                log.exception("could not record a run's progress")
                return
            self._written = done


def run_error(
    code: str,
    message: str,
    assignment_id: str | None = None,
    student_id: str | None = None,
    section_id: str | None = None,
) -> RunError:
    return RunError(code, message, entry(code).fix, assignment_id, student_id, section_id)


@dataclass(frozen=True)
class _Step:
    pending: PendingEntry
    sourced_id: str
    key: str  # what `confirmed_in_run` holds once this step is done
    success: Outcome
    change: ResultConfirmed | ResultDeleted

    @property
    def sis(self) -> dict[str, object] | None:
        """What IC holds once the step is done."""
        if isinstance(self.change, ResultConfirmed):
            return self.change.value.as_json()
        return None


def _outcome(
    pending: PendingEntry,
    kind: Outcome,
    code: str | None = None,
    sis: dict[str, object] | None = None,
) -> GradeOutcome:
    return GradeOutcome(
        pending.assignment_id,
        pending.student_id,
        pending.section_id,
        kind,
        code,
        pending.canvas.as_json(),
        sis,
    )
