"""Alerts, their feed (what SSE streams) and the outbox of notices, on SQLite."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from gpb.handlers.alerts import Alert, AlertOpened, AlertResolved, AlertUpdated, FeedEntry
from gpb.handlers.ids import record_id
from gpb.handlers.notices import Notice, NoticesQueued
from gpb.handlers.timefmt import format_time, parse_time, parse_time_or_none, utcnow
from gpb.infra.store.database import (
    ALERTS_CHANNEL,
    Connection,
    Database,
    Dialect,
    Row,
    inserted_id,
)
from gpb.infra.store.outbox import claim_due


def _alert(fields: Row | Mapping[str, Any]) -> Alert:
    """An alert from its row, or from the copy a feed entry keeps (given the entry's course_id and
    version, which the copy does not carry)."""
    return Alert(
        id=str(fields["id"]),
        course_id=fields["course_id"],
        assignment_id=fields["assignment_id"],
        code=fields["code"],
        severity=fields["severity"],
        message=fields["message"],
        fix=fields["fix"],
        state=fields["state"],
        version=fields["version"],
        created_at=parse_time(fields["created_at"]),
        updated_at=parse_time(fields["updated_at"]),
        resolved_at=parse_time_or_none(fields["resolved_at"]),
    )


class SqlAlerts:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def alerts(self, course_id: str, state: str | None = None) -> list[Alert]:
        def read(conn: Connection) -> list[Alert]:
            sql = "SELECT * FROM alerts WHERE course_id = ?"
            params: tuple[str, ...] = (course_id,)
            if state is not None:
                sql += " AND state = ?"
                params += (state,)
            return [_alert(row) for row in conn.execute(sql + " ORDER BY id DESC", params)]

        return await self._db.read(read)

    async def feed_after(self, course_id: str, after_seq: int, limit: int = 500) -> list[FeedEntry]:
        def read(conn: Connection) -> list[FeedEntry]:
            rows = conn.execute(
                "SELECT seq, version, alert FROM alert_feed WHERE course_id = ? AND seq > ?"
                " ORDER BY seq LIMIT ?",
                (course_id, after_seq, limit),
            )
            return [
                FeedEntry(
                    r["seq"],
                    _alert(
                        json.loads(r["alert"]) | {"course_id": course_id, "version": r["version"]}
                    ),
                )
                for r in rows
            ]

        return await self._db.read(read)

    async def feed_position(self, course_id: str, event_id: str | None) -> int:
        def read(conn: Connection) -> int:
            if event_id is not None:
                alert_text, _, version_text = event_id.partition(".")
                alert_id, version = record_id(alert_text), record_id(version_text)
                if alert_id is not None and version is not None:
                    row = conn.execute(
                        "SELECT seq FROM alert_feed WHERE alert_id = ? AND version = ?"
                        " AND course_id = ?",
                        (alert_id, version, course_id),
                    ).fetchone()
                    if row is not None:
                        return int(row[0])
            row = conn.execute(
                "SELECT max(seq) FROM alert_feed WHERE course_id = ?", (course_id,)
            ).fetchone()
            return int(row[0] or 0)

        return await self._db.read(read)

    async def due_notices(self, now: datetime, limit: int) -> list[Notice]:
        return await self._db.write(lambda conn: _due_notices(conn, now, limit))

    async def notice_sent(self, notice_id: str, sent: dict[str, Any], now: datetime) -> None:
        def write(conn: Connection) -> None:
            conn.execute(
                "UPDATE notifications SET lease_until = NULL, status = 'sent', sent_at = ?,"
                " sent = ?, attempts = attempts + 1 WHERE id = ?",
                (format_time(now), json.dumps(sent), int(notice_id)),
            )

        await self._db.write(write)

    async def notice_failed(
        self, notice_id: str, error: str, retry_at: datetime | None, now: datetime
    ) -> None:
        def write(conn: Connection) -> None:
            if retry_at is None:
                conn.execute(
                    "UPDATE notifications SET lease_until = NULL, status = 'failed',"
                    " last_error = ?, attempts = attempts + 1 WHERE id = ?",
                    (error, int(notice_id)),
                )
            else:
                conn.execute(
                    "UPDATE notifications SET lease_until = NULL, send_after = ?, last_error = ?,"
                    " attempts = attempts + 1 WHERE id = ?",
                    (format_time(retry_at), error, int(notice_id)),
                )

        await self._db.write(write)


def _due_notices(conn: Connection, now: datetime, limit: int) -> list[Notice]:
    notices = []
    due = claim_due(conn, "notifications", now, limit)
    if not due:
        return []
    rows = conn.execute(
        "SELECT n.*, a.title FROM notifications n LEFT JOIN assignments a"
        " ON a.course_id = n.course_id AND a.id = n.assignment_id"
        f" WHERE n.id IN ({','.join('?' * len(due))}) ORDER BY n.send_after, n.id",
        due,
    ).fetchall()
    for row in rows:
        alerts = conn.execute(
            "SELECT * FROM alerts WHERE course_id = ? AND assignment_id = ?"
            " AND (state = 'open' OR resolved_at >= ?) ORDER BY id",
            (row["course_id"], row["assignment_id"], row["created_at"]),
        ).fetchall()
        notices.append(
            Notice(
                id=str(row["id"]),
                channel=row["channel"],
                course_id=row["course_id"],
                assignment_id=row["assignment_id"],
                assignment_title=row["title"] or f"assignment {row['assignment_id']}",
                attempts=row["attempts"],
                alerts=tuple(_alert(a) for a in alerts),
            )
        )
    return notices


def _append_feed(conn: Connection, alert_id: int) -> None:
    row = conn.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
    alert = _alert(row)
    conn.execute(
        "INSERT INTO alert_feed (course_id, alert_id, version, alert) VALUES (?, ?, ?, ?)",
        (alert.course_id, alert_id, alert.version, json.dumps(alert.as_json())),
    )
    if conn.dialect is Dialect.POSTGRES:
        # Sent when (and only if) the transaction commits: every replica's alert streams wake.
        conn.execute("SELECT pg_notify(?, ?)", (ALERTS_CHANNEL, alert.course_id))


def _opened(conn: Connection, change: AlertOpened) -> None:
    now = format_time(utcnow())
    opened = inserted_id(
        conn,
        "INSERT INTO alerts (course_id, assignment_id, code, severity, message, fix, state,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?)",
        (
            change.course_id,
            change.assignment_id,
            change.code,
            change.severity,
            change.message,
            change.fix,
            now,
            now,
        ),
    )
    assert opened is not None
    _append_feed(conn, opened)


def _updated(conn: Connection, change: AlertUpdated) -> None:
    conn.execute(
        "UPDATE alerts SET severity = ?, message = ?, fix = ?, version = version + 1,"
        " updated_at = ? WHERE id = ? AND state = 'open'",
        (change.severity, change.message, change.fix, format_time(utcnow()), int(change.alert_id)),
    )
    _append_feed(conn, int(change.alert_id))


def _resolved(conn: Connection, change: AlertResolved) -> None:
    now = format_time(utcnow())
    conn.execute(
        "UPDATE alerts SET state = 'resolved', version = version + 1, updated_at = ?,"
        " resolved_at = ? WHERE id = ? AND state = 'open'",
        (now, now, int(change.alert_id)),
    )
    _append_feed(conn, int(change.alert_id))


def _notices_queued(conn: Connection, change: NoticesQueued) -> None:
    now = format_time(utcnow())
    conn.executemany(
        "INSERT INTO notifications (channel, course_id, assignment_id, status, send_after,"
        " created_at) VALUES (?, ?, ?, 'pending', ?, ?)"
        " ON CONFLICT (channel, course_id, assignment_id) WHERE status = 'pending' DO NOTHING",
        [
            (channel, change.course_id, assignment_id, format_time(change.send_after), now)
            for channel in change.channels
            for assignment_id in change.assignment_ids
        ],
    )


WRITERS: dict[type, Callable[[Connection, Any], None]] = {
    AlertOpened: _opened,
    AlertUpdated: _updated,
    AlertResolved: _resolved,
    NoticesQueued: _notices_queued,
}
