"""Applies the state changes handlers return, inside the transaction that finishes their event.

Each change type has one writer here; a change without one is a programming error, loudly.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from gpb.handlers.courses import CourseSeen
from gpb.handlers.timefmt import format_time
from gpb.infra.sqlite import alerts, course_state

ChangeWriter = Callable[[sqlite3.Connection, Any], None]


def _course_seen(conn: sqlite3.Connection, change: CourseSeen) -> None:
    conn.execute(
        "INSERT INTO courses (id, shard, first_seen_at) VALUES (?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET shard = coalesce(courses.shard, excluded.shard)",
        (change.course_id, change.shard, format_time(datetime.now(UTC))),
    )


WRITERS: dict[type, ChangeWriter] = {
    CourseSeen: _course_seen,
    **course_state.WRITERS,
    **alerts.WRITERS,
}


def apply_changes(conn: sqlite3.Connection, changes: Iterable[object]) -> None:
    for change in changes:
        writer = WRITERS.get(type(change))
        if writer is None:
            raise TypeError(f"no writer for the change {type(change).__name__}")
        writer(conn, change)
