"""IC confirmations and sync runs on SQLite."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from gpb.handlers.claims import Claim
from gpb.handlers.delta import Confirmed
from gpb.handlers.grades import SentValue
from gpb.handlers.ids import record_id
from gpb.handlers.line_items import LineItemDetails
from gpb.handlers.sync_runner import CONFIRMATION_LINGER_SECONDS, DELETED, value_key
from gpb.handlers.syncs import (
    LineItemConfirmed,
    LineItemUndone,
    ResultConfirmed,
    ResultDeleted,
    RunInProgress,
    RunKind,
    RunStatus,
    SyncRequest,
    SyncRun,
    WriteRecord,
)
from gpb.handlers.timefmt import format_time, parse_time, parse_time_or_none, utcnow
from gpb.handlers.undo import RESTORED
from gpb.infra.oneroster import ic_record
from gpb.infra.store.database import (
    INTEGRITY_ERRORS,
    Connection,
    Database,
    Dialect,
    Row,
    skip_locked,
)

log = logging.getLogger("gpb.sync")

# The predicate of the sync_runs_one_active index: at most one such run per course.
_ACTIVE_REAL_RUN = "dry_run = 0 AND status IN ('queued', 'running')"


# Automatic runs: queued by the scheduler, limited in number across the district.
_AUTOMATIC = "coalesce(variant IN ('auto', 'nightly'), false)"
CLAIM_LOCK = 0x6770_6214  # the advisory lock replicas take to claim a run


def _automatic_under_way(conn: Connection, now: str) -> int:
    """Automatic runs claimed by a live holder (running, or claimed and about to start)."""
    row = conn.execute(
        f"SELECT count(*) FROM sync_runs WHERE {_AUTOMATIC} AND dry_run = 0"
        " AND status IN ('queued', 'running') AND lease_until >= ?",
        (now,),
    ).fetchone()
    return int(row[0])


# A run's rows with how many results IC confirmed in it, counted while it may still be under way or
# after it stopped short: an interrupted run's report cannot tell it (its process may have died).
_RUNS = (
    "SELECT *,"
    " CASE WHEN status IN ('running', 'interrupted') THEN (SELECT count(*) FROM run_confirmations c"
    " WHERE c.run_id = sync_runs.id AND c.value <> 'deleted') ELSE 0 END AS confirmed_sent,"
    " CASE WHEN status IN ('running', 'interrupted') THEN (SELECT count(*) FROM run_confirmations c"
    " WHERE c.run_id = sync_runs.id AND c.value = 'deleted') ELSE 0 END AS confirmed_deleted"
    " FROM sync_runs"
)


def _run(row: Row) -> SyncRun:
    counted = "confirmed_sent" in row.keys()  # noqa: SIM118 (sqlite3.Row: `in` checks values)
    return SyncRun(
        id=str(row["id"]),
        course_id=row["course_id"],
        kind=RunKind(row["variant"] or row["kind"]),
        dry_run=bool(row["dry_run"]),
        status=RunStatus(row["status"]),
        requested_by=row["requested_by"],
        assignment_ids=tuple(json.loads(row["assignment_ids"])) if row["assignment_ids"] else None,
        created_at=parse_time(row["created_at"]),
        started_at=parse_time_or_none(row["started_at"]),
        finished_at=parse_time_or_none(row["finished_at"]),
        progress_done=row["progress_done"],
        progress_total=row["progress_total"],
        report=json.loads(row["report"]) if row["report"] else None,
        undo_of=str(row["undo_of"]) if row["undo_of"] is not None else None,
        confirmed_sent=row["confirmed_sent"] if counted else 0,
        confirmed_deleted=row["confirmed_deleted"] if counted else 0,
    )


def _stored_kind(kind: RunKind) -> tuple[str, str | None]:
    """The `kind` column keeps sync or remaster (its CHECK predates the other kinds); `variant`
    says which other kind a run is."""
    if kind in (RunKind.SYNC, RunKind.REMASTER):
        return kind.value, None
    return RunKind.SYNC.value, kind.value


def _write_record(row: Row) -> WriteRecord:
    before = json.loads(row["before_value"]) if row["before_value"] else None
    return WriteRecord(
        run_id=str(row["run_id"]),
        kind=row["kind"],
        sourced_id=row["sourced_id"],
        course_id=row["course_id"],
        assignment_id=row["assignment_id"],
        section_id=row["section_id"],
        user_id=row["user_id"],
        before=ic_record(row["kind"], row["sourced_id"], before) if before else None,
        written=row["written_value"],
    )


def _claim_run(conn: Connection, run_id: int, claim: Claim) -> SyncRun:
    row = conn.execute(
        "UPDATE sync_runs SET claimed_by = ?, lease_until = ? WHERE id = ? RETURNING *",
        (claim.holder, format_time(claim.until), run_id),
    ).fetchone()
    return _run(row)


def insert_run(conn: Connection, request: SyncRequest, now: datetime) -> SyncRun | str:
    """Queues a run; the id of the course's active real run instead when it has one."""
    ids = json.dumps(list(request.assignment_ids)) if request.assignment_ids else None
    kind, variant = _stored_kind(request.kind)
    created = conn.execute(
        "INSERT INTO sync_runs (course_id, kind, variant, undo_of, dry_run, status,"
        " requested_by, assignment_ids, created_at)"
        " VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?)"
        f" ON CONFLICT (course_id) WHERE {_ACTIVE_REAL_RUN} DO NOTHING RETURNING *",
        (
            request.course_id,
            kind,
            variant,
            int(request.undo_of) if request.undo_of else None,
            int(request.dry_run),
            request.requested_by,
            ids,
            format_time(now),
        ),
    ).fetchone()
    if created is not None:
        return _run(created)
    active = conn.execute(
        f"SELECT id FROM sync_runs WHERE course_id = ? AND {_ACTIVE_REAL_RUN}",
        (request.course_id,),
    ).fetchone()
    return str(active[0])


