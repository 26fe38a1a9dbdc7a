"""Reconciliations, and the courses to reconcile with their nightly-remaster opt-in, on SQLite."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

from gpb.handlers.ids import record_id
from gpb.handlers.reconcile import ReconcileCourse, ReconcileStatus, Reconciliation
from gpb.handlers.timefmt import format_time, parse_time
from gpb.infra.store.database import Connection, Database, Row, inserted_id
from gpb.infra.store.event_parts import FILED, WAITING
from gpb.infra.store.health import first_id_since


def _reconciliation(row: Row) -> Reconciliation:
    return Reconciliation(
        course_id=row["course_id"],
        trigger=row["started_by"],
        status=ReconcileStatus(row["status"]),
        started_at=parse_time(row["started_at"]),
        finished_at=parse_time(row["finished_at"]),
        repaired_grades=row["repaired_grades"],
        drift_count=row["drift_count"],
        report=json.loads(row["report"]),
        id=str(row["id"]),
    )


def _course(row: Row) -> ReconcileCourse:
    return ReconcileCourse(row["id"], bool(row["nightly_remaster"]))


class SqlReconciliations:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def courses_to_reconcile(self, active_since: datetime | None) -> list[ReconcileCourse]:
        def read(conn: Connection) -> list[ReconcileCourse]:
            order = " ORDER BY CAST(id AS INTEGER)"
            if active_since is None:
                return [_course(r) for r in conn.execute("SELECT * FROM courses" + order)]
            # A course with an event since, in either part of the log: among the events handled,
            # through the course's index; among those still waiting (few), one walk for all courses.
            rows = conn.execute(
                "SELECT * FROM courses WHERE nightly_remaster = 1"
                " OR EXISTS (SELECT 1 FROM events"
                f"  WHERE events.course_id = courses.id AND events.id >= :first AND {FILED})"
                " OR courses.id IN (SELECT events.course_id FROM events"
                f"  WHERE {WAITING} AND events.id >= :first)"
                " OR EXISTS (SELECT 1 FROM sync_runs"
                "  WHERE sync_runs.course_id = courses.id AND sync_runs.created_at >= :since)"
                + order,
                {"first": first_id_since(conn, active_since), "since": format_time(active_since)},
            )
            return [_course(r) for r in rows]

        return await self._db.read(read)

    async def reconcile_course(self, course_id: str) -> ReconcileCourse | None:
        def read(conn: Connection) -> ReconcileCourse | None:
            row = conn.execute("SELECT * FROM courses WHERE id = ?", (course_id,)).fetchone()
            return _course(row) if row else None

        return await self._db.read(read)

    async def set_nightly_remaster(self, course_id: str, enabled: bool) -> bool:
        def write(conn: Connection) -> bool:
            cursor = conn.execute(
                "UPDATE courses SET nightly_remaster = ? WHERE id = ?", (int(enabled), course_id)
            )
            return cursor.rowcount == 1

        return await self._db.write(write)

    async def save_reconciliation(self, reconciliation: Reconciliation) -> Reconciliation:
        r = reconciliation

        def write(conn: Connection) -> int:
            saved = inserted_id(
                conn,
                "INSERT INTO reconciliations (course_id, started_by, status, started_at,"
                " finished_at, repaired_grades, drift_count, report)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    r.course_id,
                    r.trigger,
                    r.status.value,
                    format_time(r.started_at),
                    format_time(r.finished_at),
                    r.repaired_grades,
                    r.drift_count,
                    json.dumps(r.report),
                ),
            )
            assert saved is not None
            return saved

        return replace(r, id=str(await self._db.write(write)))

    async def reconciliations(
        self, course_id: str | None, before_id: str | None, limit: int
    ) -> list[Reconciliation]:
        def read(conn: Connection) -> list[Reconciliation]:
            clauses: list[str] = []
            params: list[str | int] = []
            if course_id is not None:
                clauses.append("course_id = ?")
                params.append(course_id)
            if before_id is not None:
                clauses.append("id < ?")
                params.append(int(before_id))
            where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
            rows = conn.execute(
                f"SELECT * FROM reconciliations{where} ORDER BY id DESC LIMIT ?", (*params, limit)
            )
            return [_reconciliation(row) for row in rows]

        return await self._db.read(read)

    async def reconciliation(self, reconciliation_id: str) -> Reconciliation | None:
        row_id = record_id(reconciliation_id)
        if row_id is None:
            return None

        def read(conn: Connection) -> Reconciliation | None:
            row = conn.execute("SELECT * FROM reconciliations WHERE id = ?", (row_id,)).fetchone()
            return _reconciliation(row) if row else None

        return await self._db.read(read)
