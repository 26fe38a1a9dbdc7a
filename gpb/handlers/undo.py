"""Undoing a run: IC's records put back as they were before it.

Each write of a run kept what IC held before it (`WriteRecord`). An undo reads each record again:
where IC still holds what the run wrote, it puts the earlier record back, or deletes the record the
run created; where IC holds something else (a teacher changed it in IC since), it keeps it and says
so per grade (`CHANGED_IN_IC_SINCE`). Results go first, then line items, so a line item the run
created is deleted only once its results are gone, and never while IC holds another result on it.

Restored results update what gpb holds as confirmed, so the undone grades are pending again. An
undo resumes like any run: what it restored earlier is skipped, so nothing is written twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gpb.handlers.errors import SisAuthFailed, SisError
from gpb.handlers.grades import ic_value
from gpb.handlers.model import IcRecord, LineItem, Result
from gpb.handlers.ports import ChangeSink, Sis, SyncStore
from gpb.handlers.sync_plan import result_id
from gpb.handlers.sync_runner import DELETED, Interrupted, carried_out, record_key, run_error
from gpb.handlers.syncs import (
    GradeOutcome,
    LineItemUndone,
    Outcome,
    ResultConfirmed,
    ResultDeleted,
    RunError,
    RunReport,
    RunStatus,
    RunWarning,
    SyncRun,
    WriteRecord,
)
from gpb.handlers.timefmt import utcnow

log = logging.getLogger("gpb.sync")

CHANGED_IN_IC_SINCE = "CHANGED_IN_IC_SINCE"
RESTORED = "restored"  # what `confirmed_in_run` holds for a line item put back


@dataclass
class UndoRunner:
    sis: Sis
    runs: SyncStore
    changes: ChangeSink
    concurrency: int
    time_budget_seconds: float
    clock: Callable[[], datetime] = utcnow
    monotonic: Callable[[], float] = time.monotonic

    async def execute(self, run: SyncRun) -> RunStatus:
        assert run.undo_of is not None
        deadline = self.monotonic() + self.time_budget_seconds
        await self.runs.set_status(run.id, RunStatus.RUNNING, self.clock())
        report = RunReport()
        writes = await self.runs.writes_of(run.undo_of)
        undo = _Undo(self, run, await self.runs.confirmed_in_run(run.id), deadline, len(writes))
        status = await carried_out(undo.carry_out(writes, report), report)
        await self.runs.finish(run.id, status, report.as_json(), self.clock())
        log.info("undo %s of run %s: %s", run.id, run.undo_of, status.value)
        return status


@dataclass
class _Undo:
    runner: UndoRunner
    run: SyncRun
    done_before: dict[str, str]  # what this undo put back before it was interrupted
    deadline: float
    total: int
    done: int = 0
    slots: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self.slots = asyncio.Semaphore(self.runner.concurrency)

    async def carry_out(self, writes: list[WriteRecord], report: RunReport) -> None:
        results = [w for w in writes if w.kind == "result"]
        items = [w for w in writes if w.kind == "lineItem"]
        await self.runner.runs.progress(self.run.id, 0, self.total)
        outcomes: list[tuple[GradeOutcome, RunError | None]] = []
        tasks: list[asyncio.Task[tuple[GradeOutcome, RunError | None]]] = []
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._result(w)) for w in results]
        finally:
            outcomes = [t.result() for t in tasks if _finished(t)]
            for outcome, error in outcomes:
                report.grades.append(outcome)
                if error is not None:
                    report.errors.append(error)
        # Results this undo removes (or would): a line item the run created goes only once IC
        # holds no other result on it.
        removed = {
            result_id(g.assignment_id, g.section_id, g.student_id)
            for g, _ in outcomes
            if g.outcome is Outcome.DELETED
        }
        for item in items:
            warning = await self._line_item(item, removed)
            if warning is not None:
                report.warnings.append(warning)

    async def _result(self, write: WriteRecord) -> tuple[GradeOutcome, RunError | None]:
        runner = self.runner
        assert write.user_id is not None
        earlier = self.done_before.get(write.sourced_id)
        if earlier is not None:
            return await self._counted(self._grade(write, _undone(earlier), _value(earlier)), None)
        async with self.slots:
            self._check_deadline()
            try:
                current = await runner.sis.read_record("result", write.sourced_id)
                now, before = record_key(current), record_key(write.before)
                if _same(current, write.before):
                    return await self._counted(
                        self._grade(write, Outcome.UNCHANGED, _value(now)), None
                    )
                if now != write.written:
                    outcome = self._grade(write, Outcome.FILTERED, _value(now), CHANGED_IN_IC_SINCE)
                    return await self._counted(outcome, None)
                if not self.run.dry_run:
                    await self._put_back_result(write)
            except SisAuthFailed:
                raise
            except SisError as exc:
                error = run_error(
                    exc.code, exc.message, write.assignment_id, write.user_id, write.section_id
                )
                return await self._counted(
                    self._grade(write, Outcome.FAILED, None, exc.code), error
                )
        return await self._counted(self._grade(write, _undone(before), _value(before)), None)

    async def _put_back_result(self, write: WriteRecord) -> None:
        runner, run = self.runner, self.run
        where = (run.id, run.course_id, write.assignment_id, write.section_id, write.user_id or "")
        if write.before is None:
            await runner.sis.delete_result(write.sourced_id)
            await runner.changes.apply([ResultDeleted(*where, write.sourced_id)])
            return
        await runner.sis.restore_record(write.before)
        assert isinstance(write.before.value, Result)
        value = ic_value(write.before.value)
        await runner.changes.apply([ResultConfirmed(*where, write.sourced_id, value)])

    async def _line_item(self, write: WriteRecord, removed: set[str]) -> RunWarning | None:
        """Puts a line item back; a warning when it stays as the run left it."""
        if write.sourced_id in self.done_before:
            return None
        runner = self.runner
        async with self.slots:
            self._check_deadline()
            try:
                current = await runner.sis.read_record("lineItem", write.sourced_id)
                if _same(current, write.before):
                    return None
                if record_key(current) != write.written:
                    return self._kept(write, "was changed in IC since the run; it is kept")
                if write.before is None and await self._holds_results(current, removed):
                    return self._kept(write, "still holds results in IC; it is kept")
                if not self.run.dry_run:
                    await self._put_back_line_item(write, write.before)
            except SisAuthFailed:
                raise
            except SisError as exc:
                return RunWarning(exc.code, exc.message, write.assignment_id)
        return None

    async def _holds_results(self, line_item: IcRecord | None, removed: set[str]) -> bool:
        """IC holds a result on the line item that this undo does not remove (one it kept, one
        a later run or a teacher put there)."""
        if line_item is None:
            return False
        assert isinstance(line_item.value, LineItem)
        results = await self.runner.sis.read_results_of(
            line_item.value.class_id, line_item.sourced_id
        )
        return any(r.sourced_id not in removed for r in results)

    async def _put_back_line_item(self, write: WriteRecord, before: IcRecord | None) -> None:
        runner = self.runner
        if before is None:
            await runner.sis.delete_line_item(write.sourced_id)
        else:
            await runner.sis.restore_record(before)
        change = LineItemUndone(
            self.run.id,
            self.run.course_id,
            write.assignment_id,
            write.section_id,
            write.sourced_id,
            deleted=before is None,
        )
        await runner.changes.apply([change])

    def _kept(self, write: WriteRecord, why: str) -> RunWarning:
        return RunWarning(
            CHANGED_IN_IC_SINCE, f"The IC assignment {write.sourced_id} {why}.", write.assignment_id
        )

    def _check_deadline(self) -> None:
        if not self.run.dry_run and self.runner.monotonic() > self.deadline:
            raise Interrupted()

    def _grade(
        self,
        write: WriteRecord,
        outcome: Outcome,
        sis: dict[str, Any] | None,
        code: str | None = None,
    ) -> GradeOutcome:
        """`canvas` is what the undone run wrote; `sis` what IC holds once the undo is done (in a
        dry run: what it holds now, for a grade the undo leaves)."""
        assert write.user_id is not None
        return GradeOutcome(
            write.assignment_id,
            write.user_id,
            write.section_id,
            outcome,
            code,
            _value(write.written),
            sis,
        )

    async def _counted(
        self, outcome: GradeOutcome, error: RunError | None
    ) -> tuple[GradeOutcome, RunError | None]:
        self.done += 1
        await self.runner.runs.progress(self.run.id, self.done, self.total)
        return outcome, error


def _same(current: IcRecord | None, before: IcRecord | None) -> bool:
    """IC holds exactly what it held before the run (a run may rewrite a record with the values
    it had: only its modification time changed, and the undo puts that back too)."""
    if current is None or before is None:
        return current is before
    return current.body == before.body


def _finished(task: asyncio.Task[Any]) -> bool:
    return task.done() and not task.cancelled() and task.exception() is None


def _undone(key: str) -> Outcome:
    """How putting back the earlier record counts: a deletion when IC held nothing before."""
    return Outcome.DELETED if key == DELETED else Outcome.SENT


def _value(key: str) -> dict[str, Any] | None:
    return None if key == DELETED else json.loads(key)
