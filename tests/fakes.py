"""In-memory stand-ins for the ports, for unit tests of handlers/."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from gpb.handlers.alerts import Alert, AlertOpened, AlertResolved, AlertUpdated
from gpb.handlers.claims import Claim
from gpb.handlers.course_state import (
    AssignmentStored,
    CourseState,
    CourseStored,
    EnrollmentsStored,
    GroupsStored,
    SectionsStored,
)
from gpb.handlers.courses import CourseSeen
from gpb.handlers.delta import Confirmed
from gpb.handlers.envelope import CanvasEvent, parse_event
from gpb.handlers.errors import SisUnavailable
from gpb.handlers.eventlog import (
    LAUNCH_EVENT,
    Appended,
    EventPage,
    EventQuery,
    EventStatus,
    Finish,
    LaunchEntry,
    Rejection,
    StoredEvent,
)
from gpb.handlers.events import EventHandlers, event_handlers
from gpb.handlers.grades import Grade, GradeEvents, GradeValue
from gpb.handlers.ic_directory import IcDirectory
from gpb.handlers.messagebus import Handler
from gpb.handlers.model import (
    Assignment,
    AssignmentGroup,
    Course,
    Enrollment,
    IcCategory,
    IcClass,
    IcRecord,
    LineItem,
    RecordKind,
    Result,
    Section,
    Submission,
)
from gpb.handlers.notices import NoticesQueued
from gpb.handlers.ports import GradeStore, StudentDirectory
from gpb.handlers.rechecks import Rechecks, RecheckSettings
from gpb.handlers.students import StudentNames
from gpb.handlers.syncs import (
    ACTIVE,
    LineItemConfirmed,
    RunInProgress,
    RunStatus,
    SyncRequest,
    SyncRun,
    WriteRecord,
)

HOMEWORK_DUE = datetime(2024, 10, 18, 4, 59, tzinfo=UTC)


def homework(**changes: Any) -> Assignment:
    """The sample events' assignment: 123 of course 456, meeting every rule, changed as the case
    needs."""
    base = Assignment(
        id="123",
        course_id="456",
        title="Homework 3.2",
        published=True,
        post_to_sis=True,
        assignment_group_id="1",
        due_at=HOMEWORK_DUE,
        points_possible=10.0,
    )
    return replace(base, **changes)


GRADED_AT = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)  # 09:00 in Chicago


def grade(
    user_id: str,
    score: float | None,
    *,
    graded_at: datetime | None = GRADED_AT,
    state_time_ms: int = 1,
    **flags: bool,
) -> Grade:
    """A student's grade on assignment 124 of course 456: the score, its text beside it, and the
    flags the case needs."""
    value = GradeValue(score, None if score is None else str(score), **flags)
    return Grade("456", "124", user_id, value, graded_at=graded_at, state_time_ms=state_time_ms)


def stored_event(payload: dict[str, Any], event_id: str = "1") -> StoredEvent:
    """A Canvas event as ingress stores it, accepted and waiting for its handler."""
    event = parse_event(payload)
    return StoredEvent(
        id=event_id,
        received_at=datetime.now(UTC),
        status=EventStatus.ACCEPTED,
        event_name=event.event_name,
        event_time=event.event_time,
        course_id=event.course_id,
        user_id=event.user_id,
        shard=event.shard,
        payload=event.payload,
    )


class Sleeps:
    """An injected sleep that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class _NoGrades:
    async def grade(self, course_id: str, assignment_id: str, user_id: str) -> Grade | None:
        return None

    async def grades(self, course_id: str) -> list[Grade]:
        return []


class _NoStudents:
    async def is_student(self, user_id: str) -> bool:
        return False


def event_table(
    canvas: FakeCanvas,
    *,
    rechecks: Rechecks | None = None,
    grades: GradeStore | None = None,
    students: StudentDirectory | None = None,
) -> dict[str, Handler]:
    """gpb's event table over fakes, as the bootstrap builds it over the store: a test gives the
    parts it looks at, and the others hold nothing."""
    store = FakeCourseStore()
    ic = IcDirectory(FakeSis(), ttl_seconds=300)
    return event_handlers(
        EventHandlers(
            rechecks or Rechecks(canvas, ic, store, store, RecheckSettings(30, UTC)),
            GradeEvents(canvas, grades or _NoGrades()),
            StudentNames(canvas, students or _NoStudents()),
        )
    )


