"""The passback rules, rule by rule, on plain values."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, tzinfo
from functools import partial
from zoneinfo import ZoneInfo

import pytest
from fakes import homework

from gpb.handlers.alerts import alert_changes
from gpb.handlers.dictionary import ENTRIES, Entry, entry
from gpb.handlers.eligibility import (
    CHECKS,
    CourseView,
    Facts,
    Finding,
    IcClassFound,
    IcClassMissing,
    IcKnowledge,
    IcUnverified,
    Violation,
    bind_rules,
    evaluate,
    is_eligible,
)
from gpb.handlers.model import (
    Assignment,
    Course,
    IcCategory,
    IcClass,
    IcTerm,
    Override,
    OverrideTarget,
    Section,
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


COURSE = Course(id="1", name="Algebra I", workflow_state="available")
P1 = Section(id="11", course_id="1", name="Period 1", sis_section_id="ic-p1", student_count=20)
P2 = Section(id="12", course_id="1", name="Period 2", sis_section_id="ic-p2", student_count=18)
EMPTY = Section(id="13", course_id="1", name="Empty", sis_section_id=None, student_count=0)
UNLINKED = replace(P2, sis_section_id=None)

FALL = IcTerm("t-fall", "Fall", start_date=date(2024, 8, 19), end_date=date(2025, 1, 18))
SPRING = IcTerm("t-spring", "Spring", start_date=date(2025, 1, 21), end_date=date(2025, 6, 5))
CATEGORIES = (
    IcCategory("c-hw", "Homework"),
    IcCategory("c-qz", "Quizzes"),
    IcCategory("c-ts", "Tests"),
)
GROUPS = {"g-qz": "Quizzes", "g-xp": "Extra Practice", "g-lc": "  quizzes "}

CHICAGO = ZoneInfo("America/Chicago")


def found(sis_id: str, terms: tuple[IcTerm, ...] = (FALL, SPRING)) -> IcClassFound:
    return IcClassFound(IcClass(sis_id, f"Algebra I {sis_id}", "school-1", terms), CATEGORIES)


KNOWN = {"ic-p1": found("ic-p1"), "ic-p2": found("ic-p2")}

Q1 = IcTerm("gp-q1", "Q1", date(2024, 8, 19), date(2024, 10, 19), kind="gradingPeriod")
Q2 = IcTerm("gp-q2", "Q2", date(2024, 10, 21), date(2025, 1, 18), kind="gradingPeriod")


def found_with_periods(sis_id: str) -> IcClassFound:
    ic_class = IcClass(sis_id, f"Algebra I {sis_id}", "school-1", (FALL,), (Q1, Q2))
    return IcClassFound(ic_class, CATEGORIES)


# A syncing assignment of this course that meets every rule, changed as the case needs.
assignment = partial(
    homework,
    id="100",
    course_id="1",
    title="Quiz 1",
    assignment_group_id="g-qz",
    due_at=at("2024-10-01T17:00:00Z"),
)


def view(
    *,
    course: Course = COURSE,
    sections: tuple[Section, ...] = (P1, P2),
    assignments: tuple[Assignment, ...] = (),
    ic: dict[str, IcKnowledge] | None = None,
) -> CourseView:
    return CourseView(
        course=course,
        sections=sections,
        group_names=GROUPS,
        assignments=assignments,
        ic=KNOWN if ic is None else ic,
    )


def check(
    a: Assignment, v: CourseView | None = None, *, limit: int = 30, tz: tzinfo = UTC
) -> list[Violation]:
    return evaluate(a, v or view(), name_max_length=limit, tz=tz)


def found_codes(violations: list[Violation]) -> list[tuple[str, str | None]]:
    return [(v.code, v.section_id) for v in violations]


def section_override(section: Section, due: str | None, **changes: object) -> Override:
    base = Override(
        id=f"o-{section.id}",
        target=OverrideTarget.SECTION,
        section_id=section.id,
        due_at=at(due) if due else None,
        due_at_set=True,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


STUDENT_OVERRIDE = Override(
    id="o-s", target=OverrideTarget.STUDENTS, student_ids=("501",), due_at_set=False
)
GROUP_OVERRIDE = Override(id="o-g", target=OverrideTarget.GROUP, group_id="7")


def course_override(due: str | None) -> Override:
    """Canvas's course-level override: "Everyone" in the Assign To tray."""
    return Override(
        id="o-c", target=OverrideTarget.COURSE, due_at=at(due) if due else None, due_at_set=True
    )


