"""Students' names follow Canvas: read with the enrollments, renamed on `user_updated`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from fakes import FakeCanvas, event_table

from gpb.handlers.errors import CanvasNotConfigured
from gpb.handlers.eventlog import EventStatus, StoredEvent
from gpb.handlers.messagebus import Handler, Unusable
from gpb.handlers.model import Course, Enrollment
from gpb.handlers.students import Roster, StudentRenamed


@dataclass
class Students:
    ids: set[str] = field(default_factory=set)

    async def is_student(self, user_id: str) -> bool:
        return user_id in self.ids


def _names(*students: str) -> tuple[Handler, FakeCanvas]:
    """The `user_updated` handler, as the worker calls it, over students of a course gpb holds."""
    canvas = FakeCanvas(Course("456", "Algebra I", "available"))
    return event_table(canvas, students=Students(set(students)))["user_updated"], canvas


def _user_updated(user_id: object) -> StoredEvent:
    body = {"user_id": user_id, "name": "Ana Rivera", "short_name": "Ana Rivera"}
    return StoredEvent(
        id="1",
        received_at=datetime.now(UTC),
        status=EventStatus.ACCEPTED,
        event_name="user_updated",
        payload={"metadata": {"event_name": "user_updated"}, "body": body},
    )


async def test_a_renamed_student_is_read_again_from_canvas() -> None:
    names, canvas = _names("1201")
    canvas.users["1201"] = "Rivera, Ana"
    handled = await names(_user_updated("10000000001201"))
    assert handled.changes == (StudentRenamed("1201", "Rivera, Ana"),)
    assert "Rivera" not in str(handled.outcome)  # student data stays out of the event log


async def test_a_user_who_is_no_student_costs_no_canvas_call() -> None:
    names, canvas = _names("1201")
    handled = await names(_user_updated("777"))
    assert handled.status is EventStatus.IGNORED
    assert canvas.calls == []


async def test_a_user_canvas_no_longer_has_keeps_the_name_held() -> None:
    names, _ = _names("1201")
    handled = await names(_user_updated("1201"))
    assert handled.changes == ()


async def test_without_canvas_the_event_is_recorded_not_retried() -> None:
    names, canvas = _names("1201")
    canvas.failure = CanvasNotConfigured("no Canvas")
    handled = await names(_user_updated("1201"))
    assert handled.error is not None and handled.error["code"] == "CANVAS_NOT_CONFIGURED"


async def test_an_event_without_a_user_is_unusable() -> None:
    names, _ = _names()
    with pytest.raises(Unusable):
        await names(_user_updated(None))


def test_the_roster_names_students_and_their_sis_ids() -> None:
    roster = Roster.of(
        [
            Enrollment("1201", "11", "S-1201", sortable_name="Rivera, Ana"),
            Enrollment("1201", "12", "S-1201", sortable_name="Rivera, Ana"),
            Enrollment("1202", "11", None),
        ]
    )
    assert roster.names == {"1201": "Rivera, Ana"}
    assert roster.sis_ids == {"1201": "S-1201"}
