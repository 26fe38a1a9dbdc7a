"""From what gpb holds to what IC must receive: the plan of a sync or a remaster.

Pure: the runner reads Canvas, IC and the store first. For each (assignment, section with a SIS id)
the plan holds the line item to upsert and the results to upsert or delete, with the deterministic
sourcedIds of API.md, so a retried or resumed write lands on the same IC record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo

from gpb.handlers.course_state import AssignmentRecord, CourseState
from gpb.handlers.delta import (
    ASSIGNMENT_INELIGIBLE,
    SECTION_WITHOUT_SIS_ID,
    STUDENT_WITHOUT_SIS_ID,
    Confirmed,
    PendingEntry,
    blocking_codes,
    pending_entries,
)
from gpb.handlers.eligibility import IcClassFound, IcClassMissing, IcKnowledge, IcUnverified
from gpb.handlers.grades import Grade, GradeValue, SentValue, sent_value
from gpb.handlers.ic_dates import assign_date, grading_period_of, in_district_zone, section_due_at
from gpb.handlers.ic_names import matching_category, sent_title
from gpb.handlers.model import LineItem, Result, Section
from gpb.handlers.syncs import GradeOutcome, Outcome, RunKind, RunWarning

ORPHANED_IN_IC = "ORPHANED_IN_IC"


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
    written_assignment_ids: tuple[str, ...] = ()  # assignments gpb wrote line items for


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
    group_name: str | None,
    known: IcKnowledge,
    tz: tzinfo,
) -> tuple[LineItem | None, tuple[str, str] | None]:
    assignment = record.assignment
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
    due = section_due_at(assignment, section.id)
    assign = assign_date(assignment, section.id, due)
    if due is None or assign is None:
        return None, ("SIS_LINEITEM_REJECTED", f"section {section.name} has no due date")
    period = grading_period_of(known.ic_class, due, tz)
    return (
        LineItem(
            sourced_id=line_item_id(assignment.id, section.id),
            title=sent_title(assignment.title),
            assign_date=in_district_zone(assign, tz),
            due_date=in_district_zone(due, tz),
            class_id=sis_id,
            school_id=known.ic_class.school_id,
            category_id=category.sourced_id,
            result_value_max=assignment.points_possible,
            grading_period_id=period.sourced_id if period else None,
        ),
        None,
    )


def _filter_reason(entry: PendingEntry) -> str | None:
    if any(
        code not in (SECTION_WITHOUT_SIS_ID, STUDENT_WITHOUT_SIS_ID) for code in entry.blocked_by
    ):
        return ASSIGNMENT_INELIGIBLE
    if SECTION_WITHOUT_SIS_ID in entry.blocked_by:
        return SECTION_WITHOUT_SIS_ID
    if STUDENT_WITHOUT_SIS_ID in entry.blocked_by and entry.wanted is not None:
        return STUDENT_WITHOUT_SIS_ID  # a delete needs no student id: the sourcedId is ours
    return None


def _entries(plan: PlanInput) -> list[PendingEntry]:
    """Sync: the pending delta of the chosen (else all eligible) assignments. Remaster: every
    sendable grade of every eligible assignment, and every result gpb wrote that is gone."""
    state = plan.state
    if plan.kind is RunKind.SYNC:
        chosen = plan.assignment_ids
        if chosen is None:
            chosen = tuple(a for a, r in state.assignments.items() if r.eligible)
        return pending_entries(state, plan.grades, plan.confirmed, chosen)
    eligible = [r for r in state.assignments.values() if r.eligible]
    confirmed = list(plan.confirmed)
    # Everything counts as unsent, so every grade is sent again, and removed ones are deleted.
    entries = pending_entries(state, plan.grades, [], [r.assignment.id for r in eligible])
    sent_keys = {(e.assignment_id, e.section_id, e.student_id) for e in entries}
    enrolled = {(e.user_id, e.section_id) for e in state.enrollments}
    grades = {(g.assignment_id, g.user_id): g for g in plan.grades}
    section_sis = {s.id: s.sis_section_id for s in state.sections}
    eligible_ids = {r.assignment.id for r in eligible}
    for done in confirmed:
        key = (done.assignment_id, done.section_id, done.user_id)
        if done.assignment_id not in eligible_ids or key in sent_keys:
            continue
        grade = grades.get((done.assignment_id, done.user_id))
        still_enrolled = (done.user_id, done.section_id) in enrolled
        if still_enrolled and sent_value(grade.value if grade else None) is not None:
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
    return entries


def _orphans(plan: PlanInput) -> list[RunWarning]:
    """Results gpb wrote for assignments that were deleted or stopped syncing stay in IC."""
    records = plan.state.assignments
    written = [c.assignment_id for c in plan.confirmed] + list(plan.written_assignment_ids)
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


def make_plan(plan: PlanInput) -> Plan:
    state = plan.state
    sections = {s.id: s for s in state.sections}
    groups = {g.id: g.name for g in state.groups}
    grades = {(g.assignment_id, g.user_id): g for g in plan.grades}
    result = Plan(warnings=_orphans(plan))
    work: dict[tuple[str, str], SectionWork] = {}
    for pending in _entries(plan):
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
        key = (pending.assignment_id, pending.section_id)
        if key not in work:
            record = state.assignments[pending.assignment_id]
            section = sections[pending.section_id]
            known = plan.ic.get(section.sis_section_id or "")
            item, problem = build_line_item(
                record,
                section,
                groups.get(record.assignment.assignment_group_id or ""),
                known if known is not None else IcUnverified(),
                plan.time_zone,
            )
            work[key] = SectionWork(pending.assignment_id, pending.section_id, item, problem)
        section_work = work[key]
        sourced_id = result_id(pending.assignment_id, pending.section_id, pending.student_id)
        if pending.wanted is None:
            section_work.deletes.append(Delete(pending, sourced_id))
            continue
        grade = grades.get((pending.assignment_id, pending.student_id))
        section_work.writes.append(
            Write(
                pending,
                build_result(pending, pending.wanted, grade.graded_at if grade else None, plan),
                pending.wanted,
            )
        )
    result.work = list(work.values())
    return result
