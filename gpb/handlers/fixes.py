"""Fixes made in Canvas from gpb (what is offered is `fix_offers`).

A fix changes Canvas, never gpb's own state: gpb records it in the event log as a `gpb_fix` event
(who, what, before -> after, Canvas's answer), and handling that event re-reads from Canvas what
changed, as Canvas's own Live Event does moments later. Whichever comes first resolves the alert,
and the open page sees it through the alert stream.

Before writing, gpb re-reads the assignment: when Canvas no longer holds what the page showed
(someone changed it meanwhile) nothing is written. Canvas's refusals come back in Canvas's words;
a change Canvas may or may not have made is reported as such and never retried.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, ClassVar, Literal, get_args

from gpb.handlers.course_state import AssignmentRecord, CourseState
from gpb.handlers.eligibility import title_length
from gpb.handlers.envelope import parse_event
from gpb.handlers.errors import CanvasError, CanvasRefused
from gpb.handlers.fix_offers import (
    NO_AUTOMATIC_FIX,
    FixOffer,
    FixOffers,
    GroupAlignment,
    group_titles,
)
from gpb.handlers.ic_directory import IcDirectory
from gpb.handlers.ic_names import name_key
from gpb.handlers.model import Assignment, AssignmentChange, OverrideTarget
from gpb.handlers.ports import Canvas, CanvasWriter, CourseStateStore, EventLog
from gpb.handlers.refusals import Refused
from gpb.handlers.timefmt import iso, utcnow
from gpb.handlers.tokens import Principal

FIX_EVENT = "gpb_fix"


FixRefusalCode = Literal[
    "NOT_FOUND",
    "INVALID_FIX",
    "FIX_NOT_NEEDED",
    "CANVAS_CHANGED",
    "GROUP_NAME_TAKEN",
    "NO_AUTOMATIC_FIX",
    "ACT_AS_UNAVAILABLE",
]


class FixRefused(Refused):
    """gpb will not make this fix (nothing was sent to Canvas); `code` says why."""

    codes: ClassVar[tuple[str, ...]] = get_args(FixRefusalCode)

    def __init__(self, code: FixRefusalCode, message: str) -> None:
        super().__init__(code, message)


@dataclass(frozen=True)
class FixSettings:
    name_max_length: int
    time_zone: tzinfo
    act_as_user: bool = False


@dataclass(frozen=True)
class Fixer:
    """Who asked for the fix: a name for the log, and their Canvas user for `as_user_id`."""

    name: str
    canvas_user_id: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> Fixer:
        return cls(
            name=principal.name or principal.token_prefix or principal.role.value,
            canvas_user_id=principal.canvas_user_id,
        )


@dataclass(frozen=True)
class FixRequest:
    code: str
    title: str | None = None  # NAME_TOO_LONG, NAME_NOT_UNIQUE
    due_at: datetime | None = None  # DUE_DATE_MISSING
    section_ids: tuple[str, ...] = ()  # DUE_DATE_MISSING: these sections; none: the base date
    action: str | None = None  # CATEGORY_NOT_FOUND: "rename_group" or "move"
    group_name: str | None = None  # rename_group
    group_id: str | None = None  # move


@dataclass(frozen=True)
class FixOutcome:
    outcome: str  # "applied", "refused" (by Canvas: nothing changed) or "uncertain"
    code: str
    what: str
    before: dict[str, Any]
    after: dict[str, Any]
    canvas_answer: str
    event_id: str

    @property
    def applied(self) -> bool:
        return self.outcome == "applied"


@dataclass
class FixService:
    canvas: Canvas
    writer: CanvasWriter
    state: CourseStateStore
    ic: IcDirectory
    events: EventLog
    settings: FixSettings
    notify: Callable[[], None] = field(default=lambda: None)

    # -------------------------------------------------------------------- reading

    async def offers(self, course_id: str, assignment_id: str) -> list[FixOffer]:
        """One offer per open problem of the assignment, in the rules' order."""
        state, record = await self._record(course_id, assignment_id)
        return await self._offers().of(state, record)

    async def course_offers(self, course_id: str) -> dict[str, list[FixOffer]]:
        """The offers of every assignment of the course with a problem, read in one go."""
        state = await self.state.course_state(course_id)
        return {
            aid: await self._offers().of(state, record)
            for aid, record in state.assignments.items()
            if record.violations and not record.assignment.deleted
        }

    async def alignment(self, course_id: str) -> list[GroupAlignment]:
        """Every Canvas group of the course beside the IC categories of each section's class."""
        state = await self.state.course_state(course_id)
        if not state.loaded:
            raise FixRefused("NOT_FOUND", "gpb has not read this course from Canvas yet")
        return await self._offers().alignment(state)

    def _offers(self) -> FixOffers:
        return FixOffers(self.ic, self.settings.name_max_length)

    # -------------------------------------------------------------------- fixing

    async def make(
        self, course_id: str, assignment_id: str, fields: dict[str, Any], fixer: Fixer
    ) -> FixOutcome:
        """The fix the API's body or a page's form asks for (raises FixRefused for bad fields)."""
        request = parse_fix_request(fields, self._local_time)
        return await self.apply(course_id, assignment_id, request, fixer)

    def _local_time(self, text: str) -> datetime:
        """A date-time; one without an offset is read in the district's zone."""
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=self.settings.time_zone)

    async def apply(
        self, course_id: str, assignment_id: str, request: FixRequest, fixer: Fixer
    ) -> FixOutcome:
        """Makes the fix in Canvas (or raises FixRefused before sending anything)."""
        state, record = await self._record(course_id, assignment_id)
        if request.code in NO_AUTOMATIC_FIX:
            raise FixRefused("NO_AUTOMATIC_FIX", NO_AUTOMATIC_FIX[request.code])
        if request.code not in {v.code for v in record.violations}:
            raise FixRefused(
                "FIX_NOT_NEEDED", f"'{record.assignment.title}' has no open {request.code} problem"
            )
        as_user = self._as_user(fixer)
        if request.code in ("NAME_TOO_LONG", "NAME_NOT_UNIQUE"):
            return await self._rename(state, record.assignment, request, fixer, as_user)
        if request.code == "ASSIGNMENT_UNPUBLISHED":
            return await self._publish(state, record.assignment, request, fixer, as_user)
        if request.code == "DUE_DATE_MISSING":
            return await self._set_due(state, record.assignment, request, fixer, as_user)
        if request.code == "CATEGORY_NOT_FOUND":
            if request.action == "rename_group":
                group_id = record.assignment.assignment_group_id or ""
                return await self.rename_group(course_id, group_id, request.group_name, fixer)
            if request.action == "move":
                return await self._move(state, record.assignment, request, fixer, as_user)
            raise FixRefused("INVALID_FIX", "action must be rename_group or move")
        raise FixRefused("NO_AUTOMATIC_FIX", f"gpb has no automatic fix for {request.code}")

    async def rename_group(
        self, course_id: str, group_id: str, name: str | None, fixer: Fixer
    ) -> FixOutcome:
        """Renames an assignment group in Canvas; refused when another group has that name."""
        state = await self.state.course_state(course_id)
        group = next((g for g in state.groups if g.id == group_id), None)
        if group is None:
            raise FixRefused("NOT_FOUND", "no such assignment group in this course")
        new_name = (name or "").strip()
        if not new_name:
            raise FixRefused("INVALID_FIX", "give the group's new name")
        taken = next(
            (
                g
                for g in state.groups
                if g.id != group.id and name_key(g.name) == name_key(new_name)
            ),
            None,
        )
        if taken is not None:
            raise FixRefused(
                "GROUP_NAME_TAKEN",
                f"Group '{taken.name}' already has that name: move the assignments of "
                f"'{group.name}' to it instead, or pick another name.",
            )
        as_user = self._as_user(fixer)
        fresh = {g.id: g for g in await self.canvas.list_assignment_groups(course_id)}
        if group.id not in fresh or fresh[group.id].name != group.name:
            now = fresh[group.id].name if group.id in fresh else None
            raise FixRefused(
                "CANVAS_CHANGED",
                f"Group '{group.name}' changed in Canvas since gpb last read it"
                + (f" (it is now '{now}')" if now else " (it is gone)")
                + ". Reload the page and look again.",
            )
        moves = list(group_titles(state, group.id))
        before = {"group": group.name}
        after = {"group": new_name, "assignments_moved": moves}
        return await self._write(
            course_id,
            None,
            "CATEGORY_NOT_FOUND",
            f"Rename group '{group.name}' to '{new_name}' in Canvas",
            before,
            after,
            fixer,
            lambda: self.writer.rename_assignment_group(course_id, group.id, new_name, as_user),
            refresh="groups",
            group_id=group.id,
        )

    async def _rename(
        self,
        state: CourseState,
        assignment: Assignment,
        request: FixRequest,
        fixer: Fixer,
        as_user: str | None,
    ) -> FixOutcome:
        title = (request.title or "").strip()
        if not title:
            raise FixRefused("INVALID_FIX", "give the new title")
        limit = self.settings.name_max_length
        if title_length(title) > limit:
            raise FixRefused(
                "INVALID_FIX", f"'{title}' is {title_length(title)} long; the limit is {limit}"
            )
        twins = [
            r.assignment.title
            for r in state.assignments.values()
            if r.sync_enabled
            and r.assignment.id != assignment.id
            and name_key(r.assignment.title) == name_key(title)
        ]
        if twins:
            raise FixRefused(
                "INVALID_FIX", f"another assignment set to sync is already titled '{twins[0]}'"
            )
        await self._unchanged(assignment, "title", lambda a: a.title)
        change = AssignmentChange(name=title)
        return await self._update(
            assignment,
            request.code,
            "Rename in Canvas",
            {"title": assignment.title},
            {"title": title},
            fixer,
            change,
            as_user,
        )

    async def _publish(
        self,
        state: CourseState,
        assignment: Assignment,
        request: FixRequest,
        fixer: Fixer,
        as_user: str | None,
    ) -> FixOutcome:
        await self._unchanged(assignment, "published state", lambda a: a.published)
        return await self._update(
            assignment,
            request.code,
            "Publish in Canvas",
            {"published": False},
            {"published": True},
            fixer,
            AssignmentChange(published=True),
            as_user,
        )

    async def _set_due(
        self,
        state: CourseState,
        assignment: Assignment,
        request: FixRequest,
        fixer: Fixer,
        as_user: str | None,
    ) -> FixOutcome:
        if request.due_at is None:
            raise FixRefused("INVALID_FIX", "give the due date")
        due_at = request.due_at
        if due_at.tzinfo is None:  # a date-time typed on the page is in the district's zone
            due_at = due_at.replace(tzinfo=self.settings.time_zone)
        await self._unchanged(assignment, "due dates", _dates)
        course_id = assignment.course_id
        if not request.section_ids:
            return await self._update(
                assignment,
                request.code,
                "Set due date in Canvas",
                {"due_at": iso(assignment.due_at)},
                {"due_at": iso(due_at)},
                fixer,
                AssignmentChange(due_at=due_at),
                as_user,
            )
        names = {s.id: s.name for s in state.sections}
        unknown = [sid for sid in request.section_ids if sid not in names]
        if unknown:
            raise FixRefused("INVALID_FIX", f"no section {unknown[0]} in this course")
        overrides = {
            o.section_id: o.id
            for o in assignment.overrides
            if o.target is OverrideTarget.SECTION and o.section_id
        }

        async def write() -> object:
            for section_id in request.section_ids:
                await self.writer.set_section_due_at(
                    course_id, assignment.id, section_id, overrides.get(section_id), due_at, as_user
                )
            return None

        sections = [names[sid] for sid in request.section_ids]
        return await self._write(
            course_id,
            assignment.id,
            request.code,
            "Set due date in Canvas for " + ", ".join(f"'{n}'" for n in sections),
            {"due_at": None, "sections": sections},
            {"due_at": iso(due_at), "sections": sections},
            fixer,
            write,
        )

    async def _move(
        self,
        state: CourseState,
        assignment: Assignment,
        request: FixRequest,
        fixer: Fixer,
        as_user: str | None,
    ) -> FixOutcome:
        groups = {g.id: g for g in state.groups}
        target = groups.get(request.group_id or "")
        if target is None:
            raise FixRefused("INVALID_FIX", "no such assignment group in this course")
        current = groups.get(assignment.assignment_group_id or "")
        await self._unchanged(assignment, "group", lambda a: a.assignment_group_id)
        return await self._update(
            assignment,
            request.code,
            f"Move to group '{target.name}' in Canvas",
            {"group": current.name if current else None},
            {"group": target.name},
            fixer,
            AssignmentChange(assignment_group_id=target.id),
            as_user,
        )

    async def _update(
        self,
        assignment: Assignment,
        code: str,
        what: str,
        before: dict[str, Any],
        after: dict[str, Any],
        fixer: Fixer,
        change: AssignmentChange,
        as_user: str | None,
    ) -> FixOutcome:
        async def write() -> None:
            answer = await self.writer.update_assignment(
                assignment.course_id, assignment.id, change, as_user
            )
            left = _not_as_asked(change, answer)
            if left is not None:  # Canvas ignores some values (an unknown group) without a word
                raise CanvasRefused(f"Canvas answered, but {left}")

        return await self._write(
            assignment.course_id,
            assignment.id,
            code,
            what,
            before,
            after,
            fixer,
            write,
        )

    async def _write(
        self,
        course_id: str,
        assignment_id: str | None,
        code: str,
        what: str,
        before: dict[str, Any],
        after: dict[str, Any],
        fixer: Fixer,
        write: Callable[[], Any],
        *,
        refresh: str = "assignment",
        group_id: str | None = None,
    ) -> FixOutcome:
        """Sends the change once and records it, whatever Canvas answered."""
        try:
            await write()
        except CanvasRefused as refused:
            outcome, answer = "refused", refused.message
        except CanvasError as failed:
            outcome, answer = "uncertain", failed.message
        else:
            outcome, answer = "applied", "Canvas made the change"
        body = {
            "assignment_id": assignment_id,
            "group_id": group_id,
            "code": code,
            "what": what,
            "who": fixer.name,
            "as_user_id": self._as_user(fixer),
            "before": before,
            "after": after,
            "canvas_answer": answer,
            "outcome": outcome,
            "refresh": refresh,
        }
        event = parse_event(
            {
                "metadata": {
                    "event_name": FIX_EVENT,
                    "event_time": iso(utcnow()),
                    "producer": "gpb",
                    "context_type": "Course",
                    "context_id": course_id,
                    "user_id": fixer.canvas_user_id,
                },
                "body": body,
            }
        )
        appended = await self.events.append(event, None)
        self.notify()
        return FixOutcome(outcome, code, what, before, after, answer, appended.id)

    # -------------------------------------------------------------------- helpers

    def _as_user(self, fixer: Fixer) -> str | None:
        if not self.settings.act_as_user:
            return None
        if fixer.canvas_user_id is None:
            raise FixRefused(
                "ACT_AS_UNAVAILABLE",
                "gpb makes changes as the teacher who asks (GPB_CANVAS_ACT_AS_USER), but this "
                "login names no Canvas user; ask the gpb admin for a token with --canvas-user",
            )
        return fixer.canvas_user_id

    async def _record(
        self, course_id: str, assignment_id: str
    ) -> tuple[CourseState, AssignmentRecord]:
        state = await self.state.course_state(course_id)
        record = state.assignments.get(assignment_id)
        if record is None or record.assignment.deleted:
            raise FixRefused("NOT_FOUND", "no such assignment in this course")
        return state, record

    async def _unchanged(
        self, known: Assignment, what: str, value: Callable[[Assignment], object]
    ) -> None:
        """Refuses when Canvas no longer holds what gpb showed (someone changed it meanwhile)."""
        fresh = await self.canvas.get_assignment(known.course_id, known.id)
        if fresh is None or fresh.deleted:
            raise FixRefused("CANVAS_CHANGED", f"Canvas no longer has '{known.title}'")
        if value(fresh) != value(known):
            raise FixRefused(
                "CANVAS_CHANGED",
                f"The {what} of '{known.title}' changed in Canvas since gpb last read it; nothing "
                "was sent. The page updates on its own in a moment: look again then.",
            )


