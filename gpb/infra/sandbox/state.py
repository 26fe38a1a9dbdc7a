"""The sandbox's world: one Canvas and one Infinite Campus (IC), in memory, built from a seed.

Everything the two stand-ins answer comes from here and everything gpb writes to IC lands here, so a
test can set up a situation, run gpb against it, and look at what arrived. Records are pydantic
models rather than bare dataclasses so that a seed file or a control-API change with a typo or a
wrong type fails loudly instead of producing a Canvas that no real one resembles.

Ids are Canvas *local* ids as strings; the REST layer decides how to show them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from gpb.infra.sandbox.faults import Faults
from gpb.infra.sandbox.tokens import TokenStore


def utc_now() -> datetime:
    """Now, to the second, as Canvas stamps its records."""
    return datetime.now(UTC).replace(microsecond=0)


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, validate_assignment=True)


# ---------------------------------------------------------------- Canvas


class Course(Record):
    id: str
    name: str
    course_code: str = ""
    workflow_state: Literal["unpublished", "available", "completed", "deleted"] = "available"
    sis_course_id: str | None = None
    account_id: str = "22"
    root_account_id: str = "1"
    start_at: AwareDatetime | None = None
    end_at: AwareDatetime | None = None


class User(Record):
    id: str
    name: str
    sortable_name: str | None = None
    sis_user_id: str | None = None
    login_id: str | None = None


class Section(Record):
    id: str
    course_id: str
    name: str
    sis_section_id: str | None = None
    start_at: AwareDatetime | None = None
    end_at: AwareDatetime | None = None


EnrollmentType = Literal[
    "StudentEnrollment", "TeacherEnrollment", "TaEnrollment", "ObserverEnrollment"
]
EnrollmentState = Literal["active", "invited", "inactive", "completed", "rejected", "deleted"]


class Enrollment(Record):
    id: str
    user_id: str
    course_id: str
    course_section_id: str
    type: EnrollmentType = "StudentEnrollment"
    enrollment_state: EnrollmentState = "active"


class AssignmentGroup(Record):
    id: str
    course_id: str
    name: str
    position: int = 1
    group_weight: float = 0.0
    workflow_state: Literal["available", "deleted"] = "available"


OVERRIDE_DATES = ("due_at", "unlock_at", "lock_at")


class Override(Record):
    """An assignment override. A date field counts as overridden only when it was given.

    Canvas shows `due_at`, `unlock_at` and `lock_at` only when the override sets them, and a given
    `due_at: null` means "no due date" for the targets. pydantic's `model_fields_set` keeps that
    difference, so the seed writes overrides the way Canvas shows them.
    """

    id: str
    title: str | None = None
    course_section_id: str | None = None
    student_ids: list[str] | None = None
    group_id: str | None = None
    # The course's own id: a course-level override, "Everyone" in Canvas's Assign To tray.
    course_id: str | None = None
    due_at: AwareDatetime | None = None
    unlock_at: AwareDatetime | None = None
    lock_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Override:
        targets = [self.course_section_id, self.student_ids, self.group_id, self.course_id]
        if sum(target is not None for target in targets) != 1:
            raise ValueError(
                "an override has one of course_section_id, student_ids, group_id, course_id"
            )
        return self

    def overridden_dates(self) -> dict[str, datetime | None]:
        given = self.model_fields_set
        return {name: getattr(self, name) for name in OVERRIDE_DATES if name in given}


class Checkpoint(Record):
    """A part of a graded discussion with checkpoints, carrying its own dates and overrides."""

    tag: Literal["reply_to_topic", "reply_to_entry"]
    name: str
    points_possible: float | None = None
    due_at: AwareDatetime | None = None
    unlock_at: AwareDatetime | None = None
    lock_at: AwareDatetime | None = None
    only_visible_to_overrides: bool = False
    overrides: list[Override] = Field(default_factory=list)


GradingType = Literal["points", "percent", "pass_fail", "letter_grade", "gpa_scale", "not_graded"]


class Assignment(Record):
    id: str
    course_id: str
    name: str
    assignment_group_id: str
    workflow_state: Literal["published", "unpublished", "deleted"] = "published"
    post_to_sis: bool = False
    position: int = 1
    description: str = ""
    due_at: AwareDatetime | None = None
    unlock_at: AwareDatetime | None = None
    lock_at: AwareDatetime | None = None
    created_at: AwareDatetime = Field(default_factory=utc_now)
    updated_at: AwareDatetime = Field(default_factory=utc_now)
    points_possible: float | None = None
    grading_type: GradingType = "points"
    submission_types: list[str] = Field(default_factory=lambda: ["online_upload"])
    omit_from_final_grade: bool = False
    only_visible_to_overrides: bool = False
    overrides: list[Override] = Field(default_factory=list)
    # Given only to some students through its module's overrides (Canvas's selective release):
    # nothing in the assignment's own overrides says so, but Canvas answers it is not visible to
    # everyone.
    module_restricted: bool = False
    checkpoints: list[Checkpoint] = Field(default_factory=list)

    @property
    def published(self) -> bool:
        return self.workflow_state == "published"

    @property
    def for_everyone(self) -> bool:
        """Given to every student of the course, by its "Everyone" dates or a course override."""
        course_override = any(o.course_id is not None for o in self.overrides)
        return not self.only_visible_to_overrides or course_override

    @property
    def visible_to_everyone(self) -> bool:
        """Canvas's `visible_to_everyone` (DatesOverridable): a course override, or no limit by
        its own overrides nor by its module's."""
        course_override = any(o.course_id is not None for o in self.overrides)
        return course_override or (
            not self.only_visible_to_overrides and not self.module_restricted
        )

    @property
    def deleted(self) -> bool:
        return self.workflow_state == "deleted"