class FakeEventLog:
    def __init__(self) -> None:
        self.events: dict[str, StoredEvent] = {}
        self.applied: list[object] = []
        self.claims: dict[str, tuple[str, datetime]] = {}  # event id -> (holder, until)
        self._first_by_hash: dict[str, str] = {}

    def _next_id(self) -> str:
        return str(len(self.events) + 1)

    async def append(self, event: CanvasEvent, source_ip: str | None) -> Appended:
        first = self._first_by_hash.get(event.content_hash)
        event_id = self._next_id()
        self.events[event_id] = StoredEvent(
            id=event_id,
            received_at=datetime.now(UTC),
            status=EventStatus.DUPLICATE if first else EventStatus.ACCEPTED,
            event_name=event.event_name,
            event_time=event.event_time,
            course_id=event.course_id,
            user_id=event.user_id,
            shard=event.shard,
            duplicate_of=first,
            payload=None if first else event.payload,
            source_ip=source_ip,
        )
        self._first_by_hash.setdefault(event.content_hash, event_id)
        return Appended(event_id, first)

    async def append_rejected(self, rejection: Rejection) -> str:
        event_id = self._next_id()
        self.events[event_id] = StoredEvent(
            id=event_id,
            received_at=datetime.now(UTC),
            status=EventStatus.REJECTED,
            event_name=rejection.event_name,
            error={"code": rejection.code, "message": rejection.message},
            raw=rejection.raw.decode("utf-8", "replace"),
            source_ip=rejection.source_ip,
        )
        return event_id

    async def append_launch(self, entry: LaunchEntry) -> str:
        event_id = self._next_id()
        self.events[event_id] = StoredEvent(
            id=event_id,
            received_at=datetime.now(UTC),
            status=EventStatus.REJECTED if entry.error else EventStatus.PROCESSED,
            event_name=LAUNCH_EVENT,
            course_id=entry.course_id,
            user_id=entry.user_id,
            error=entry.error,
            outcome={"role": entry.role} if entry.role else None,
            source_ip=entry.source_ip,
        )
        return event_id

    async def claim_due(self, claim: Claim, limit: int) -> list[StoredEvent]:
        def free(event: StoredEvent) -> bool:
            holder, until = self.claims.get(event.id, (None, None))
            return until is None or until < claim.now or holder == claim.holder

        busy = {
            self.events[i].course_id
            for i, (holder, until) in self.claims.items()
            if holder != claim.holder and until >= claim.now
        }
        ready = [
            e
            for e in self.events.values()
            if (
                e.status is EventStatus.ACCEPTED
                or (
                    e.status is EventStatus.FAILED
                    and e.next_attempt_at is not None
                    and e.next_attempt_at <= claim.now
                )
            )
            and free(e)
            and (e.course_id is None or e.course_id not in busy)
        ]
        claimed = sorted(ready, key=lambda e: int(e.id))[:limit]
        for event in claimed:
            self.claims[event.id] = (claim.holder, claim.until)
        return claimed

    async def release_claims(self, holder: str | None) -> int:
        released = [i for i, (h, _) in self.claims.items() if holder is None or h == holder]
        for event_id in released:
            del self.claims[event_id]
        return len(released)

    async def finish(self, event_id: str, finish: Finish) -> None:
        self.claims.pop(event_id, None)
        self.applied.extend(finish.changes)
        self.events[event_id] = replace(
            self.events[event_id],
            status=finish.status,
            attempts=finish.attempts,
            outcome=finish.outcome,
            error=finish.error,
            next_attempt_at=finish.next_attempt_at,
        )

    async def get(self, event_id: str) -> StoredEvent | None:
        return self.events.get(event_id)

    async def search(self, query: EventQuery) -> EventPage:
        raise NotImplementedError("the fake does not search")

    async def export(self, query: EventQuery) -> AsyncIterator[StoredEvent]:
        raise NotImplementedError("the fake does not export")
        yield  # pragma: no cover

    async def requeue(self, event_id: str) -> StoredEvent | None:
        event = self.events.get(event_id)
        if event is None:
            return None
        self.events[event_id] = replace(
            event, status=EventStatus.ACCEPTED, attempts=0, error=None, next_attempt_at=None
        )
        return self.events[event_id]


