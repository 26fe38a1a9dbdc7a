"""The SQLite store: one database, the repositories over it, and its lifecycle."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence

from gpb.infra.sqlite.alerts import SqliteAlerts
from gpb.infra.sqlite.changes import apply_changes
from gpb.infra.sqlite.course_state import SqliteCourseState
from gpb.infra.sqlite.courses import SqliteCourses
from gpb.infra.sqlite.database import Database, connect
from gpb.infra.sqlite.eventlog import SqliteEventLog
from gpb.infra.sqlite.health import SqliteHealth
from gpb.infra.sqlite.migrations import migrate
from gpb.infra.sqlite.reconcile import SqliteReconciliations
from gpb.infra.sqlite.retention import SqliteRetention
from gpb.infra.sqlite.syncs import SqliteSyncs
from gpb.infra.sqlite.tokens import SqliteTokens


class SqliteStore:
    def __init__(self, path: str, *, keep_raw_bytes: int = 16_384) -> None:
        self.path = path
        self.db = Database(path)
        self.events = SqliteEventLog(self.db, keep_raw_bytes=keep_raw_bytes)
        self.tokens = SqliteTokens(self.db)
        self.courses = SqliteCourses(self.db)
        self.course_state = SqliteCourseState(self.db)
        self.alerts = SqliteAlerts(self.db)
        self.retention = SqliteRetention(self.db)
        self.syncs = SqliteSyncs(self.db)
        self.health = SqliteHealth(self.db)
        self.reconciliations = SqliteReconciliations(self.db)

    def migrate(self) -> list[str]:
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        conn = connect(self.path)
        try:
            return migrate(conn)
        finally:
            conn.close()

    def start(self) -> None:
        self.db.start()

    async def close(self) -> None:
        await self.db.close()

    async def apply(self, changes: Sequence[object]) -> None:
        """State changes made outside event handling (a remaster's re-reads, its confirmations)."""
        if changes:
            await self.db.write(lambda conn: apply_changes(conn, changes))

    async def ping(self) -> bool:
        def read(conn: sqlite3.Connection) -> bool:
            return conn.execute("SELECT 1").fetchone()[0] == 1

        return await self.db.read(read)
