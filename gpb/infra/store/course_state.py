"""Course state on SQLite: Canvas objects as last read, and each assignment's verdict."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from gpb.handlers.course_state import (
    AssignmentRecord,
    AssignmentStored,
    CourseState,
    CourseStored,
    EnrollmentsStored,
    GroupsStored,
    SectionsStored,
)
from gpb.handlers.eligibility import Violation
from gpb.handlers.model import (
    Assignment,
    AssignmentGroup,
    Course,
    Enrollment,
    Override,
    OverrideTarget,
    Section,
)
from gpb.handlers.students import StudentRenamed
from gpb.handlers.timefmt import format_time, parse_time_or_none, utcnow
from gpb.infra.store.database import Connection, Database

_ASSIGNMENT_TIMES = ("due_at", "unlock_at", "created_at", "updated_at")


def _time_or_none(value: datetime | None) -> str | None:
    return format_time(value) if value else None


def assignment_to_json(assignment: Assignment) -> str:
    data = asdict(assignment)
    for name in _ASSIGNMENT_TIMES:
        data[name] = _time_or_none(getattr(assignment, name))
    data["overrides"] = [
        {
            **asdict(o),
            "target": o.target.value,
            "due_at": _time_or_none(o.due_at),
            "unlock_at": _time_or_none(o.unlock_at),
        }
        for o in assignment.overrides
    ]
    return json.dumps(data, separators=(",", ":"))


def assignment_from_json(text: str) -> Assignment:
    data: dict[str, Any] = json.loads(text)
    for name in _ASSIGNMENT_TIMES:
        data[name] = parse_time_or_none(data[name])
    data["overrides"] = tuple(
        Override(
            **{
                **o,
                "target": OverrideTarget(o["target"]),
                "due_at": parse_time_or_none(o["due_at"]),
                "unlock_at": parse_time_or_none(o.get("unlock_at")),
                "student_ids": tuple(o["student_ids"]),
            }
        )
        for o in data["overrides"]
    )
    return Assignment(**data)


def violations_to_json(violations: tuple[Violation, ...]) -> str:
    return json.dumps([asdict(v) for v in violations], separators=(",", ":"))


def violations_from_json(text: str) -> tuple[Violation, ...]:
    return tuple(Violation(**v) for v in json.loads(text))


class SqlCourseState:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def course_state(self, course_id: str) -> CourseState:
        return await self._db.read(lambda conn: _load(conn, course_id))

    async def is_student(self, user_id: str) -> bool:
        row = await self._db.read(
            lambda conn: conn.execute(
                "SELECT 1 FROM enrollments WHERE user_id = ? LIMIT 1", (user_id,)
            ).fetchone()
        )
        return row is not None


def _load(conn: Connection, course_id: str) -> CourseState:
    row = conn.execute("SELECT * FROM courses WHERE id = ?", (course_id,)).fetchone()
    if row is None or row["refreshed_at"] is None:
        return CourseState(course_id)
    return CourseState(
        course_id=course_id,
        course=Course(
            row["id"], row["name"] or "", row["workflow_state"] or "", row["sis_course_id"]
        ),
        course_time_ms=row["state_time_ms"] or 0,
        sections=tuple(
            Section(r["id"], course_id, r["name"], r["sis_section_id"], r["student_count"])
            for r in conn.execute(
                "SELECT * FROM sections WHERE course_id = ? ORDER BY CAST(id AS INTEGER)",
                (course_id,),
            )
        ),
        groups=tuple(
            AssignmentGroup(r["id"], course_id, r["name"])
            for r in conn.execute(
                "SELECT * FROM assignment_groups WHERE course_id = ? ORDER BY CAST(id AS INTEGER)",
                (course_id,),
            )
        ),
        enrollments=tuple(
            Enrollment(
                r["user_id"], r["section_id"], r["sis_user_id"], r["state"], r["sortable_name"]
            )
            for r in conn.execute("SELECT * FROM enrollments WHERE course_id = ?", (course_id,))
        ),
        assignments={
            r["id"]: AssignmentRecord(
                assignment_from_json(r["snapshot"]),
                violations_from_json(r["violations"]),
                bool(r["eligible"]),
                r["state_time_ms"],
            )
            for r in conn.execute("SELECT * FROM assignments WHERE course_id = ?", (course_id,))
        },
        loaded=True,
    )


def _course_stored(conn: Connection, change: CourseStored) -> None:
    course = change.course
    conn.execute(
        "INSERT INTO courses (id, shard, name, workflow_state, sis_course_id, state_time_ms,"
        " first_seen_at, refreshed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET shard = coalesce(courses.shard, excluded.shard),"
        " name = excluded.name, workflow_state = excluded.workflow_state,"
        " sis_course_id = excluded.sis_course_id,"
        " state_time_ms = CASE WHEN courses.state_time_ms > excluded.state_time_ms"
        " THEN courses.state_time_ms ELSE excluded.state_time_ms END,"
        " refreshed_at = excluded.refreshed_at",
        (
            course.id,
            change.shard,
            course.name,
            course.workflow_state,
            course.sis_course_id,
            change.state_time_ms,
            format_time(utcnow()),
            format_time(utcnow()),
        ),
    )


def _sections_stored(conn: Connection, change: SectionsStored) -> None:
    conn.execute("DELETE FROM sections WHERE course_id = ?", (change.course_id,))
    conn.executemany(
        "INSERT INTO sections (course_id, id, name, sis_section_id, student_count)"
        " VALUES (?, ?, ?, ?, ?)",
        [
            (change.course_id, s.id, s.name, s.sis_section_id, s.student_count)
            for s in change.sections
        ],
    )


def _groups_stored(conn: Connection, change: GroupsStored) -> None:
    conn.execute("DELETE FROM assignment_groups WHERE course_id = ?", (change.course_id,))
    conn.executemany(
        "INSERT INTO assignment_groups (course_id, id, name) VALUES (?, ?, ?)",
        [(change.course_id, g.id, g.name) for g in change.groups],
    )


def _enrollments_stored(conn: Connection, change: EnrollmentsStored) -> None:
    conn.execute("DELETE FROM enrollments WHERE course_id = ?", (change.course_id,))
    conn.executemany(
        "INSERT INTO enrollments"
        " (course_id, user_id, section_id, sis_user_id, state, sortable_name)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [
            (change.course_id, e.user_id, e.section_id, e.sis_user_id, e.state, e.sortable_name)
            for e in change.enrollments
        ],
    )


def _student_renamed(conn: Connection, change: StudentRenamed) -> None:
    conn.execute(
        "UPDATE enrollments SET sortable_name = ? WHERE user_id = ?",
        (change.sortable_name, change.user_id),
    )


def _assignment_stored(conn: Connection, change: AssignmentStored) -> None:
    record = change.record
    assignment = record.assignment
    conn.execute(
        "INSERT INTO assignments (course_id, id, title, deleted, sync_enabled, eligible, snapshot,"
        " violations, state_time_ms, evaluated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (course_id, id) DO UPDATE SET title = excluded.title,"
        " deleted = excluded.deleted, sync_enabled = excluded.sync_enabled,"
        " eligible = excluded.eligible, snapshot = excluded.snapshot,"
        " violations = excluded.violations, state_time_ms = excluded.state_time_ms,"
        " evaluated_at = excluded.evaluated_at",
        (
            assignment.course_id,
            assignment.id,
            assignment.title,
            int(assignment.deleted),
            int(record.sync_enabled),
            int(record.eligible),
            assignment_to_json(assignment),
            violations_to_json(record.violations),
            record.state_time_ms,
            format_time(utcnow()),
        ),
    )


WRITERS: dict[type, Callable[[Connection, Any], None]] = {
    CourseStored: _course_stored,
    SectionsStored: _sections_stored,
    GroupsStored: _groups_stored,
    EnrollmentsStored: _enrollments_stored,
    AssignmentStored: _assignment_stored,
    StudentRenamed: _student_renamed,
}
