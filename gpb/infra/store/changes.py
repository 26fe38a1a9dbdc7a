"""Applies the state changes handlers return, inside the transaction that finishes their event.

Each member of the domain's `Change` union has one writer, in the module that owns its tables. The
writer tables are checked when this module is imported, as the eligibility rules are, so a change
without a writer stops gpb from starting rather than failing the first event that makes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, get_args

from gpb.handlers.changes import Change
from gpb.infra.store import alerts, auto_sync, course_state, courses, grades, health, syncs
from gpb.infra.store.database import Connection

ChangeWriter = Callable[[Connection, Any], None]


def checked_writers(
    union: object, tables: Iterable[Mapping[type, ChangeWriter]]
) -> dict[type, ChangeWriter]:
    """The store modules' writer tables as one, once each member of `union` has exactly one writer
    and nothing outside it has any; raises ImportError naming what is wrong otherwise."""
    members = set(get_args(union) or (union,))
    writers: dict[type, ChangeWriter] = {}
    for table in tables:
        for kind, writer in table.items():
            if kind in writers:
                raise ImportError(f"the change {kind.__name__} has two writers")
            writers[kind] = writer
    if missing := members - writers.keys():
        raise ImportError(f"no writer for the change {_names(missing)}")
    if strays := writers.keys() - members:
        raise ImportError(f"a writer for {_names(strays)}, which is not in the Change union")
    return writers


def _names(kinds: Iterable[type]) -> str:
    return ", ".join(sorted(kind.__name__ for kind in kinds))


WRITERS = checked_writers(
    Change,
    (
        courses.WRITERS,
        course_state.WRITERS,
        alerts.WRITERS,
        grades.WRITERS,
        syncs.WRITERS,
        health.WRITERS,
        auto_sync.WRITERS,
    ),
)


def apply_changes(conn: Connection, changes: Iterable[Change]) -> None:
    for change in changes:
        writer = WRITERS.get(type(change))
        if writer is None:  # mypy refuses it, but a caller it does not check may still pass one
            raise TypeError(f"no writer for the change {type(change).__name__}")
        writer(conn, change)
