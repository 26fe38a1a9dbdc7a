"""Making a fix, with fakes: gpb's own state is never changed by the fix itself; the `gpb_fix`
event it records re-reads Canvas when handled, which resolves the alert. Refusals send nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from canvas_events import sample
from fakes import (
    FakeCanvas,
    FakeCourseStore,
    FakeEventLog,
    FakeSis,
    event_table,
    homework,
    stored_event,
)

from gpb.handlers.errors import CanvasRefused
from gpb.handlers.eventlog import StoredEvent
from gpb.handlers.fixes import Fixer, FixRefused, FixRequest, FixService, FixSettings
from gpb.handlers.ic_directory import IcDirectory
from gpb.handlers.model import (
    Assignment,
    AssignmentChange,
    AssignmentGroup,
    Course,
    IcCategory,
    IcClass,
    Section,
)
from gpb.handlers.rechecks import Rechecks, RecheckSettings
from gpb.handlers.tokens import Principal, Role

LONG = "Homework 3.2: Linear Equations Rev2"
ZONE = ZoneInfo("America/Chicago")


class World:
    """One course, one section linked to an IC class whose categories match, and the rechecks."""

    def __init__(self) -> None:
        self.canvas = FakeCanvas(Course("456", "Algebra I", "available"))
        self.canvas.sections = [Section("7", "456", "Period 1", "SEC-7", 5)]
        self.canvas.groups = [AssignmentGroup("1", "456", "Homework")]
        self.sis = FakeSis()
        self.sis.classes["SEC-7"] = IcClass("SEC-7", "Algebra", "SCH-1", ())
        self.sis.categories["SEC-7"] = [IcCategory("C1", "Homework")]
        self.store = FakeCourseStore()
        self.ic = IcDirectory(self.sis, ttl_seconds=300)
        rechecks = Rechecks(self.canvas, self.ic, self.store, self.store, RecheckSettings(30, ZONE))
        self.handlers = event_table(self.canvas, rechecks=rechecks)

    async def handle(self, stored: StoredEvent) -> None:
        handled = await self.handlers[stored.event_name or ""](stored)
        self.store.apply(handled.changes)

    async def post(self, name: str) -> None:
        await self.handle(stored_event(sample(name)))

    def open_codes(self) -> set[str]:
        return {a.code for a in self.store.open.values() if a.assignment_id == "123"}


class Writer:
    """Canvas's writes over the fake Canvas's assignments; `refuse` makes Canvas decline."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.calls: list[tuple[str, Any]] = []
        self.refuse: str | None = None

    async def update_assignment(
        self, course_id: str, assignment_id: str, change: AssignmentChange, as_user_id: str | None
    ) -> Assignment:
        self.calls.append(("update_assignment", (change, as_user_id)))
        if self.refuse:
            raise CanvasRefused(self.refuse)
        current = self.world.canvas.assignments[assignment_id]
        updated = replace(
            current,
            title=change.name or current.title,
            published=current.published if change.published is None else change.published,
        )
        self.world.canvas.assignments[assignment_id] = updated
        return updated

    async def set_section_due_at(self, *args: Any) -> None:
        self.calls.append(("set_section_due_at", args))

    async def rename_assignment_group(
        self, course_id: str, group_id: str, name: str, as_user_id: str | None
    ) -> AssignmentGroup:
        self.calls.append(("rename_assignment_group", name))
        return AssignmentGroup(group_id, course_id, name)


class Fixing:
    def __init__(self, act_as_user: bool = False) -> None:
        self.world = World()
        self.writer = Writer(self.world)
        self.log = FakeEventLog()
        self.service = FixService(
            canvas=self.world.canvas,
            writer=self.writer,
            state=self.world.store,
            ic=self.world.ic,
            events=self.log,
            settings=FixSettings(30, ZONE, act_as_user),
        )

    async def handle_recorded(self) -> None:
        """The worker's part: handle the newest recorded event."""
        await self.world.handle(self.log.events[max(self.log.events, key=int)])


async def test_the_fix_changes_canvas_and_the_recorded_event_resolves_the_alert() -> None:
    fixing = Fixing()
    fixing.world.canvas.assignments["123"] = homework(title=LONG)
    await fixing.world.post("assignment_updated_title_35")
    assert fixing.world.open_codes() == {"NAME_TOO_LONG"}
    before = fixing.world.store.states["456"]

    request = FixRequest("NAME_TOO_LONG", title="HW 3.2: Linear Equations")
    outcome = await fixing.service.apply("456", "123", request, Fixer("Ms. Rivera", "789"))

    assert outcome.applied and outcome.before == {"title": LONG}
    assert fixing.world.canvas.assignments["123"].title == "HW 3.2: Linear Equations"
    # gpb's state is untouched until the recorded event is handled.
    assert fixing.world.store.states["456"] == before
    assert fixing.world.open_codes() == {"NAME_TOO_LONG"}
    recorded = fixing.log.events[outcome.event_id]
    assert recorded.event_name == "gpb_fix" and recorded.body["who"] == "Ms. Rivera"
    assert recorded.body["as_user_id"] is None  # GPB_CANVAS_ACT_AS_USER is off
    await fixing.handle_recorded()
    assert fixing.world.open_codes() == set()


