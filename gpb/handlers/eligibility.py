"""The passback rules of docs/design.md, evaluated for one assignment.

Pure: the caller reads Canvas and IC first and hands everything over as a `CourseView`, so the same
evaluation serves live events, the assignments page and sync planning. The rules, their order,
severities and generic fixes come from the error dictionary; each check here only says what is
wrong with this assignment, as precisely as it can.

Per-section rules look only at the sections the assignment is given to that have students: with
`only_visible_to_overrides`, sections without a section override do not get it at all (unless
Canvas's course-level "Everyone" override gives it to every section), and a section without
students has no grades to send. Titles, categories and dates are judged as they will be sent
(`ic_names`, `ic_dates`).

`CATEGORY_UNVERIFIED` is raised once per assignment, naming the sections IC could not be asked
about: when IC is unreachable it is so for every section at once, and one warning per section would
only repeat itself (alerts are per assignment and code anyway).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from functools import cached_property
from typing import TypeAlias

from gpb.handlers.dictionary import ENTRIES, Entry, Severity
from gpb.handlers.errors import SisError
from gpb.handlers.ic_dates import (
    assign_date,
    class_sessions,
    local_day,
    section_due_at,
    section_unlock_at,
    session_containing,
)
from gpb.handlers.ic_names import ic_length, matching_category, name_key, sent_title
from gpb.handlers.model import (
    Assignment,
    Course,
    IcCategory,
    IcClass,
    IcTerm,
    OverrideTarget,
    Section,
)


@dataclass(frozen=True)
class Violation:
    code: str
    severity: Severity
    message: str
    fix: str
    section_id: str | None = None  # None: the whole assignment


@dataclass(frozen=True)
class IcClassFound:
    """IC answered: the section's class, with its terms, and the class's grading categories."""

    ic_class: IcClass
    categories: tuple[IcCategory, ...]


@dataclass(frozen=True)
class IcClassMissing:
    """IC answered that it has no class whose sourcedId is the section's SIS id."""


@dataclass(frozen=True)
class IcUnverified:
    """IC could not be asked (not configured, unreachable, refused): nothing is known."""

    failure: SisError | None = None  # why, when IC was asked


IcKnowledge: TypeAlias = IcClassFound | IcClassMissing | IcUnverified


@dataclass(frozen=True)
class CourseView:
    """What the rules need to know about the assignment's course, read beforehand by the caller."""

    course: Course
    sections: tuple[Section, ...]
    group_names: Mapping[str, str]  # assignment group id -> name
    # The course's assignments, for NAME_NOT_UNIQUE; those not set to sync and deleted ones are
    # skipped here, so callers can pass them all.
    assignments: tuple[Assignment, ...]
    # What IC said, by section SIS id (= IC class sourcedId). An id IC was not asked about is
    # unverified, like one it could not answer for.
    ic: Mapping[str, IcKnowledge]

    def ic_knowledge(self, sis_section_id: str) -> IcKnowledge:
        return self.ic.get(sis_section_id, IcUnverified())

    def twins_of(self, assignment: Assignment) -> tuple[str, ...]:
        """Ids of the other syncing, undeleted assignments with the same title."""
        same = self._syncing_ids_by_title.get(name_key(assignment.title), ())
        return tuple(i for i in same if i != assignment.id)

    @cached_property
    def _syncing_ids_by_title(self) -> Mapping[str, list[str]]:
        # Built once per view: evaluating every assignment of a course against one view would
        # otherwise compare every pair of titles.
        index: dict[str, list[str]] = {}
        for a in self.assignments:
            if a.post_to_sis and not a.deleted:
                index.setdefault(name_key(a.title), []).append(a.id)
        return index


def evaluate(
    assignment: Assignment,
    view: CourseView,
    *,
    name_max_length: int,
    tz: tzinfo,
    rules: Sequence[Rule] | None = None,
) -> list[Violation]:
    """Every rule `assignment` breaks, in the rules table's order, then by section id.

    Assignments not set to sync and deleted ones are not checked: they get no violations.
    `tz` is the district's zone, in which due dates are placed in IC terms. `rules` are gpb's
    own (RULES) unless given.
    """
    if not assignment.post_to_sis or assignment.deleted:
        return []
    facts = Facts.of(assignment, view, name_max_length, tz)
    return [
        Violation(
            code=rule.entry.code,
            severity=rule.severity,
            message=finding.message,
            fix=finding.fix or rule.entry.fix,
            section_id=finding.section_id,
        )
        for rule in (RULES if rules is None else rules)
        for finding in rule.check(facts)
    ]