RULE_CASES = [
    pytest.param(assignment(), view(), [], id="meets every rule"),
    # NAME_TOO_LONG
    pytest.param(assignment(title="x" * 30), view(), [], id="title at the limit"),
    pytest.param(
        assignment(title="x" * 31), view(), [("NAME_TOO_LONG", None)], id="title one over"
    ),
    # Canvas's REST API gives the raw text: "&amp;" is five characters the teacher typed.
    pytest.param(
        assignment(title="Q&amp;A" + "x" * 23), view(), [], id="entity text counted as typed"
    ),
    pytest.param(
        assignment(title="Q&amp;A" + "x" * 24),
        view(),
        [("NAME_TOO_LONG", None)],
        id="entity text one over",
    ),
    pytest.param(assignment(title="x" * 30 + " "), view(), [], id="trailing space not sent"),
    pytest.param(
        assignment(title="x" * 29 + "\N{PARTY POPPER}"),
        view(),
        [("NAME_TOO_LONG", None)],
        id="emoji counts two UTF-16 units",
    ),
    pytest.param(assignment(title="x" * 28 + "\N{PARTY POPPER}"), view(), [], id="emoji at 30"),
    # ASSIGNMENT_UNPUBLISHED, COURSE_UNPUBLISHED
    pytest.param(
        assignment(published=False),
        view(),
        [("ASSIGNMENT_UNPUBLISHED", None)],
        id="assignment unpublished",
    ),
    pytest.param(
        assignment(),
        view(course=replace(COURSE, workflow_state="unpublished")),
        [("COURSE_UNPUBLISHED", None)],
        id="course unpublished",
    ),
    # Teachers finish grades after the term: a concluded course still syncs.
    pytest.param(
        assignment(),
        view(course=replace(COURSE, workflow_state="completed")),
        [],
        id="course concluded",
    ),
    # DIFFERENTIATED
    pytest.param(
        assignment(overrides=(STUDENT_OVERRIDE,)),
        view(),
        [("DIFFERENTIATED", None)],
        id="override for one student",
    ),
    pytest.param(
        assignment(overrides=(GROUP_OVERRIDE,)),
        view(),
        [("DIFFERENTIATED", None)],
        id="override for a group",
    ),
    pytest.param(
        assignment(
            overrides=(
                section_override(P1, "2024-10-01T17:00:00Z"),
                section_override(P2, "2024-10-03T17:00:00Z"),
            )
        ),
        view(),
        [],
        id="section overrides with different dates",
    ),
    # "Everyone" as a course-level override dates everyone: no differentiation, no missing date.
    pytest.param(
        assignment(
            due_at=None,
            only_visible_to_overrides=True,
            visible_to_everyone=True,
            overrides=(course_override("2024-10-01T17:00:00Z"),),
        ),
        view(),
        [],
        id="course override for everyone",
    ),
    pytest.param(
        assignment(
            due_at=None,
            only_visible_to_overrides=True,
            overrides=(course_override("2024-10-01T17:00:00Z"), section_override(P2, None)),
        ),
        view(),
        [("DUE_DATE_MISSING", "12")],
        id="course override and a section override taking the date away",
    ),
    # Given to some students through its module: Canvas says so, no override of its own explains it.
    pytest.param(
        assignment(visible_to_everyone=False),
        view(),
        [("DIFFERENTIATED", None)],
        id="given through its module",
    ),
    pytest.param(
        assignment(
            visible_to_everyone=False,
            only_visible_to_overrides=True,
            overrides=(section_override(P1, "2024-10-01T17:00:00Z"),),
        ),
        view(),
        [],
        id="not for everyone because of its section override",
    ),
    # DUE_DATE_MISSING
    pytest.param(
        assignment(due_at=None),
        view(),
        [("DUE_DATE_MISSING", "11"), ("DUE_DATE_MISSING", "12")],
        id="no due date anywhere",
    ),
    pytest.param(
        assignment(
            due_at=None,
            overrides=(
                section_override(P1, "2024-10-01T17:00:00Z"),
                section_override(P2, "2024-10-02T17:00:00Z"),
            ),
        ),
        view(),
        [],
        id="no base date but every section dated",
    ),
    pytest.param(
        assignment(due_at=None, overrides=(section_override(P1, "2024-10-01T17:00:00Z"),)),
        view(),
        [("DUE_DATE_MISSING", "12")],
        id="no base date and one section undated",
    ),
    pytest.param(
        assignment(overrides=(section_override(P2, None),)),
        view(),
        [("DUE_DATE_MISSING", "12")],
        id="section override removes the date",
    ),
    pytest.param(
        assignment(overrides=(section_override(P2, None, due_at_set=False),)),
        view(),
        [],
        id="section override leaves the base date",
    ),
    pytest.param(
        assignment(
            due_at=None,
            only_visible_to_overrides=True,
            overrides=(section_override(P1, "2024-10-01T17:00:00Z"),),
        ),
        view(sections=(P1, UNLINKED)),
        [],
        id="only visible to overrides: other sections not checked",
    ),
    pytest.param(
        assignment(
            due_at=None, only_visible_to_overrides=True, overrides=(section_override(P1, None),)
        ),
        view(),
        [("DUE_DATE_MISSING", "11")],
        id="only visible to overrides: given section checked",
    ),
    pytest.param(
        assignment(),
        view(sections=(P1, EMPTY)),
        [],
        id="section without students not checked",
    ),
    pytest.param(
        assignment(due_at=None, overrides=(section_override(P1, "2024-10-01T17:00:00Z"),)),
        view(sections=(P1, EMPTY)),
        [],
        id="section without students needs no date",
    ),
    # CATEGORY_NOT_FOUND
    pytest.param(
        assignment(assignment_group_id="g-xp"),
        view(),
        [("CATEGORY_NOT_FOUND", "11"), ("CATEGORY_NOT_FOUND", "12")],
        id="group is no category",
    ),
    pytest.param(
        assignment(assignment_group_id="g-lc"),
        view(),
        [],
        id="group matches a category ignoring case and spaces",
    ),
    pytest.param(
        assignment(assignment_group_id="g-gone"),
        view(),
        [("CATEGORY_NOT_FOUND", "11"), ("CATEGORY_NOT_FOUND", "12")],
        id="group unknown",
    ),
    pytest.param(
        assignment(assignment_group_id="g-xp"),
        view(ic={"ic-p1": found("ic-p1"), "ic-p2": IcClassMissing()}),
        [("CATEGORY_NOT_FOUND", "11"), ("SECTION_CLASS_NOT_FOUND", "12")],
        id="categories checked only where the class is known",
    ),
    # NOT_GRADED
    pytest.param(
        assignment(grading_type="not_graded"), view(), [("NOT_GRADED", None)], id="not graded"
    ),
    pytest.param(assignment(grading_type="pass_fail"), view(), [], id="pass fail is graded"),
    # SECTION_WITHOUT_SIS_ID
    pytest.param(
        assignment(),
        view(sections=(P1, UNLINKED)),
        [("SECTION_WITHOUT_SIS_ID", "12")],
        id="section without sis id",
    ),
    pytest.param(
        assignment(),
        view(sections=(P1, replace(P2, sis_section_id="  "))),
        [("SECTION_WITHOUT_SIS_ID", "12")],
        id="section with blank sis id",
    ),
    # SECTION_CLASS_NOT_FOUND
    pytest.param(
        assignment(),
        view(ic={"ic-p1": found("ic-p1"), "ic-p2": IcClassMissing()}),
        [("SECTION_CLASS_NOT_FOUND", "12")],
        id="class not found",
    ),
    # CATEGORY_UNVERIFIED
    pytest.param(
        assignment(),
        view(ic={"ic-p1": IcUnverified(), "ic-p2": IcUnverified()}),
        [("CATEGORY_UNVERIFIED", None)],
        id="ic unverified: one warning for the assignment",
    ),
    pytest.param(
        assignment(),
        view(ic={"ic-p1": found("ic-p1")}),
        [("CATEGORY_UNVERIFIED", None)],
        id="ic not asked about a section",
    ),
    pytest.param(
        assignment(assignment_group_id="g-xp", due_at=at("2025-07-01T17:00:00Z")),
        view(ic={}),
        [("CATEGORY_UNVERIFIED", None)],
        id="ic unverified: category and term not judged",
    ),
    # POINTS_MISSING, OMITTED_FROM_FINAL_GRADE
    pytest.param(
        assignment(points_possible=None), view(), [("POINTS_MISSING", None)], id="points none"
    ),
    pytest.param(
        assignment(points_possible=0.0), view(), [("POINTS_MISSING", None)], id="points zero"
    ),
    pytest.param(
        assignment(omit_from_final_grade=True),
        view(),
        [("OMITTED_FROM_FINAL_GRADE", None)],
        id="omitted from final grade",
    ),
    # DUE_DATE_OUTSIDE_TERM (Fall ends before 2025-01-18, Spring starts 2025-01-21)
    pytest.param(
        assignment(due_at=at("2025-01-17T17:00:00Z")), view(), [], id="due on the term's last day"
    ),
    pytest.param(
        assignment(due_at=at("2025-01-18T17:00:00Z")),
        view(),
        [("DUE_DATE_OUTSIDE_TERM", "11"), ("DUE_DATE_OUTSIDE_TERM", "12")],
        id="due on the exclusive end date",
    ),
    pytest.param(
        assignment(due_at=at("2025-07-01T17:00:00Z")),
        view(),
        [("DUE_DATE_OUTSIDE_TERM", "11"), ("DUE_DATE_OUTSIDE_TERM", "12")],
        id="due after every term",
    ),
    pytest.param(
        assignment(overrides=(section_override(P2, "2025-01-19T17:00:00Z"),)),
        view(),
        [("DUE_DATE_OUTSIDE_TERM", "12")],
        id="one section's own date outside",
    ),
    pytest.param(
        assignment(due_at=at("2025-07-01T17:00:00Z")),
        view(ic={"ic-p1": found("ic-p1", terms=()), "ic-p2": found("ic-p2", terms=())}),
        [],
        id="terms unknown: not judged",
    ),
    pytest.param(
        assignment(due_at=None),
        view(),
        [("DUE_DATE_MISSING", "11"), ("DUE_DATE_MISSING", "12")],
        id="no date: only missing, not outside",
    ),
    # The assign date IC gets is checked too: the unlock date, else the creation time.
    pytest.param(
        assignment(unlock_at=at("2024-08-01T17:00:00Z")),
        view(),
        [("DUE_DATE_OUTSIDE_TERM", "11"), ("DUE_DATE_OUTSIDE_TERM", "12")],
        id="unlocked before the term",
    ),
    pytest.param(
        assignment(created_at=at("2024-12-01T17:00:00Z")),
        view(),
        [],
        id="created after the due date: assigned on the due date",
    ),
    # With grading periods, a date must fall in one of them (IC files assignments by them).
    pytest.param(
        assignment(due_at=at("2024-10-20T17:00:00Z")),
        view(ic={"ic-p1": found_with_periods("ic-p1"), "ic-p2": found("ic-p2")}),
        [("DUE_DATE_OUTSIDE_TERM", "11")],
        id="due between two grading periods",
    ),
    pytest.param(
        assignment(due_at=at("2024-10-01T17:00:00Z")),
        view(ic={"ic-p1": found_with_periods("ic-p1"), "ic-p2": found("ic-p2")}),
        [],
        id="due in a grading period",
    ),
]