class Submission(Record):
    id: str
    assignment_id: str
    user_id: str
    score: float | None = None
    grade: str | None = None
    excused: bool = False
    late: bool = False
    missing: bool = False
    late_policy_status: Literal["late", "missing", "extended", "none"] | None = None
    points_deducted: float | None = None
    seconds_late: int = 0
    workflow_state: Literal["unsubmitted", "submitted", "graded", "pending_review"] = "unsubmitted"
    submission_type: str | None = None
    submitted_at: AwareDatetime | None = None
    graded_at: AwareDatetime | None = None
    posted_at: AwareDatetime | None = None
    grader_id: str | None = None
    attempt: int | None = None


class Conversation(Record):
    """A Canvas inbox message gpb sent, kept so tests can see who was told what."""

    id: str
    recipients: list[str]
    subject: str
    body: str
    context_code: str | None = None
    created_at: AwareDatetime = Field(default_factory=utc_now)


# ---------------------------------------------------------------- Infinite Campus


class School(Record):
    sourced_id: str
    name: str


class Term(Record):
    """An IC academic session; OneRoster end dates are exclusive."""

    sourced_id: str
    title: str
    type: str = "schoolYear"
    start_date: date
    end_date: date
    school_year: str
    parent_id: str | None = None  # the term a grading period belongs to


class IcClass(Record):
    """An IC class; its sourcedId is the `sis_section_id` of the Canvas section rostered from it.

    `students` lists IC user sourcedIds. When it is None the roster follows Canvas, as it does in a
    district where Canvas rosters come from IC: the SIS ids of the students of every Canvas
    section whose `sis_section_id` is this class, concluded and deactivated ones included (IC
    keeps its records of withdrawn students).
    """

    sourced_id: str
    title: str
    school_id: str
    term_ids: list[str]
    course_sourced_id: str
    students: list[str] | None = None


class Category(Record):
    sourced_id: str
    class_id: str
    title: str
    weight: float | None = None


class WriteRecord(Record):
    """One PUT or DELETE that reached the IC gradebook, refused or not.

    `applied` says whether it changed what IC stores; `status` is what the gradebook answered, and
    `fault` names an injected fault that replaced that answer on the wire (`error_after_apply`,
    `drop_after_apply`) or held the request back (`timeout`: the client may have given up and
    retried before it landed), so a test can tell "stored but the client saw a failure" apart.
    """

    seq: int
    at: AwareDatetime
    method: Literal["PUT", "DELETE"]
    kind: Literal["lineItem", "result"]
    sourced_id: str
    body: dict[str, Any] | None
    status: int
    applied: bool
    fault: str | None = None


