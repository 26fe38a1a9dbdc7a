"""Handlers that re-check a course's assignments against the passback rules on every relevant event.

Each handler refreshes from Canvas what its event is about (live events lack `post_to_sis`,
overrides, `grading_type` and SIS ids), then evaluates every assignment of the course — cheap, in
memory — because one change can move another assignment's verdict (a renamed twin, a course
unpublished, a section that lost its SIS id). Alerts follow the verdicts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from typing import Any, TypeVar

from gpb.handlers.alerts import (
    Alert,
    AlertChange,
    AlertOpened,
    AlertResolved,
    AlertUpdated,
    alert_changes,
)
from gpb.handlers.changes import Change
from gpb.handlers.course_state import (
    AssignmentRecord,
    AssignmentStored,
    CourseState,
    CourseStored,
    EnrollmentsStored,
    GroupsStored,
    SectionsStored,
)
from gpb.handlers.courses import CourseSeen
from gpb.handlers.eligibility import CourseView, IcKnowledge, evaluate, is_eligible
from gpb.handlers.errors import CanvasNotConfigured
from gpb.handlers.event_bodies import AnyBody, AssignmentBody, Body, EnrollmentBody, FixBody
from gpb.handlers.ic_directory import IcDirectory
from gpb.handlers.messagebus import Event, Handled, Unusable
from gpb.handlers.model import Assignment
from gpb.handlers.notices import NoticesQueued
from gpb.handlers.ports import AlertStore, Canvas, CourseStateStore
from gpb.handlers.timefmt import utcnow

B = TypeVar("B", bound=Body)
Refreshed = tuple[CourseState, list[Change]]
Refresh = Callable[[CourseState, Event[B]], Awaitable[Refreshed]]


@dataclass(frozen=True)
class RecheckSettings:
    name_max_length: int
    time_zone: tzinfo
    notice_channels: tuple[str, ...] = ()
    coalesce_seconds: float = 60.0


class Stale(Exception):
    """The event is older than what gpb already holds of its object."""


@dataclass
class Rechecks:
    canvas: Canvas
    ic: IcDirectory
    state: CourseStateStore
    alerts: AlertStore
    settings: RecheckSettings
    clock: Callable[[], datetime] = utcnow

    # The handlers of gpb/handlers/events.py: each re-reads what its event is about, then
    # re-checks the course.

    async def on_assignment(self, event: Event[AssignmentBody]) -> Handled:
        return await self.recheck(event, self._refresh_assignment)

    async def on_groups(self, event: Event[AnyBody]) -> Handled:
        return await self.recheck(event, self._refresh_groups)

    async def on_course(self, event: Event[AnyBody]) -> Handled:
        return await self.recheck(event, self._refresh_course)

    async def on_sections(self, event: Event[AnyBody]) -> Handled:
        return await self.recheck(event, self._refresh_sections)

    async def on_enrollment(self, event: Event[EnrollmentBody]) -> Handled:
        return await self.recheck(event, self._refresh_enrollments)

    async def on_fix(self, event: Event[FixBody]) -> Handled:
        """A fix gpb made in Canvas: re-read what it changed, without waiting for Canvas's event."""
        return await self.recheck(event, self._refresh_after_fix)

    async def recheck(self, event: Event[B], refresh: Refresh[B]) -> Handled:
        if event.course_id is None:
            raise Unusable("the event names no course")
        stored = await self.state.course_state(event.course_id)
        try:
            state, changes = await self._load(stored, event.shard)
            state, refreshed = await refresh(state, event)
        except Stale as stale:
            return Handled(outcome={"stale": True, "reason": str(stale)})
        except CanvasNotConfigured as exc:
            # Nothing to read what the event lacks with: record it, do not retry forever.
            return Handled(
                outcome={"rechecked": 0},
                error={"code": exc.code, "message": exc.message},
                changes=(CourseSeen(event.course_id, event.shard),),
            )
        changes += refreshed
        verdicts, outcome = await self._reevaluate(state, stored)
        return Handled(outcome=outcome, changes=tuple(changes + verdicts))

    async def reload(self, course_id: str) -> list[Change]:
        """Reads the whole course from Canvas again and re-judges it (a remaster trusts no event).
        Returns the changes to apply."""
        stored = await self.state.course_state(course_id)
        fresh, changes = await self._load(replace(stored, loaded=False), None)
        verdicts, _ = await self._reevaluate(fresh, stored)
        return changes + verdicts

    async def _load(self, state: CourseState, shard: int | None) -> Refreshed:
        """The whole course, read once: later events refresh only what they are about."""
        if state.loaded:
            return state, []
        course_id = state.course_id
        course = await self.canvas.get_course(course_id)
        if course is None:
            raise Unusable(f"Canvas has no course {course_id}")
        sections = tuple(await self.canvas.list_sections(course_id))
        groups = tuple(await self.canvas.list_assignment_groups(course_id))
        enrollments = tuple(await self.canvas.list_student_enrollments(course_id))
        listed = {a.id: a for a in await self.canvas.list_assignments(course_id)}
        records = {
            # Canvas lists no deleted assignment: one gpb knew and Canvas no longer lists is gone.
            aid: replace(r, assignment=replace(r.assignment, deleted=True))
            for aid, r in state.assignments.items()
            if aid not in listed
        }
        for assignment in listed.values():
            records[assignment.id] = _record(assignment, state.assignments.get(assignment.id), 0)
        loaded = replace(
            state,
            course=course,
            sections=sections,
            groups=groups,
            enrollments=enrollments,
            assignments=records,
            loaded=True,
        )
        return loaded, [
            CourseStored(course, shard, state.course_time_ms),
            SectionsStored(course_id, sections),
            GroupsStored(course_id, groups),
            EnrollmentsStored(course_id, enrollments),
        ]

    async def _refresh_assignment(
        self, state: CourseState, event: Event[AssignmentBody]
    ) -> Refreshed:
        return await self._reread_assignment(state, event.body, event.event_time_ms)

    async def _reread_assignment(
        self, state: CourseState, body: AssignmentBody, event_ms: int
    ) -> Refreshed:
        assignment_id = body.assignment_id
        previous = state.assignments.get(assignment_id)
        if previous is not None and previous.state_time_ms > event_ms:
            raise Stale(f"assignment {assignment_id} holds newer state than this event")
        fresh = await self.canvas.get_assignment(state.course_id, assignment_id)
        if fresh is None or body.deleted:
            fresh = _deleted(previous, state.course_id, body)
        records = {**state.assignments, assignment_id: _record(fresh, previous, event_ms)}
        return replace(state, assignments=records), []

    async def _refresh_groups(self, state: CourseState, event: Event[Any]) -> Refreshed:
        groups = tuple(await self.canvas.list_assignment_groups(state.course_id))
        return replace(state, groups=groups), [GroupsStored(state.course_id, groups)]

    async def _refresh_after_fix(self, state: CourseState, event: Event[FixBody]) -> Refreshed:
        fix = event.body
        if fix.outcome == "refused":
            return state, []  # Canvas changed nothing
        if fix.refresh == "groups":
            return await self._refresh_groups(state, event)
        if fix.assignment_id is None:
            raise Unusable("the event body has no assignment_id")
        body = AssignmentBody(assignment_id=fix.assignment_id)
        return await self._reread_assignment(state, body, event.event_time_ms)

    async def _refresh_course(self, state: CourseState, event: Event[AnyBody]) -> Refreshed:
        event_ms = event.event_time_ms
        if state.course_time_ms > event_ms:
            raise Stale(f"course {state.course_id} holds newer state than this event")
        course = await self.canvas.get_course(state.course_id)
        if course is None:
            raise Unusable(f"Canvas has no course {state.course_id}")
        return (
            replace(state, course=course, course_time_ms=event_ms),
            [CourseStored(course, event.shard, event_ms)],
        )

    async def _refresh_sections(self, state: CourseState, event: Event[Any]) -> Refreshed:
        sections = tuple(await self.canvas.list_sections(state.course_id))
        return replace(state, sections=sections), [SectionsStored(state.course_id, sections)]

    async def _refresh_enrollments(
        self, state: CourseState, event: Event[EnrollmentBody]
    ) -> Refreshed:
        if not event.body.of_student:
            return state, []  # teachers and observers move no grades
        state, changes = await self._refresh_sections(state, event)
        enrollments = tuple(await self.canvas.list_student_enrollments(state.course_id))
        changes.append(EnrollmentsStored(state.course_id, enrollments))
        return replace(state, enrollments=enrollments), changes

    async def _reevaluate(
        self, state: CourseState, stored: CourseState
    ) -> tuple[list[Change], dict[str, Any]]:
        """Judges every assignment of `state`; stores the records that differ from `stored`."""
        course = state.course
        assert course is not None, "a loaded course state has its course"
        records = state.assignments
        syncing = any(r.sync_enabled for r in records.values())
        view = CourseView(
            course=course,
            sections=state.sections,
            group_names={g.id: g.name for g in state.groups},
            assignments=tuple(r.assignment for r in records.values()),
            ic=await self._ic_knowledge(state) if syncing else {},
        )
        changes: list[Change] = []
        violations_by_assignment = {}
        for record in records.values():
            violations = tuple(
                evaluate(
                    record.assignment,
                    view,
                    name_max_length=self.settings.name_max_length,
                    tz=self.settings.time_zone,
                )
            )
            judged = replace(
                record, violations=violations, eligible=is_eligible(record.assignment, violations)
            )
            if judged != stored.assignments.get(record.assignment.id):
                changes.append(AssignmentStored(judged))
            if judged.sync_enabled:
                violations_by_assignment[record.assignment.id] = violations
        open_alerts = await self.alerts.alerts(state.course_id, "open")
        alerts = alert_changes(state.course_id, open_alerts, violations_by_assignment)
        changes.extend(alerts)
        changes.extend(self._notices(state.course_id, alerts, open_alerts))
        return changes, _summary(len(records), alerts)

    async def _ic_knowledge(self, state: CourseState) -> dict[str, IcKnowledge]:
        class_ids = [
            s.sis_section_id for s in state.sections if s.sis_section_id and s.student_count
        ]
        return await self.ic.knowledge(class_ids)

    def _notices(
        self, course_id: str, alerts: Sequence[AlertChange], open_alerts: Sequence[Alert]
    ) -> list[Change]:
        if not alerts or not self.settings.notice_channels:
            return []
        by_id = {a.id: a.assignment_id for a in open_alerts}
        assignment_ids: dict[str, None] = {}
        for change in alerts:
            if isinstance(change, AlertOpened):
                assignment_ids[change.assignment_id] = None
            elif isinstance(change, AlertUpdated | AlertResolved):
                assignment_ids[by_id[change.alert_id]] = None
        send_after = self.clock() + timedelta(seconds=self.settings.coalesce_seconds)
        return [
            NoticesQueued(
                course_id, tuple(assignment_ids), self.settings.notice_channels, send_after
            )
        ]


def _record(
    assignment: Assignment, previous: AssignmentRecord | None, event_ms: int
) -> AssignmentRecord:
    if previous is None:
        return AssignmentRecord(assignment, (), False, event_ms)
    return replace(
        previous, assignment=assignment, state_time_ms=max(previous.state_time_ms, event_ms)
    )


def _deleted(previous: AssignmentRecord | None, course_id: str, body: AssignmentBody) -> Assignment:
    """Canvas answers 404 for a deleted assignment: keep what gpb knew, marked deleted."""
    if previous is not None:
        return replace(previous.assignment, deleted=True)
    return Assignment(
        id=body.assignment_id,
        course_id=course_id,
        title=body.title,
        published=False,
        post_to_sis=False,
        assignment_group_id=None,
        deleted=True,
    )


def _summary(rechecked: int, alerts: Sequence[AlertChange]) -> dict[str, Any]:
    return {
        "rechecked": rechecked,
        "alerts_opened": [
            {"assignment_id": a.assignment_id, "code": a.code}
            for a in alerts
            if isinstance(a, AlertOpened)
        ],
        "alerts_updated": sum(isinstance(a, AlertUpdated) for a in alerts),
        "alerts_resolved": sum(isinstance(a, AlertResolved) for a in alerts),
    }
