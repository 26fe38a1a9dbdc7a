"""Online backups of the SQLite database, and restoring one.

A backup is SQLite's backup API run in one step: it reads the whole database within one read
transaction, so the copy is the database as of one commit (every event acknowledged before the
backup began is in it) while gpb goes on writing; WAL mode lets readers and the writer run side by
side. The copy is taken out of WAL mode so that it is one self-contained file, passes
`PRAGMA integrity_check`, is synced, and only then takes its name: a backup file that exists is
whole.

A restore copies a backup into the database with the same API, which writes through SQLite's own
journal, so a restore cut short leaves the old database, not a mix of both. It refuses while gpb
serves the database (the serving lock, see lock.py) and while any other process has it open:
leaving WAL mode needs sole access, so that step doubles as a second check. The database it
replaces is copied aside first.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gpb.infra.store.sqlite_lock import DatabaseInUse, lock_path, serving_lock


class BackupError(Exception):
    """A backup or restore that could not be made or would not be sound."""


@dataclass(frozen=True)
class Copied:
    path: str  # the backup file, or the database restored
    events: int
    size_bytes: int
    replaced: str | None = None  # a restore: where the database it replaced was copied


def backup_database(database: str, destination: str) -> Copied:
    """Copies the (possibly live) database to `destination`, a file or an existing folder."""
    target = _backup_path(database, destination)
    partial = target + ".partial"
    with closing(_open(database, read_only=False)) as source:
        source.execute("PRAGMA query_only=ON")
        events = _copy(source, partial)
    os.replace(partial, target)
    _fsync(os.path.dirname(os.path.abspath(target)))
    return Copied(target, events, os.path.getsize(target))


def restore_database(backup: str, database: str) -> Copied:
    """Replaces the database with `backup`; raises DatabaseInUse while anything has it open."""
    if os.path.realpath(backup) == os.path.realpath(database):
        raise BackupError(f"{backup} is the database itself")
    with closing(_open(backup, read_only=True)) as source:
        _verify(source, backup)
        with serving_lock(database, "gpb restore"), _sole_access(database) as target:
            replaced = None
            if target.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone():
                replaced = f"{database}.pre-restore-{_stamp()}"
                _copy(target, replaced)
            source.backup(target)
            events = _verify(target, database)
    return Copied(database, events, os.path.getsize(database), replaced)


def _backup_path(database: str, destination: str) -> str:
    target = destination
    if os.path.isdir(destination):
        target = os.path.join(destination, f"gpb-{_stamp()}.db")
    live = os.path.realpath(database)
    own_files = {live + suffix for suffix in ("", "-wal", "-shm", "-journal")}
    if os.path.realpath(target) in own_files | {lock_path(live)}:
        raise BackupError(f"{target} is the database itself; choose another path for the backup")
    return target


def _open(path: str, *, read_only: bool) -> sqlite3.Connection:
    """A connection to an existing database (sqlite3 would create a missing one, empty)."""
    if not os.path.isfile(path):
        raise BackupError(f"no database at {path}")
    mode = "ro" if read_only else "rw"
    return sqlite3.connect(f"{Path(path).absolute().as_uri()}?mode={mode}", uri=True, timeout=30)


@contextmanager
def _sole_access(database: str) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(database, isolation_level=None, timeout=2)
    try:
        try:
            mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
        except sqlite3.OperationalError as exc:
            mode = str(exc)
        if mode != "delete":
            raise DatabaseInUse(f"another process has {database} open ({mode})")
        yield conn
    finally:
        conn.close()


def _copy(source: sqlite3.Connection, path: str) -> int:
    """`source` as of one commit into a new single-file database at `path`; its event count."""
    if os.path.exists(path):
        os.remove(path)  # left over from a copy that was cut short
    with closing(sqlite3.connect(path, isolation_level=None)) as copy:
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")
        events = _verify(copy, path)
    _fsync(path)
    return events


def _verify(conn: sqlite3.Connection, label: str) -> int:
    """Raises BackupError unless the database is sound and gpb's; returns its event count."""
    try:
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{label} is not a readable SQLite database: {exc}") from None
    if problems != ["ok"]:
        raise BackupError(f"{label} fails the integrity check: {'; '.join(problems[:5])}")
    try:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.OperationalError:
        raise BackupError(f"{label} is not a gpb database (it has no event log)") from None


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