# ---------------------------------------------------------------- the seed


class SeedCourse(Course):
    teachers: list[str] = Field(default_factory=list, description="enrolled in every section")


class SeedSection(Section):
    students: list[str] = Field(default_factory=list)


class CanvasSeed(Record):
    courses: list[SeedCourse]
    users: list[User]
    sections: list[SeedSection]
    enrollments: list[Enrollment] = Field(default_factory=list)
    assignment_groups: list[AssignmentGroup]
    assignments: list[Assignment]
    submissions: list[Submission] = Field(default_factory=list)


class IcSeed(Record):
    schools: list[School]
    terms: list[Term]
    classes: list[IcClass]
    categories: list[Category]


class Seed(Record):
    canvas: CanvasSeed
    ic: IcSeed


def load_seed(path: str | Path | None = None) -> Seed:
    """The seed at `path`, or the one shipped with the package."""
    if path is None:
        text = resources.files("gpb.infra.sandbox").joinpath("seed.json").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    return Seed.model_validate(json.loads(text))


def _next_id(existing: Any) -> str:
    numbers = [int(key) for key in existing if str(key).isdigit()]
    return str(max(numbers, default=0) + 1)


ACTIVE_STATES = ("active", "invited")
# Canvas's bulk submissions call covers every student enrollment that is not deleted.
NOT_DELETED_STATES = ("active", "invited", "inactive", "completed", "rejected")

# Active student ids by section id, for one course.
Roster = dict[str, list[str]]


