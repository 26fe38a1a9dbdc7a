"""The grade snapshot kept by grade events: order, duplicates, excused versus removed."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from canvas_events import sample
from fakes import FakeCanvas, event_table, stored_event
from hypothesis import given, settings
from hypothesis import strategies as st

from gpb.handlers.grades import (
    Grade,
    GradeStored,
    GradeValue,
    SentValue,
    grade_from_submission,
    merge,
    sent_value,
)
from gpb.handlers.model import Course, Submission


class Grades:
    def __init__(self) -> None:
        self.stored: dict[tuple[str, str, str], Grade] = {}

    async def grade(self, course_id: str, assignment_id: str, user_id: str) -> Grade | None:
        return self.stored.get((course_id, assignment_id, user_id))

    async def grades(self, course_id: str) -> list[Grade]:
        return [g for (c, _, _), g in self.stored.items() if c == course_id]

    def apply(self, changes: tuple[object, ...]) -> None:
        for change in changes:
            if isinstance(change, GradeStored):
                g = change.grade
                key = (g.course_id, g.assignment_id, g.user_id)
                old = self.stored.get(key)
                self.stored[key] = g if old is None else merge(old, g)


class World:
    def __init__(self) -> None:
        self.canvas = FakeCanvas(Course("456", "Algebra I", "available"))
        self.grades = Grades()
        self.handlers = event_table(self.canvas, grades=self.grades)

    async def post(self, name: str, at: str, **body: Any) -> Any:
        payload = sample(name)
        payload["body"].update(body)
        payload["metadata"]["event_time"] = at
        return await self.handle(payload)

    async def handle(self, payload: dict[str, Any], event_id: str = "1") -> Any:
        """Stores the event as ingress would, has it handled, and applies what it changed."""
        stored = stored_event(payload, event_id)
        handled = await self.handlers[stored.event_name or ""](stored)
        self.grades.apply(handled.changes)
        return handled

    def value(self) -> GradeValue:
        return self.grades.stored[("456", "123", "1201")].value


async def test_a_regrade_is_stored_with_the_sis_id() -> None:
    world = World()
    await world.post("grade_change_8_to_9_5", "2024-10-21T13:05:52.640Z")
    grade = world.grades.stored[("456", "123", "1201")]
    assert (grade.value.score, grade.value.grade, grade.student_sis_id) == (9.5, "9.5", "S-102938")
    assert grade.value.posted is True


async def test_an_older_event_does_not_overwrite_a_newer_grade() -> None:
    world = World()
    await world.post("grade_change_8_to_9_5", "2024-10-21T13:05:52.640Z")
    stale = await world.post(
        "grade_change_8_to_9_5", "2024-10-21T13:00:00.000Z", score=3.0, grade="3"
    )
    assert stale.changes == () and stale.outcome == {"stale": True}
    assert world.value().score == 9.5


async def test_a_duplicate_changes_nothing() -> None:
    world = World()
    await world.post("grade_change_8_to_9_5", "2024-10-21T13:05:52.640Z")
    before = dict(world.grades.stored)
    await world.post("grade_change_8_to_9_5", "2024-10-21T13:05:52.640Z")
    assert world.grades.stored == before


async def test_null_grade_and_score_asks_canvas_excused_or_removed() -> None:
    world = World()
    await world.post("grade_change_8_to_9_5", "2024-10-21T13:05:52.640Z")
    world.canvas.submissions[("123", "1201")] = Submission(
        "123", "1201", None, None, True, False, False, True
    )
    await world.post("grade_change_excused", "2024-10-22T09:31:18.007Z")
    assert world.value().excused is True
    assert sent_value(world.value()) == SentValue(None, True, False, False)

    world.canvas.submissions[("123", "1201")] = Submission(
        "123", "1201", None, None, False, False, False, True
    )
    await world.post("grade_change_excused", "2024-10-22T09:40:00.000Z", grading_complete=False)
    assert world.value().excused is False and world.value().score is None
    assert sent_value(world.value()) is None  # removed: nothing to send, IC's copy is deleted
    assert world.canvas.calls.count("get_submission") == 2


async def test_without_canvas_the_hint_decides_and_the_problem_is_recorded() -> None:
    from gpb.handlers.errors import CanvasNotConfigured

    world = World()
    world.canvas.failure = CanvasNotConfigured("GPB_CANVAS_BASE_URL is not set")
    handled = await world.post("grade_change_excused", "2024-10-22T09:31:18.007Z")
    assert world.value().excused is True
    assert handled.error["code"] == "CANVAS_NOT_CONFIGURED"


async def test_submission_events_bring_late_missing_and_posting_but_keep_excused() -> None:
    world = World()
    world.canvas.submissions[("123", "1201")] = Submission(
        "123", "1201", None, None, True, False, False, True
    )
    await world.post("grade_change_excused", "2024-10-22T09:31:18.007Z")
    await world.post(
        "submission_updated",
        "2024-10-22T09:31:19.000Z",
        score=None,
        grade=None,
        late=True,
        missing=False,
        posted_at=None,
    )
    value = world.value()
    assert (value.excused, value.late, value.posted) == (True, True, False)


async def test_a_missing_submission_without_score_is_sent_as_not_submitted() -> None:
    world = World()
    await world.post(
        "submission_updated",
        "2024-10-22T09:31:19.000Z",
        score=None,
        grade=None,
        missing=True,
        late=False,
    )
    assert sent_value(world.value()) == SentValue(None, False, True, False)


async def test_a_score_does_not_clear_missing_and_a_re_read_does_not_flip_it() -> None:
    """Canvas keeps a submission marked missing when it gets a score (the missing-submission
    policy scores it too): the grade_change of that score leaves `missing` as the submission said,
    and a remaster's re-read of the same grade sends the same value."""
    world = World()
    await world.post(
        "submission_updated", "2024-10-22T09:00:00.000Z", score=None, grade=None, missing=True
    )
    await world.post("grade_change_8_to_9_5", "2024-10-22T09:05:00.000Z", score=0.0, grade="0")
    after_event = world.grades.stored[("456", "123", "1201")]
    assert sent_value(after_event.value) == SentValue(0.0, False, True, False)
    canvas_now = Submission("123", "1201", 0.0, "0", False, True, False, True)
    re_read = grade_from_submission("456", canvas_now, "S-102938", 1_800_000_000_000)
    assert sent_value(merge(after_event, re_read).value) == sent_value(after_event.value)