@pytest.mark.parametrize(("a", "v", "expected"), RULE_CASES)
def test_rule(a: Assignment, v: CourseView, expected: list[tuple[str, str | None]]) -> None:
    assert found_codes(check(a, v)) == expected


@pytest.mark.parametrize(
    ("due", "tz", "inside"),
    [
        pytest.param("2025-01-18T03:00:00Z", UTC, False, id="fall end: UTC day is after"),
        pytest.param("2025-01-18T03:00:00Z", CHICAGO, True, id="fall end: Chicago day is inside"),
        pytest.param("2025-01-21T03:00:00Z", UTC, True, id="spring start: UTC day is inside"),
        pytest.param("2025-01-21T03:00:00Z", CHICAGO, False, id="spring start: Chicago day before"),
    ],
)
def test_due_date_is_placed_in_the_district_time_zone(due: str, tz: tzinfo, inside: bool) -> None:
    violations = check(assignment(due_at=at(due)), view(sections=(P1,)), tz=tz)
    assert found_codes(violations) == ([] if inside else [("DUE_DATE_OUTSIDE_TERM", "11")])


def test_naive_due_date_is_read_as_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    # Read in the server's zone (Auckland, UTC+13), 10:00 would be 2025-01-17 in Chicago.
    monkeypatch.setenv("TZ", "Pacific/Auckland")
    time.tzset()
    try:
        naive = datetime(2025, 1, 18, 10, 0)
        violations = check(assignment(due_at=naive), view(sections=(P1,)), tz=CHICAGO)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert found_codes(violations) == [("DUE_DATE_OUTSIDE_TERM", "11")]


