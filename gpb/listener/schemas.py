"""The shapes of the API's answers (docs/api.md), as pydantic models: the routes serialise their
answers through them (`listener.answers`), and the OpenAPI document describes them.

A model whose shape is its domain dataclass's reads it (`from_attributes`); the others have an
`of` that builds them from the domain. Only the keys a model was given are sent: one it declares
with a default is left out unless set (a fix offer's, a run's line items before they existed).
The fuzzing tests check every answer against the document.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from gpb.handlers.auto_sync import AutoSyncPolicy, CourseChoice
from gpb.handlers.category_match import CategoryMatch as Match
from gpb.handlers.delta import PendingEntry
from gpb.handlers.eventlog import StoredEvent
from gpb.handlers.fix_offers import FixOffer as Offer
from gpb.handlers.fix_offers import GroupAlignment as Alignment
from gpb.handlers.line_items import LineItemChange
from gpb.handlers.model import AssignmentGroup
from gpb.handlers.reconcile import Reconciliation as Reconciled
from gpb.handlers.syncs import RunReport
from gpb.handlers.syncs import SyncRun as Run
from gpb.handlers.timefmt import iso


def _shown(value: object) -> object:
    """A time as the API shows it (`iso`); anything else as it is."""
    return iso(value) if isinstance(value, datetime) else value


# ISO-8601 UTC with a Z (`iso`), or null; a time already shown so (a stored report's) stays as is.
Time = Annotated[
    datetime | str | None,
    PlainSerializer(_shown),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "null"}]}),
]


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    """Every 4xx and 5xx; a 409 adds `sync_id` (UNDO_NEWER_RUNS: `sync_ids`, the runs to undo
    first, newest first)."""

    error: ErrorDetail


class Stored(BaseModel):
    """A delivery stored (202), or recognised as a duplicate of the event `id` (200)."""

    id: str
    duplicate: bool


class Health(BaseModel):
    status: Literal["ok"]


class CourseSummary(BaseModel):
    id: str
    name: str | None
    open_alerts: int
    pending_changes: int
    last_sync: Time


class CourseList(BaseModel):
    courses: list[CourseSummary]


class Violation(BaseModel):
    code: str
    severity: Literal["error", "warning"]
    message: str
    fix: str
    section_id: str | None


class SectionDueDate(BaseModel):
    section_id: str
    section_name: str | None
    due_at: Time


class AssignmentSummary(BaseModel):
    id: str
    title: str
    due_at: Time
    section_due_dates: list[SectionDueDate] = Field(
        description="the due date of each section the assignment has an override for"
    )
    assignment_group: str | None
    sync_enabled: bool
    eligible: bool
    violations: list[Violation]
    pending_changes: int
    last_synced_at: Time


class AssignmentList(BaseModel):
    assignments: list[AssignmentSummary]


class Alert(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read from the domain's dataclass

    id: str
    assignment_id: str
    code: str
    severity: Literal["error", "warning"]
    message: str
    fix: str
    state: Literal["open", "resolved"]
    created_at: Time
    updated_at: Time
    resolved_at: Time


class AlertList(BaseModel):
    alerts: list[Alert]


class CanvasGrade(BaseModel):
    score: float | None
    grade: str | None
    excused: bool
    missing: bool
    late: bool
    posted: bool


class SentGrade(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read from the domain's dataclass

    score: float | None
    excused: bool
    missing: bool
    late: bool


class PendingChange(BaseModel):
    assignment_id: str
    student_id: str
    student_sis_id: str | None
    student_name: str | None = Field(description="Canvas's sortable name, as 'Last, First'")
    section_id: str
    canvas: CanvasGrade
    synced: SentGrade | None
    changed_at: Time
    blocked_by: list[str]

    @staticmethod
    def of(entry: PendingEntry) -> dict[str, Any]:
        """What to validate as one (a course's thousands are validated at once, in one list)."""
        canvas = entry.canvas
        return {
            "assignment_id": entry.assignment_id,
            "student_id": entry.student_id,
            "student_sis_id": entry.student_sis_id,
            "student_name": entry.student_name,
            "section_id": entry.section_id,
            "canvas": {
                "score": canvas.score,
                "grade": canvas.grade,
                "excused": canvas.excused,
                "missing": canvas.shown_missing,
                "late": canvas.late,
                "posted": canvas.posted,
            },
            "synced": entry.synced,
            "changed_at": entry.changed_at,
            "blocked_by": entry.blocked_by,
        }


class DetailChange(BaseModel):
    field: Literal["title", "points", "due_at", "assign_at", "group"]
    before: str | float | None
    after: str | float | None


class PendingLineItem(BaseModel):
    """A line item IC holds whose assignment changed in Canvas since (title, points, dates,
    group): the next sync of the assignment sends it, even with no grade changed."""

    assignment_id: str
    section_id: str
    message: str
    blocked_by: list[str]
    changes: list[DetailChange]

    @staticmethod
    def of(change: LineItemChange) -> dict[str, Any]:
        """What to validate as one, in the pending list."""
        return {
            "assignment_id": change.assignment_id,
            "section_id": change.section_id,
            "message": change.message,
            "blocked_by": change.blocked_by,
            "changes": [
                {"field": c.name, "before": _shown(c.before), "after": _shown(c.after)}
                for c in change.changes
            ],
        }


class PendingList(BaseModel):
    changes: list[PendingChange]
    line_items: list[PendingLineItem]

    @classmethod
    def of(cls, entries: Sequence[PendingEntry], items: Sequence[LineItemChange]) -> PendingList:
        return cls.model_validate(
            {
                "changes": [PendingChange.of(entry) for entry in entries],
                "line_items": [PendingLineItem.of(change) for change in items],
            }
        )


class Queued(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read from the domain's dataclass

    id: str
    status: Literal["queued"]


class Progress(BaseModel):
    done: int
    total: int
    confirmed: int = Field(
        description="results IC confirmed in this run so far (written or deleted); counted while"
        " it runs and once it was interrupted, 0 otherwise"
    )


class Counts(BaseModel):
    extracted: int
    filtered: int
    unchanged: int
    sent: int
    deleted: int
    failed: int


class SyncSummary(BaseModel):
    id: str
    course_id: str
    kind: Literal["sync", "remaster", "auto", "nightly", "undo"]
    dry_run: bool
    status: Literal["queued", "running", "succeeded", "partial", "failed", "interrupted"]
    requested_by: str | None
    created_at: Time
    started_at: Time
    finished_at: Time
    progress: Progress
    counts: Counts
    undo_of: str | None = Field(description="the run an undo takes back")

    @classmethod
    def of(cls, run: Run) -> SyncSummary:
        return cls.model_validate(_run_summary(run))


class PausedAssignment(BaseModel):
    id: str
    failures: int


class AutoSync(BaseModel):
    mode: Literal["off", "after_change", "nightly"] = Field(description="the mode in effect")
    chosen: Literal["off", "after_change", "nightly"] | None = Field(
        description="the teacher's choice; null: the district's default"
    )
    nightly_at: str = Field(description="HH:MM, in the district's zone")
    allowed: list[str]
    default: str
    nightly_window: str
    delay_minutes: float
    paused_assignments: list[PausedAssignment] = Field(
        description="left out of automatic runs after failing in several in a row"
    )

    @classmethod
    def of(cls, choice: CourseChoice, policy: AutoSyncPolicy) -> AutoSync:
        return cls(
            mode=choice.mode.value,
            chosen=choice.setting.mode.value if choice.setting.mode else None,
            nightly_at=f"{choice.nightly_at:%H:%M}",
            allowed=sorted(m.value for m in policy.allowed),
            default=policy.default.value,
            nightly_window=str(policy.window),
            delay_minutes=policy.delay.total_seconds() / 60,
            paused_assignments=[
                PausedAssignment(id=a, failures=n)
                for a, n in sorted(choice.paused.items(), key=lambda i: int(i[0]))
            ],
        )


class SyncList(BaseModel):
    syncs: list[SyncSummary]
    next_cursor: str | None


class FilterCount(BaseModel):
    reason: str
    count: int


class RunError(BaseModel):
    code: str
    message: str
    fix: str
    assignment_id: str | None
    student_id: str | None
    section_id: str | None


class RunWarning(BaseModel):
    code: str
    message: str
    assignment_id: str | None


class SectionTally(BaseModel):
    id: str
    sis_id: str | None
    sent: int
    failed: int


class AssignmentTally(BaseModel):
    id: str
    title: str | None
    sent: int
    failed: int


class GradeOutcome(BaseModel):
    assignment_id: str
    student_id: str
    student_name: str | None = Field(description="Canvas's sortable name, as 'Last, First'")
    section_id: str
    outcome: Literal["sent", "deleted", "failed", "filtered", "unchanged"]
    code: str | None
    canvas: dict[str, Any] | None
    sis: dict[str, Any] | None


class LineItemOutcome(BaseModel):
    assignment_id: str
    section_id: str
    outcome: Literal["sent", "failed"]
    message: str


class SyncRun(SyncSummary):
    filtered: list[FilterCount]
    errors: list[RunError]
    warnings: list[RunWarning]
    sections: list[SectionTally]
    assignments: list[AssignmentTally]
    grades: list[GradeOutcome]
    line_items: list[LineItemOutcome] = []

    @classmethod
    def full(cls, run: Run, names: Mapping[str, str]) -> SyncRun:
        """The run with its report, each grade with the student's name (`names`, by id)."""
        report = run.report or RunReport().as_json()
        shown = {key: value for key, value in report.items() if key != "counts"}
        shown["grades"] = [
            grade | {"student_name": names.get(grade["student_id"])} for grade in report["grades"]
        ]
        return cls.model_validate(_run_summary(run) | shown)


EventStatusName = Literal["accepted", "processed", "ignored", "failed", "rejected", "duplicate"]


class EventSummary(BaseModel):
    id: str
    received_at: Time
    event_name: str | None
    event_time: Time
    course_id: str | None
    user_id: str | None
    status: EventStatusName
    error: dict[str, Any] | None
    attempts: int
    next_attempt_at: Time = Field(default=None, description="a failed event waiting for a retry")
    duplicate_of: str | None = Field(default=None, description="a duplicate's first copy")

    @classmethod
    def of(cls, event: StoredEvent) -> Self:
        return cls.model_validate(_event_summary(event))


class EventList(BaseModel):
    events: list[EventSummary]
    next_cursor: str | None


class EventDetail(EventSummary):
    payload: dict[str, Any] | None
    outcome: dict[str, Any] | None
    source_ip: str | None
    raw: str | None = Field(default=None, description="the start of a refused body")

    @classmethod
    def of(cls, event: StoredEvent) -> Self:
        detail = _event_summary(event)
        detail |= {"payload": event.payload, "outcome": event.outcome, "source_ip": event.source_ip}
        if event.raw is not None:
            detail["raw"] = event.raw
        return cls.model_validate(detail)


class DictionaryEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read from the domain's dataclass

    code: str
    kind: Literal["rule", "sync", "canvas", "filter", "warning"]
    severity: Literal["error", "warning"] | None = Field(
        description="null for a filter reason: leaving a grade out is not a failure"
    )
    title: str
    meaning: str
    fix: str
    canvas_title: str | None


class CanvasTitle(BaseModel):
    """An error title of Canvas's own Infinite Campus passback, and the gpb codes meeting it."""

    model_config = ConfigDict(from_attributes=True)  # read from the domain's dataclass

    title: str
    meaning: str
    codes: list[str]
    fix: str


class Dictionary(BaseModel):
    errors: list[DictionaryEntry]
    canvas_titles: list[CanvasTitle]


class Check(BaseModel):
    name: str
    ok: bool | None
    detail: str
    fix: str | None


class CheckReport(BaseModel):
    checks: list[Check]
    ok: bool


class LoginForm(BaseModel):
    """The login page's form (url-encoded)."""

    token: str
    csrf_token: str
    next: str = "/"


class CsrfForm(BaseModel):
    """A page's form that changes state (url-encoded): the session's CSRF token."""

    csrf_token: str


class UndoForm(CsrfForm):
    """`preview` from the run's page; `undo` with `confirm=yes` from the preview."""

    action: Literal["preview", "undo"]
    confirm: Literal["yes"] | None = None


class AutoSyncForm(CsrfForm):
    """The sync page's automatic-sync form; an empty mode is the district's default."""

    mode: Literal["", "off", "after_change", "nightly"]
    nightly_at: str | None = None


class FixBody(BaseModel):
    """A fix to make in Canvas for one open problem of an assignment."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="the problem's code, e.g. NAME_TOO_LONG")
    title: str | None = Field(None, description="NAME_TOO_LONG, NAME_NOT_UNIQUE: the new title")
    due_at: str | None = Field(
        None,
        description="DUE_DATE_MISSING: ISO-8601; without an offset it is in GPB_TIME_ZONE",
    )
    section_ids: list[str] | None = Field(
        None, description="DUE_DATE_MISSING: date these sections (none: the base due date)"
    )
    action: Literal["rename_group", "move"] | None = Field(
        None, description="CATEGORY_NOT_FOUND: rename the group, or move the assignment"
    )
    group_name: str | None = Field(None, description="rename_group: the group's new name")
    group_id: str | None = Field(None, description="move: the group to move the assignment to")


class GroupRenameBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str


class FixResult(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read from the domain's dataclass

    applied: bool
    outcome: Literal["applied", "refused", "uncertain"]
    code: str
    what: str
    before: dict[str, Any]
    after: dict[str, Any]
    canvas_answer: str
    event_id: str = Field(description="the gpb_fix event in the event log")


class FixRefusedBody(ErrorBody):
    fix: FixResult | None = None


class FixOffer(BaseModel):
    code: str
    automatic: bool
    explanation: str
    title: dict[str, Any] | None = None
    sections_without_date: list[dict[str, str]] | None = None
    group: dict[str, str] | None = None
    candidates: list[CategoryMatch] | None = None
    matching_groups: list[dict[str, str]] | None = None
    group_assignments: list[str] | None = None

    @classmethod
    def of(cls, offer: Offer) -> FixOffer:
        """The keys an offer has: a title suggestion, the sections without a date, and (for
        CATEGORY_NOT_FOUND) the group with its ranked categories; the others are left out."""
        shown: dict[str, Any] = {
            "code": offer.code,
            "automatic": offer.automatic,
            "explanation": offer.explanation,
        }
        if offer.title_suggestion is not None:
            shown["title"] = {
                "suggestion": offer.title_suggestion,
                "length": offer.suggestion_length,
                "limit": offer.title_limit,
                "cut_mid_word": offer.title_cut_mid_word,
            }
        if offer.sections_without_date:
            shown["sections_without_date"] = [
                {"id": sid, "name": name} for sid, name in offer.sections_without_date
            ]
        if offer.code == "CATEGORY_NOT_FOUND":
            shown["group"] = _group(offer.group)
            shown["candidates"] = [
                CategoryMatch.of(m) | {"group": _group(offer.group_named(m.title))}
                for m in offer.candidates
            ]
            shown["matching_groups"] = [_group(g) for g in offer.matching_groups]
            shown["group_assignments"] = list(offer.group_assignments)
        return cls.model_validate(shown)


class FixOfferList(BaseModel):
    fixes: list[FixOffer]


class CategoryMatch(BaseModel):
    title: str
    rank: int
    reason: str
    close: bool
    group: dict[str, str] | None = Field(
        None, description="in a fix offer: the Canvas group already named so (move to it)"
    )

    @staticmethod
    def of(match: Match) -> dict[str, Any]:
        """The match's own keys (a fix offer adds its group)."""
        return {
            "title": match.title,
            "rank": match.rank,
            "reason": match.reason,
            "close": match.close,
        }


class ClassCategories(BaseModel):
    section: str
    ic_class: str | None
    matched: str | None
    candidates: list[CategoryMatch]


class GroupAlignment(BaseModel):
    id: str
    name: str
    assignments: list[str]
    aligned: bool
    classes: list[ClassCategories]


class CategoryAlignment(BaseModel):
    groups: list[GroupAlignment]

    @classmethod
    def of(cls, groups: Sequence[Alignment]) -> CategoryAlignment:
        return cls.model_validate(
            {
                "groups": [
                    {
                        "id": g.group.id,
                        "name": g.group.name,
                        "assignments": list(g.assignments),
                        "aligned": g.aligned,
                        "classes": [
                            {
                                "section": c.section_name,
                                "ic_class": c.class_title,
                                "matched": c.matched,
                                "candidates": [CategoryMatch.of(m) for m in c.candidates],
                            }
                            for c in g.classes
                        ],
                    }
                    for g in groups
                ]
            }
        )


# -- the admin's answers, not in the OpenAPI document (it gives their routes as any JSON) -------


class AdminAlert(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read from the domain's dataclass

    id: str
    code: str
    title: str
    message: str
    fix: str
    details: dict[str, Any]
    state: Literal["open", "resolved"]
    opened_at: Time
    updated_at: Time
    resolved_at: Time


class AdminAlertList(BaseModel):
    alerts: list[AdminAlert]


class ReconciliationSummary(BaseModel):
    id: str
    course_id: str
    trigger: str
    status: Literal["succeeded", "partial", "failed"]
    started_at: Time
    finished_at: Time
    repaired_grades: int
    drift_count: int
    remaster: dict[str, Any] | None

    @classmethod
    def of(cls, found: Reconciled) -> ReconciliationSummary:
        return cls.model_validate(_reconciliation_summary(found))


class Reconciliation(ReconciliationSummary):
    """A summary with its report, as the reconciliation stored it."""

    repaired: list[dict[str, Any]] = Field(default=[], description="grades events missed")
    drift: list[dict[str, Any]] = Field(default=[], description="results changed or gone in IC")
    ic_checked: int = 0
    ic_unreadable: int = Field(default=0, description="results IC refused to show")
    errors: list[dict[str, Any]] = []

    @classmethod
    def full(cls, found: Reconciled) -> Reconciliation:
        return cls.model_validate(_reconciliation_summary(found) | found.report)


class ReconciliationList(BaseModel):
    reconciliations: list[ReconciliationSummary]
    next_cursor: str | None


class CourseReconciliation(BaseModel):
    course_id: str
    nightly_remaster: bool
    latest: Reconciliation | None


def _group(group: AssignmentGroup | None) -> dict[str, str] | None:
    return None if group is None else {"id": group.id, "name": group.name}


def _run_summary(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "course_id": run.course_id,
        "kind": run.kind.value,
        "dry_run": run.dry_run,
        "status": run.status.value,
        "requested_by": run.requested_by,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "progress": {"done": run.done, "total": run.progress_total, "confirmed": run.confirmed},
        "counts": run.counts(),
        "undo_of": run.undo_of,
    }


def _event_summary(event: StoredEvent) -> dict[str, Any]:
    """The keys every event has, and a retry's time or a duplicate's first copy when it has one."""
    summary: dict[str, Any] = {
        "id": event.id,
        "received_at": event.received_at,
        "event_name": event.event_name,
        "event_time": event.event_time,
        "course_id": event.course_id,
        "user_id": event.user_id,
        "status": event.status.value,
        "error": event.error,
        "attempts": event.attempts,
    }
    if event.next_attempt_at is not None:
        summary["next_attempt_at"] = event.next_attempt_at
    if event.duplicate_of is not None:
        summary["duplicate_of"] = event.duplicate_of
    return summary


def _reconciliation_summary(found: Reconciled) -> dict[str, Any]:
    return {
        "id": found.id,
        "course_id": found.course_id,
        "trigger": found.trigger,
        "status": found.status.value,
        "started_at": found.started_at,
        "finished_at": found.finished_at,
        "repaired_grades": found.repaired_grades,
        "drift_count": found.drift_count,
        "remaster": found.report.get("remaster"),
    }
