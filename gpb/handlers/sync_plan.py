"""From what gpb holds to what IC must receive: the plan of a sync or a remaster.

Pure: the runner reads Canvas, IC and the store first. For each (assignment, section with a SIS id)
the plan holds the line item to upsert and the results to upsert or delete, with the deterministic
sourcedIds of docs/api.md ("Conventions"), so a retried or resumed write lands on the same IC
record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo

from gpb.handlers.course_state import AssignmentRecord, CourseState
from gpb.handlers.delta import (
    ASSIGNMENT_INELIGIBLE,
    SECTION_WITHOUT_SIS_ID,
    STUDENT_WITHOUT_SIS_ID,
    UNPOSTED_HELD,
    Confirmed,
    PendingEntry,
    blocking_codes,
    pending_entries,
)
from gpb.handlers.eligibility import IcClassFound, IcClassMissing, IcKnowledge, IcUnverified
from gpb.handlers.grades import Grade, GradeValue, SentValue, sent_value
from gpb.handlers.ic_dates import grading_period_of, in_district_zone
from gpb.handlers.ic_names import matching_category
from gpb.handlers.line_items import (
    LineItemChange,
    LineItemDetails,
    changed_line_items,
    line_item_details,
)
from gpb.handlers.model import LineItem, Result, Section
from gpb.handlers.syncs import GradeOutcome, LineItemConfirmed, Outcome, RunKind, RunWarning

ORPHANED_IN_IC = "ORPHANED_IN_IC"
KEPT_ENROLLMENT_ENDED = "KEPT_ENROLLMENT_ENDED"
UNPOSTED_SENT = "UNPOSTED_SENT"
# The rule warnings that say something about the grades a run sends.
RUN_RULE_WARNINGS = ("POINTS_MISSING", "OMITTED_FROM_FINAL_GRADE", "DUE_DATE_OUTSIDE_TERM")
# Blocking codes that concern one grade, not its assignment.
_GRADE_CODES = (SECTION_WITHOUT_SIS_ID, STUDENT_WITHOUT_SIS_ID, UNPOSTED_HELD)


def line_item_id(assignment_id: str, section_id: str) -> str:
    return f"canvas-a{assignment_id}-s{section_id}"


def result_id(assignment_id: str, section_id: str, user_id: str) -> str:
    return f"canvas-a{assignment_id}-s{section_id}-u{user_id}"


@dataclass(frozen=True)
class Write:
    """One result to upsert in IC."""

    entry: PendingEntry
    result: Result
    value: SentValue


@dataclass(frozen=True)
class Delete:
    """One result gpb wrote that IC should no longer hold."""

    entry: PendingEntry
    sourced_id: str


@dataclass
class SectionWork:
    assignment_id: str
    section_id: str
    line_item: LineItem | None
    problem: tuple[str, str] | None  # (code, message) when the line item cannot be built
    writes: list[Write] = field(default_factory=list)
    deletes: list[Delete] = field(default_factory=list)
    details: LineItemDetails | None = None  # what the line item says, kept once IC confirms it
    # The assignment changed since IC confirmed its line item: PUT it even with no result.
    refresh: LineItemChange | None = None


@dataclass
class Plan:
    work: list[SectionWork] = field(default_factory=list)
    filtered: list[GradeOutcome] = field(default_factory=list)
    warnings: list[RunWarning] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(len(w.writes) + len(w.deletes) for w in self.work)


@dataclass(frozen=True)
class PlanInput:
    state: CourseState
    grades: Sequence[Grade]
    confirmed: Sequence[Confirmed]
    ic: Mapping[str, IcKnowledge]
    kind: RunKind
    assignment_ids: tuple[str, ...] | None
    time_zone: tzinfo
    today: date
    written: tuple[LineItemConfirmed, ...] = ()  # the line items IC holds from gpb
    hold_unposted: bool = False  # GPB_UNPOSTED_GRADES=hold: unposted grades stay pending


def score_status(value: SentValue) -> str:
    if value.excused:
        return "exempt"
    if value.score is None:
        return "not submitted"
    return "fully graded"


def build_result(
    entry: PendingEntry, value: SentValue, graded_at: datetime | None, plan: PlanInput
) -> Result:
    day = graded_at.astimezone(plan.time_zone).date() if graded_at else plan.today
    assert entry.student_sis_id is not None
    return Result(
        sourced_id=result_id(entry.assignment_id, entry.section_id, entry.student_id),
        line_item_id=line_item_id(entry.assignment_id, entry.section_id),
        student_sis_id=entry.student_sis_id,
        score=value.score,
        score_status=score_status(value),
        score_date=day,
        late=value.late,
        missing=value.missing,
    )


def build_line_item(
    record: AssignmentRecord,
    section: Section,
    details: LineItemDetails,
    known: IcKnowledge,
    tz: tzinfo,
) -> tuple[LineItem | None, tuple[str, str] | None]:
    """The line item of (assignment, section) from its details (see `line_item_details`), or the
    problem that keeps it from being built."""
    assignment = record.assignment
    group_name = details.group
    sis_id = section.sis_section_id or ""
    if isinstance(known, IcClassMissing):
        return None, ("SIS_CLASS_NOT_FOUND", f"IC has no class {sis_id} for section {section.name}")
    if not isinstance(known, IcClassFound):
        return None, ("SIS_UNAVAILABLE", f"IC could not be asked about class {sis_id}")
    category = matching_category(known.categories, group_name)
    if category is None:
        return None, (
            "SIS_CATEGORY_NOT_FOUND",
            f"class {sis_id} has no category named {group_name!r}",
        )
    due, assign = details.due_at, details.assign_at
    if due is None or assign is None:
        return None, ("SIS_LINEITEM_REJECTED", f"section {section.name} has no due date")
    period = grading_period_of(known.ic_class, due, tz)
    return (
        LineItem(
            sourced_id=line_item_id(assignment.id, section.id),
            title=details.title,
            assign_date=in_district_zone(assign, tz),
            due_date=in_district_zone(due, tz),
            class_id=sis_id,
            school_id=known.ic_class.school_id,
            category_id=category.sourced_id,
            result_value_max=details.points,
            grading_period_id=period.sourced_id if period else None,
        ),
        None,
    )


def _filter_reason(entry: PendingEntry) -> str | None:
    if any(code not in _GRADE_CODES for code in entry.blocked_by):
        return ASSIGNMENT_INELIGIBLE
    if SECTION_WITHOUT_SIS_ID in entry.blocked_by:
        return SECTION_WITHOUT_SIS_ID
    if UNPOSTED_HELD in entry.blocked_by:
        return UNPOSTED_HELD
    if STUDENT_WITHOUT_SIS_ID in entry.blocked_by and entry.wanted is not None:
        return STUDENT_WITHOUT_SIS_ID  # a delete needs no student id: the sourcedId is ours
    return None


def _entries(plan: PlanInput) -> tuple[list[PendingEntry], list[Confirmed]]:
    """Sync: the pending delta of the chosen (else all sync-enabled) assignments. Remaster: every
    sendable grade of every sync-enabled assignment, and every result gpb wrote whose grade
    Canvas removed. An ineligible assignment's grades are there to be filtered and counted, not
    dropped. Both: the results IC keeps because the student's enrollment ended."""
    state = plan.state
    remaster = plan.kind is RunKind.REMASTER
    chosen = _chosen(plan)
    # A remaster counts everything as unsent, so every grade is sent again.
    entries = pending_entries(
        state,
        plan.grades,
        [] if remaster else plan.confirmed,
        _covered(plan),
        hold_unposted=plan.hold_unposted,
    )
    sent_keys = {(e.assignment_id, e.section_id, e.student_id) for e in entries}
    current = {(e.user_id, e.section_id) for e in state.enrollments if e.current}
    grades = {(g.assignment_id, g.user_id): g for g in plan.grades}
    section_sis = {s.id: s.sis_section_id for s in state.sections}
    eligible = {a for a in chosen if (r := state.assignments.get(a)) and r.eligible}
    kept: list[Confirmed] = []
    for done in plan.confirmed:
        key = (done.assignment_id, done.section_id, done.user_id)
        if done.assignment_id not in eligible or key in sent_keys:
            continue
        grade = grades.get((done.assignment_id, done.user_id))
        wanted = sent_value(grade.value if grade else None)
        if (done.user_id, done.section_id) not in current:
            if remaster or wanted != done.value:
                kept.append(done)
            continue
        if not remaster or wanted is not None:
            continue
        record = state.assignments[done.assignment_id]
        sis = section_sis.get(done.section_id)
        entries.append(
            PendingEntry(
                assignment_id=done.assignment_id,
                student_id=done.user_id,
                student_sis_id=None,
                section_id=done.section_id,
                section_sis_id=sis,
                canvas=grade.value if grade else GradeValue(score=None, grade=None),
                wanted=None,
                synced=done.value,
                changed_at=None,
                blocked_by=blocking_codes(record, sis, None),
            )
        )
    return entries, kept