def _not_as_asked(change: AssignmentChange, answer: Assignment) -> str | None:
    """What Canvas's answer left otherwise than `change` asked, in words; None: all as asked."""
    if change.name is not None and answer.title.strip() != change.name.strip():
        return f"the title is '{answer.title}'"
    if change.published is not None and answer.published != change.published:
        return "the assignment's published state did not change"
    if change.due_at is not None and answer.due_at != change.due_at:
        return f"the due date is {iso(answer.due_at) or 'not set'}"
    if (
        change.assignment_group_id is not None
        and answer.assignment_group_id != change.assignment_group_id
    ):
        return "the assignment stayed in its group"
    return None


def _dates(assignment: Assignment) -> tuple[object, ...]:
    return (assignment.due_at, tuple((o.section_id, o.due_at) for o in assignment.overrides))


def parse_fix_request(data: dict[str, Any], parse_time: Callable[[str], datetime]) -> FixRequest:
    """A FixRequest from the API's or the page's fields; raises FixRefused for bad input."""
    code = data.get("code")
    if not isinstance(code, str) or not code:
        raise FixRefused("INVALID_FIX", "give the code of the problem to fix")
    due_at = None
    raw_due = data.get("due_at")
    if raw_due:
        try:
            due_at = parse_time(str(raw_due))
        except ValueError:
            raise FixRefused("INVALID_FIX", f"'{raw_due}' is not a date and time") from None
    sections = data.get("section_ids") or ()
    if isinstance(sections, str):
        sections = (sections,)
    return FixRequest(
        code=code,
        title=_text(data.get("title")),
        due_at=due_at,
        section_ids=tuple(str(s) for s in sections if str(s)),
        action=_text(data.get("action")),
        group_name=_text(data.get("group_name")),
        group_id=_text(data.get("group_id")),
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)