# NAME_TOO_LONG: what the teacher reads


def test_title_one_over_says_remove_one() -> None:
    (v,) = check(assignment(title="x" * 31))
    assert "remove 1" in v.message
    assert v.fix == "Shorten the title by 1 character."


def test_title_names_length_limit_and_excess() -> None:
    (v,) = check(assignment(title="y" * 35))
    assert v.message == f"Title '{'y' * 35}' is 35 characters; the limit is 30 — remove 5."
    assert v.fix == "Shorten the title by 5 characters."


def test_title_is_counted_as_sent_never_unescaped() -> None:
    assert check(assignment(title="Facts &notes"), limit=12) == []
    (v,) = check(assignment(title=" Q&amp;A "), limit=6)
    assert v.message == "Title 'Q&amp;A' is 7 characters; the limit is 6 — remove 1."


def test_emoji_length_is_counted_in_utf16_units() -> None:
    (v,) = check(assignment(title="x" * 29 + "\N{PARTY POPPER}"))
    assert "is 31 characters; the limit is 30 — remove 1." in v.message


def test_limit_comes_from_the_caller() -> None:
    assert check(assignment(title="x" * 40), limit=50) == []


# NAME_NOT_UNIQUE


def twins_view(*others: Assignment) -> CourseView:
    return view(assignments=others)