def _kept(
    plan: PlanInput, kept: Sequence[Confirmed]
) -> tuple[list[GradeOutcome], list[RunWarning]]:
    """Results IC keeps though Canvas no longer shows them for the section: the student left it
    or was concluded or deactivated. Counted, and one warning per assignment."""
    outcomes = [
        GradeOutcome(
            k.assignment_id, k.user_id, k.section_id, Outcome.FILTERED, KEPT_ENROLLMENT_ENDED
        )
        for k in kept
    ]
    by_assignment = Counter(k.assignment_id for k in kept)
    warnings = []
    for assignment_id, count in by_assignment.items():
        title = plan.state.assignments[assignment_id].assignment.title
        results = "result stays" if count == 1 else "results stay"
        warnings.append(
            RunWarning(
                KEPT_ENROLLMENT_ENDED,
                f"'{title}': {count} {results} in IC for students whose enrollment ended.",
                assignment_id,
            )
        )
    return outcomes, warnings


def _orphans(plan: PlanInput) -> list[RunWarning]:
    """Results gpb wrote for assignments that were deleted or stopped syncing stay in IC."""
    records = plan.state.assignments
    written = [c.assignment_id for c in plan.confirmed] + [w.assignment_id for w in plan.written]
    orphaned: dict[str, None] = {}
    for assignment_id in written:
        record = records.get(assignment_id)
        if record is None or not record.sync_enabled:
            orphaned[assignment_id] = None
    warnings = []
    for assignment_id in orphaned:
        record = records.get(assignment_id)
        title = record.assignment.title if record else f"assignment {assignment_id}"
        why = "was deleted" if record is None or record.assignment.deleted else "no longer syncs"
        warnings.append(
            RunWarning(
                ORPHANED_IN_IC,
                f"'{title}' {why}; its line items and results stay in IC.",
                assignment_id,
            )
        )
    return warnings


