"""Course summaries for `GET /api/courses`."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from gpb.handlers.courses import CourseSeen, CourseSummary
from gpb.handlers.timefmt import format_time, iso, parse_time, utcnow
from gpb.infra.store.database import Connection, Database


class SqlCourses:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def summaries(self, only: Collection[str] | None) -> list[CourseSummary]:
        """Every known course, or those of `only` that gpb knows of."""

        def read(conn: Connection) -> list[CourseSummary]:
            sql = (
                "SELECT id, name,"
                " (SELECT count(*) FROM alerts WHERE alerts.course_id = courses.id"
                " AND state = 'open') AS open_alerts,"
                " (SELECT max(finished_at) FROM sync_runs WHERE sync_runs.course_id = courses.id"
                " AND dry_run = 0 AND status IN ('succeeded', 'partial')) AS last_sync"
                " FROM courses"
            )
            params: tuple[str, ...] = ()
            if only is not None:
                ids = tuple(only)
                if not ids:
                    return []
                sql += f" WHERE id IN ({','.join('?' * len(ids))})"
                params = ids
            rows = conn.execute(sql + " ORDER BY CAST(id AS INTEGER)", params).fetchall()
            return [
                CourseSummary(row["id"], row["name"], row["open_alerts"], _iso(row["last_sync"]))
                for row in rows
            ]

        return await self._db.read(read)


def _iso(stored: str | None) -> str | None:
    return iso(parse_time(stored)) if stored else None


def _course_seen(conn: Connection, change: CourseSeen) -> None:
    conn.execute(
        "INSERT INTO courses (id, shard, first_seen_at) VALUES (?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET shard = coalesce(courses.shard, excluded.shard)",
        (change.course_id, change.shard, format_time(utcnow())),
    )


WRITERS: dict[type, Callable[[Connection, Any], None]] = {CourseSeen: _course_seen}