async def test_canvas_refusing_is_recorded_and_changes_nothing() -> None:
    fixing = Fixing()
    fixing.world.canvas.assignments["123"] = homework(published=False)
    await fixing.world.post("assignment_updated_title_35")
    fixing.writer.refuse = "Canvas refused the change (401): Invalid as_user_id"
    outcome = await fixing.service.apply(
        "456", "123", FixRequest("ASSIGNMENT_UNPUBLISHED"), Fixer("Ms. Rivera")
    )
    assert outcome.outcome == "refused" and "Invalid as_user_id" in outcome.canvas_answer
    assert fixing.log.events[outcome.event_id].body["outcome"] == "refused"
    await fixing.handle_recorded()
    assert fixing.world.open_codes() == {"ASSIGNMENT_UNPUBLISHED"}


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (FixRequest("NAME_TOO_LONG", title="x" * 31), "INVALID_FIX"),
        (FixRequest("NAME_TOO_LONG", title="  "), "INVALID_FIX"),
        (FixRequest("ASSIGNMENT_UNPUBLISHED"), "FIX_NOT_NEEDED"),
        (FixRequest("DIFFERENTIATED"), "NO_AUTOMATIC_FIX"),
        (FixRequest("CATEGORY_NOT_FOUND", action="rename_group"), "FIX_NOT_NEEDED"),
    ],
)
async def test_refusals_before_canvas_send_nothing(request_: FixRequest, code: str) -> None:
    fixing = Fixing()
    fixing.world.canvas.assignments["123"] = homework(title=LONG)
    await fixing.world.post("assignment_updated_title_35")
    with pytest.raises(FixRefused) as refused:
        await fixing.service.apply("456", "123", request_, Fixer("t"))
    assert refused.value.code == code
    assert fixing.writer.calls == [] and fixing.log.events == {}


async def test_acting_as_the_teacher_needs_their_canvas_user() -> None:
    fixing = Fixing(act_as_user=True)
    fixing.world.canvas.assignments["123"] = homework(published=False)
    await fixing.world.post("assignment_updated_title_35")
    request = FixRequest("ASSIGNMENT_UNPUBLISHED")
    with pytest.raises(FixRefused) as refused:
        await fixing.service.apply("456", "123", request, Fixer("no user"))
    assert refused.value.code == "ACT_AS_UNAVAILABLE"
    await fixing.service.apply("456", "123", request, Fixer("Ms. Rivera", "789"))
    assert fixing.writer.calls == [("update_assignment", (AssignmentChange(published=True), "789"))]


async def test_a_due_date_without_a_zone_is_the_districts() -> None:
    fixing = Fixing()
    fixing.world.canvas.assignments["123"] = homework(due_at=None)
    await fixing.world.post("assignment_updated_title_35")
    request = FixRequest("DUE_DATE_MISSING", due_at=datetime(2024, 10, 17, 23, 59))
    outcome = await fixing.service.apply("456", "123", request, Fixer("t"))
    ((_, (change, _)),) = fixing.writer.calls
    assert change.due_at.isoformat() == "2024-10-17T23:59:00-05:00"
    # The fake Canvas kept no date: the answer is not taken for done.
    assert outcome.outcome == "refused" and "the due date is not set" in outcome.canvas_answer


async def test_the_fields_of_a_form_or_body_make_the_fix_in_the_districts_time() -> None:
    fixing = Fixing()
    fixing.world.canvas.assignments["123"] = homework(due_at=None)
    await fixing.world.post("assignment_updated_title_35")
    fields = {"code": "DUE_DATE_MISSING", "due_at": "2024-10-17T23:59"}
    teacher = Principal(Role.INSTRUCTOR, frozenset({"456"}), name="Ms. Rivera")
    await fixing.service.make("456", "123", fields, Fixer.of(teacher))
    ((_, (change, _)),) = fixing.writer.calls
    assert change.due_at.isoformat() == "2024-10-17T23:59:00-05:00"
    assert fixing.log.events[max(fixing.log.events, key=int)].body["who"] == "Ms. Rivera"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "give the code of the problem to fix"),
        ({"code": "DUE_DATE_MISSING", "due_at": "tomorrow"}, "'tomorrow' is not a date and time"),
    ],
)
async def test_fields_that_ask_for_no_fix_send_nothing(
    fields: dict[str, Any], message: str
) -> None:
    fixing = Fixing()
    with pytest.raises(FixRefused) as refused:
        await fixing.service.make("456", "123", fields, Fixer("t"))
    assert (refused.value.code, refused.value.message) == ("INVALID_FIX", message)
    assert fixing.writer.calls == [] and fixing.log.events == {}


def test_a_fixer_is_named_by_the_token_or_role_when_the_principal_has_no_name() -> None:
    by_token = Principal(Role.ADMIN, frozenset(), token_prefix="gpb_ab12", canvas_user_id="7")
    assert Fixer.of(by_token) == Fixer("gpb_ab12", "7")
    assert Fixer.of(Principal(Role.ADMIN, frozenset())) == Fixer("admin", None)
