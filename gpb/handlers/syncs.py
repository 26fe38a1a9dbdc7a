"""Sync and remaster runs: what was asked and how it went (the port, `SyncStore`, is in `ports`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from gpb.handlers.grades import SentValue
from gpb.handlers.model import IcRecord, RecordKind
from gpb.handlers.refusals import Refused

if TYPE_CHECKING:  # line_items reads the confirmations defined here, changes the changes
    from gpb.handlers.line_items import LineItemDetails


class RunKind(StrEnum):
    SYNC = "sync"
    REMASTER = "remaster"
    AUTO = "auto"  # a sync the scheduler started after the course's changes settled
    NIGHTLY = "nightly"  # a sync the scheduler started at the course's nightly time
    UNDO = "undo"  # puts back what IC held before the run it takes back

    @property
    def automatic(self) -> bool:
        return self in (RunKind.AUTO, RunKind.NIGHTLY)

    @property
    def plan_kind(self) -> RunKind:
        """What the run sends: automatic runs send the pending delta, as a sync does."""
        return RunKind.SYNC if self.automatic else self


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)


class Outcome(StrEnum):
    SENT = "sent"
    DELETED = "deleted"
    FAILED = "failed"
    FILTERED = "filtered"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class SyncRequest:
    course_id: str
    kind: RunKind
    dry_run: bool
    assignment_ids: tuple[str, ...] | None
    requested_by: str | None
    undo_of: str | None = None  # the run an undo takes back


@dataclass(frozen=True)
class GradeOutcome:
    assignment_id: str
    student_id: str
    section_id: str
    outcome: Outcome
    code: str | None = None
    canvas: dict[str, Any] | None = None
    sis: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "assignment_id": self.assignment_id,
            "student_id": self.student_id,
            "section_id": self.section_id,
            "outcome": self.outcome.value,
            "code": self.code,
            "canvas": self.canvas,
            "sis": self.sis,
        }


@dataclass(frozen=True)
class RunError:
    code: str
    message: str
    fix: str
    assignment_id: str | None = None
    student_id: str | None = None
    section_id: str | None = None


@dataclass(frozen=True)
class RunWarning:
    code: str
    message: str
    assignment_id: str | None = None


@dataclass
class RunReport:
    """What a run did, grade by grade, with the tallies docs/api.md lists."""

    grades: list[GradeOutcome] = field(default_factory=list)
    errors: list[RunError] = field(default_factory=list)
    warnings: list[RunWarning] = field(default_factory=list)
    section_sis_ids: dict[str, str | None] = field(default_factory=dict)
    assignment_titles: dict[str, str] = field(default_factory=dict)
    line_items: list[LineItemOutcome] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        tally = Counter(g.outcome for g in self.grades)
        counts = {outcome.value: tally.get(outcome, 0) for outcome in Outcome}
        return {"extracted": len(self.grades), **counts}

    def filtered(self) -> list[dict[str, Any]]:
        reasons = Counter(g.code for g in self.grades if g.outcome is Outcome.FILTERED)
        return [{"reason": reason, "count": count} for reason, count in sorted(reasons.items())]

    def status(self) -> RunStatus:
        counts = self.counts()
        failed = counts["failed"] > 0 or bool(self.errors)
        if not failed:
            return RunStatus.SUCCEEDED
        if counts["sent"] + counts["deleted"] > 0:
            return RunStatus.PARTIAL
        return RunStatus.FAILED

    def _tally_by(self, key: str) -> dict[str, Counter[Outcome]]:
        tallies: dict[str, Counter[Outcome]] = {}
        for grade in self.grades:
            tallies.setdefault(getattr(grade, key), Counter())[grade.outcome] += 1
        return tallies

    def as_json(self) -> dict[str, Any]:
        by_section = self._tally_by("section_id")
        by_assignment = self._tally_by("assignment_id")
        return {
            "counts": self.counts(),
            "filtered": self.filtered(),
            "errors": [vars(e) for e in self.errors],
            "warnings": [vars(w) for w in self.warnings],
            "sections": [
                {
                    "id": section_id,
                    "sis_id": self.section_sis_ids.get(section_id),
                    "sent": tally[Outcome.SENT] + tally[Outcome.DELETED],
                    "failed": tally[Outcome.FAILED],
                }
                for section_id, tally in sorted(by_section.items(), key=lambda i: int(i[0]))
            ],
            "assignments": [
                {
                    "id": assignment_id,
                    "title": self.assignment_titles.get(assignment_id),
                    "sent": tally[Outcome.SENT] + tally[Outcome.DELETED],
                    "failed": tally[Outcome.FAILED],
                }
                for assignment_id, tally in sorted(by_assignment.items(), key=lambda i: int(i[0]))
            ],
            "grades": [g.as_json() for g in self.grades],
            "line_items": [
                {
                    "assignment_id": item.assignment_id,
                    "section_id": item.section_id,
                    "outcome": item.outcome.value,
                    "message": item.message,
                }
                for item in self.line_items
            ],
        }


@dataclass(frozen=True)
class SyncRun:
    id: str
    course_id: str
    kind: RunKind
    dry_run: bool
    status: RunStatus
    requested_by: str | None
    assignment_ids: tuple[str, ...] | None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    progress_done: int = 0
    progress_total: int = 0
    report: dict[str, Any] | None = None
    undo_of: str | None = None
    # Results IC confirmed in this run so far (sent, deleted): known while it runs or once it
    # was interrupted, whatever its report holds (a process that died left none).
    confirmed_sent: int = 0
    confirmed_deleted: int = 0

    def counts(self) -> dict[str, int]:
        counts = dict((self.report or RunReport().as_json())["counts"])
        if self.status is RunStatus.INTERRUPTED:
            # What IC holds is the truth of a run that stopped short, not what its report saw.
            counts["sent"], counts["deleted"] = self.confirmed_sent, self.confirmed_deleted
            counts["extracted"] = sum(counts[o.value] for o in Outcome)
        return counts

    @property
    def confirmed(self) -> int:
        return self.confirmed_sent + self.confirmed_deleted

    @property
    def done(self) -> int:
        # A grade IC confirmed is done, even when the run stopped before counting it.
        return max(self.progress_done, self.confirmed)


class RunInProgress(Refused):
    """Another real run of the course is queued or running; `sync_id` is that run."""

    codes: ClassVar[tuple[str, ...]] = ("SYNC_IN_PROGRESS",)

    def __init__(self, sync_id: str) -> None:
        super().__init__(
            "SYNC_IN_PROGRESS",
            f"a run is already queued or running for this course: {sync_id}",
            data={"sync_id": sync_id},
        )
        self.sync_id = sync_id


@dataclass(frozen=True)
class ResultConfirmed:
    """A change: IC confirmed this value for one result, in this run."""

    run_id: str
    course_id: str
    assignment_id: str
    section_id: str
    user_id: str
    sourced_id: str
    value: SentValue


@dataclass(frozen=True)
class ResultDeleted:
    """A change: IC no longer holds this result (deleted, or it never had it)."""

    run_id: str
    course_id: str
    assignment_id: str
    section_id: str
    user_id: str
    sourced_id: str


@dataclass(frozen=True)
class LineItemConfirmed:
    """A change: IC confirmed a line item, with these details (None: confirmed before gpb kept
    them)."""

    course_id: str
    assignment_id: str
    section_id: str
    sourced_id: str
    details: LineItemDetails | None = None


@dataclass(frozen=True)
class LineItemOutcome:
    """A line item a run sent (or would send) on its own, because the assignment changed."""

    assignment_id: str
    section_id: str
    outcome: Outcome
    message: str


@dataclass(frozen=True)
class LineItemUndone:
    """A change: an undo put a line item back as it was, or deleted the one its run created."""

    run_id: str
    course_id: str
    assignment_id: str
    section_id: str
    sourced_id: str
    deleted: bool


@dataclass(frozen=True)
class WriteRecord:
    """One write of a run: IC's record before it (None: IC held none), and what the run wrote,
    comparable with what IC holds later (`value_key`, `line_item_key`, or `DELETED`)."""

    run_id: str
    kind: RecordKind
    sourced_id: str
    course_id: str
    assignment_id: str
    section_id: str
    user_id: str | None
    before: IcRecord | None
    written: str
