"""The pending delta and the plan of a run: which grades go, which are filtered, what IC gets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gpb.handlers.course_state import AssignmentRecord, CourseState
from gpb.handlers.delta import Confirmed, pending_entries
from gpb.handlers.eligibility import (
    CourseView,
    IcClassFound,
    IcKnowledge,
    IcUnverified,
    Violation,
    evaluate,
)
from gpb.handlers.grades import Grade, GradeValue, SentValue
from gpb.handlers.model import (
    Assignment,
    AssignmentGroup,
    Course,
    Enrollment,
    IcCategory,
    IcClass,
    IcTerm,
    LineItem,
    Override,
    OverrideTarget,
    Section,
)
from gpb.handlers.sync_plan import Plan, PlanInput, make_plan
from gpb.handlers.syncs import RunKind
from gpb.infra.oneroster import line_item_body, result_body
from gpb.infra.sandbox.schema import line_item_validator, problems, result_validator

DUE = datetime(2026, 10, 16, 4, 59, 59, tzinfo=UTC)
SECTION_8_DUE = datetime(2026, 10, 18, 4, 59, 59, tzinfo=UTC)
CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def assignment(**changes: object) -> AssignmentRecord:
    base = Assignment(
        id="124",
        course_id="456",
        title="Q&amp;A: Slope",
        published=True,
        post_to_sis=True,
        assignment_group_id="311",
        due_at=DUE,
        unlock_at=datetime(2026, 10, 5, 5, tzinfo=UTC),
        points_possible=10.0,
        overrides=(Override("9", OverrideTarget.SECTION, SECTION_8_DUE, True, section_id="8"),),
    )
    return AssignmentRecord(replace(base, **changes), (), True, 0)  # type: ignore[arg-type]


def state(
    *records: AssignmentRecord, enrollments: tuple[Enrollment, ...] | None = None
) -> CourseState:
    return CourseState(
        course_id="456",
        course=Course("456", "Algebra I", "available"),
        sections=(
            Section("7", "456", "P1", "SEC-7", 2),
            Section("8", "456", "P2", "SEC-8", 1),
            Section("9", "456", "P3", None, 1),
        ),
        groups=(AssignmentGroup("311", "456", "Homework"),),
        enrollments=enrollments
        if enrollments is not None
        else (
            Enrollment("1201", "7", "S-1201"),
            Enrollment("1202", "7", None),
            Enrollment("1207", "8", "S-1207"),
            Enrollment("1207", "9", "S-1207"),  # also in a section IC does not know
        ),
        assignments={r.assignment.id: r for r in (records or (assignment(),))},
        loaded=True,
    )


def grade(user_id: str, score: float | None, **flags: bool) -> Grade:
    return Grade(
        "456",
        "124",
        user_id,
        GradeValue(score=score, grade=None if score is None else str(score), **flags),
        None,
        NOW,
        1,
    )


IC = {
    "SEC-7": IcClassFound(
        IcClass("SEC-7", "Algebra 7", "SCH-1"), (IcCategory("CAT-3", "homework "),)
    ),
    "SEC-8": IcClassFound(
        IcClass("SEC-8", "Algebra 8", "SCH-1"), (IcCategory("CAT-6", "Homework"),)
    ),
}


def plan_for(
    course: CourseState,
    grades: list[Grade],
    confirmed: tuple[Confirmed, ...] = (),
    kind: RunKind = RunKind.SYNC,
    ic: Mapping[str, IcKnowledge] = IC,
    ids: tuple[str, ...] | None = None,
) -> Plan:
    return make_plan(
        PlanInput(course, grades, list(confirmed), ic, kind, ids, CHICAGO, date(2026, 11, 2))
    )


def test_one_entry_per_student_and_section_with_blocking_codes() -> None:
    entries = pending_entries(
        state(), [grade("1201", 9.0), grade("1202", 8.0), grade("1207", 7.0)], []
    )
    keyed = {(e.student_id, e.section_id): e for e in entries}
    assert set(keyed) == {("1201", "7"), ("1202", "7"), ("1207", "8"), ("1207", "9")}
    assert keyed[("1202", "7")].blocked_by == ("STUDENT_WITHOUT_SIS_ID",)
    assert keyed[("1207", "9")].blocked_by == ("SECTION_WITHOUT_SIS_ID",)
    assert keyed[("1201", "7")].blocked_by == ()


def test_a_value_back_to_what_ic_holds_leaves_the_delta() -> None:
    held = [Confirmed("124", "7", "1201", SentValue(9.0, False, False, False), NOW)]
    assert [e.student_id for e in pending_entries(state(), [grade("1201", 9.0)], held)] == []
    assert [e.student_id for e in pending_entries(state(), [grade("1201", 8.0)], held)] == ["1201"]


def test_an_ungraded_submission_is_not_pending_but_a_removed_one_is() -> None:
    assert pending_entries(state(), [grade("1201", None)], []) == []
    held = [Confirmed("124", "7", "1201", SentValue(9.0, False, False, False), NOW)]
    (removed,) = pending_entries(state(), [grade("1201", None)], held)
    assert removed.wanted is None and removed.canvas.score is None and removed.synced is not None


def test_error_rules_block_and_warnings_do_not() -> None:
    warned = replace(assignment(), violations=(Violation("POINTS_MISSING", "warning", "m", "f"),))
    blocked = replace(
        assignment(), violations=(Violation("DIFFERENTIATED", "error", "m", "f"),), eligible=False
    )
    assert pending_entries(state(warned), [grade("1201", 9.0)], [])[0].blocked_by == ()
    assert pending_entries(state(blocked), [grade("1201", 9.0)], [])[0].blocked_by == (
        "DIFFERENTIATED",
    )


def test_the_plan_maps_grades_to_line_items_and_results_that_validate() -> None:
    plan = plan_for(
        state(),
        [grade("1201", 9.0, late=True), grade("1202", 8.0), grade("1207", 7.0, excused=True)],
    )
    assert sorted((f.student_id, f.section_id, f.code) for f in plan.filtered) == [
        ("1202", "7", "STUDENT_WITHOUT_SIS_ID"),
        ("1207", "9", "SECTION_WITHOUT_SIS_ID"),
    ]
    work = {(w.assignment_id, w.section_id): w for w in plan.work}
    seven, eight = work[("124", "7")], work[("124", "8")]
    assert seven.line_item is not None and eight.line_item is not None
    assert seven.line_item.sourced_id == "canvas-a124-s7"
    assert seven.line_item.title == "Q&amp;A: Slope"  # as Canvas stores it, never unescaped
    assert seven.line_item.due_date == DUE and eight.line_item.due_date == SECTION_8_DUE
    assert seven.line_item.due_date.utcoffset() == CHICAGO.utcoffset(DUE.replace(tzinfo=None))
    assert seven.line_item.category_id == "CAT-3" and seven.line_item.school_id == "SCH-1"
    assert seven.line_item.assign_date == datetime(2026, 10, 5, 5, tzinfo=UTC)
    (late,) = seven.writes
    assert late.result.sourced_id == "canvas-a124-s7-u1201"
    assert (late.result.score, late.result.score_status, late.result.late) == (
        9.0,
        "fully graded",
        True,
    )
    assert late.result.score_date == date(2026, 11, 2)  # graded at 15:00 UTC = 09:00 in Chicago
    (exempt,) = eight.writes
    assert (exempt.result.score, exempt.result.score_status) == (None, "exempt")

    root = "https://ic.example/ims/oneroster"
    for w in plan.work:
        assert w.line_item is not None
        assert problems(line_item_validator(), line_item_body(w.line_item, root)) == []
        for write in w.writes:
            assert problems(result_validator(), result_body(write.result, root)) == []


def line_item_of(plan: Plan, section_id: str = "7") -> LineItem:
    (work,) = [w for w in plan.work if w.section_id == section_id]
    assert work.line_item is not None, work.problem
    return work.line_item


def test_the_title_goes_as_typed_trimmed() -> None:
    record = assignment(title=" Facts &notes on ch &sect 2 ")
    item = line_item_of(plan_for(state(record), [grade("1201", 9.0)]))
    assert item.title == "Facts &notes on ch &sect 2"


def test_the_assign_date_is_never_after_the_due_date() -> None:
    created_late = assignment(unlock_at=None, created_at=DUE + timedelta(days=3))
    item = line_item_of(plan_for(state(created_late), [grade("1201", 9.0)]))
    assert item.assign_date == item.due_date == DUE
    created_early = assignment(unlock_at=None, created_at=DUE - timedelta(days=3))
    item = line_item_of(plan_for(state(created_early), [grade("1201", 9.0)]))
    assert item.assign_date == DUE - timedelta(days=3)


def test_dates_go_in_the_district_offset_so_the_date_part_is_the_teachers() -> None:
    # Due 2026-10-15 23:59:59 in Chicago, which is already the 16th in UTC.
    item = line_item_of(plan_for(state(), [grade("1201", 9.0)]))
    body = line_item_body(item, "https://ic.example/ims/oneroster")["lineItem"]
    assert body["dueDate"] == "2026-10-15T23:59:59-05:00"
    assert body["assignDate"] == "2026-10-05T00:00:00-05:00"
    assert problems(line_item_validator(), {"lineItem": body}) == []


def test_a_line_item_carries_the_grading_period_holding_its_due_date() -> None:
    year = IcTerm("Y", "2026-27", date(2026, 8, 1), date(2027, 6, 30), kind="schoolYear")
    q1 = IcTerm("Q1", "Q1", date(2026, 8, 1), date(2026, 10, 16), kind="gradingPeriod")
    q2 = IcTerm("Q2", "Q2", date(2026, 10, 16), date(2027, 1, 15), kind="gradingPeriod")
    ic_class = IcClass("SEC-7", "Algebra 7", "SCH-1", (year,), (q1, q2))
    ic = {**IC, "SEC-7": IcClassFound(ic_class, (IcCategory("CAT-3", "Homework"),))}
    item = line_item_of(plan_for(state(), [grade("1201", 9.0)], ic=ic))
    # Due 2026-10-16T04:59:59Z is the 15th in Chicago: Q1, not Q2 as the UTC date would say.
    assert item.grading_period_id == "Q1"
    body = line_item_body(item, "https://ic.example/ims/oneroster")["lineItem"]
    assert body["gradingPeriod"]["sourcedId"] == "Q1"
    assert body["gradingPeriod"]["type"] == "academicSession"
    assert problems(line_item_validator(), {"lineItem": body}) == []
    # A class without grading periods: none sent.
    assert line_item_of(plan_for(state(), [grade("1201", 9.0)])).grading_period_id is None


def test_a_course_override_gives_every_section_its_due_date() -> None:
    everyone = Override("5", OverrideTarget.COURSE, DUE + timedelta(days=1), True)
    record = assignment(due_at=None, only_visible_to_overrides=True, overrides=(everyone,))
    plan = plan_for(state(record), [grade("1201", 9.0), grade("1207", 7.0)])
    assert line_item_of(plan, "7").due_date == DUE + timedelta(days=1)
    assert line_item_of(plan, "8").due_date == DUE + timedelta(days=1)


@pytest.mark.parametrize(
    ("group", "category", "matches"),
    [
        pytest.param("R&amp;D", "R&D", False, id="entity text is no match"),
        pytest.param("R&D", "R&D", True, id="same text"),
        pytest.param(" r&d ", "R&D", True, id="case and spaces ignored"),
    ],
)
def test_rule_and_plan_agree_on_categories(group: str, category: str, matches: bool) -> None:
    ic_class = IcClass("SEC-7", "Algebra 7", "SCH-1")
    known = IcClassFound(ic_class, (IcCategory("CAT-RD", category),))
    course = replace(state(), groups=(AssignmentGroup("311", "456", group),))
    view = CourseView(
        course=course.course,
        sections=course.sections[:1],
        group_names={"311": group},
        assignments=(),
        ic={"SEC-7": known},
    )
    record = assignment()
    codes = [v.code for v in evaluate(record.assignment, view, name_max_length=30, tz=CHICAGO)]
    assert ("CATEGORY_NOT_FOUND" not in codes) is matches
    plan = plan_for(course, [grade("1201", 9.0)], ic={"SEC-7": known})
    (work,) = [w for w in plan.work if w.section_id == "7"]
    assert (work.line_item is not None) is matches
    if not matches:
        assert work.problem is not None and work.problem[0] == "SIS_CATEGORY_NOT_FOUND"


def test_a_missing_category_or_unreachable_ic_is_a_section_problem() -> None:
    ic = {
        "SEC-7": IcClassFound(IcClass("SEC-7", "A", "SCH-1"), (IcCategory("C", "Tests"),)),
        "SEC-8": IcUnverified(),
    }
    plan = plan_for(state(), [grade("1201", 9.0), grade("1207", 7.0)], ic=ic)
    problems_by_section = {w.section_id: w.problem for w in plan.work}
    assert (
        problems_by_section["7"] is not None
        and problems_by_section["7"][0] == "SIS_CATEGORY_NOT_FOUND"
    )
    assert problems_by_section["8"] is not None and problems_by_section["8"][0] == "SIS_UNAVAILABLE"


def test_sync_without_ids_takes_eligible_assignments_and_with_ids_filters_ineligible() -> None:
    blocked = replace(
        assignment(), violations=(Violation("DIFFERENTIATED", "error", "m", "f"),), eligible=False
    )
    assert plan_for(state(blocked), [grade("1201", 9.0)]).work == []
    chosen = plan_for(state(blocked), [grade("1201", 9.0)], ids=("124",))
    assert {f.code for f in chosen.filtered} == {"ASSIGNMENT_INELIGIBLE"}


def test_remaster_resends_everything_and_deletes_what_is_gone() -> None:
    held = [
        Confirmed(
            "124", "7", "1201", SentValue(9.0, False, False, False), NOW
        ),  # unchanged: sent again
        Confirmed(
            "124", "8", "1207", SentValue(7.0, False, False, False), NOW
        ),  # removed in Canvas
        Confirmed("124", "7", "1299", SentValue(5.0, False, False, False), NOW),  # left the section
    ]
    plan = plan_for(
        state(), [grade("1201", 9.0), grade("1207", None)], tuple(held), RunKind.REMASTER
    )
    writes = [w.result.sourced_id for work in plan.work for w in work.writes]
    deletes = sorted(d.sourced_id for work in plan.work for d in work.deletes)
    assert writes == ["canvas-a124-s7-u1201"]
    assert deletes == ["canvas-a124-s7-u1299", "canvas-a124-s8-u1207"]


def test_results_of_assignments_that_stopped_syncing_are_reported_as_orphans() -> None:
    stopped = assignment(post_to_sis=False)
    held = [Confirmed("124", "7", "1201", SentValue(9.0, False, False, False), NOW)]
    plan = plan_for(state(replace(stopped, eligible=False)), [], tuple(held), RunKind.REMASTER)
    (warning,) = plan.warnings
    assert warning.code == "ORPHANED_IN_IC" and "no longer syncs" in warning.message
    assert [d for w in plan.work for d in w.deletes] == []  # IC keeps them


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (SentValue(9.0, False, False, False), "fully graded"),
        (SentValue(None, True, False, False), "exempt"),
        (SentValue(None, False, True, False), "not submitted"),
        (SentValue(0.0, False, True, True), "fully graded"),
    ],
)
def test_score_status(value: SentValue, status: str) -> None:
    from gpb.handlers.sync_plan import score_status

    assert score_status(value) == status
