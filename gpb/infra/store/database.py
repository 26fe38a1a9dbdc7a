"""What the repositories need of a database, whichever engine is behind it.

A repository is a set of plain functions over a `Connection`, handed to `Database.write` (run in
one transaction, committed before the call returns) or `Database.read`. The SQL is written once,
in the dialect both engines speak: `?` placeholders, `INSERT ... ON CONFLICT`, `SAVEPOINT`. Where
the engines truly differ, a repository asks `Database.dialect`, or uses a helper here.

A write function may run more than once (a batch retried, a deadlock retried): it must change
nothing but the database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any, Protocol, TypeVar

import psycopg

T = TypeVar("T")

# A unique index refused a row; either engine's error.
INTEGRITY_ERRORS: tuple[type[Exception], ...] = (sqlite3.IntegrityError, psycopg.IntegrityError)


# What GPB_DATABASE_URL starts with for PostgreSQL (anything else is SQLite).
POSTGRES_SCHEMES = ("postgresql://", "postgres://")

# The PostgreSQL channel that carries "the alerts of this course changed" between replicas.
ALERTS_CHANNEL = "gpb_alerts"


class Dialect(StrEnum):
    SQLITE = "sqlite"
    POSTGRES = "postgres"


class Row(Protocol):
    """A result row: by position or by column name."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def keys(self) -> list[str]: ...


class Connection(Protocol):
    dialect: Dialect

    def execute(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = (), /) -> Any: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any: ...


def inserted_id(
    conn: Connection, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = ()
) -> int | None:
    """Runs an INSERT into a table keyed by `id`; its new id, or None when it inserted nothing
    (ON CONFLICT DO NOTHING). PostgreSQL says it through RETURNING; SQLite through lastrowid,
    since its RETURNING costs more than the rest of such an insert."""
    if conn.dialect is Dialect.POSTGRES:
        row = conn.execute(sql + " RETURNING id", parameters).fetchone()
        return None if row is None else int(row[0])
    cursor = conn.execute(sql, parameters)
    return int(cursor.lastrowid) if cursor.rowcount == 1 else None


def for_update(conn: Connection) -> str:
    """Locks the rows a read inside a write returns, where the engine has row locks (SQLite's
    single writer holds the whole database already)."""
    return " FOR UPDATE" if conn.dialect is Dialect.POSTGRES else ""


def skip_locked(conn: Connection) -> str:
    """Passes over rows that another transaction holds locked, where the engine has row locks."""
    return " FOR UPDATE SKIP LOCKED" if conn.dialect is Dialect.POSTGRES else ""


class Database(Protocol):
    dialect: Dialect
    url: str  # what GPB_DATABASE_URL says to reach it

    def migrate(self) -> list[str]:
        """Creates or upgrades the schema; returns the migrations it applied."""
        ...

    def start(self) -> None: ...

    async def close(self) -> None: ...

    async def write(self, fn: Callable[[Connection], T], *, linger: float = 0.0) -> T:
        """Runs `fn` in a transaction; returns once that transaction is committed. `linger` is
        how long the commit may wait for other writes to share it (a write that is in no hurry:
        a run's confirmations); SQLite's single writer uses it, PostgreSQL commits each write
        on its own connection and groups concurrent commits itself."""
        ...

    async def read(self, fn: Callable[[Connection], T]) -> T: ...