def is_eligible(assignment: Assignment, violations: Sequence[Violation]) -> bool:
    """Whether grades of `assignment` may go to IC: it syncs and breaks no error rule."""
    return (
        assignment.post_to_sis
        and not assignment.deleted
        and all(v.severity != "error" for v in violations)
    )


@dataclass(frozen=True)
class _Checked:
    """A section the assignment is given to that has students, with the dates IC would get."""

    section: Section
    due_at: datetime | None
    assign_at: datetime | None


@dataclass(frozen=True)
class Facts:
    """The assignment and its course, arranged the way the checks ask about them."""

    assignment: Assignment
    title: str  # as it will be sent to IC
    view: CourseView
    checked: tuple[_Checked, ...]  # in section id order
    linked: tuple[tuple[_Checked, IcKnowledge], ...]  # the checked sections with an SIS id
    name_max_length: int
    tz: tzinfo

    @classmethod
    def of(
        cls, assignment: Assignment, view: CourseView, name_max_length: int, tz: tzinfo
    ) -> Facts:
        checked = _checked_sections(assignment, view.sections)
        return cls(
            assignment=assignment,
            title=sent_title(assignment.title),
            view=view,
            checked=checked,
            linked=tuple(
                (c, view.ic_knowledge(sis_id)) for c in checked if (sis_id := _sis_id(c.section))
            ),
            name_max_length=name_max_length,
            tz=tz,
        )

    def found(self) -> Iterator[tuple[_Checked, IcClassFound]]:
        """The linked sections whose IC class is known."""
        for checked, known in self.linked:
            if isinstance(known, IcClassFound):
                yield checked, known


@dataclass(frozen=True)
class Finding:
    message: str
    fix: str | None = None  # None: the dictionary's generic fix says all there is to say
    section_id: str | None = None


def _checked_sections(
    assignment: Assignment, sections: tuple[Section, ...]
) -> tuple[_Checked, ...]:
    checked = []
    for section in sorted(sections, key=lambda s: _id_order(s.id)):
        if section.student_count <= 0:
            continue
        if not assignment.given_to(section.id):
            continue
        due = section_due_at(assignment, section.id)
        checked.append(_Checked(section, due, assign_date(assignment, section.id, due)))
    return tuple(checked)


def _sis_id(section: Section) -> str | None:
    # Canvas may answer an empty string where no SIS id was set.
    return section.sis_section_id if (section.sis_section_id or "").strip() else None


def _id_order(canvas_id: str) -> tuple[int, str]:
    # Canvas ids are decimal strings: the shorter one is the smaller number.
    return len(canvas_id), canvas_id


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _term_span(term: IcTerm) -> str:
    # OneRoster end dates are exclusive; people expect to read the last day of the term.
    return f"{term.title} ({term.start_date} to {term.end_date - timedelta(days=1)})"


# The checks, one per rule. Each yields what is wrong; evaluate() adds code and severity.


def title_length(title: str) -> int:
    """A Canvas title's length as NAME_TOO_LONG counts it (the title IC gets, in IC's units);
    the fixes count with it too."""
    return ic_length(sent_title(title))


def _name_too_long(f: Facts) -> Iterator[Finding]:
    length = title_length(f.title)
    excess = length - f.name_max_length
    if excess > 0:
        yield Finding(
            f"Title '{f.title}' is {_count(length, 'character')}; "
            f"the limit is {f.name_max_length} — remove {excess}.",
            fix=f"Shorten the title by {_count(excess, 'character')}.",
        )


def _assignment_unpublished(f: Facts) -> Iterator[Finding]:
    if not f.assignment.published:
        yield Finding(f"'{f.title}' is not published.")


def _course_unpublished(f: Facts) -> Iterator[Finding]:
    course = f.view.course
    if not course.published:
        yield Finding(
            f"The course '{course.name}' is not published (Canvas calls its state "
            f"'{course.workflow_state}'), so no grade of '{f.title}' can go to IC."
        )


