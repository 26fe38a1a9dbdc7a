"""What gpb offers for each open problem of an assignment, and a course's category alignment.

An offer says whether gpb can fix the problem in Canvas and with what: a suggested title that fits
(counted with the rule's own length function), the sections without a date, the IC categories
ranked by closeness to the group's name with the groups already named so. A problem gpb will not
fix says why and what to do instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from gpb.handlers.category_match import CategoryMatch, rank_categories
from gpb.handlers.course_state import AssignmentRecord, CourseState
from gpb.handlers.eligibility import IcClassFound, title_length
from gpb.handlers.ic_directory import IcDirectory
from gpb.handlers.ic_names import name_key
from gpb.handlers.model import Assignment, AssignmentGroup
from gpb.handlers.titles import suggest_title

# Why some problems have no automatic fix, and what to do instead.
NO_AUTOMATIC_FIX = {
    "DIFFERENTIATED": (
        "Assigning to some students or groups is a teaching decision gpb will not undo: IC would "
        "get grades only for some students. Assign it to whole sections (or everyone) in Canvas, "
        "or turn off its sync."
    ),
    "COURSE_UNPUBLISHED": (
        "Publishing a course opens it to every student at once; that is the teacher's or the "
        "school's call in Canvas, not a passback fix."
    ),
    "NOT_GRADED": (
        "Changing how an assignment is graded changes what students see; set a grading type in "
        "Canvas, or turn off its sync."
    ),
    "POINTS_MISSING": "How many points an assignment is worth is for the teacher to set in Canvas.",
    "SECTION_WITHOUT_SIS_ID": (
        "Sections are linked to IC classes by the SIS import; only the SIS admin can fix the link."
    ),
    "SECTION_CLASS_NOT_FOUND": (
        "The section's SIS id names no IC class; only the SIS admin can fix the link or the class."
    ),
    "CATEGORY_UNVERIFIED": (
        "IC could not be asked; nothing in Canvas is wrong yet. Wait and look again."
    ),
    "OMITTED_FROM_FINAL_GRADE": (
        "A warning only: whether it counts in Canvas is the teacher's choice."
    ),
    "DUE_DATE_OUTSIDE_TERM": (
        "Which term an assignment belongs to is the teacher's decision: move its due date in "
        "Canvas."
    ),
}


@dataclass(frozen=True)
class FixOffer:
    """What gpb offers for one open problem of an assignment."""

    code: str
    automatic: bool
    explanation: str
    title_suggestion: str | None = None
    suggestion_length: int | None = None  # in the rule's units
    title_limit: int | None = None
    title_cut_mid_word: bool = False
    sections_without_date: tuple[tuple[str, str], ...] = ()  # (id, name)
    group: AssignmentGroup | None = None
    candidates: tuple[CategoryMatch, ...] = ()  # IC categories, closest first
    matching_groups: tuple[AssignmentGroup, ...] = ()  # Canvas groups named as a close category
    group_assignments: tuple[str, ...] = ()  # titles a group rename moves

    def group_named(self, title: str) -> AssignmentGroup | None:
        """The Canvas group among `matching_groups` already named as the category `title`."""
        key = name_key(title)
        return next((g for g in self.matching_groups if name_key(g.name) == key), None)


@dataclass(frozen=True)
class ClassCategories:
    section_name: str
    class_title: str | None  # None: IC could not be asked, or has no such class
    matched: str | None  # the category the group's name is, to the rule
    candidates: tuple[CategoryMatch, ...]


@dataclass(frozen=True)
class GroupAlignment:
    group: AssignmentGroup
    assignments: tuple[str, ...]  # titles of its assignments set to sync
    classes: tuple[ClassCategories, ...]

    @property
    def aligned(self) -> bool:
        return all(c.matched is not None for c in self.classes if c.class_title is not None)


@dataclass
class FixOffers:
    """Builds the offers of a course's assignments and its category alignment."""

    ic: IcDirectory
    name_max_length: int

    async def of(self, state: CourseState, record: AssignmentRecord) -> list[FixOffer]:
        codes = list(dict.fromkeys(v.code for v in record.violations))
        return [await self._offer(state, record, code) for code in codes]

    async def _offer(self, state: CourseState, record: AssignmentRecord, code: str) -> FixOffer:
        assignment = record.assignment
        limit = self.name_max_length
        if code in ("NAME_TOO_LONG", "NAME_NOT_UNIQUE"):
            title = assignment.title
            if code == "NAME_TOO_LONG":
                explanation = "Rename it in Canvas to a title that fits."
            else:  # a number sets one twin apart, and the suggester keeps numbers
                title += " 2"
                explanation = (
                    "Rename this one in Canvas so that no other assignment set to sync has its "
                    "title."
                )
            found = suggest_title(title, limit, title_length)
            return FixOffer(
                code,
                True,
                explanation,
                title_suggestion=found.title,
                suggestion_length=found.length,
                title_limit=limit,
                title_cut_mid_word=found.cut_mid_word,
            )
        if code == "ASSIGNMENT_UNPUBLISHED":
            return FixOffer(code, True, "Publish it in Canvas: students will see it.")
        if code == "DUE_DATE_MISSING":
            names = {s.id: s.name for s in state.sections}
            lacking = tuple(
                (v.section_id, names.get(v.section_id, v.section_id))
                for v in record.violations
                if v.code == code and v.section_id is not None
            )
            return FixOffer(
                code,
                True,
                "Give it a due date in Canvas, for everyone or for the sections that lack one.",
                sections_without_date=lacking,
            )
        if code == "CATEGORY_NOT_FOUND":
            return await self._category_offer(state, assignment)
        return FixOffer(code, False, NO_AUTOMATIC_FIX.get(code, "Fix it in Canvas or in IC."))

    async def _category_offer(self, state: CourseState, assignment: Assignment) -> FixOffer:
        group = next((g for g in state.groups if g.id == assignment.assignment_group_id), None)
        titles = await self._category_titles(state)
        ranked = tuple(rank_categories(group.name if group else "", titles))
        close = {name_key(m.title) for m in ranked if m.close}
        own_id = group.id if group else None
        matching = tuple(g for g in state.groups if name_key(g.name) in close and g.id != own_id)
        explanation = (
            "Rename the assignment group in Canvas to the IC category it stands for, or move this "
            "assignment to a group already named as one."
        )
        return FixOffer(
            "CATEGORY_NOT_FOUND",
            True,
            explanation,
            group=group,
            candidates=ranked,
            matching_groups=matching,
            group_assignments=group_titles(state, group.id) if group else (),
        )

    async def _category_titles(self, state: CourseState) -> list[str]:
        """Every IC category title of the course's sections' classes, in class order."""
        known = await self.ic.knowledge(_class_ids(state))
        return [
            c.title for k in known.values() if isinstance(k, IcClassFound) for c in k.categories
        ]

    async def alignment(self, state: CourseState) -> list[GroupAlignment]:
        """Every Canvas group of the course beside the IC categories of each section's class."""
        known = await self.ic.knowledge(_class_ids(state))
        sections = [s for s in state.sections if s.sis_section_id and s.student_count]
        found = []
        for group in state.groups:
            classes = []
            for section in sections:
                k = known.get(section.sis_section_id or "")
                if not isinstance(k, IcClassFound):
                    classes.append(ClassCategories(section.name, None, None, ()))
                    continue
                ranked = tuple(rank_categories(group.name, [c.title for c in k.categories]))
                matched = next((m.title for m in ranked if m.rank == 0), None)
                classes.append(ClassCategories(section.name, k.ic_class.title, matched, ranked))
            found.append(GroupAlignment(group, group_titles(state, group.id), tuple(classes)))
        return found


def _class_ids(state: CourseState) -> list[str]:
    return [s.sis_section_id for s in state.sections if s.sis_section_id and s.student_count]


def group_titles(state: CourseState, group_id: str) -> tuple[str, ...]:
    return tuple(
        r.assignment.title
        for r in sorted(state.assignments.values(), key=lambda r: int(r.assignment.id))
        if r.assignment.assignment_group_id == group_id and not r.assignment.deleted
    )
