"""The queries over the event log's filter indexes each state the part of the log they read, so
that SQLite, which uses a partial index only when a query states its condition word for word,
walks an index there and never scans the log. Plans hold without statistics (gpb runs no ANALYZE),
so a small log plans as a large one does."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
from canvas_events import grade_event
from databases import on_postgres

from gpb.handlers.claims import Claim
from gpb.handlers.courses import CourseSeen
from gpb.handlers.eventlog import EventQuery, EventStatus, Finish, Rejection
from gpb.infra.store.database import Database
from gpb.infra.store.eventlog import SqlEventLog
from gpb.infra.store.health import SqlHealth
from gpb.infra.store.reconcile import SqlReconciliations
from gpb.infra.store.retention import SqlRetention
from gpb.infra.store.sqlite import SqliteConnection
from gpb.infra.store.store import SqlStore

pytestmark = pytest.mark.skipif(on_postgres(), reason="SQLite's query plans")
T = TypeVar("T")
# A step that reads the events table itself from end to end, or a whole index of it but the
# waiting events' (the worker's backlog, which a query over both parts reads on purpose).
FULL_SCAN = re.compile(r"SCAN events(?! USING (COVERING )?INDEX events_waiting\b)")
COURSE, NAME = "456", "grade_change"


class PlannedConnection(SqliteConnection):
    """Plans each statement that reads the events before running it, and keeps the plans."""

    plans: list[tuple[str, list[str]]]

    def execute(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = (), /) -> Any:
        if re.match(r"\s*(SELECT|UPDATE|DELETE)\b", sql) and "events" in sql:
            plan = super().execute(f"EXPLAIN QUERY PLAN {sql}", parameters).fetchall()
            self.plans.append((sql, [step[3] for step in plan]))
        return super().execute(sql, parameters)


class Planned:
    """A database whose reads and writes run at once on one planned connection."""

    def __init__(self, conn: PlannedConnection) -> None:
        self.conn = conn
        self.dialect = conn.dialect

    async def read(self, fn: Callable[[PlannedConnection], T]) -> T:
        return fn(self.conn)

    write = read


def scans(plans: Iterable[tuple[str, list[str]]]) -> list[tuple[str, list[str]]]:
    """The statements that scan the log. One without a WHERE (the newest event, a newest page)
    walks the id key from its end and stops at its LIMIT, so only filtering ones count."""
    return [
        (sql, steps)
        for sql, steps in plans
        if " WHERE " in sql and any(FULL_SCAN.match(step) for step in steps)
    ]


async def test_no_admin_query_scans_the_event_log(tmp_path: Path) -> None:
    path = str(tmp_path / "gpb.db")
    store = SqlStore(path)
    store.migrate()
    store.start()
    try:
        handled = await store.events.append(grade_event(1), None)
        await store.events.finish(
            handled.id, Finish(EventStatus.PROCESSED, 1, changes=(CourseSeen(COURSE, 1),))
        )
        await store.events.append(grade_event(2), None)
        await store.events.append_rejected(Rejection("BAD_SIGNATURE", "no", b"x", None))
    finally:
        await store.close()

    conn = sqlite3.connect(path, isolation_level=None, factory=PlannedConnection)
    conn.row_factory = sqlite3.Row
    conn.plans = []
    db = cast(Database, Planned(conn))
    events, health = SqlEventLog(db), SqlHealth(db)
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    try:
        for status in (None, *EventStatus):
            for course in (None, COURSE):
                for name in (None, NAME):
                    if status or course or name:
                        query = EventQuery(course_id=course, event_name=name, status=status)
                        await events.search(query)
                        await events.search(replace(query, since=hour_ago, before_id="9"))
        await events.counts_by_time(hour_ago, "minute")
        await events.counts_by_status()
        await events.oldest_waiting()
        await events.claim_due(Claim("one", datetime.now(UTC), datetime.now(UTC)), 10)
        await health.failed_event_count(hour_ago)
        await health.failing_event_codes(hour_ago)
        assert [
            c.course_id for c in await SqlReconciliations(db).courses_to_reconcile(hour_ago)
        ] == [COURSE]
        await SqlRetention(db).purge_rejected(hour_ago)
        await SqlRetention(db).remove_request_fields(hour_ago)
    finally:
        conn.close()
    assert len(conn.plans) > 100
    assert scans(conn.plans) == []


def test_a_scan_is_told_from_an_index_walk() -> None:
    assert scans([("SELECT * FROM events WHERE course_id = ?", ["SCAN events"])])
    assert scans([("SELECT 1 FROM events WHERE x", ["SCAN events USING INDEX events_by_name"])])
    assert not scans([("SELECT * FROM events ORDER BY id DESC LIMIT ?", ["SCAN events"])])
    assert not scans(
        [
            (
                "SELECT * FROM events WHERE status = 'accepted'",
                ["SCAN events USING INDEX events_waiting"],
            ),
            (
                "SELECT * FROM events WHERE course_id = ?",
                ["SEARCH events USING INDEX events_by_course (course_id=?)"],
            ),
        ]
    )
