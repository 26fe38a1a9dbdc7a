"""The event table: every name written out, each body read into its model before its handler runs,
and how a new event type joins it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from canvas_events import SAMPLES, canvas_examples, sample
from fakes import FakeCanvas, FakeEventLog, event_table, stored_event

from gpb.handlers import events
from gpb.handlers.backoff import RetryPolicy
from gpb.handlers.courses import CourseSeen
from gpb.handlers.envelope import parse_event
from gpb.handlers.event_bodies import Body, CanvasId, GradeChangeBody, SubmissionBody
from gpb.handlers.eventlog import EventStatus
from gpb.handlers.fixes import FIX_EVENT
from gpb.handlers.messagebus import Event, Handled, MessageBus, Route, Unusable
from gpb.handlers.model import Course
from gpb.handlers.worker import Worker

TABLE = event_table(FakeCanvas(Course("456", "Algebra I", "available")))
EXAMPLES = [*canvas_examples(), *((p.stem, sample(p.stem)) for p in sorted(SAMPLES.glob("*.json")))]


def test_every_name_in_the_table_is_written_out_whole() -> None:
    source = Path(events.__file__).read_text()
    assert FIX_EVENT in TABLE
    for name in TABLE:
        assert re.search(rf'^\s+"{name}": Route\(', source, re.MULTILINE), name


# Canvas's grade_override example is sent as `grade_change`, but it is a course's override grade,
# of no assignment: gpb ignored it before the models, and still does.
NOT_GRADES_OF_ASSIGNMENTS = {"grade_override[0]": "the event body has no assignment_id"}


@pytest.mark.parametrize(("name", "payload"), EXAMPLES, ids=[name for name, _ in EXAMPLES])
async def test_every_example_body_of_a_handled_event_is_read_by_its_model(
    name: str, payload: dict[str, Any]
) -> None:
    """Instructure's documented examples and the samples: their models refuse none that gpb
    handled before."""
    event = stored_event(payload)
    if event.event_name not in TABLE:
        pytest.skip(f"gpb does not handle {event.event_name}")
    route = TABLE[event.event_name or ""]
    assert isinstance(route, Route)
    if name not in NOT_GRADES_OF_ASSIGNMENTS:
        route.body.model_validate(event.body)
        return
    with pytest.raises(Unusable, match=NOT_GRADES_OF_ASSIGNMENTS[name]):
        await route(event)


def test_odd_values_cost_the_value_never_the_event() -> None:
    body = GradeChangeBody.model_validate(
        {"assignment_id": "10000000000123", "student_id": "", "user_id": 1201, "score": "9.5"}
    )
    assert (body.assignment_id, body.student_id, body.score) == ("123", "1201", 9.5)
    odd = GradeChangeBody.model_validate(
        {"assignment_id": 123, "student_id": "1201", "score": "n/a", "muted": "yes", "grade": 9}
    )
    assert (odd.score, odd.muted, odd.grade, odd.grading_complete) == (None, None, "9", False)


def test_a_submission_says_posted_only_when_it_carries_posted_at() -> None:
    ids = {"assignment_id": "123", "user_id": "1201"}
    assert SubmissionBody.model_validate(ids).posted is None
    assert SubmissionBody.model_validate({**ids, "posted_at": None}).posted is False
    assert SubmissionBody.model_validate({**ids, "posted_at": "2024-10-21T13:05:52Z"}).posted
    assert SubmissionBody.model_validate({**ids, "graded_at": "not a time"}).graded_at is None


async def test_a_body_its_model_refuses_is_recorded_as_ignored_and_kept() -> None:
    log = FakeEventLog()
    payload = sample("grade_change_8_to_9_5")
    payload["body"]["assignment_id"] = "not-an-id"
    appended = await log.append(parse_event(payload), None)
    await Worker(log, MessageBus(TABLE), RetryPolicy()).drain()
    event = log.events[appended.id]
    assert event.status is EventStatus.IGNORED and event.attempts == 1
    assert event.outcome == {"reason": "the event body's assignment_id: not a Canvas id"}
    assert event.payload == parse_event(payload).payload  # stored as it came, for a replay
    assert log.applied == []


# A new event type, end to end: a model of what its handler reads, a handler taking the typed
# event, and one line in the table (here added to gpb's own table, as events.py would hold it).


class QuizBody(Body):
    quiz_id: CanvasId
    title: str = ""


async def on_quiz(event: Event[QuizBody]) -> Handled:
    assert event.course_id is not None
    outcome = {"quiz_id": event.body.quiz_id, "title": event.body.title}
    return Handled(outcome=outcome, changes=(CourseSeen(event.course_id, event.shard),))


async def test_a_new_event_type_is_read_into_its_model_and_handled_by_the_worker() -> None:
    log = FakeEventLog()
    quiz = {
        "metadata": {
            "event_name": "quiz_created",
            "event_time": "2024-10-21T13:05:52Z",
            "context_type": "Course",
            "context_id": "10000000000456",
        },
        "body": {"quiz_id": "10000000000077", "title": "Unit 3", "points_possible": 20},
    }
    unusable = {**quiz, "body": {"title": "no id"}}
    ids = [(await log.append(parse_event(e), None)).id for e in (quiz, unusable)]
    bus = MessageBus(TABLE | {"quiz_created": Route(QuizBody, on_quiz)})
    assert await Worker(log, bus, RetryPolicy()).drain() == 2
    handled, refused = (log.events[i] for i in ids)
    assert handled.status is EventStatus.PROCESSED
    assert handled.outcome == {"quiz_id": "77", "title": "Unit 3"}
    assert log.applied == [CourseSeen("456", 1)]
    assert refused.status is EventStatus.IGNORED
    assert refused.outcome == {"reason": "the event body has no quiz_id"}