def _covered(plan: PlanInput) -> tuple[str, ...]:
    """The assignments a run looks at: a sync's chosen ones, else every sync-enabled one."""
    if plan.kind is RunKind.SYNC and plan.assignment_ids is not None:
        return plan.assignment_ids
    return tuple(a for a, r in plan.state.assignments.items() if r.sync_enabled)


def _chosen(plan: PlanInput) -> tuple[str, ...]:
    """The run's assignments: a sync's chosen ones, else every eligible one."""
    if plan.kind is RunKind.SYNC and plan.assignment_ids is not None:
        return plan.assignment_ids
    return tuple(a for a, r in plan.state.assignments.items() if r.eligible)


def make_plan(plan: PlanInput) -> Plan:
    state = plan.state
    sections = {s.id: s for s in state.sections}
    groups = {g.id: g.name for g in state.groups}
    grades = {(g.assignment_id, g.user_id): g for g in plan.grades}
    entries, kept = _entries(plan)
    kept_outcomes, kept_warnings = _kept(plan, kept)
    result = Plan(filtered=kept_outcomes, warnings=_orphans(plan) + kept_warnings)
    work: dict[tuple[str, str], SectionWork] = {}

    def section_work(
        assignment_id: str, section_id: str, details: LineItemDetails | None = None
    ) -> SectionWork:
        """The work of (assignment, section), made on first use; `details` when the caller
        already computed them."""
        key = (assignment_id, section_id)
        if key not in work:
            record = state.assignments[assignment_id]
            section = sections[section_id]
            if details is None:
                group = groups.get(record.assignment.assignment_group_id or "")
                details = line_item_details(record.assignment, section_id, group)
            known = plan.ic.get(section.sis_section_id or "")
            item, problem = build_line_item(
                record,
                section,
                details,
                known if known is not None else IcUnverified(),
                plan.time_zone,
            )
            work[key] = SectionWork(assignment_id, section_id, item, problem, details=details)
        return work[key]

    for pending in entries:
        reason = _filter_reason(pending)
        if reason is not None:
            result.filtered.append(
                GradeOutcome(
                    pending.assignment_id,
                    pending.student_id,
                    pending.section_id,
                    Outcome.FILTERED,
                    reason,
                    pending.canvas.as_json(),
                )
            )
            continue
        target = section_work(pending.assignment_id, pending.section_id)
        sourced_id = result_id(pending.assignment_id, pending.section_id, pending.student_id)
        if pending.wanted is None:
            target.deletes.append(Delete(pending, sourced_id))
            continue
        grade = grades.get((pending.assignment_id, pending.student_id))
        target.writes.append(
            Write(
                pending,
                build_result(pending, pending.wanted, grade.graded_at if grade else None, plan),
                pending.wanted,
            )
        )
    # The line items IC holds of the run's eligible assignments that changed since: sent even
    # when no grade changed. Sections where IC has no line item yet get none without a result.
    chosen = set(_chosen(plan))
    for change in changed_line_items(state, plan.written):
        record = state.assignments[change.assignment_id]
        if change.assignment_id in chosen and record.eligible and change.section_id in sections:
            target = section_work(change.assignment_id, change.section_id, change.details)
            target.refresh = change
    result.work = list(work.values())
    result.warnings += _left_out(plan) + _run_warnings(plan, result.work)
    return result