def _differentiated(f: Facts) -> Iterator[Finding]:
    partial = [
        o
        for o in f.assignment.overrides
        if o.target in (OverrideTarget.STUDENTS, OverrideTarget.GROUP)
    ]
    if not partial:
        if _given_through_module(f.assignment):
            yield Finding(f"'{f.title}' is given to only some students through its module.")
        return
    students = sum(len(o.student_ids) for o in partial if o.target is OverrideTarget.STUDENTS)
    groups = sum(1 for o in partial if o.target is OverrideTarget.GROUP)
    targets = [_count(n, noun) for n, noun in ((students, "student"), (groups, "group")) if n]
    # An override whose students have all left lists none of them, yet it is still there.
    whom = " and ".join(targets) or "individual students"
    yield Finding(f"'{f.title}' is assigned through overrides to {whom}.")


def _given_through_module(assignment: Assignment) -> bool:
    # Canvas says the assignment is not for everyone, and none of its own overrides limits it:
    # a module's overrides (Canvas's selective release) do.
    limited_here = assignment.only_visible_to_overrides and any(
        o.target is not OverrideTarget.COURSE for o in assignment.overrides
    )
    return assignment.visible_to_everyone is False and not limited_here


def _due_date_missing(f: Facts) -> Iterator[Finding]:
    for checked in f.checked:
        if checked.due_at is None:
            name = checked.section.name
            yield Finding(
                f"'{f.title}' has no due date for section '{name}' "
                f"({_count(checked.section.student_count, 'student')}).",
                fix=f"Give section '{name}' a due date.",
                section_id=checked.section.id,
            )


def _category_not_found(f: Facts) -> Iterator[Finding]:
    group = f.view.group_names.get(f.assignment.assignment_group_id or "")
    for checked, known in f.found():
        titles = [c.title for c in known.categories]
        if matching_category(known.categories, group) is not None:
            continue
        class_title = known.ic_class.title
        yield Finding(
            f"'{f.title}' is in the assignment group {_group_label(group)}, which is not a "
            f"grading category of the IC class '{class_title}' (section "
            f"'{checked.section.name}').",
            fix=(
                f"Rename the group {_group_label(group)} to one of: {', '.join(titles)}."
                if titles
                else f"The IC class '{class_title}' has no grading categories; ask the SIS admin "
                "to set them up."
            ),
            section_id=checked.section.id,
        )


def _group_label(name: str | None) -> str:
    return f"'{name}'" if name is not None else "that gpb does not know"


def _not_graded(f: Facts) -> Iterator[Finding]:
    if f.assignment.grading_type == "not_graded":
        yield Finding(f"'{f.title}' is set to Not Graded.")


def _name_not_unique(f: Facts) -> Iterator[Finding]:
    others = len(f.view.twins_of(f.assignment))
    if others:
        which = "one" if others == 1 else "all but one"
        yield Finding(
            f"Title '{f.title}' is also used by {_count(others, 'other assignment')} set to sync.",
            fix=f"Rename {which} of the {others + 1} assignments titled '{f.title}'.",
        )


def _section_without_sis_id(f: Facts) -> Iterator[Finding]:
    for checked in f.checked:
        if _sis_id(checked.section) is not None:
            continue
        name = checked.section.name
        yield Finding(
            f"Section '{name}' ({_count(checked.section.student_count, 'student')}) has no SIS "
            f"id, so IC cannot receive its grades for '{f.title}'.",
            fix=f"Ask the SIS admin to link section '{name}' to its IC class.",
            section_id=checked.section.id,
        )


def _section_class_not_found(f: Facts) -> Iterator[Finding]:
    for checked, known in f.linked:
        if isinstance(known, IcClassMissing):
            name, sis_id = checked.section.name, checked.section.sis_section_id
            yield Finding(
                f"IC has no class '{sis_id}', the SIS id of section '{name}', so '{f.title}' "
                "cannot be sent for that section.",
                fix=f"Ask the SIS admin to check the link of section '{name}' (SIS id '{sis_id}').",
                section_id=checked.section.id,
            )


def _category_unverified(f: Facts) -> Iterator[Finding]:
    names = [c.section.name for c, known in f.linked if isinstance(known, IcUnverified)]
    if names:
        sections = ", ".join(f"'{n}'" for n in names)
        noun = "section" if len(names) == 1 else "sections"
        yield Finding(
            f"gpb could not reach IC to check {noun} {sections}, so the IC class, grading "
            f"category and term of '{f.title}' are not verified there yet."
        )