async def test_a_submission_event_without_a_flag_keeps_what_the_last_one_said() -> None:
    world = World()
    await world.post("submission_updated", "2024-10-22T09:00:00.000Z", missing=True, late=True)
    body = sample("submission_updated")["body"]
    body.pop("missing", None), body.pop("late", None)
    payload = sample("submission_updated")
    payload["body"] = body
    payload["metadata"]["event_time"] = "2024-10-22T09:10:00.000Z"
    await world.handle(payload, "2")
    assert (world.value().missing, world.value().late) == (True, True)


async def test_a_hidden_grade_is_kept_with_posted_false() -> None:
    world = World()
    await world.post("grade_change_8_to_9_5", "2024-10-21T13:05:52.640Z", muted=True)
    assert world.value().posted is False and sent_value(world.value()) is not None


async def test_a_late_submission_event_still_brings_what_no_newer_event_said() -> None:
    world = World()
    # The grading's grade_change and submission_updated, delivered in the wrong order.
    await world.post("submission_updated", "2024-10-21T13:05:52.655Z", late=True, posted_at=None)
    await world.post("grade_change_8_to_9_5", "2024-10-21T13:05:52.640Z", muted=True)
    value = world.value()
    assert (value.score, value.late, value.posted) == (9.5, True, False)
    assert world.grades.stored[("456", "123", "1201")].student_sis_id == "S-102938"


def _grade_event(kind: str, score: float | None, flag: bool) -> tuple[str, dict[str, Any]]:
    """A grade_change (`flag`: muted) or a submission_updated (`flag`: late) of one student."""
    if kind == "grade_change":
        grade = None if score is None else f"{score:g}"
        return "grade_change_8_to_9_5", {
            "score": score,
            "grade": grade or "incomplete",
            "muted": flag,
        }
    return "submission_updated", {
        "score": score,
        "grade": None if score is None else f"{score:g}",
        "late": flag,
        "missing": score is None and not flag,
        "posted_at": None if flag else "2024-10-21T13:05:52Z",
    }


GRADE_EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["grade_change", "submission_updated"]),
        st.none() | st.integers(0, 20).map(lambda n: n / 2),
        st.booleans(),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(events=GRADE_EVENTS, order=st.randoms(use_true_random=False), data=st.data())
def test_any_order_and_any_duplicates_give_the_in_order_grade(
    events: list[tuple[str, float | None, bool]], order: random.Random, data: st.DataObject
) -> None:
    timed = [(f"2024-10-21T13:05:{n:02d}.000Z", *_grade_event(*e)) for n, e in enumerate(events)]
    arrivals = timed + data.draw(st.lists(st.sampled_from(timed), max_size=4))  # redeliveries
    order.shuffle(arrivals)

    async def final(deliveries: list[tuple[str, str, dict[str, Any]]]) -> Grade:
        world = World()
        for at, name, body in deliveries:
            await world.post(name, at, **body)
        return world.grades.stored[("456", "123", "1201")]

    assert asyncio.run(final(arrivals)) == asyncio.run(final(timed))