def test_twins_are_both_flagged_ignoring_case_and_spaces() -> None:
    first = assignment(id="100", title="Quiz 1")
    second = assignment(id="101", title=" QUIZ 1 ")
    v = twins_view(first, second)
    assert found_codes(check(first, v)) == [("NAME_NOT_UNIQUE", None)]
    assert found_codes(check(second, v)) == [("NAME_NOT_UNIQUE", None)]


def test_twins_compare_titles_as_sent() -> None:
    first = assignment(id="100", title="Q&A ")
    v = twins_view(first, assignment(id="101", title="q&a"))
    assert found_codes(check(first, v)) == [("NAME_NOT_UNIQUE", None)]
    # IC gets "Q&amp;A" as typed: another title than "q&a".
    other = assignment(id="100", title="Q&amp;A")
    assert check(other, twins_view(other, assignment(id="101", title="q&a"))) == []


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(assignment(id="101", post_to_sis=False), id="twin not syncing"),
        pytest.param(assignment(id="101", deleted=True), id="twin deleted"),
        pytest.param(assignment(id="101", title="Quiz 10"), id="different title"),
    ],
)
def test_what_is_no_twin(other: Assignment) -> None:
    a = assignment(id="100")
    assert check(a, twins_view(a, other)) == []


def test_an_older_copy_of_the_assignment_is_no_twin() -> None:
    assert check(assignment(), twins_view(assignment(title="Quiz 1", published=False))) == []


