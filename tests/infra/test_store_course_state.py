import json
from datetime import UTC, datetime, timedelta

from gpb.handlers.alerts import AlertOpened, AlertResolved, AlertUpdated
from gpb.handlers.course_state import (
    AssignmentRecord,
    AssignmentStored,
    CourseStored,
    EnrollmentsStored,
    GroupsStored,
    SectionsStored,
)
from gpb.handlers.courses import CourseSeen
from gpb.handlers.eligibility import Violation
from gpb.handlers.eventlog import EventStatus, Finish
from gpb.handlers.line_items import line_item_details
from gpb.handlers.model import (
    Assignment,
    AssignmentGroup,
    Course,
    Enrollment,
    Override,
    OverrideTarget,
    Section,
)
from gpb.handlers.notices import NoticesQueued
from gpb.handlers.syncs import LineItemConfirmed
from gpb.infra.store.course_state import assignment_from_json, assignment_to_json
from gpb.infra.store.store import SqlStore

DUE = datetime(2024, 10, 18, 4, 59, tzinfo=UTC)
ASSIGNMENT = Assignment(
    id="123",
    course_id="456",
    title="Q&amp;A — ünïcode",
    published=True,
    post_to_sis=True,
    assignment_group_id="1",
    due_at=DUE,
    unlock_at=None,
    created_at=DUE - timedelta(days=9),
    points_possible=10.0,
    grading_type="points",
    only_visible_to_overrides=True,
    visible_to_everyone=False,
    overrides=(
        Override("5", OverrideTarget.SECTION, DUE, True, section_id="7"),
        Override("6", OverrideTarget.STUDENTS, None, False, student_ids=("1201", "1202")),
        Override("7", OverrideTarget.COURSE, DUE, True, unlock_at=DUE - timedelta(days=3)),
    ),
)


async def apply(store: SqlStore, *changes: object) -> None:
    """Changes ride on an event's finish, as the worker applies them."""
    from canvas_events import sample

    from gpb.handlers.envelope import parse_event

    appended = await store.events.append(
        parse_event(sample("assignment_created") | {"body": {"n": id(changes)}}), None
    )
    await store.events.finish(appended.id, Finish(EventStatus.PROCESSED, 1, changes=changes))


def test_assignments_round_trip_through_json() -> None:
    assert assignment_from_json(assignment_to_json(ASSIGNMENT)) == ASSIGNMENT


def test_an_assignment_stored_before_visibility_was_read_loads_as_unsaid() -> None:
    data = json.loads(assignment_to_json(ASSIGNMENT))
    del data["visible_to_everyone"]
    assert assignment_from_json(json.dumps(data)).visible_to_everyone is None


async def test_course_state_is_stored_and_loaded_whole(store: SqlStore) -> None:
    assert (await store.course_state.course_state("456")).loaded is False
    violation = Violation("POINTS_MISSING", "warning", "No points.", "Set the points.", None)
    await apply(
        store,
        CourseStored(Course("456", "Algebra I", "available", "2024FA-MATH"), 1, 5),
        SectionsStored(
            "456", (Section("7", "456", "P1", "SEC-7", 5), Section("10", "456", "P2", None, 0))
        ),
        GroupsStored("456", (AssignmentGroup("1", "456", "Homework"),)),
        EnrollmentsStored(
            "456", (Enrollment("1201", "7", "S-1"), Enrollment("1202", "7", None, "completed"))
        ),
        AssignmentStored(AssignmentRecord(ASSIGNMENT, (violation,), True, 99)),
    )
    state = await store.course_state.course_state("456")
    assert state.loaded and state.course == Course("456", "Algebra I", "available", "2024FA-MATH")
    assert [s.id for s in state.sections] == ["7", "10"]
    assert state.groups == (AssignmentGroup("1", "456", "Homework"),)
    assert sorted(state.enrollments, key=lambda e: e.user_id) == [
        Enrollment("1201", "7", "S-1"),
        Enrollment("1202", "7", None, "completed"),
    ]
    assert state.assignments["123"] == AssignmentRecord(ASSIGNMENT, (violation,), True, 99)

    await apply(store, SectionsStored("456", (Section("7", "456", "P1", "SEC-7", 6),)))
    assert [s.student_count for s in (await store.course_state.course_state("456")).sections] == [6]