def _left_out(plan: PlanInput) -> list[RunWarning]:
    """Every sync-enabled assignment the run covers but cannot send, with what blocks it."""
    warnings = []
    for assignment_id in _covered(plan):
        record = plan.state.assignments.get(assignment_id)
        if record is None or not record.sync_enabled or record.eligible:
            continue
        codes = ", ".join(dict.fromkeys(record.error_codes))
        warnings.append(
            RunWarning(
                ASSIGNMENT_INELIGIBLE,
                f"'{record.assignment.title}' was left out: {codes or 'not eligible'}.",
                assignment_id,
            )
        )
    return warnings


def _run_warnings(plan: PlanInput, work: Sequence[SectionWork]) -> list[RunWarning]:
    """The rule warnings of the assignments the run sends grades of, and how many of those
    grades Canvas has not posted (IC shows them all the same)."""
    warnings: list[RunWarning] = []
    sending = dict.fromkeys(w.assignment_id for w in work if w.writes)
    for assignment_id in sending:
        record = plan.state.assignments[assignment_id]
        seen = dict.fromkeys(
            (v.code, v.message)
            for v in record.violations
            if v.severity == "warning" and v.code in RUN_RULE_WARNINGS
        )
        warnings += [RunWarning(code, message, assignment_id) for code, message in seen]
        hidden = sum(
            1
            for w in work
            if w.assignment_id == assignment_id
            for write in w.writes
            if not write.entry.canvas.posted
        )
        if hidden:
            grades = "grade" if hidden == 1 else "grades"
            warnings.append(
                RunWarning(
                    UNPOSTED_SENT,
                    f"'{record.assignment.title}': {hidden} {grades} not posted in Canvas "
                    "(hidden from the student) go to IC, which shows them.",
                    assignment_id,
                )
            )
    return warnings