def test_twins_message_counts_the_others() -> None:
    a = assignment(id="100")
    v = twins_view(a, assignment(id="101"), assignment(id="102"))
    (violation,) = check(a, v)
    assert violation.message == "Title 'Quiz 1' is also used by 2 other assignments set to sync."
    assert violation.fix == "Rename all but one of the 3 assignments titled 'Quiz 1'."


def test_one_twin_message() -> None:
    a = assignment(id="100")
    (violation,) = check(a, twins_view(assignment(id="101")))
    assert "1 other assignment set to sync" in violation.message
    assert violation.fix == "Rename one of the 2 assignments titled 'Quiz 1'."


# What the other rules tell the teacher


def test_category_fix_lists_the_ic_categories() -> None:
    (v,) = check(assignment(assignment_group_id="g-xp"), view(sections=(P1,)))
    assert "'Extra Practice'" in v.message and "'Quiz 1'" in v.message
    assert v.fix == "Rename the group 'Extra Practice' to one of: Homework, Quizzes, Tests."


def test_class_without_categories() -> None:
    bare = IcClassFound(IcClass("ic-p1", "Algebra I P1", "school-1", (FALL,)), ())
    (v,) = check(assignment(), view(sections=(P1,), ic={"ic-p1": bare}))
    assert v.code == "CATEGORY_NOT_FOUND"
    assert "no grading categories" in v.fix


def test_differentiated_counts_students_and_groups() -> None:
    two = replace(STUDENT_OVERRIDE, student_ids=("501", "502"))
    (v,) = check(assignment(overrides=(two, GROUP_OVERRIDE)))
    assert v.message == "'Quiz 1' is assigned through overrides to 2 students and 1 group."
    assert v.fix == entry("DIFFERENTIATED").fix


def test_missing_due_date_names_the_section() -> None:
    (v,) = check(assignment(due_at=None), view(sections=(P1,)))
    assert v.message == "'Quiz 1' has no due date for section 'Period 1' (20 students)."
    assert v.fix == "Give section 'Period 1' a due date."


def test_unverified_names_the_sections() -> None:
    (v,) = check(assignment(), view(ic={"ic-p1": found("ic-p1")}))
    assert "section 'Period 2'" in v.message
    assert v.fix == entry("CATEGORY_UNVERIFIED").fix


def test_outside_term_fix_lists_terms_with_their_last_day() -> None:
    (v,) = check(assignment(due_at=at("2025-07-01T17:00:00Z")), view(sections=(P1,)))
    assert "due 2025-07-01 in section 'Period 1'" in v.message
    assert v.fix == (
        "Move the due date for section 'Period 1' into one of: "
        "Fall (2024-08-19 to 2025-01-17), Spring (2025-01-21 to 2025-06-04)."
    )