async def test_alerts_open_update_resolve_and_feed_in_order(store: SqlStore) -> None:
    await apply(
        store, AlertOpened("456", "123", "NAME_TOO_LONG", "error", "35 characters", "Cut 5")
    )
    (alert,) = await store.alerts.alerts("456", "open")
    await apply(store, AlertUpdated(alert.id, "error", "36 characters", "Cut 6"))
    await apply(store, AlertResolved(alert.id))
    assert await store.alerts.alerts("456", "open") == []
    (resolved,) = await store.alerts.alerts("456", "resolved")
    assert (resolved.version, resolved.message, resolved.resolved_at is not None) == (
        3,
        "36 characters",
        True,
    )

    feed = await store.alerts.feed_after("456", 0)
    assert [(e.event_id, e.alert.state, e.alert.message) for e in feed] == [
        (f"{alert.id}.1", "open", "35 characters"),
        (f"{alert.id}.2", "open", "36 characters"),
        (f"{alert.id}.3", "resolved", "36 characters"),
    ]
    after_first = await store.alerts.feed_position("456", f"{alert.id}.1")
    assert [e.event_id for e in await store.alerts.feed_after("456", after_first)] == [
        f"{alert.id}.2",
        f"{alert.id}.3",
    ]
    assert await store.alerts.feed_position("456", None) == feed[-1].seq
    assert await store.alerts.feed_position("456", "junk") == feed[-1].seq
    assert await store.alerts.feed_after("999", 0) == []

    # the violation comes back: a new alert
    await apply(
        store, AlertOpened("456", "123", "NAME_TOO_LONG", "error", "35 characters", "Cut 5")
    )
    (again,) = await store.alerts.alerts("456", "open")
    assert again.id != alert.id
    await apply(store, CourseSeen("456", 1))
    (course,) = await store.courses.summaries(None)
    assert course.open_alerts == 1


async def test_notices_coalesce_per_assignment_and_channel(store: SqlStore) -> None:
    now = datetime.now(UTC)
    await apply(store, AlertOpened("456", "123", "NAME_TOO_LONG", "error", "long", "cut"))
    await apply(
        store,
        NoticesQueued("456", ("123",), ("webhook", "canvas_inbox"), now + timedelta(seconds=60)),
    )
    await apply(store, AlertOpened("456", "123", "POINTS_MISSING", "warning", "no points", "set"))
    await apply(
        store,
        NoticesQueued("456", ("123",), ("webhook", "canvas_inbox"), now + timedelta(seconds=90)),
    )
    assert await store.alerts.due_notices(now, 10) == []
    due = await store.alerts.due_notices(now + timedelta(seconds=61), 10)
    assert sorted(n.channel for n in due) == ["canvas_inbox", "webhook"]
    assert {a.code for a in due[0].alerts} == {"NAME_TOO_LONG", "POINTS_MISSING"}

    await store.alerts.notice_sent(due[0].id, {"ok": True}, now)
    await store.alerts.notice_failed(due[1].id, "refused", now + timedelta(hours=1), now)
    assert await store.alerts.due_notices(now + timedelta(seconds=61), 10) == []
    (retry,) = await store.alerts.due_notices(now + timedelta(hours=2), 10)
    assert retry.attempts == 1
    # Taken: no other sender gets it, until it is sent or failed, or the claim runs out.
    assert await store.alerts.due_notices(now + timedelta(hours=2), 10) == []
    (again,) = await store.alerts.due_notices(now + timedelta(hours=2, minutes=6), 10)
    assert again.id == retry.id
    await store.alerts.notice_failed(retry.id, "refused", now + timedelta(hours=2), now)
    # a new change after the first notice went out queues a new one
    await apply(store, NoticesQueued("456", ("123",), ("webhook", "canvas_inbox"), now))
    assert {n.channel for n in await store.alerts.due_notices(now + timedelta(hours=2), 10)} == {
        "webhook",
        "canvas_inbox",
    }


async def test_line_items_keep_the_details_ic_confirmed(store: SqlStore) -> None:
    details = line_item_details(ASSIGNMENT, "7", "Homework")
    await store.apply([LineItemConfirmed("456", "123", "7", "canvas-a123-s7", None)])
    (legacy,) = await store.syncs.written_line_items("456")
    assert legacy.details is None  # written before details were kept
    await store.apply([LineItemConfirmed("456", "123", "7", "canvas-a123-s7", details)])
    (item,) = await store.syncs.written_line_items("456")
    assert item.details == details and item.sourced_id == "canvas-a123-s7"
