"""What the health job reads (the event log, the runs, the disk), and the admin alerts with their
outbox of notices, on SQLite."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from gpb.handlers.eventlog import LAUNCH_EVENT
from gpb.handlers.health import (
    AdminAlert,
    AdminAlertOpened,
    AdminAlertResolved,
    AdminAlertUpdated,
    AdminNotice,
    DiskSpace,
    FinishedRun,
)
from gpb.handlers.syncs import RunStatus
from gpb.handlers.timefmt import format_time, parse_time, parse_time_or_none
from gpb.infra.store.auth_failures import SqlAuthFailures
from gpb.infra.store.database import Connection, Database, Row, inserted_id
from gpb.infra.store.event_parts import FILED
from gpb.infra.store.outbox import claim_due

_FINISHED = tuple(s.value for s in (RunStatus.SUCCEEDED, RunStatus.PARTIAL, RunStatus.FAILED))


def disk_space(database_path: str) -> DiskSpace | None:
    """The free space of the file system the database lives on; None when it cannot be read."""
    try:
        usage = shutil.disk_usage(os.path.dirname(os.path.abspath(database_path)))
    except OSError:
        return None
    return DiskSpace(total_bytes=usage.total, free_bytes=usage.free)


def first_id_since(conn: Connection, since: datetime) -> int:
    """The first event received at or after `since`, or one past the newest. Ids and received_at
    rise together, so a time bound becomes an id bound, and the counts walk a (status, id) index
    rather than the log."""
    row = conn.execute(
        "SELECT id FROM events WHERE received_at >= ? ORDER BY received_at LIMIT 1",
        (format_time(since),),
    ).fetchone()
    if row is not None:
        return int(row[0])
    return int(conn.execute("SELECT coalesce(max(id), 0) + 1 FROM events").fetchone()[0])


def _error_codes(report: str | None) -> frozenset[str]:
    errors = json.loads(report).get("errors", []) if report else []
    return frozenset(error["code"] for error in errors if error.get("code"))


def _admin_alert(fields: Row | Mapping[str, Any]) -> AdminAlert:
    """An admin alert from its row, or from the copy a notice keeps (`as_json`). The row holds
    the details as JSON text, the copy as an object."""
    details = fields["details"]
    return AdminAlert(
        id=str(fields["id"]),
        code=fields["code"],
        message=fields["message"],
        fix=fields["fix"],
        details=json.loads(details) if isinstance(details, str) else details,
        state=fields["state"],
        opened_at=parse_time(fields["opened_at"]),
        updated_at=parse_time(fields["updated_at"]),
        resolved_at=parse_time_or_none(fields["resolved_at"]),
    )


# Launches from Canvas share the event log, but say nothing of Canvas's event deliveries: a refused
# launch is no failing event, and a launch does not break a silence of events.
_NOT_A_LAUNCH = f"(event_name IS NULL OR event_name != '{LAUNCH_EVENT}')"


class SqlHealth:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- readings ---------------------------------------------------------------------------

    async def auth_failure_count(self, since: datetime) -> int:
        return await SqlAuthFailures(self._db).count_since(since)

    async def last_event_received(self) -> datetime | None:
        def read(conn: Connection) -> str | None:
            row = conn.execute(
                "SELECT received_at FROM events WHERE status != 'rejected'"
                f" AND {_NOT_A_LAUNCH} ORDER BY id DESC LIMIT 1"
            ).fetchone()
            return row[0] if row else None

        stamp = await self._db.read(read)
        return parse_time_or_none(stamp)

    async def failed_event_count(self, since: datetime) -> int:
        def read(conn: Connection) -> int:
            first = first_id_since(conn, since)
            return sum(
                conn.execute(
                    f"SELECT count(*) FROM events WHERE status = ? AND {FILED} AND id >= ?"
                    f" AND {_NOT_A_LAUNCH}",
                    (status, first),
                ).fetchone()[0]
                for status in ("failed", "rejected")
            )

        return await self._db.read(read)

    async def failing_event_codes(self, since: datetime) -> dict[str, int]:
        def read(conn: Connection) -> dict[str, int]:
            # Two index ranges: the failed events received since, and older ones still retried.
            rows = conn.execute(
                f"SELECT error FROM events WHERE status = 'failed' AND {FILED} AND id >= :first"
                " UNION ALL"
                f" SELECT error FROM events WHERE status = 'failed' AND {FILED}"
                " AND next_attempt_at IS NOT NULL AND id < :first",
                {"first": first_id_since(conn, since)},
            ).fetchall()
            codes = Counter(json.loads(row[0]).get("code") for row in rows if row[0])
            return {code: count for code, count in codes.items() if code is not None}

        return await self._db.read(read)

    async def finished_runs(self, since: datetime) -> list[FinishedRun]:
        def read(conn: Connection) -> list[FinishedRun]:
            marks = ",".join("?" * len(_FINISHED))
            # Only a failed run's errors are read: a refused credential stops a run as failed,
            # and the reports of big runs that went through are not worth parsing every minute.
            rows = conn.execute(
                "SELECT course_id, status, finished_at,"
                " CASE WHEN status = 'failed' THEN report END AS report"
                f" FROM sync_runs WHERE finished_at >= ? AND dry_run = 0 AND status IN ({marks})"
                " ORDER BY finished_at, id",
                (format_time(since), *_FINISHED),
            ).fetchall()
            return [
                FinishedRun(
                    row["course_id"],
                    RunStatus(row["status"]),
                    _error_codes(row["report"]),
                    parse_time(row["finished_at"]),
                )
                for row in rows
            ]

        return await self._db.read(read)

    # -- admin alerts -----------------------------------------------------------------------

    async def admin_alerts(self, state: str | None = None, limit: int = 100) -> list[AdminAlert]:
        def read(conn: Connection) -> list[AdminAlert]:
            if state is None:
                rows = conn.execute("SELECT * FROM admin_alerts ORDER BY id DESC LIMIT ?", (limit,))
            else:
                rows = conn.execute(
                    "SELECT * FROM admin_alerts WHERE state = ? ORDER BY id DESC LIMIT ?",
                    (state, limit),
                )
            return [_admin_alert(row) for row in rows]

        return await self._db.read(read)

    # -- the outbox -------------------------------------------------------------------------

    async def due_notices(self, now: datetime, limit: int) -> list[AdminNotice]:
        def write(conn: Connection) -> list[AdminNotice]:
            due = claim_due(conn, "admin_notices", now, limit)
            if not due:
                return []
            rows = conn.execute(
                f"SELECT * FROM admin_notices WHERE id IN ({','.join('?' * len(due))})"
                " ORDER BY send_after, id",
                due,
            )
            return [
                AdminNotice(
                    id=str(row["id"]),
                    channel=row["channel"],
                    attempts=row["attempts"],
                    change=row["change"],
                    alert=_admin_alert(json.loads(row["alert"])),
                )
                for row in rows
            ]

        return await self._db.write(write)

    async def notice_sent(self, notice_id: str, sent: dict[str, Any], now: datetime) -> None:
        # What went out is the row's own alert snapshot: nothing more to keep.
        def write(conn: Connection) -> None:
            conn.execute(
                "UPDATE admin_notices SET lease_until = NULL, status = 'sent', sent_at = ?,"
                " attempts = attempts + 1 WHERE id = ?",
                (format_time(now), int(notice_id)),
            )

        await self._db.write(write)

    async def notice_failed(
        self, notice_id: str, error: str, retry_at: datetime | None, now: datetime
    ) -> None:
        def write(conn: Connection) -> None:
            conn.execute(
                "UPDATE admin_notices SET lease_until = NULL, status = ?,"
                " send_after = coalesce(?, send_after), last_error = ?, attempts = attempts + 1"
                " WHERE id = ?",
                (
                    "failed" if retry_at is None else "pending",
                    format_time(retry_at) if retry_at else None,
                    error,
                    int(notice_id),
                ),
            )

        await self._db.write(write)


def _queue_notices(
    conn: Connection, alert_id: int, change: str, channels: tuple[str, ...], at: datetime
) -> None:
    row = conn.execute("SELECT * FROM admin_alerts WHERE id = ?", (alert_id,)).fetchone()
    snapshot = json.dumps(_admin_alert(row).as_json())
    conn.executemany(
        "INSERT INTO admin_notices (alert_id, channel, change, alert, status, send_after,"
        " created_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)",
        [
            (alert_id, channel, change, snapshot, format_time(at), format_time(at))
            for channel in channels
        ],
    )


def _opened(conn: Connection, change: AdminAlertOpened) -> None:
    at = format_time(change.at)
    # One open alert per code: a second gpb process judging the same database opens none.
    opened = inserted_id(
        conn,
        "INSERT INTO admin_alerts (code, message, fix, details, state, opened_at, updated_at)"
        " VALUES (?, ?, ?, ?, 'open', ?, ?)"
        " ON CONFLICT (code) WHERE state = 'open' DO NOTHING",
        (change.code, change.message, change.fix, json.dumps(change.details), at, at),
    )
    if opened is not None:
        _queue_notices(conn, opened, "opened", change.channels, change.at)


def _updated(conn: Connection, change: AdminAlertUpdated) -> None:
    conn.execute(
        "UPDATE admin_alerts SET message = ?, fix = ?, details = ?, updated_at = ?"
        " WHERE id = ? AND state = 'open'",
        (
            change.message,
            change.fix,
            json.dumps(change.details),
            format_time(change.at),
            int(change.alert_id),
        ),
    )


def _resolved(conn: Connection, change: AdminAlertResolved) -> None:
    at = format_time(change.at)
    cursor = conn.execute(
        "UPDATE admin_alerts SET state = 'resolved', updated_at = ?, resolved_at = ?"
        " WHERE id = ? AND state = 'open'",
        (at, at, int(change.alert_id)),
    )
    if cursor.rowcount == 1:
        _queue_notices(conn, int(change.alert_id), "resolved", change.channels, change.at)


WRITERS: dict[type, Callable[[Connection, Any], None]] = {
    AdminAlertOpened: _opened,
    AdminAlertUpdated: _updated,
    AdminAlertResolved: _resolved,
}