class CanvasWorld:
    """Canvas's records, with the few queries both the REST stand-in and the control API need."""

    def __init__(self, seed: CanvasSeed) -> None:
        self.courses = {
            c.id: Course.model_validate(c.model_dump(exclude={"teachers"})) for c in seed.courses
        }
        self.users = {u.id: u.model_copy(deep=True) for u in seed.users}
        self.sections = {
            s.id: Section.model_validate(s.model_dump(exclude={"students"})) for s in seed.sections
        }
        self.enrollments: dict[str, Enrollment] = {}
        for seeded in seed.sections:
            for user_id in seeded.students:
                self.enroll(user_id, self.sections[seeded.id], "StudentEnrollment")
        for course in seed.courses:
            for user_id in course.teachers:
                for section in self.sections_of(course.id):
                    self.enroll(user_id, section, "TeacherEnrollment")
        # Enrollments spelled out (a second section, a state other than active) come last, so
        # the ones made from the sections' lists are numbered from 1 whatever their ids.
        self.enrollments.update({e.id: e.model_copy(deep=True) for e in seed.enrollments})
        self.assignment_groups = {g.id: g.model_copy(deep=True) for g in seed.assignment_groups}
        self.assignments = {a.id: a.model_copy(deep=True) for a in seed.assignments}
        self.submissions = {
            (s.assignment_id, s.user_id): s.model_copy(deep=True) for s in seed.submissions
        }
        # Placeholders are made by the thousand in a big course: count instead of searching.
        self._next_submission_id = int(_next_id(s.id for s in seed.submissions))
        self.conversations: list[Conversation] = []

    def enroll(self, user_id: str, section: Section, kind: EnrollmentType) -> Enrollment:
        enrollment = Enrollment(
            id=_next_id(self.enrollments),
            user_id=user_id,
            course_id=section.course_id,
            course_section_id=section.id,
            type=kind,
        )
        self.enrollments[enrollment.id] = enrollment
        return enrollment

    def sections_of(self, course_id: str) -> list[Section]:
        return sorted(
            (s for s in self.sections.values() if s.course_id == course_id), key=_numeric_id
        )

    def enrollments_of(self, course_id: str) -> list[Enrollment]:
        return sorted(
            (e for e in self.enrollments.values() if e.course_id == course_id), key=_numeric_id
        )

    def roster(self, course_id: str, states: Sequence[str] = ACTIVE_STATES) -> Roster:
        """The course's students by section (active ones unless `states` says otherwise), read
        in one pass.

        Listing calls take one roster per request and hand it on, so a page of a big course does
        not scan every enrollment once per submission.
        """
        by_section: dict[str, list[str]] = {s.id: [] for s in self.sections_of(course_id)}
        for e in self.enrollments.values():
            if (
                e.course_section_id in by_section
                and e.type == "StudentEnrollment"
                and e.enrollment_state in states
            ):
                by_section[e.course_section_id].append(e.user_id)
        return by_section

    def students_of_section(self, section_id: str) -> list[str]:
        section = self.sections.get(section_id)
        return self.roster(section.course_id).get(section_id, []) if section else []

    def students_of_course(self, course_id: str, roster: Roster | None = None) -> list[str]:
        by_section = roster if roster is not None else self.roster(course_id)
        return list(dict.fromkeys(uid for uids in by_section.values() for uid in uids))

    def assignments_of(self, course_id: str) -> list[Assignment]:
        """The course's assignments that are not deleted, in Canvas's order (group, position)."""

        def order(a: Assignment) -> tuple[int, int, int]:
            group = self.assignment_groups.get(a.assignment_group_id)
            return (group.position if group else 0, a.position, int(a.id) if a.id.isdigit() else 0)

        found = [a for a in self.assignments.values() if a.course_id == course_id and not a.deleted]
        return sorted(found, key=order)

    def assigned_students(self, assignment: Assignment, roster: Roster | None = None) -> list[str]:
        """Who the assignment is given to: everyone, or only the override targets."""
        by_section = roster if roster is not None else self.roster(assignment.course_id)
        everyone = self.students_of_course(assignment.course_id, by_section)
        if assignment.for_everyone:
            return everyone
        targeted: set[str] = set()
        for override in assignment.overrides:
            if override.course_section_id is not None:
                targeted.update(by_section.get(override.course_section_id, ()))
            targeted.update(override.student_ids or ())
        return [user_id for user_id in everyone if user_id in targeted]

    def submission(self, assignment_id: str, user_id: str) -> Submission:
        """The submission of a student, made `unsubmitted` on first sight as Canvas keeps one for
        every assigned student."""
        key = (assignment_id, user_id)
        if key not in self.submissions:
            self.submissions[key] = Submission(
                id=str(self._next_submission_id), assignment_id=assignment_id, user_id=user_id
            )
            self._next_submission_id += 1
        return self.submissions[key]

    def add_conversation(
        self, recipients: list[str], subject: str, body: str, context_code: str | None
    ) -> Conversation:
        conversation = Conversation(
            id=str(len(self.conversations) + 1),
            recipients=recipients,
            subject=subject,
            body=body,
            context_code=context_code,
        )
        self.conversations.append(conversation)
        return conversation


class IcWorld:
    """IC's rostering data, and the gradebook records gpb wrote with the log of every write."""

    def __init__(self, seed: IcSeed) -> None:
        self.schools = {s.sourced_id: s.model_copy(deep=True) for s in seed.schools}
        self.terms = {t.sourced_id: t.model_copy(deep=True) for t in seed.terms}
        self.classes = {c.sourced_id: c.model_copy(deep=True) for c in seed.classes}
        self.categories = {c.sourced_id: c.model_copy(deep=True) for c in seed.categories}
        self.line_items: dict[str, dict[str, Any]] = {}
        self.results: dict[str, dict[str, Any]] = {}
        self.writes: list[WriteRecord] = []

    def categories_of(self, class_id: str) -> list[Category]:
        return [c for c in self.categories.values() if c.class_id == class_id]

    def grading_periods_of(self, term_id: str) -> list[Term]:
        return [
            t for t in self.terms.values() if t.parent_id == term_id and t.type == "gradingPeriod"
        ]

    def class_grading_periods(self, ic_class: IcClass) -> list[Term]:
        """The grading periods a line item of the class may be filed in: those of its terms, or
        a term of the class that is itself one."""
        found = []
        for term_id in ic_class.term_ids:
            term = self.terms.get(term_id)
            if term is not None and term.type == "gradingPeriod":
                found.append(term)
            found.extend(self.grading_periods_of(term_id))
        return found

    def record_write(
        self,
        method: Literal["PUT", "DELETE"],
        kind: Literal["lineItem", "result"],
        sourced_id: str,
        body: dict[str, Any] | None,
        status: int,
        applied: bool,
        fault: str | None,
    ) -> None:
        self.writes.append(
            WriteRecord(
                seq=len(self.writes) + 1,
                at=datetime.now(UTC),
                method=method,
                kind=kind,
                sourced_id=sourced_id,
                body=body,
                status=status,
                applied=applied,
                fault=fault,
            )
        )


