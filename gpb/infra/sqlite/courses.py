"""Course summaries for `GET /api/courses`."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection

from gpb.handlers.courses import CourseSummary
from gpb.infra.sqlite.database import Database


class SqliteCourses:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def summaries(self, only: Collection[str] | None) -> list[CourseSummary]:
        """Every known course, or those of `only` that gpb knows of."""

        def read(conn: sqlite3.Connection) -> list[CourseSummary]:
            sql = (
                "SELECT id, name, (SELECT count(*) FROM alerts WHERE alerts.course_id = courses.id"
                " AND state = 'open') AS open_alerts FROM courses"
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
                CourseSummary(row["id"], row["name"], row["open_alerts"], 0, None) for row in rows
            ]

        return await self._db.read(read)