class SqlSyncs:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def confirmed(self, course_id: str) -> list[Confirmed]:
        rows = await self._db.read(
            lambda conn: conn.execute(
                "SELECT * FROM confirmed WHERE course_id = ?", (course_id,)
            ).fetchall()
        )
        return [
            Confirmed(
                row["assignment_id"],
                row["section_id"],
                row["user_id"],
                SentValue(
                    row["score"], bool(row["excused"]), bool(row["missing"]), bool(row["late"])
                ),
                parse_time(row["confirmed_at"]),
            )
            for row in rows
        ]

    async def create_run(self, request: SyncRequest, now: datetime) -> SyncRun:
        created = await self._db.write(lambda conn: insert_run(conn, request, now))
        if isinstance(created, str):
            raise RunInProgress(created)
        return created

    async def run(self, sync_id: str) -> SyncRun | None:
        row_id = record_id(sync_id)
        if row_id is None:
            return None
        row = await self._db.read(
            lambda conn: conn.execute(f"{_RUNS} WHERE id = ?", (row_id,)).fetchone()
        )
        return _run(row) if row else None

    async def runs(self, course_id: str, before_id: str | None, limit: int) -> list[SyncRun]:
        def read(conn: Connection) -> list[Row]:
            if before_id is None:
                return conn.execute(
                    f"{_RUNS} WHERE course_id = ? ORDER BY id DESC LIMIT ?",
                    (course_id, limit),
                ).fetchall()
            return conn.execute(
                f"{_RUNS} WHERE course_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
                (course_id, int(before_id), limit),
            ).fetchall()

        return [_run(row) for row in await self._db.read(read)]

    async def set_status(self, sync_id: str, status: RunStatus, now: datetime) -> None:
        def write(conn: Connection) -> None:
            started = format_time(now) if status is RunStatus.RUNNING else None
            conn.execute(
                "UPDATE sync_runs SET status = ?, started_at = coalesce(started_at, ?)"
                " WHERE id = ?",
                (status.value, started, int(sync_id)),
            )

        await self._db.write(write)

    async def resume(self, sync_id: str) -> SyncRun | None:
        """Queues an interrupted run again; raises RunInProgress when another real run is active."""

        def write(conn: Connection) -> str | None:
            # A failed statement spoils a PostgreSQL transaction: the savepoint keeps it usable.
            conn.execute("SAVEPOINT resume")
            try:
                conn.execute(
                    "UPDATE sync_runs SET status = 'queued', finished_at = NULL, claimed_by = NULL,"
                    " lease_until = NULL WHERE id = ? AND status = 'interrupted'",
                    (int(sync_id),),
                )
            except INTEGRITY_ERRORS:
                conn.execute("ROLLBACK TO SAVEPOINT resume")
                conn.execute("RELEASE SAVEPOINT resume")
                row = conn.execute(
                    "SELECT b.id FROM sync_runs a JOIN sync_runs b ON b.course_id = a.course_id"
                    " WHERE a.id = ? AND b.dry_run = 0 AND b.status IN ('queued', 'running')",
                    (int(sync_id),),
                ).fetchone()
                return str(row[0])
            conn.execute("RELEASE SAVEPOINT resume")
            return None

        busy = await self._db.write(write)
        if busy is not None:
            raise RunInProgress(busy)
        return await self.run(sync_id)

    async def progress(self, sync_id: str, done: int, total: int) -> None:
        def write(conn: Connection) -> None:
            conn.execute(
                "UPDATE sync_runs SET progress_done = ?, progress_total = ? WHERE id = ?",
                (done, total, int(sync_id)),
            )

        # A count joins the commit of the run's confirmations rather than cutting their wait for
        # company short (a new count follows each commit). It waits no longer than they do: the
        # run's last count is waited for before the run ends.
        await self._db.write(write, linger=CONFIRMATION_LINGER_SECONDS)

    async def finish(
        self, sync_id: str, status: RunStatus, report: dict[str, Any], now: datetime
    ) -> None:
        def write(conn: Connection) -> None:
            conn.execute(
                "UPDATE sync_runs SET status = ?, finished_at = ?, report = ?,"
                " claimed_by = NULL, lease_until = NULL WHERE id = ?",
                (status.value, format_time(now), json.dumps(report), int(sync_id)),
            )

        await self._db.write(write)

    async def interrupt_unfinished(self, now: datetime) -> list[str]:
        unfinished = "status = 'running' OR (dry_run = 1 AND status = 'queued')"

        def write(conn: Connection) -> list[str]:
            rows = conn.execute(
                f"UPDATE sync_runs SET status = 'interrupted', finished_at = ?,"
                f" claimed_by = NULL, lease_until = NULL WHERE {unfinished} RETURNING id",
                (format_time(now),),
            ).fetchall()
            # A real run claimed and not yet started when its process stopped stays queued, for
            # this process to take now rather than once the dead claim runs out.
            conn.execute(
                "UPDATE sync_runs SET claimed_by = NULL, lease_until = NULL"
                " WHERE status = 'queued' AND claimed_by IS NOT NULL"
            )
            return [str(row[0]) for row in rows]

        return await self._db.write(write)

    async def end_claims(self, holder: str, now: datetime) -> int:
        def write(conn: Connection) -> int:
            # As if the claims had run out: the next claim takes the runs over as it takes over
            # those of any holder that died (a running one is resumed, a dry run interrupted).
            cursor = conn.execute(
                "UPDATE sync_runs SET lease_until = ? WHERE claimed_by = ?"
                " AND status IN ('queued', 'running')",
                (format_time(now - timedelta(seconds=1)), holder),
            )
            return int(cursor.rowcount)

        return await self._db.write(write)

    async def claim_next_run(self, claim: Claim, auto_limit: int | None = None) -> SyncRun | None:
        now = format_time(claim.now)

        def write(conn: Connection) -> SyncRun | None:
            if conn.dialect is Dialect.POSTGRES:
                # Replicas claim one at a time, so that they count automatic runs alike.
                conn.execute("SELECT pg_advisory_xact_lock(?)", (CLAIM_LOCK,))
            conn.execute(
                "UPDATE sync_runs SET status = 'interrupted', finished_at = ?,"
                " claimed_by = NULL, lease_until = NULL WHERE dry_run = 1"
                " AND status IN ('queued', 'running') AND lease_until < ?",
                (now, now),
            )
            room = 1 if auto_limit is None else auto_limit - _automatic_under_way(conn, now)
            row = conn.execute(
                "SELECT id FROM sync_runs WHERE dry_run = 0 AND ("
                " (status = 'queued' AND (lease_until IS NULL OR lease_until < :now))"
                " OR (status = 'running' AND lease_until < :now)"
                f") AND (NOT {_AUTOMATIC} OR :room > 0)"
                # Runs people started go before automatic ones; each kind in the order queued.
                f" ORDER BY CASE WHEN {_AUTOMATIC} THEN 1 ELSE 0 END, id LIMIT 1"
                + skip_locked(conn),
                {"now": now, "room": room},
            ).fetchone()
            if row is None:
                return None
            claimed = _claim_run(conn, row[0], claim)
            if claimed.status is RunStatus.RUNNING:
                log.warning("run %s lost its holder; %s resumes it", claimed.id, claim.holder)
            return claimed

        return await self._db.write(write)

    async def renew_claim(self, sync_id: str, claim: Claim) -> None:
        await self._db.write(lambda conn: _claim_run(conn, int(sync_id), claim))

    async def confirmed_in_run(self, sync_id: str) -> dict[str, str]:
        rows = await self._db.read(
            lambda conn: conn.execute(
                "SELECT sourced_id, value FROM run_confirmations WHERE run_id = ?", (int(sync_id),)
            ).fetchall()
        )
        return {row[0]: row[1] for row in rows}

    async def written_line_items(self, course_id: str) -> list[LineItemConfirmed]:
        rows = await self._db.read(
            lambda conn: conn.execute(
                "SELECT * FROM line_items WHERE course_id = ?", (course_id,)
            ).fetchall()
        )
        return [
            LineItemConfirmed(
                r["course_id"],
                r["assignment_id"],
                r["section_id"],
                r["sourced_id"],
                LineItemDetails.from_json(json.loads(r["details"])) if r["details"] else None,
            )
            for r in rows
        ]

    async def record_writes(self, writes: Sequence[WriteRecord]) -> None:
        rows = [
            (
                int(w.run_id),
                w.kind,
                w.sourced_id,
                w.course_id,
                w.assignment_id,
                w.section_id,
                w.user_id,
                json.dumps(w.before.body, sort_keys=True) if w.before else None,
                w.written,
            )
            for w in writes
        ]
        if not rows:
            return
        await self._db.write(
            lambda conn: conn.executemany(
                "INSERT INTO run_writes (run_id, kind, sourced_id, course_id, assignment_id,"
                " section_id, user_id, before_value, written_value)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                rows,
            )
        )

    async def writes_of(self, sync_id: str) -> list[WriteRecord]:
        rows = await self._db.read(
            lambda conn: conn.execute(
                "SELECT * FROM run_writes WHERE run_id = ? ORDER BY kind DESC, sourced_id",
                (int(sync_id),),
            ).fetchall()
        )
        return [_write_record(row) for row in rows]

    async def newer_runs_touching(self, run: SyncRun) -> list[str]:
        rows = await self._db.read(
            lambda conn: conn.execute(
                "SELECT DISTINCT later.run_id FROM run_writes mine"
                " JOIN run_writes later ON later.course_id = mine.course_id"
                " AND later.sourced_id = mine.sourced_id AND later.kind = mine.kind"
                " JOIN sync_runs r ON r.id = later.run_id"
                " WHERE mine.run_id = :run AND later.run_id > :run AND r.dry_run = 0"
                " AND NOT EXISTS (SELECT 1 FROM sync_runs u WHERE u.undo_of = r.id"
                " AND u.dry_run = 0 AND u.status = 'succeeded')"
                " ORDER BY later.run_id DESC",
                {"run": int(run.id)},
            ).fetchall()
        )
        return [str(row[0]) for row in rows]

    async def undone_by(self, sync_id: str) -> str | None:
        row = await self._db.read(
            lambda conn: conn.execute(
                "SELECT id FROM sync_runs WHERE undo_of = ? AND dry_run = 0"
                " AND status = 'succeeded' ORDER BY id LIMIT 1",
                (int(sync_id),),
            ).fetchone()
        )
        return str(row[0]) if row else None

    async def last_synced(self, course_id: str) -> dict[str, datetime]:
        """When IC last confirmed a result of each assignment of the course."""

        def read(conn: Connection) -> dict[str, datetime]:
            rows = conn.execute(
                "SELECT assignment_id, max(confirmed_at) FROM confirmed WHERE course_id = ?"
                " GROUP BY assignment_id",
                (course_id,),
            )
            return {r[0]: parse_time(r[1]) for r in rows}

        return await self._db.read(read)

    async def counts_by_status(self) -> dict[str, int]:
        """How many runs are in each status, dry runs included: read by /metrics at each scrape."""
        rows = await self._db.read(
            lambda conn: conn.execute(
                "SELECT status, count(*) FROM sync_runs GROUP BY status"
            ).fetchall()
        )
        return {row[0]: row[1] for row in rows}