class FakeCourseStore:
    """Course state and alerts in memory; `apply` plays the store's part for handler changes."""

    def __init__(self) -> None:
        self.states: dict[str, CourseState] = {}
        self.open: dict[str, Alert] = {}
        self.resolved: list[Alert] = []
        self.queued: list[NoticesQueued] = []
        self._alert_ids = 0

    async def course_state(self, course_id: str) -> CourseState:
        return self.states.get(course_id, CourseState(course_id))

    async def alerts(self, course_id: str, state: str | None = None) -> list[Alert]:
        found = list(self.open.values()) if state != "resolved" else []
        if state != "open":
            found += self.resolved
        return [a for a in found if a.course_id == course_id]

    def _state(self, course_id: str) -> CourseState:
        return self.states.get(course_id, CourseState(course_id))

    def apply(self, changes: Iterable[object]) -> None:
        now = datetime.now(UTC)
        for change in changes:
            match change:
                case CourseStored(course=course, state_time_ms=ms):
                    self.states[course.id] = replace(
                        self._state(course.id), course=course, course_time_ms=ms, loaded=True
                    )
                case SectionsStored(course_id=cid, sections=sections):
                    self.states[cid] = replace(self._state(cid), sections=sections)
                case GroupsStored(course_id=cid, groups=groups):
                    self.states[cid] = replace(self._state(cid), groups=groups)
                case EnrollmentsStored(course_id=cid, enrollments=enrollments):
                    self.states[cid] = replace(self._state(cid), enrollments=enrollments)
                case AssignmentStored(record=record):
                    state = self._state(record.assignment.course_id)
                    records = {**state.assignments, record.assignment.id: record}
                    self.states[state.course_id] = replace(state, assignments=records)
                case AlertOpened():
                    self._alert_ids += 1
                    alert = Alert(
                        str(self._alert_ids),
                        change.course_id,
                        change.assignment_id,
                        change.code,
                        change.severity,
                        change.message,
                        change.fix,
                        "open",
                        1,
                        now,
                        now,
                    )
                    self.open[alert.id] = alert
                case AlertUpdated(alert_id=alert_id):
                    old = self.open[alert_id]
                    self.open[alert_id] = replace(
                        old,
                        severity=change.severity,
                        message=change.message,
                        fix=change.fix,
                        version=old.version + 1,
                    )
                case AlertResolved(alert_id=alert_id):
                    old = self.open.pop(alert_id)
                    self.resolved.append(replace(old, state="resolved", version=old.version + 1))
                case NoticesQueued():
                    self.queued.append(change)
                case CourseSeen():
                    pass
                case _:
                    raise TypeError(f"no fake writer for {type(change).__name__}")


class FakeCanvas:
    """A Canvas that answers from dictionaries the test fills, counting what it is asked."""

    def __init__(self, course: Course) -> None:
        self.course: Course | None = course
        self.sections: list[Section] = []
        self.groups: list[AssignmentGroup] = []
        self.enrollments: list[Enrollment] = []
        self.teachers: list[str] = []
        self.users: dict[str, str] = {}  # user id -> sortable name
        self.assignments: dict[str, Assignment] = {}
        self.submissions: dict[tuple[str, str], Submission] = {}
        self.sent: list[tuple[str | None, tuple[str, ...], str, str]] = []
        self.calls: list[str] = []
        self.failure: Exception | None = None

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.failure is not None:
            raise self.failure

    async def get_course(self, course_id: str) -> Course | None:
        self._call("get_course")
        return self.course

    async def get_assignment(self, course_id: str, assignment_id: str) -> Assignment | None:
        self._call("get_assignment")
        return self.assignments.get(assignment_id)

    async def list_assignments(self, course_id: str) -> list[Assignment]:
        self._call("list_assignments")
        return list(self.assignments.values())

    async def list_assignment_groups(self, course_id: str) -> list[AssignmentGroup]:
        self._call("list_assignment_groups")
        return list(self.groups)

    async def list_sections(self, course_id: str) -> list[Section]:
        self._call("list_sections")
        return list(self.sections)

    async def list_student_enrollments(self, course_id: str) -> list[Enrollment]:
        self._call("list_student_enrollments")
        return list(self.enrollments)

    async def list_teacher_ids(self, course_id: str) -> list[str]:
        self._call("list_teacher_ids")
        return list(self.teachers)

    async def get_sortable_name(self, user_id: str) -> str | None:
        self._call("get_sortable_name")
        return self.users.get(user_id)

    async def get_submission(
        self, course_id: str, assignment_id: str, user_id: str
    ) -> Submission | None:
        self._call("get_submission")
        return self.submissions.get((assignment_id, user_id))

    async def list_submissions(
        self, course_id: str, assignment_ids: Sequence[str]
    ) -> list[Submission]:
        self._call("list_submissions")
        return [s for (a, _), s in self.submissions.items() if a in assignment_ids]

    async def send_conversation(
        self, course_id: str | None, recipient_ids: Sequence[str], subject: str, body: str
    ) -> None:
        self._call("send_conversation")
        self.sent.append((course_id, tuple(recipient_ids), subject, body))


