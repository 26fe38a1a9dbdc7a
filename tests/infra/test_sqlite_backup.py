"""Backups and restores of the SQLite file, and the lock that keeps restores off a live database."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from gpb.infra.store.sqlite_backup import BackupError, backup_database, restore_database
from gpb.infra.store.sqlite_lock import DatabaseInUse, serving_lock
from gpb.infra.store.store import SqlStore


def make_database(path: Path, events: int) -> str:
    SqlStore(str(path)).migrate()
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        for _ in range(events):
            conn.execute("INSERT INTO events (received_at, status) VALUES ('2026-01-01', 'x')")
    return str(path)


def count_events(path: str) -> int:
    with closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


def test_a_backup_to_a_file_then_a_restore_over_a_changed_database(tmp_path: Path) -> None:
    database = make_database(tmp_path / "gpb.db", 3)
    copied = backup_database(database, str(tmp_path / "backup.db"))
    assert (copied.events, copied.path) == (3, str(tmp_path / "backup.db"))
    make_database(tmp_path / "gpb.db", 2)  # two more after the backup

    restored = restore_database(copied.path, database)

    assert restored.events == 3 and count_events(database) == 3
    assert restored.replaced is not None and count_events(restored.replaced) == 5


def test_a_restore_onto_a_new_machine_makes_the_folder(tmp_path: Path) -> None:
    backup = make_database(tmp_path / "backup.db", 1)
    target = str(tmp_path / "new" / "gpb.db")
    restored = restore_database(backup, target)
    assert restored.replaced is None and count_events(target) == 1


def test_a_backup_never_overwrites_the_database(tmp_path: Path) -> None:
    database = make_database(tmp_path / "gpb.db", 1)
    for target in (database, database + "-wal"):
        with pytest.raises(BackupError, match="the database itself"):
            backup_database(database, target)
    with pytest.raises(BackupError, match="no database"):
        backup_database(str(tmp_path / "missing.db"), str(tmp_path / "b.db"))


def test_a_restore_refuses_what_is_not_a_sound_gpb_database(tmp_path: Path) -> None:
    database = make_database(tmp_path / "gpb.db", 2)
    stranger = tmp_path / "other.db"
    with closing(sqlite3.connect(stranger)) as conn:
        conn.execute("CREATE TABLE notes (text)")
    with pytest.raises(BackupError, match="not a gpb database"):
        restore_database(str(stranger), database)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    with pytest.raises(BackupError, match="not a readable SQLite database"):
        restore_database(str(garbage), database)
    assert count_events(database) == 2


def test_a_restore_is_refused_while_the_serving_lock_is_held(tmp_path: Path) -> None:
    database = make_database(tmp_path / "gpb.db", 1)
    backup = backup_database(database, str(tmp_path / "backup.db")).path
    with serving_lock(database, "gpb serve"):
        with pytest.raises(DatabaseInUse, match=rf"gpb serve \(pid {os.getpid()}\)"):
            restore_database(backup, database)
        with pytest.raises(DatabaseInUse), serving_lock(database, "gpb serve"):
            pass  # nor does a second server start
    restore_database(backup, database)  # released


def test_a_restore_is_refused_while_another_connection_has_the_database(tmp_path: Path) -> None:
    database = make_database(tmp_path / "gpb.db", 1)
    backup = backup_database(database, str(tmp_path / "backup.db")).path
    with closing(sqlite3.connect(database)) as other:
        other.execute("PRAGMA journal_mode=WAL")
        other.execute("SELECT count(*) FROM events").fetchone()
        with pytest.raises(DatabaseInUse, match="another process has"):
            restore_database(backup, database)