def test_points_message_tells_none_from_zero() -> None:
    (none,) = check(assignment(points_possible=None))
    (zero,) = check(assignment(points_possible=0.0))
    assert "no points possible" in none.message
    assert "worth 0 points" in zero.message


@pytest.mark.parametrize(
    "a",
    [
        pytest.param(assignment(published=False), id="assignment"),
        pytest.param(assignment(grading_type="not_graded"), id="not graded"),
        pytest.param(assignment(omit_from_final_grade=True), id="omitted"),
    ],
)
def test_whole_assignment_messages_name_the_title(a: Assignment) -> None:
    (v,) = check(replace(a, title=" Lab &amp; Report "))
    assert "'Lab &amp; Report'" in v.message
    assert v.fix == entry(v.code).fix


def test_course_message_names_course_and_state() -> None:
    (v,) = check(assignment(), view(course=replace(COURSE, workflow_state="unpublished")))
    assert "'Algebra I'" in v.message and "'unpublished'" in v.message


# Scope, order, eligibility


@pytest.mark.parametrize(
    "a",
    [
        pytest.param(assignment(post_to_sis=False), id="not syncing"),
        pytest.param(assignment(deleted=True), id="deleted"),
    ],
)
def test_unchecked_assignments_have_no_violations(a: Assignment) -> None:
    broken = replace(a, title="x" * 40, published=False, due_at=None, points_possible=None)
    assert check(broken) == []


def test_every_rule_of_the_dictionary_is_checked_in_its_order() -> None:
    unlinked = Section("2", "1", "Unlinked", None, 5)
    missing = Section("3", "1", "Missing", "ic-missing", 5)
    unverified = Section("4", "1", "Unverified", "ic-unverified", 5)
    known = Section("10", "1", "Known", "ic-known", 5)
    a = assignment(
        title="T" * 31,
        published=False,
        due_at=None,
        grading_type="not_graded",
        points_possible=None,
        omit_from_final_grade=True,
        assignment_group_id="g-xp",
        overrides=(STUDENT_OVERRIDE, section_override(known, "2025-07-01T17:00:00Z")),
    )
    v = view(
        course=replace(COURSE, workflow_state="unpublished"),
        sections=(known, unverified, missing, unlinked),
        assignments=(assignment(id="101", title="t" * 31),),
        ic={"ic-missing": IcClassMissing(), "ic-known": found("ic-known")},
    )
    violations = check(a, v)
    assert found_codes(violations) == [
        ("NAME_TOO_LONG", None),
        ("ASSIGNMENT_UNPUBLISHED", None),
        ("COURSE_UNPUBLISHED", None),
        ("DIFFERENTIATED", None),
        ("DUE_DATE_MISSING", "2"),
        ("DUE_DATE_MISSING", "3"),
        ("DUE_DATE_MISSING", "4"),
        ("CATEGORY_NOT_FOUND", "10"),
        ("NOT_GRADED", None),
        ("NAME_NOT_UNIQUE", None),
        ("SECTION_WITHOUT_SIS_ID", "2"),
        ("SECTION_CLASS_NOT_FOUND", "3"),
        ("CATEGORY_UNVERIFIED", None),
        ("POINTS_MISSING", None),
        ("OMITTED_FROM_FINAL_GRADE", None),
        ("DUE_DATE_OUTSIDE_TERM", "10"),
    ]
    rules = [e.code for e in ENTRIES if e.kind == "rule"]
    assert list(dict.fromkeys(v.code for v in violations)) == rules
    for violation in violations:
        assert violation.severity == entry(violation.code).severity
        assert violation.message and violation.fix


def test_sections_in_numeric_id_order() -> None:
    nine, ten = replace(P1, id="9"), replace(P2, id="10")
    violations = check(assignment(due_at=None), view(sections=(ten, nine)))
    assert found_codes(violations) == [("DUE_DATE_MISSING", "9"), ("DUE_DATE_MISSING", "10")]