class FakeSis:
    """IC classes and categories the test sets up; `down` makes every call fail. Line items and
    results written are kept; `refuse_results` fails every result written with that error."""

    def __init__(self) -> None:
        self.classes: dict[str, IcClass] = {}
        self.categories: dict[str, list[IcCategory]] = {}
        self.down = False
        self.calls = 0
        self.line_items: list[LineItem] = []
        self.results: list[Result] = []
        self.refuse_results: Exception | None = None

    def _check(self) -> None:
        self.calls += 1
        if self.down:
            raise SisUnavailable("IC did not answer")

    async def get_class(self, class_id: str) -> IcClass | None:
        self._check()
        return self.classes.get(class_id)

    async def list_categories(self, class_id: str) -> list[IcCategory]:
        self._check()
        return list(self.categories.get(class_id, []))

    async def put_line_item(self, line_item: LineItem) -> None:
        self._check()
        self.line_items.append(line_item)

    async def put_result(self, result: Result) -> None:
        self._check()
        if self.refuse_results is not None:
            raise self.refuse_results
        self.results.append(result)

    async def delete_result(self, sourced_id: str) -> None:
        raise NotImplementedError

    async def get_result(self, sourced_id: str) -> Result | None:
        raise NotImplementedError

    async def read_record(self, kind: RecordKind, sourced_id: str) -> IcRecord | None:
        self._check()
        return None  # IC held nothing before gpb's writes

    async def read_results_of(self, class_id: str, line_item_id: str) -> list[IcRecord]:
        self._check()
        return []


class FakeSyncStore:
    """Runs, grades and confirmations in memory, for a SyncRunner: it keeps each run's statuses,
    its final report and the changes the run applied."""

    def __init__(self, grades: Sequence[Grade] = ()) -> None:
        self.held_grades = list(grades)
        self.statuses: dict[str, list[RunStatus]] = {}
        self.reports: dict[str, dict[str, Any]] = {}
        self.applied: list[object] = []
        self.befores: list[WriteRecord] = []

    async def grades(self, course_id: str) -> list[Grade]:
        return [g for g in self.held_grades if g.course_id == course_id]

    async def confirmed(self, course_id: str) -> list[Confirmed]:
        return []

    async def set_status(self, sync_id: str, status: RunStatus, now: datetime) -> None:
        self.statuses.setdefault(sync_id, []).append(status)

    async def progress(self, sync_id: str, done: int, total: int) -> None:
        pass

    async def finish(
        self, sync_id: str, status: RunStatus, report: dict[str, Any], now: datetime
    ) -> None:
        self.statuses.setdefault(sync_id, []).append(status)
        self.reports[sync_id] = report

    async def confirmed_in_run(self, sync_id: str) -> dict[str, str]:
        return {}

    async def written_line_items(self, course_id: str) -> list[LineItemConfirmed]:
        return []

    async def record_writes(self, writes: Sequence[WriteRecord]) -> None:
        self.befores.extend(writes)

    async def apply(self, changes: Sequence[object], *, linger: float = 0.0) -> None:
        self.applied.extend(changes)


class FakeRunQueue(FakeSyncStore):
    """A FakeSyncStore that also queues runs and finds them again, for the use cases on a
    course's runs: one real run under way per course, as the store has it."""

    def __init__(self, grades: Sequence[Grade] = ()) -> None:
        super().__init__(grades)
        self.runs_by_id: dict[str, SyncRun] = {}
        self.undone: dict[str, str] = {}  # run id -> the undo that took it back
        self.synced: dict[str, dict[str, datetime]] = {}  # course -> assignment -> confirmed

    async def create_run(self, request: SyncRequest, now: datetime) -> SyncRun:
        if not request.dry_run:
            for run in self.runs_by_id.values():
                if run.course_id == request.course_id and not run.dry_run and run.status in ACTIVE:
                    raise RunInProgress(run.id)
        run = SyncRun(
            id=str(len(self.runs_by_id) + 1),
            course_id=request.course_id,
            kind=request.kind,
            dry_run=request.dry_run,
            status=RunStatus.QUEUED,
            requested_by=request.requested_by,
            assignment_ids=request.assignment_ids,
            created_at=now,
            undo_of=request.undo_of,
        )
        self.runs_by_id[run.id] = run
        return run

    async def run(self, sync_id: str) -> SyncRun | None:
        return self.runs_by_id.get(sync_id)

    async def runs(self, course_id: str, before_id: str | None, limit: int) -> list[SyncRun]:
        newest_first = sorted(self.runs_by_id.values(), key=lambda r: -int(r.id))
        return [
            r
            for r in newest_first
            if r.course_id == course_id and (before_id is None or int(r.id) < int(before_id))
        ][:limit]

    async def writes_of(self, sync_id: str) -> list[WriteRecord]:
        return [w for w in self.befores if w.run_id == sync_id]

    async def newer_runs_touching(self, run: SyncRun) -> list[str]:
        return []

    async def undone_by(self, sync_id: str) -> str | None:
        return self.undone.get(sync_id)

    async def last_synced(self, course_id: str) -> dict[str, datetime]:
        return self.synced.get(course_id, {})
