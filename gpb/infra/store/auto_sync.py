"""Each course's automatic-sync choice and marks, and the queuing of automatic runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, time
from typing import Any

from gpb.handlers.auto_sync import AutoMode, CourseAutoSync, Covered, Mark, NightlySlot
from gpb.handlers.grades import GradeChanged
from gpb.handlers.syncs import RunInProgress, SyncRequest, SyncRun
from gpb.handlers.timefmt import format_time, parse_time_or_none
from gpb.infra.store.database import Connection, Database, Row
from gpb.infra.store.syncs import insert_run


def _setting(course_id: str, row: Row | None) -> CourseAutoSync:
    if row is None:
        return CourseAutoSync(course_id)
    return CourseAutoSync(
        course_id=course_id,
        mode=AutoMode(row["mode"]) if row["mode"] else None,
        nightly_at=time.fromisoformat(row["nightly_at"]) if row["nightly_at"] else None,
        changed_at=parse_time_or_none(row["changed_at"]),
        covered_at=parse_time_or_none(row["covered_at"]),
        nightly_slot=parse_time_or_none(row["nightly_slot"]),
    )


def _take(conn: Connection, course_id: str, mark: Mark) -> bool:
    """Moves the course's mark from what the round read; False when another round moved it."""
    if isinstance(mark, Covered):
        changed = format_time(mark.changed_at)
        row = conn.execute(
            "UPDATE auto_sync SET covered_at = ? WHERE course_id = ? AND changed_at = ?"
            " AND (covered_at IS NULL OR covered_at < ?) RETURNING course_id",
            (changed, course_id, changed, changed),
        ).fetchone()
        return row is not None
    assert isinstance(mark, NightlySlot)
    slot = format_time(mark.slot)
    row = conn.execute(
        "INSERT INTO auto_sync (course_id, nightly_slot) VALUES (?, ?) ON CONFLICT (course_id)"
        " DO UPDATE SET nightly_slot = excluded.nightly_slot"
        " WHERE auto_sync.nightly_slot IS NULL OR auto_sync.nightly_slot < excluded.nightly_slot"
        " RETURNING course_id",
        (course_id, slot),
    ).fetchone()
    return row is not None


class SqlAutoSync:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def course_setting(self, course_id: str) -> CourseAutoSync:
        row = await self._db.read(
            lambda conn: conn.execute(
                "SELECT * FROM auto_sync WHERE course_id = ?", (course_id,)
            ).fetchone()
        )
        return _setting(course_id, row)

    async def choose(
        self, course_id: str, mode: AutoMode | None, nightly_at: time | None, now: datetime
    ) -> None:
        # What happened before the choice is not fired: the marks move up to now.
        stamp = format_time(now)
        await self._db.write(
            lambda conn: conn.execute(
                "INSERT INTO auto_sync (course_id, mode, nightly_at, covered_at, nightly_slot)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (course_id) DO UPDATE SET"
                " mode = excluded.mode, nightly_at = excluded.nightly_at,"
                " covered_at = excluded.covered_at, nightly_slot = excluded.nightly_slot",
                (
                    course_id,
                    mode.value if mode else None,
                    f"{nightly_at:%H:%M}" if nightly_at else None,
                    stamp,
                    stamp,
                ),
            )
        )

    async def settled(self, before: datetime) -> list[CourseAutoSync]:
        rows = await self._db.read(
            lambda conn: conn.execute(
                "SELECT * FROM auto_sync WHERE changed_at <= ?"
                " AND (covered_at IS NULL OR covered_at < changed_at) ORDER BY changed_at",
                (format_time(before),),
            ).fetchall()
        )
        return [_setting(row["course_id"], row) for row in rows]

    async def every_course(self) -> list[CourseAutoSync]:
        rows = await self._db.read(
            lambda conn: conn.execute(
                "SELECT c.id AS known_id, a.* FROM courses c"
                " LEFT JOIN auto_sync a ON a.course_id = c.id ORDER BY c.id"
            ).fetchall()
        )
        return [_setting(row["known_id"], row if row["course_id"] else None) for row in rows]

    async def queue(self, request: SyncRequest, mark: Mark, now: datetime) -> SyncRun | None:
        def write(conn: Connection) -> SyncRun | str | None:
            conn.execute("SAVEPOINT auto_run")
            if not _take(conn, request.course_id, mark):
                conn.execute("RELEASE SAVEPOINT auto_run")
                return None
            created = insert_run(conn, request, now)
            if isinstance(created, str):  # a run under way: the mark stays for the next round
                conn.execute("ROLLBACK TO SAVEPOINT auto_run")
            conn.execute("RELEASE SAVEPOINT auto_run")
            return created

        created = await self._db.write(write)
        if isinstance(created, str):
            raise RunInProgress(created)
        return created

    async def take(self, course_id: str, mark: Mark) -> bool:
        return await self._db.write(lambda conn: _take(conn, course_id, mark))

    async def failures(self, course_id: str) -> dict[str, int]:
        rows = await self._db.read(
            lambda conn: conn.execute(
                "SELECT assignment_id, failures FROM auto_sync_failures WHERE course_id = ?",
                (course_id,),
            ).fetchall()
        )
        return {row[0]: row[1] for row in rows}

    async def count_failures(
        self, course_id: str, failed: Sequence[str], succeeded: Sequence[str]
    ) -> None:
        def write(conn: Connection) -> None:
            conn.executemany(
                "INSERT INTO auto_sync_failures (course_id, assignment_id, failures)"
                " VALUES (?, ?, 1) ON CONFLICT (course_id, assignment_id)"
                " DO UPDATE SET failures = auto_sync_failures.failures + 1",
                [(course_id, a) for a in failed],
            )
            conn.executemany(
                "DELETE FROM auto_sync_failures WHERE course_id = ? AND assignment_id = ?",
                [(course_id, a) for a in succeeded],
            )

        await self._db.write(write)

    async def modes(self) -> list[tuple[str, AutoMode | None]]:
        rows = await self._db.read(
            lambda conn: conn.execute(
                "SELECT c.id, a.mode FROM courses c LEFT JOIN auto_sync a ON a.course_id = c.id"
                " ORDER BY c.id"
            ).fetchall()
        )
        return [(row[0], AutoMode(row[1]) if row[1] else None) for row in rows]


def _grade_changed(conn: Connection, change: GradeChanged) -> None:
    at = format_time(change.at)
    conn.execute(
        "INSERT INTO auto_sync (course_id, changed_at) VALUES (?, ?) ON CONFLICT (course_id)"
        " DO UPDATE SET changed_at = excluded.changed_at"
        " WHERE auto_sync.changed_at IS NULL OR auto_sync.changed_at < excluded.changed_at",
        (change.course_id, at),
    )


WRITERS: dict[type, Callable[[Connection, Any], None]] = {GradeChanged: _grade_changed}
