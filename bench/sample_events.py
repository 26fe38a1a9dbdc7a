"""Realistic, distinct Canvas events for the benchmarks, built from the shard-1 samples in
tests/fixtures/events/: the same shapes and sizes as what Canvas sends, with varied ids, scores,
times and request ids so that no two events hash the same.

Event `index` is always the same event (its randomness is seeded by the index), so a cached pool
can be extended without rebuilding it.
"""

from __future__ import annotations

import copy
import itertools
import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "tests" / "fixtures" / "events"
SHARD_1 = 10**13
COURSES = 2000
FIRST_EVENT_TIME = datetime(2024, 8, 19, 12, tzinfo=UTC)

# How often each sample shape arrives: grading dominates what a district's Canvas sends.
MIX: dict[str, int] = {
    "grade_change_8_to_9_5": 38,
    "grade_change_excused": 2,
    "submission_updated": 20,
    "submission_created": 20,
    "assignment_updated_title_35": 6,
    "assignment_updated_due_at_removed": 3,
    "assignment_created": 5,
    "assignment_override_created": 3,
    "course_updated_published": 3,
}

# Body fields that hold ids, and how many distinct values each one takes.
_ID_FIELDS = {
    "assignment_id": 200_000,
    "assignment_group_id": 20_000,
    "submission_id": 5_000_000,
    "student_id": 60_000,
    "user_id": 60_000,
    "grader_id": 3_000,
    "assignment_override_id": 50_000,
    "course_section_id": 8_000,
}


def global_id(local: int) -> str:
    return str(SHARD_1 + local)


def course_weights(count: int = COURSES) -> list[float]:
    """Busy courses send far more than quiet ones: a Zipf-like spread over `count` courses."""
    return [1 / (rank**0.8) for rank in range(1, count + 1)]


@dataclass(frozen=True)
class Samples:
    templates: list[dict[str, Any]]
    weights: list[int]
    course_cum_weights: list[float]

    @classmethod
    def load(cls) -> Samples:
        templates = [json.loads((SAMPLES / f"{name}.json").read_text()) for name in MIX]
        return cls(templates, list(MIX.values()), list(itertools.accumulate(course_weights())))

    def event(self, index: int, *, course: int | None = None) -> dict[str, Any]:
        """The `index`-th event of the stream: about 20 events a minute, in arrival order.
        `course` (a local id) overrides the course it is drawn in."""
        rng = random.Random(index)
        event = copy.deepcopy(rng.choices(self.templates, self.weights)[0])
        drawn = rng.choices(range(1, COURSES + 1), cum_weights=self.course_cum_weights)[0]
        course = drawn if course is None else course
        meta = event["metadata"]
        meta["request_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        meta["context_id"] = global_id(course)
        meta["user_id"] = global_id(rng.randrange(1, 3_000))
        moment = FIRST_EVENT_TIME + timedelta(seconds=index * 3 + rng.random() * 3)
        meta["event_time"] = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        meta["url"] = meta["url"].replace("/courses/456/", f"/courses/{course}/")
        _vary_body(event["body"], rng, course)
        return event


def _vary_body(body: dict[str, Any], rng: random.Random, course: int) -> None:
    for name, spread in _ID_FIELDS.items():
        value = body.get(name)
        if isinstance(value, str) and value.isdigit():
            local = rng.randrange(1, spread)
            body[name] = global_id(local) if int(value) >= SHARD_1 else str(local)
    if "student_id" in body:
        body["user_id"] = body["student_id"]
    for name in ("context_id", "course_id"):
        if name in body:
            body[name] = global_id(course)
    if isinstance(body.get("score"), float):
        score = rng.randrange(0, 21) / 2
        body["score"] = score
        body["grade"] = f"{score:g}"
    if "title" in body:
        body["title"] = f"{body['title']} {rng.randrange(1, 100)}"
