"""Re-checking on events: what each event family reads, and the alerts that follow."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from canvas_events import sample
from fakes import (
    HOMEWORK_DUE,
    FakeCanvas,
    FakeCourseStore,
    FakeSis,
    event_table,
    homework,
    stored_event,
)

from gpb.handlers.alerts import AlertOpened, AlertResolved, AlertUpdated
from gpb.handlers.errors import CanvasNotConfigured
from gpb.handlers.eventlog import EventStatus
from gpb.handlers.ic_directory import IcDirectory
from gpb.handlers.messagebus import Handled, Unusable
from gpb.handlers.model import (
    AssignmentGroup,
    Course,
    IcCategory,
    IcClass,
    IcTerm,
    Override,
    OverrideTarget,
    Section,
)
from gpb.handlers.notices import NoticesQueued
from gpb.handlers.rechecks import Rechecks, RecheckSettings

TERM = IcTerm("T-2026", "2026-27", date(2024, 8, 1), date(2025, 7, 1))


class World:
    def __init__(self, channels: tuple[str, ...] = ()) -> None:
        self.canvas = FakeCanvas(Course("456", "Algebra I", "available"))
        self.canvas.sections = [
            Section("7", "456", "Period 1", "SEC-7", 5),
            Section("8", "456", "Period 2", "SEC-8", 4),
        ]
        self.canvas.groups = [
            AssignmentGroup("1", "456", "Homework"),
            AssignmentGroup("2", "456", "Tests"),
        ]
        self.canvas.assignments = {"123": homework()}
        self.sis = FakeSis()
        for class_id in ("SEC-7", "SEC-8"):
            self.sis.classes[class_id] = IcClass(class_id, f"Algebra {class_id}", "SCH-1", (TERM,))
            self.sis.categories[class_id] = [
                IcCategory("C1", "Homework"),
                IcCategory("C2", "Tests"),
            ]
        self.store = FakeCourseStore()
        self.rechecks = Rechecks(
            canvas=self.canvas,
            ic=IcDirectory(self.sis, ttl_seconds=300),
            state=self.store,
            alerts=self.store,
            settings=RecheckSettings(30, ZoneInfo("America/Chicago"), channels, 60),
        )
        self.handlers = event_table(self.canvas, rechecks=self.rechecks)

    async def post(self, name: str, event_time: datetime | None = None, **body: Any) -> Handled:
        payload = sample(name)
        payload["body"].update(body)
        if event_time is not None:
            payload["metadata"]["event_time"] = event_time.isoformat()
        stored = stored_event(payload)
        handled = await self.handlers[stored.event_name or ""](stored)
        self.store.apply(handled.changes)
        return handled

    def open_codes(self, assignment_id: str = "123") -> set[str]:
        return {a.code for a in self.store.open.values() if a.assignment_id == assignment_id}

    def record(self, assignment_id: str = "123") -> Any:
        return self.store.states["456"].assignments[assignment_id]


def opened(handled: Handled) -> list[AlertOpened]:
    return [c for c in handled.changes if isinstance(c, AlertOpened)]


async def test_a_long_title_opens_one_alert_that_says_how_much_to_cut() -> None:
    world = World()
    world.canvas.assignments["123"] = homework(title="Homework 3.2: Linear Equations Rev2")
    handled = await world.post("assignment_updated_title_35")
    (alert,) = opened(handled)
    assert alert.code == "NAME_TOO_LONG"
    assert "35 characters" in alert.message and "remove 5" in alert.message
    assert "5 characters" in alert.fix
    assert world.record().eligible is False
    assert handled.outcome["alerts_opened"] == [{"assignment_id": "123", "code": "NAME_TOO_LONG"}]


async def test_the_first_event_reads_the_course_whole_and_later_ones_only_their_object() -> None:
    world = World()
    world.canvas.assignments["129"] = homework(id="129", title="Warm-up", post_to_sis=False)
    await world.post("assignment_created")
    assert world.record("129").sync_enabled is False  # stored and listed, though not syncing
    assert set(world.canvas.calls) >= {
        "get_course",
        "list_sections",
        "list_assignment_groups",
        "list_student_enrollments",
        "list_assignments",
    }
    world.canvas.calls.clear()
    await world.post("assignment_updated_title_35")
    assert world.canvas.calls == ["get_assignment"]


async def test_an_unchanged_violation_raises_nothing_new_and_a_fix_resolves_it() -> None:
    world = World()
    world.canvas.assignments["123"] = homework(title="Homework 3.2: Linear Equations Rev2")
    await world.post("assignment_updated_title_35")
    again = await world.post("assignment_updated_title_35", title="again")
    assert not [c for c in again.changes if isinstance(c, AlertOpened | AlertUpdated)]

    world.canvas.assignments["123"] = homework(title="Homework 3.2 Rev 2")
    fixed = await world.post("assignment_updated_title_35")
    assert [type(c) for c in fixed.changes if isinstance(c, AlertResolved)] == [AlertResolved]
    assert world.open_codes() == set()
    assert world.record().eligible is True


async def test_changed_details_update_the_alert_in_place() -> None:
    world = World()
    world.canvas.assignments["123"] = homework(title="x" * 35)
    await world.post("assignment_updated_title_35")
    world.canvas.assignments["123"] = homework(title="x" * 36)
    handled = await world.post("assignment_updated_title_35", title="36")
    (update,) = [c for c in handled.changes if isinstance(c, AlertUpdated)]
    assert "remove 6" in update.message
    assert not opened(handled)


async def test_a_stale_event_changes_nothing() -> None:
    world = World()
    await world.post("assignment_updated_title_35")
    world.canvas.assignments["123"] = homework(title="x" * 40)
    older = datetime(2024, 10, 1, 12, 0, tzinfo=UTC)
    handled = await world.post("assignment_updated_title_35", event_time=older)
    assert handled.changes == () and handled.outcome["stale"] is True
    assert world.open_codes() == set()


async def test_a_deleted_assignment_leaves_and_resolves_its_alerts() -> None:
    world = World()
    world.canvas.assignments["123"] = homework(published=False)
    await world.post("assignment_created")
    assert world.open_codes() == {"ASSIGNMENT_UNPUBLISHED"}
    del world.canvas.assignments["123"]
    await world.post("assignment_updated_title_35", workflow_state="deleted")
    assert world.open_codes() == set()
    assert world.record().assignment.deleted is True


async def test_an_assignment_that_stops_syncing_resolves_its_alerts() -> None:
    world = World()
    world.canvas.assignments["123"] = homework(published=False)
    await world.post("assignment_created")
    world.canvas.assignments["123"] = homework(published=False, post_to_sis=False)
    await world.post("assignment_updated_title_35")
    assert world.open_codes() == set()
    assert world.record().sync_enabled is False


async def test_renaming_a_group_rechecks_its_assignments() -> None:
    world = World()
    await world.post("assignment_created")
    assert world.open_codes() == set()
    world.canvas.groups[0] = AssignmentGroup("1", "456", "Extra Practice")
    group_event = await _group_event(
        world, {"assignment_group_id": "1", "context_id": "456", "name": "Extra Practice"}
    )
    assert "CATEGORY_NOT_FOUND" in world.open_codes()
    (alert,) = [a for a in world.store.open.values() if a.code == "CATEGORY_NOT_FOUND"]
    assert "Homework" in alert.fix and "Tests" in alert.fix
    assert group_event.outcome["rechecked"] == 1


async def _group_event(world: World, body: dict[str, Any]) -> Handled:
    payload = sample("assignment_created")
    payload["metadata"]["event_name"] = "assignment_group_updated"
    payload["body"] = body
    stored = stored_event(payload, "2")
    handled = await world.handlers["assignment_group_updated"](stored)
    world.store.apply(handled.changes)
    return handled


async def test_unpublishing_the_course_flags_every_syncing_assignment() -> None:
    world = World()
    world.canvas.assignments["124"] = homework(id="124", title="Quiz 1", assignment_group_id="2")
    await world.post("assignment_created")
    world.canvas.course = Course("456", "Algebra I", "claimed")
    await world.post("course_updated_published", workflow_state="claimed")
    assert world.open_codes("123") == {"COURSE_UNPUBLISHED"}
    assert world.open_codes("124") == {"COURSE_UNPUBLISHED"}


async def test_renaming_into_a_twin_flags_both() -> None:
    world = World()
    world.canvas.assignments["124"] = homework(id="124", title="Quiz 1")
    await world.post("assignment_created")
    world.canvas.assignments["124"] = homework(id="124", title="homework 3.2")
    await world.post("assignment_updated_title_35", assignment_id="10000000000124")
    assert world.open_codes("123") == {"NAME_NOT_UNIQUE"}
    assert world.open_codes("124") == {"NAME_NOT_UNIQUE"}


async def test_a_student_override_is_differentiated() -> None:
    world = World()
    world.canvas.assignments["123"] = homework(
        overrides=(
            Override("9", OverrideTarget.STUDENTS, HOMEWORK_DUE, True, student_ids=("1201",)),
        )
    )
    await world.post("assignment_override_created")
    assert world.open_codes() == {"DIFFERENTIATED"}


async def test_ic_unreachable_is_a_warning_that_leaves_the_assignment_eligible() -> None:
    world = World()
    world.sis.down = True
    await world.post("assignment_created")
    assert world.open_codes() == {"CATEGORY_UNVERIFIED"}
    assert world.record().eligible is True
    world.sis.down = False
    await world.post("assignment_updated_title_35", title="retry")
    assert world.open_codes() == set()


async def test_ic_answers_are_cached_between_events() -> None:
    world = World()
    await world.post("assignment_created")
    calls = world.sis.calls
    await world.post("assignment_updated_title_35", title="again")
    assert world.sis.calls == calls


async def test_without_canvas_settings_events_are_recorded_not_retried() -> None:
    world = World()
    world.canvas.failure = CanvasNotConfigured("GPB_CANVAS_BASE_URL is not set")
    handled = await world.post("assignment_created")
    assert handled.status is EventStatus.PROCESSED
    assert handled.error is not None and handled.error["code"] == "CANVAS_NOT_CONFIGURED"


async def test_a_course_canvas_does_not_have_is_unusable() -> None:
    world = World()
    world.canvas.course = None
    with pytest.raises(Unusable):
        await world.post("assignment_created")


async def test_alert_changes_queue_a_notice_per_channel_after_the_window() -> None:
    world = World(channels=("webhook", "canvas_inbox"))
    world.canvas.assignments["123"] = homework(title="x" * 31)
    handled = await world.post("assignment_created")
    (queued,) = [c for c in handled.changes if isinstance(c, NoticesQueued)]
    assert queued.assignment_ids == ("123",)
    assert queued.channels == ("webhook", "canvas_inbox")
    assert queued.send_after > datetime.now(UTC) + timedelta(seconds=50)
    quiet = await world.post("assignment_updated_title_35", title="same verdict")
    assert not [c for c in quiet.changes if isinstance(c, NoticesQueued)]
