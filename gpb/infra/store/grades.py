"""Canvas grades as gpb holds them, one row per student and assignment, on SQLite."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from gpb.handlers.grades import Grade, GradeStored, GradeValue, merge
from gpb.handlers.timefmt import format_time, parse_time_or_none
from gpb.infra.store.database import Connection, Database, Row, for_update


def _grade(row: Row) -> Grade:
    return Grade(
        course_id=row["course_id"],
        assignment_id=row["assignment_id"],
        user_id=row["user_id"],
        value=GradeValue(
            score=row["score"],
            grade=row["grade"],
            excused=bool(row["excused"]),
            missing=bool(row["missing"]),
            late=bool(row["late"]),
            posted=bool(row["posted"]),
        ),
        student_sis_id=row["student_sis_id"],
        graded_at=parse_time_or_none(row["graded_at"]),
        state_time_ms=row["state_time_ms"],
        field_times=json.loads(row["field_times"]),
    )


class SqlGrades:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def grade(self, course_id: str, assignment_id: str, user_id: str) -> Grade | None:
        def read(conn: Connection) -> Grade | None:
            row = conn.execute(
                "SELECT * FROM grades WHERE course_id = ? AND assignment_id = ? AND user_id = ?",
                (course_id, assignment_id, user_id),
            ).fetchone()
            return _grade(row) if row else None

        return await self._db.read(read)

    async def grades(self, course_id: str) -> list[Grade]:
        rows = await self._db.read(
            lambda conn: conn.execute(
                "SELECT * FROM grades WHERE course_id = ?", (course_id,)
            ).fetchall()
        )
        return [_grade(row) for row in rows]


def _grade_stored(conn: Connection, change: GradeStored) -> None:
    # Merged with what is held, field by field, inside the transaction: a remaster's re-read and
    # an event handled meanwhile each keep what is newer, whichever is written last.
    # Locked till the commit, so that a write on another connection waits and merges after this.
    held = conn.execute(
        "SELECT * FROM grades WHERE course_id = ? AND assignment_id = ? AND user_id = ?"
        + for_update(conn),
        (change.grade.course_id, change.grade.assignment_id, change.grade.user_id),
    ).fetchone()
    grade = merge(_grade(held), change.grade) if held else change.grade
    value = grade.value
    conn.execute(
        "INSERT INTO grades (course_id, assignment_id, user_id, score, grade, excused,"
        " missing, late, posted, student_sis_id, graded_at, state_time_ms, field_times)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (course_id, assignment_id, user_id) DO UPDATE SET score = excluded.score,"
        " grade = excluded.grade, excused = excluded.excused, missing = excluded.missing,"
        " late = excluded.late, posted = excluded.posted, student_sis_id = excluded.student_sis_id,"
        " graded_at = excluded.graded_at, state_time_ms = excluded.state_time_ms,"
        " field_times = excluded.field_times",
        (
            grade.course_id,
            grade.assignment_id,
            grade.user_id,
            value.score,
            value.grade,
            int(value.excused),
            int(value.missing),
            int(value.late),
            int(value.posted),
            grade.student_sis_id,
            format_time(grade.graded_at) if grade.graded_at else None,
            grade.state_time_ms,
            json.dumps(grade.field_times, sort_keys=True),
        ),
    )


WRITERS: dict[type, Callable[[Connection, Any], None]] = {GradeStored: _grade_stored}