def _result_confirmed(conn: Connection, change: ResultConfirmed) -> None:
    value = change.value
    conn.execute(
        "INSERT INTO confirmed (course_id, assignment_id, section_id, user_id, score, excused,"
        " missing, late, confirmed_at, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (course_id, assignment_id, section_id, user_id) DO UPDATE SET"
        " score = excluded.score, excused = excluded.excused, missing = excluded.missing,"
        " late = excluded.late, confirmed_at = excluded.confirmed_at, run_id = excluded.run_id",
        (
            change.course_id,
            change.assignment_id,
            change.section_id,
            change.user_id,
            value.score,
            int(value.excused),
            int(value.missing),
            int(value.late),
            format_time(utcnow()),
            int(change.run_id),
        ),
    )
    _remember(conn, change.run_id, change.sourced_id, value_key(value))


def _result_deleted(conn: Connection, change: ResultDeleted) -> None:
    conn.execute(
        "DELETE FROM confirmed WHERE course_id = ? AND assignment_id = ? AND section_id = ?"
        " AND user_id = ?",
        (change.course_id, change.assignment_id, change.section_id, change.user_id),
    )
    _remember(conn, change.run_id, change.sourced_id, DELETED)


def _remember(conn: Connection, run_id: str, sourced_id: str, value: str) -> None:
    conn.execute(
        "INSERT INTO run_confirmations (run_id, sourced_id, value) VALUES (?, ?, ?)"
        " ON CONFLICT (run_id, sourced_id) DO UPDATE SET value = excluded.value",
        (int(run_id), sourced_id, value),
    )