def _points_missing(f: Facts) -> Iterator[Finding]:
    points = f.assignment.points_possible
    if not points:
        worth = "has no points possible" if points is None else "is worth 0 points"
        yield Finding(f"'{f.title}' {worth}.")


def _omitted_from_final_grade(f: Facts) -> Iterator[Finding]:
    if f.assignment.omit_from_final_grade:
        yield Finding(
            f"'{f.title}' does not count toward the Canvas final grade, but will count in IC."
        )


def _due_date_outside_term(f: Facts) -> Iterator[Finding]:
    for checked, known in f.found():
        sessions = class_sessions(known.ic_class)
        if not sessions:
            continue
        outside: dict[date, str] = {}  # one date named once, by what it is first
        for what, moment in (("due", checked.due_at), ("assigned", checked.assign_at)):
            if moment is not None and session_containing(sessions, moment, f.tz) is None:
                outside.setdefault(local_day(moment, f.tz), what)
        if not outside:
            continue
        name = checked.section.name
        kind = "grading period" if known.ic_class.grading_periods else "term"
        dates = " and ".join(f"{what} {day}" for day, what in outside.items())
        spans = ", ".join(_term_span(t) for t in sessions)
        yield Finding(
            f"'{f.title}' is {dates} in section '{name}', outside every {kind} of the IC class "
            f"'{known.ic_class.title}'.",
            fix=_outside_fix(f.assignment, checked.section, set(outside.values()), spans),
            section_id=checked.section.id,
        )


def _outside_fix(assignment: Assignment, section: Section, what: set[str], spans: str) -> str:
    if what == {"due"}:
        return f"Move the due date for section '{section.name}' into one of: {spans}."
    moves = ["move the due date"] if "due" in what else []
    if "assigned" in what:
        # Without an available-from date IC gets the creation date, which the teacher cannot move.
        created = section_unlock_at(assignment, section.id) is None
        moves.append("set an available-from date" if created else "move the available-from date")
    return f"For section '{section.name}', {' and '.join(moves)} into one of: {spans}."


Check: TypeAlias = Callable[[Facts], Iterator[Finding]]


@dataclass(frozen=True)
class Rule:
    entry: Entry
    severity: Severity
    check: Check


def bind_rules(entries: Sequence[Entry], checks: Mapping[str, Check]) -> tuple[Rule, ...]:
    """The dictionary's rules in its order, each with its check.

    A rule without a check or a severity, or a check without a rule, fails the import rather than
    some evaluation later.
    """
    entries = [e for e in entries if e.kind == "rule"]
    if {e.code for e in entries} != checks.keys():
        raise ImportError("the eligibility checks and the dictionary's rules differ")
    rules = []
    for e in entries:
        if e.severity is None:
            raise ImportError(f"the dictionary gives rule {e.code} no severity")
        rules.append(Rule(e, e.severity, checks[e.code]))
    return tuple(rules)


# To add a rule: its entry in the dictionary (code, severity, meaning, generic fix), a check
# here that yields a Finding for each way an assignment breaks it, and its line below.
CHECKS: Mapping[str, Check] = {
    "NAME_TOO_LONG": _name_too_long,
    "ASSIGNMENT_UNPUBLISHED": _assignment_unpublished,
    "COURSE_UNPUBLISHED": _course_unpublished,
    "DIFFERENTIATED": _differentiated,
    "DUE_DATE_MISSING": _due_date_missing,
    "CATEGORY_NOT_FOUND": _category_not_found,
    "NOT_GRADED": _not_graded,
    "NAME_NOT_UNIQUE": _name_not_unique,
    "SECTION_WITHOUT_SIS_ID": _section_without_sis_id,
    "SECTION_CLASS_NOT_FOUND": _section_class_not_found,
    "CATEGORY_UNVERIFIED": _category_unverified,
    "POINTS_MISSING": _points_missing,
    "OMITTED_FROM_FINAL_GRADE": _omitted_from_final_grade,
    "DUE_DATE_OUTSIDE_TERM": _due_date_outside_term,
}
RULES = bind_rules(ENTRIES, CHECKS)