@pytest.mark.parametrize(
    ("a", "eligible"),
    [
        pytest.param(assignment(), True, id="clean"),
        pytest.param(
            assignment(points_possible=None, omit_from_final_grade=True), True, id="warnings only"
        ),
        pytest.param(assignment(published=False), False, id="an error"),
        pytest.param(assignment(post_to_sis=False), False, id="not syncing"),
        pytest.param(assignment(deleted=True), False, id="deleted"),
    ],
)
def test_is_eligible(a: Assignment, eligible: bool) -> None:
    violations = check(a)
    assert is_eligible(a, violations) is eligible


def test_an_assign_date_outside_the_term_says_which_date_to_set() -> None:
    created = assignment(created_at=at("2024-07-20T17:00:00Z"))
    (v,) = check(created, view(sections=(P1,)))
    assert "is due 2024-10-01 and assigned 2024-07-20 in section 'Period 1'" not in v.message
    assert "assigned 2024-07-20 in section 'Period 1'" in v.message
    assert v.fix.startswith("For section 'Period 1', set an available-from date into one of")
    unlocked = assignment(unlock_at=at("2024-07-20T17:00:00Z"))
    (v,) = check(unlocked, view(sections=(P1,)))
    assert v.fix.startswith("For section 'Period 1', move the available-from date into one of")


def test_a_course_override_gives_the_available_from_date() -> None:
    # The Assign To tray keeps "Everyone"'s dates on a course override, not on the assignment.
    everyone = replace(
        course_override("2024-10-01T17:00:00Z"),
        unlock_at=at("2024-07-20T17:00:00Z"),
        unlock_at_set=True,
    )
    a = assignment(due_at=None, created_at=at("2024-09-01T17:00:00Z"), overrides=(everyone,))
    assert found_codes(check(a, view(sections=(P1,)))) == [("DUE_DATE_OUTSIDE_TERM", "11")]
    in_term = replace(everyone, unlock_at=at("2024-09-20T17:00:00Z"))
    assert check(replace(a, overrides=(in_term,)), view(sections=(P1,))) == []


# A new rule, end to end: its dictionary entry, a check that yields a Finding for each way an
# assignment breaks it, and its line in CHECKS (here added to gpb's own, as eligibility.py would).

MANY_POINTS = Entry(
    "POINTS_OVER_100",
    "rule",
    "warning",
    title="Over 100 points",
    meaning="The assignment is worth more than 100 points, which few IC grading scales expect.",
    fix="Check the points possible in Canvas.",
)


def many_points(f: Facts) -> Iterator[Finding]:
    points = f.assignment.points_possible
    if points is not None and points > 100:
        yield Finding(f"'{f.title}' is worth {points:g} points.")


def test_a_new_rule_is_checked_and_its_code_reported_like_gpbs_own() -> None:
    rules = bind_rules((*ENTRIES, MANY_POINTS), {**CHECKS, MANY_POINTS.code: many_points})
    a = assignment(points_possible=150.0)
    violations = evaluate(a, view(), name_max_length=30, tz=UTC, rules=rules)
    assert violations == [
        Violation(
            "POINTS_OVER_100",
            "warning",
            "'Quiz 1' is worth 150 points.",
            "Check the points possible in Canvas.",  # the entry's generic fix
        )
    ]
    assert is_eligible(a, violations)  # a warning never blocks
    assert evaluate(assignment(), view(), name_max_length=30, tz=UTC, rules=rules) == []
    (opened,) = alert_changes("1", [], {a.id: violations})
    assert (opened.assignment_id, opened.code, opened.severity) == (
        "100",
        "POINTS_OVER_100",
        "warning",
    )


def test_a_rule_without_its_check_fails_the_import() -> None:
    with pytest.raises(ImportError, match="checks and the dictionary's rules differ"):
        bind_rules((*ENTRIES, MANY_POINTS), CHECKS)
