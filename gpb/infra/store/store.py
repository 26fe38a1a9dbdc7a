"""The store: one database (SQLite or PostgreSQL), the repositories over it, and its lifecycle."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gpb.handlers.changes import Change
from gpb.infra.store.alerts import SqlAlerts
from gpb.infra.store.auth_failures import SqlAuthFailures
from gpb.infra.store.auto_sync import SqlAutoSync
from gpb.infra.store.changes import apply_changes
from gpb.infra.store.course_state import SqlCourseState
from gpb.infra.store.courses import SqlCourses
from gpb.infra.store.database import POSTGRES_SCHEMES, Connection, Database
from gpb.infra.store.eventlog import SqlEventLog
from gpb.infra.store.grades import SqlGrades
from gpb.infra.store.health import SqlHealth
from gpb.infra.store.job_slots import SqlJobSlots
from gpb.infra.store.lti_nonces import SqlNonceLedger
from gpb.infra.store.postgres import PostgresDatabase
from gpb.infra.store.reconcile import SqlReconciliations
from gpb.infra.store.retention import SqlRetention
from gpb.infra.store.sessions import SqlEndedSessions
from gpb.infra.store.sqlite import SqliteDatabase
from gpb.infra.store.syncs import SqlSyncs
from gpb.infra.store.tokens import SqlTokens

SQLITE_SCHEME = "sqlite:///"


@dataclass(frozen=True)
class PoolSettings:
    """How a PostgreSQL database is reached (SQLite has its own writer and readers)."""

    size: int = 10
    statement_timeout_seconds: float = 30.0


def open_database(url: str, pool: PoolSettings = PoolSettings()) -> Database:
    """`postgresql://...`, `sqlite:///PATH`, or a bare SQLite path."""
    if url.startswith(POSTGRES_SCHEMES):
        return PostgresDatabase(
            url, pool_size=pool.size, statement_timeout_seconds=pool.statement_timeout_seconds
        )
    if "://" in url and not url.startswith(SQLITE_SCHEME):
        raise ValueError(f"unsupported database URL scheme: {url.split(':')[0]}")
    return SqliteDatabase(url.removeprefix(SQLITE_SCHEME))


class SqlStore:
    def __init__(self, database: Database | str, *, keep_raw_bytes: int = 16_384) -> None:
        self.db = open_database(database) if isinstance(database, str) else database
        self.events = SqlEventLog(self.db, keep_raw_bytes=keep_raw_bytes)
        self.tokens = SqlTokens(self.db)
        self.courses = SqlCourses(self.db)
        self.course_state = SqlCourseState(self.db)
        self.alerts = SqlAlerts(self.db)
        self.retention = SqlRetention(self.db)
        self.grades = SqlGrades(self.db)
        self.syncs = SqlSyncs(self.db)
        self.auto_sync = SqlAutoSync(self.db)
        self.health = SqlHealth(self.db)
        self.reconciliations = SqlReconciliations(self.db)
        self.job_slots = SqlJobSlots(self.db)
        self.auth_failures = SqlAuthFailures(self.db)
        self.lti_nonces = SqlNonceLedger(self.db)
        self.ended_sessions = SqlEndedSessions(self.db)

    def migrate(self) -> list[str]:
        return self.db.migrate()

    def start(self) -> None:
        self.db.start()

    async def close(self) -> None:
        await self.db.close()

    async def apply(self, changes: Sequence[Change], *, linger: float = 0.0) -> None:
        """State changes made outside event handling (a remaster's re-reads, its confirmations)."""
        if changes:
            await self.db.write(lambda conn: apply_changes(conn, changes), linger=linger)

    async def ping(self) -> bool:
        def read(conn: Connection) -> bool:
            return conn.execute("SELECT 1").fetchone()[0] == 1

        return await self.db.read(read)