def _numeric_id(record: Enrollment | Section) -> tuple[int, str]:
    return (int(record.id) if record.id.isdigit() else 0, record.id)


class LiveEventOutbox:
    """Where the sandbox's Canvas sends its Live Events, what it sent, and what the API token may.

    `url` is gpb's event endpoint (None: events are built but not sent). `may_masquerade` says
    whether the token's user holds Canvas's "Become other users" permission (`as_user_id`).
    """

    def __init__(self, url: str | None = None) -> None:
        self.url = url
        self.may_masquerade = True
        self.deliveries: list[dict[str, Any]] = []


class SandboxState:
    """The whole world of one sandbox, plus its fault switches and issued SIS tokens.

    `reset` reloads the world and clears faults but keeps tokens: they are credentials a running
    client holds, not part of the situation a test sets up.
    """

    def __init__(self, seed: Seed | None = None) -> None:
        self.seed = seed if seed is not None else load_seed()
        self.canvas_faults = Faults()
        self.sis_faults = Faults()
        self.sis_tokens = TokenStore()
        self.live_events = LiveEventOutbox()
        self.canvas = CanvasWorld(self.seed.canvas)
        self.ic = IcWorld(self.seed.ic)

    def reset(self, seed: Seed | None = None) -> None:
        if seed is not None:
            self.seed = seed
        self.canvas = CanvasWorld(self.seed.canvas)
        self.ic = IcWorld(self.seed.ic)
        self.canvas_faults.reset()
        self.sis_faults.reset()

    def class_students(self, ic_class: IcClass) -> list[str]:
        """The IC user sourcedIds enrolled in a class (see `IcClass.students`)."""
        if ic_class.students is not None:
            return list(ic_class.students)
        found: dict[str, None] = {}
        for section in self.canvas.sections.values():
            if section.sis_section_id != ic_class.sourced_id:
                continue
            # IC keeps the records of students who were concluded or deactivated.
            roster = self.canvas.roster(section.course_id, NOT_DELETED_STATES)
            for user_id in roster.get(section.id, []):
                user = self.canvas.users.get(user_id)
                if user is not None and user.sis_user_id:
                    found[user.sis_user_id] = None
        return list(found)

    def summary(self) -> dict[str, Any]:
        """A short account of the world, for people and tests poking at the sandbox."""
        return {
            "canvas": {
                "courses": [
                    {"id": c.id, "name": c.name, "workflow_state": c.workflow_state}
                    for c in self.canvas.courses.values()
                ],
                "sections": len(self.canvas.sections),
                "students": len(
                    {
                        e.user_id
                        for e in self.canvas.enrollments.values()
                        if e.type == "StudentEnrollment"
                    }
                ),
                "assignments": [
                    {
                        "id": a.id,
                        "course_id": a.course_id,
                        "name": a.name,
                        "workflow_state": a.workflow_state,
                        "post_to_sis": a.post_to_sis,
                    }
                    for a in self.canvas.assignments.values()
                ],
                "graded_submissions": sum(
                    s.workflow_state == "graded" for s in self.canvas.submissions.values()
                ),
                "conversations": len(self.canvas.conversations),
            },
            "ic": {
                "classes": sorted(self.ic.classes),
                "line_items": len(self.ic.line_items),
                "results": len(self.ic.results),
                "writes": len(self.ic.writes),
                "tokens_issued": self.sis_tokens.issued,
            },
            "faults": {"canvas": self.canvas_faults.report(), "sis": self.sis_faults.report()},
        }
