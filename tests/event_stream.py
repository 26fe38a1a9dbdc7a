"""A busy class's stream of Canvas events, and what gpb must make of it.

The sandbox's course 456, as Canvas reports it: a teacher grading (a `grade_change` and, a few
milliseconds later, the `submission_updated` of the same grading, each saying what it knows),
students handing work in (`submission_created`, `submission_updated`: late, missing), now and then
an assignment edited. Every `event_time` is later than the one before. A stream is a function of
its seed, so a failing run can be replayed. The expected grade of each (assignment, student) comes
from first principles: the newest event that speaks of it wins.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from canvas_events import sample
from databases import query
from running_gpb import ADMIN_TOKEN, auth, drained, sandboxed_gpb

SHARD = 10**13
COURSE = "456"
STUDENTS = tuple(str(user) for user in range(1201, 1213))  # the seed's students with SIS ids
ASSIGNMENTS = ("123", "124", "125", "127", "128")
START = datetime(2026, 11, 2, 14, tzinfo=UTC)
TEMPLATES = {
    "grade_change": "grade_change_8_to_9_5",
    "submission_created": "submission_created",
    "submission_updated": "submission_updated",
    "assignment_updated": "assignment_updated_title_35",
}


def global_id(local: str) -> str:
    return str(SHARD + int(local))


class _Stream:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.at = START

    def _event(self, name: str, assignment: str, **body: Any) -> dict[str, Any]:
        payload = sample(TEMPLATES[name])
        meta = payload["metadata"]
        meta["event_name"] = name
        meta["event_time"] = self.at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        meta["request_id"] = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        payload["body"].update(assignment_id=global_id(assignment), **body)
        return payload

    def _later(self, low_ms: int, high_ms: int) -> None:
        self.at += timedelta(milliseconds=self.rng.randrange(low_ms, high_ms))

    def action(self) -> list[dict[str, Any]]:
        rng = self.rng
        assignment, student = rng.choice(ASSIGNMENTS), rng.choice(STUDENTS)
        user = global_id(student)
        self._later(5, 400)
        kind = rng.choices(("grading", "hand-in", "edit"), (6, 3, 1))[0]
        if kind == "edit":
            return [self._event("assignment_updated", assignment)]
        if kind == "hand-in":
            name = rng.choice(("submission_created", "submission_updated"))
            late = rng.random() < 0.3
            return [self._event(name, assignment, user_id=user, score=None, grade=None, late=late)]
        score = rng.randrange(0, 21) / 2 if rng.random() < 0.9 else None
        # A null score with a grade is a letter or pass/fail grade: no Canvas read needed.
        grade = "incomplete" if score is None else f"{score:g}"
        change = self._event(
            "grade_change",
            assignment,
            user_id=user,
            student_id=user,
            student_sis_id=f"S-{102938 + int(student) - 1201}",
            score=score,
            grade=grade,
            muted=rng.random() < 0.1,
        )
        self._later(1, 30)
        submission = self._event(
            "submission_updated",
            assignment,
            user_id=user,
            score=score,
            grade=grade,
            late=rng.random() < 0.2,
            missing=score is None and rng.random() < 0.5,
            posted_at=None if rng.random() < 0.1 else "2026-11-02T14:00:00Z",
            graded_at=change["metadata"]["event_time"],
            workflow_state="graded",
        )
        return [change, submission]


def events(seed: int, count: int | None = None) -> Iterator[dict[str, Any]]:
    """The first `count` events of stream `seed` (without end when None), in event_time order."""
    stream = _Stream(seed)
    sent = 0
    while count is None or sent < count:
        for payload in stream.action()[: None if count is None else count - sent]:
            sent += 1
            yield payload


@dataclass(frozen=True)
class Expected:
    score: float | None
    grade: str | None


def newest_scores(events: Iterable[dict[str, Any]]) -> dict[tuple[str, str], Expected]:
    """(assignment, student) -> the score and grade of the newest grade event about it."""
    newest: dict[tuple[str, str], tuple[str, Expected]] = {}
    for payload in events:
        meta, body = payload["metadata"], payload["body"]
        if meta["event_name"] == "assignment_updated":
            continue
        key = (str(int(body["assignment_id"]) % SHARD), str(int(body["user_id"]) % SHARD))
        at = meta["event_time"]
        if key not in newest or newest[key][0] < at:
            newest[key] = (at, Expected(body["score"], body["grade"]))
    return {key: expected for key, (_, expected) in newest.items()}


GRADE_COLUMNS = (
    "course_id, assignment_id, user_id, score, grade, excused, missing, late, posted,"
    " student_sis_id, graded_at, state_time_ms"
)


def grade_rows(database_url: str) -> list[tuple[Any, ...]]:
    """gpb's grade snapshot, read from its database."""
    return query(
        database_url,
        f"SELECT {GRADE_COLUMNS} FROM grades ORDER BY course_id, assignment_id, user_id",
    )


def assert_newest_event_wins(rows: list[tuple[Any, ...]], sent: Iterable[dict[str, Any]]) -> None:
    """Each grade's score and grade are those of the newest event about it."""
    held = {(row[1], row[2]): Expected(row[3], row[4]) for row in rows}
    assert held == newest_scores(sent)


@dataclass(frozen=True)
class Outcome:
    """What gpb made of a stream: its grade snapshot and the course's pending delta."""

    grades: list[tuple[Any, ...]]
    pending: dict[str, Any]


async def outcome(client: httpx.AsyncClient, database_url: str) -> Outcome:
    """Once every stored event is handled."""
    await drained(client)
    pending = await client.get(f"/api/courses/{COURSE}/pending", headers=auth(ADMIN_TOKEN))
    assert pending.status_code == 200, pending.text
    return Outcome(grade_rows(database_url), pending.json())


async def in_order(folder: Path, events: Iterable[dict[str, Any]]) -> Outcome:
    """What a fresh gpb makes of `events` delivered once each, one at a time, in order."""
    async with sandboxed_gpb(folder) as env:
        for payload in events:
            await env.post_event(payload)
        return await outcome(env.client, env.settings.database_url)