def _line_item_confirmed(conn: Connection, change: LineItemConfirmed) -> None:
    conn.execute(
        "INSERT INTO line_items"
        " (course_id, assignment_id, section_id, sourced_id, confirmed_at, details)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (course_id, assignment_id, section_id)"
        " DO UPDATE SET confirmed_at = excluded.confirmed_at, details = excluded.details",
        (
            change.course_id,
            change.assignment_id,
            change.section_id,
            change.sourced_id,
            format_time(datetime.now(UTC)),
            json.dumps(change.details.as_json()) if change.details else None,
        ),
    )


def _line_item_undone(conn: Connection, change: LineItemUndone) -> None:
    where = "WHERE course_id = ? AND assignment_id = ? AND section_id = ?"
    key = (change.course_id, change.assignment_id, change.section_id)
    if change.deleted:
        conn.execute(f"DELETE FROM line_items {where}", key)
    else:
        # IC holds the line item as it was before the undone run: gpb no longer knows which
        # details it has, so the next sync of the assignment sends the line item with its results.
        conn.execute(f"UPDATE line_items SET details = NULL {where}", key)
    _remember(conn, change.run_id, change.sourced_id, DELETED if change.deleted else RESTORED)


WRITERS: dict[type, Callable[[Connection, Any], None]] = {
    ResultConfirmed: _result_confirmed,
    ResultDeleted: _result_deleted,
    LineItemConfirmed: _line_item_confirmed,
    LineItemUndone: _line_item_undone,
}
