"""The pending delta and the plan of a run: which grades go, which are filtered, what IC gets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fakes import grade, homework

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
from gpb.handlers.grades import Grade, SentValue
from gpb.handlers.line_items import changed_line_items, line_item_details
from gpb.handlers.model import (
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
from gpb.handlers.syncs import LineItemConfirmed, RunKind
from gpb.infra.oneroster import line_item_body, result_body
from gpb.infra.sandbox.schema import line_item_validator, problems, result_validator

DUE = datetime(2026, 10, 16, 4, 59, 59, tzinfo=UTC)
SECTION_8_DUE = datetime(2026, 10, 18, 4, 59, 59, tzinfo=UTC)
CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def assignment(**changes: object) -> AssignmentRecord:
    slope = {
        "id": "124",
        "title": "Q&amp;A: Slope",
        "assignment_group_id": "311",
        "due_at": DUE,
        "unlock_at": datetime(2026, 10, 5, 5, tzinfo=UTC),
        "overrides": (Override("9", OverrideTarget.SECTION, SECTION_8_DUE, True, section_id="8"),),
    }
    return AssignmentRecord(homework(**(slope | changes)), (), True, 0)


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


def test_remaster_resends_everything_deletes_what_is_gone_and_keeps_who_left() -> None:
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
    # 1299 left the section: IC keeps the result, and the run says so.
    assert deletes == ["canvas-a124-s8-u1207"]
    assert [(f.student_id, f.code) for f in plan.filtered] == [("1299", "KEPT_ENROLLMENT_ENDED")]
    (kept,) = [w for w in plan.warnings if w.code == "KEPT_ENROLLMENT_ENDED"]
    assert kept.assignment_id == "124" and "1 result stays" in kept.message


def test_a_grade_goes_only_to_the_sections_the_assignment_is_given_to() -> None:
    # 1207 is in sections 8 and 7; the assignment is given only to section 7, by its override.
    only_7 = assignment(
        only_visible_to_overrides=True,
        overrides=(Override("9", OverrideTarget.SECTION, DUE, True, section_id="7"),),
    )
    two_sections = (Enrollment("1201", "7", "S-1201"), Enrollment("1207", "8", "S-1207"))
    course = state(only_7, enrollments=(*two_sections, Enrollment("1207", "7", "S-1207")))
    entries = pending_entries(course, [grade("1201", 9.0), grade("1207", 7.0)], [])
    assert {(e.student_id, e.section_id) for e in entries} == {("1201", "7"), ("1207", "7")}
    for kind in RunKind:
        plan = plan_for(course, [grade("1201", 9.0), grade("1207", 7.0)], kind=kind)
        assert [(w.assignment_id, w.section_id) for w in plan.work] == [("124", "7")]
        assert plan.filtered == [] and all(w.problem is None for w in plan.work)
    # Given to everyone, the same student gets a result in each of their sections.
    course = state(enrollments=(*two_sections, Enrollment("1207", "7", "S-1207")))
    entries = pending_entries(course, [grade("1207", 7.0)], [])
    assert {(e.student_id, e.section_id) for e in entries} == {("1207", "7"), ("1207", "8")}


@pytest.mark.parametrize("ended", ["completed", "inactive", None])
def test_no_result_is_deleted_because_an_enrollment_ended(ended: str | None) -> None:
    """Concluded, deactivated or gone (None: Canvas no longer lists the student at all), with the
    grade still in Canvas or removed: IC keeps the result, reported, on a sync and a remaster."""
    listed = (Enrollment("1201", "7", "S-1201"),)
    if ended is not None:
        listed += (Enrollment("1202", "7", "S-1202", ended),)
    held = [
        Confirmed("124", "7", "1202", SentValue(8.0, False, False, False), NOW),
        Confirmed("124", "7", "1201", SentValue(9.0, False, False, False), NOW),
    ]
    course = state(enrollments=listed)
    removed = [grade("1201", None), grade("1202", None)]
    assert [(e.student_id, e.wanted) for e in pending_entries(course, removed, held)] == [
        ("1201", None)  # still enrolled: the removed grade is deleted
    ]
    for kind in RunKind:
        plan = plan_for(course, removed, tuple(held), kind)
        assert [d.sourced_id for w in plan.work for d in w.deletes] == ["canvas-a124-s7-u1201"]
        assert [(f.student_id, f.code) for f in plan.filtered] == [
            ("1202", "KEPT_ENROLLMENT_ENDED")
        ]
        assert [w.code for w in plan.warnings] == ["KEPT_ENROLLMENT_ENDED"]


def test_a_concluded_student_still_gets_grades_and_a_deactivated_one_does_not() -> None:
    """Teachers finish grades after the term, when every enrollment is `completed`."""
    course = state(
        enrollments=(
            Enrollment("1201", "7", "S-1201", "completed"),
            Enrollment("1202", "7", "S-1202", "inactive"),
        )
    )
    entries = pending_entries(course, [grade("1201", 9.0), grade("1202", 8.0)], [])
    assert [e.student_id for e in entries] == ["1201"]


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


def written(record: AssignmentRecord, *section_ids: str) -> tuple[LineItemConfirmed, ...]:
    """The line items IC confirmed for `record` as it was then."""
    return tuple(
        LineItemConfirmed(
            "456",
            record.assignment.id,
            section,
            f"canvas-a{record.assignment.id}-s{section}",
            line_item_details(record.assignment, section, "Homework"),
        )
        for section in section_ids
    )


def test_an_assignment_edit_after_a_sync_makes_its_line_items_pending() -> None:
    synced = written(assignment(title="Slope"), "7")  # IC holds section 7's line item only
    edited = assignment(points_possible=20.0, title="Quiz 1")
    (change,) = changed_line_items(state(edited), synced)
    assert (change.assignment_id, change.section_id) == ("124", "7")
    assert change.message == "details changed: title 'Slope' -> 'Quiz 1', points 10 -> 20"
    assert changed_line_items(state(assignment(title="Slope")), synced) == []


@pytest.mark.parametrize("kind", list(RunKind))
def test_the_next_run_puts_the_changed_line_items_even_with_no_grade_changed(
    kind: RunKind,
) -> None:
    moved = assignment(due_at=datetime(2026, 10, 20, 4, 59, tzinfo=UTC))
    plan = make_plan(
        PlanInput(
            state(moved),
            [],
            [],
            IC,
            kind,
            None,
            CHICAGO,
            date(2026, 11, 2),
            written=written(assignment(), "7"),
        )
    )
    (work,) = plan.work
    assert (work.section_id, work.writes, work.deletes) == ("7", [], [])
    assert work.refresh is not None and "due date" in work.refresh.message
    assert work.line_item is not None and work.line_item.due_date == moved.assignment.due_at
    assert work.details == line_item_details(moved.assignment, "7", "Homework")


def test_no_line_item_without_a_result_and_none_for_details_never_kept() -> None:
    edited = assignment(points_possible=20.0)
    no_details = (LineItemConfirmed("456", "124", "7", "canvas-a124-s7", None),)
    for held in ((), no_details):
        plan = plan_for_written(state(edited), held)
        assert plan.work == []
    # Not chosen: a sync of another assignment leaves it pending.
    plan = plan_for_written(state(edited), written(assignment(), "7"), ids=("999",))
    assert [w.refresh for w in plan.work] == []


def plan_for_written(
    course: CourseState, held: tuple[LineItemConfirmed, ...], ids: tuple[str, ...] | None = None
) -> Plan:
    return make_plan(
        PlanInput(course, [], [], IC, RunKind.SYNC, ids, CHICAGO, date(2026, 11, 2), written=held)
    )


@pytest.mark.parametrize("kind", list(RunKind))
def test_a_run_names_every_assignment_it_left_out_with_its_codes(kind: RunKind) -> None:
    """A sync with no selection, or a remaster, drops no sync-enabled assignment silently."""
    blocked = AssignmentRecord(
        replace(assignment().assignment, id="125", title="Unit 3 Test"),
        (
            Violation("DIFFERENTIATED", "error", "m", "f"),
            Violation("DUE_DATE_MISSING", "error", "m", "f"),
            Violation("POINTS_MISSING", "warning", "m", "f"),
        ),
        False,
        0,
    )
    course = state(assignment(), blocked)
    grades = [grade("1201", 9.0), replace(grade("1201", 40.0), assignment_id="125")]
    plan = plan_for(course, grades, kind=kind)
    (left_out,) = [w for w in plan.warnings if w.assignment_id == "125"]
    assert left_out.code == "ASSIGNMENT_INELIGIBLE"
    assert left_out.message == "'Unit 3 Test' was left out: DIFFERENTIATED, DUE_DATE_MISSING."
    assert [(f.assignment_id, f.code) for f in plan.filtered] == [("125", "ASSIGNMENT_INELIGIBLE")]
    assert [w.assignment_id for w in plan.work] == ["124"]


def test_rule_warnings_that_concern_a_run_are_in_its_warnings() -> None:
    warned = replace(
        assignment(),
        violations=(
            Violation("POINTS_MISSING", "warning", "'Q' has no points possible.", "f"),
            Violation("OMITTED_FROM_FINAL_GRADE", "warning", "'Q' does not count.", "f"),
            Violation("CATEGORY_UNVERIFIED", "warning", "IC could not be asked.", "f"),
        ),
    )
    plan = plan_for(state(warned), [grade("1201", 9.0)])
    assert [(w.code, w.message) for w in plan.warnings] == [
        ("POINTS_MISSING", "'Q' has no points possible."),
        ("OMITTED_FROM_FINAL_GRADE", "'Q' does not count."),
    ]
    assert plan_for(state(warned), []).warnings == []  # nothing sent: nothing to warn of


def test_unposted_grades_are_sent_and_counted_unless_held() -> None:
    hidden = [grade("1201", 9.0, posted=False), grade("1207", 7.0, posted=False), grade("1202", 8)]
    plan = plan_for(state(), hidden)
    assert sorted(w.result.sourced_id for work in plan.work for w in work.writes) == [
        "canvas-a124-s7-u1201",
        "canvas-a124-s8-u1207",
    ]  # 1202 has no SIS id
    (sent,) = [w for w in plan.warnings if w.code == "UNPOSTED_SENT"]
    assert "2 grades not posted in Canvas" in sent.message

    held = make_plan(
        PlanInput(
            state(),
            hidden,
            [],
            IC,
            RunKind.SYNC,
            None,
            CHICAGO,
            date(2026, 11, 2),
            hold_unposted=True,
        )
    )
    assert held.work == [] and not any(w.code == "UNPOSTED_SENT" for w in held.warnings)
    assert {(f.student_id, f.code) for f in held.filtered} >= {
        ("1201", "UNPOSTED_HELD"),
        ("1207", "UNPOSTED_HELD"),
    }
    entries = pending_entries(state(), hidden, [], hold_unposted=True)
    assert {e.student_id: e.blocked_by for e in entries}["1201"] == ("UNPOSTED_HELD",)
    # Once Canvas posts it, it goes.
    posted = [grade("1201", 9.0)]
    assert pending_entries(state(), posted, [], hold_unposted=True)[0].blocked_by == ()


@pytest.mark.parametrize(
    ("change", "said", "sections"),
    [
        # Section 8 has a due date of its own: a new base date changes section 7's only.
        ({"due_at": datetime(2026, 10, 20, 4, 59, tzinfo=UTC)}, "due date", ["7"]),
        ({"unlock_at": datetime(2026, 10, 6, 5, tzinfo=UTC)}, "assign date", ["7", "8"]),
        ({"assignment_group_id": "312"}, "group 'Homework' -> 'Tests'", ["7", "8"]),
        ({"points_possible": None}, "points 10 -> none", ["7", "8"]),
    ],
)
def test_each_detail_ic_holds_makes_the_line_item_pending(
    change: dict[str, object], said: str, sections: list[str]
) -> None:
    synced = written(assignment(), "7", "8")
    course = replace(
        state(assignment(**change)),
        groups=(AssignmentGroup("311", "456", "Homework"), AssignmentGroup("312", "456", "Tests")),
    )
    changes = changed_line_items(course, synced)
    assert [c.section_id for c in changes] == sections
    assert all(said in c.message for c in changes)
