"""Applies the state changes handlers return, inside the transaction that finishes their event.

Each change type has one writer, in the module that owns its tables; a change without one is a
programming error, loudly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from gpb.infra.store import alerts, auto_sync, course_state, courses, health, syncs
from gpb.infra.store.database import Connection

ChangeWriter = Callable[[Connection, Any], None]

WRITERS: dict[type, ChangeWriter] = {
    **courses.WRITERS,
    **course_state.WRITERS,
    **alerts.WRITERS,
    **syncs.WRITERS,
    **health.WRITERS,
    **auto_sync.WRITERS,
}


def apply_changes(conn: Connection, changes: Iterable[object]) -> None:
    for change in changes:
        writer = WRITERS.get(type(change))
        if writer is None:
            raise TypeError(f"no writer for the change {type(change).__name__}")
        writer(conn, change)
