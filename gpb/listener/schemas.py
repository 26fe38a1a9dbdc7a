"""The shapes of the API's answers (docs/api.md), as pydantic models for the OpenAPI document.

The handlers build their JSON directly; these models describe it. The fuzzing tests check every
answer against them, so a model that drifts from what a route sends fails there. Keys that
docs/api.md lists are required; further keys are allowed, as answers may grow.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Time = str | None  # ISO-8601 UTC with a Z, or null


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


class PendingList(BaseModel):
    changes: list[PendingChange]
    line_items: list[PendingLineItem]


class Queued(BaseModel):
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


class EventList(BaseModel):
    events: list[EventSummary]
    next_cursor: str | None


class EventDetail(EventSummary):
    payload: dict[str, Any] | None
    outcome: dict[str, Any] | None
    source_ip: str | None
    raw: str | None = Field(default=None, description="the start of a refused body")


class DictionaryEntry(BaseModel):
    code: str
    title: str
    meaning: str
    fix: str
    canvas_title: str | None


class CanvasTitle(BaseModel):
    """An error title of Canvas's own Infinite Campus passback, and the gpb codes meeting it."""

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
