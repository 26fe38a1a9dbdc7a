"""The event log on SQLite."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from gpb.handlers.claims import Claim
from gpb.handlers.envelope import CanvasEvent
from gpb.handlers.eventlog import (
    BUCKET_STEP,
    LAUNCH_EVENT,
    Appended,
    BucketCount,
    EventPage,
    EventQuery,
    EventStatus,
    Finish,
    LaunchEntry,
    Rejection,
    StoredEvent,
    TimeBucket,
    bucket_start,
)
from gpb.handlers.ids import record_id
from gpb.handlers.timefmt import format_time, parse_time, parse_time_or_none
from gpb.infra.store.changes import apply_changes
from gpb.infra.store.database import (
    Connection,
    Database,
    Dialect,
    Row,
    inserted_id,
    skip_locked,
)
from gpb.infra.store.event_parts import FILED, WAITING, part_of

EXPORT_PAGE = 500
CLAIM_LOCK = 0x6770_6202  # the advisory lock that takes replicas' claims in turn
_EVENT_COLUMNS = (
    "status, received_at, event_name, event_time, event_time_ms, shard, course_id, user_id,"
    " content_hash, source_ip"
)
_EVENT_VALUES = ", ".join("?" * len(_EVENT_COLUMNS.split(",")))
# Storing a first copy is one statement: when the events_first_copy index holds the hash already,
# the insert adds no row, and only then is the event looked up and filed as a duplicate.
# (duplicate_of is left out rather than bound to None: binding None costs more than the column.)
_INSERT_FIRST_COPY = (
    f"INSERT INTO events ({_EVENT_COLUMNS}, payload) VALUES ({_EVENT_VALUES}, ?)"
    " ON CONFLICT (content_hash) WHERE content_hash IS NOT NULL AND duplicate_of IS NULL"
    " DO NOTHING"
)
_INSERT_DUPLICATE = (
    f"INSERT INTO events ({_EVENT_COLUMNS}, duplicate_of) VALUES ({_EVENT_VALUES}, ?)"
)


class SqlEventLog:
    def __init__(self, db: Database, *, keep_raw_bytes: int = 16_384) -> None:
        self._db = db
        self._keep_raw = keep_raw_bytes
        self._last_stamp = ""

    def _stamp(self) -> str:
        """received_at, never lower than the last one given: ids and times rise together."""
        stamp = max(format_time(datetime.now(UTC)), self._last_stamp)
        self._last_stamp = stamp
        return stamp

    async def append(self, event: CanvasEvent, source_ip: str | None) -> Appended:
        payload = event.payload_json
        event_time = format_time(event.event_time)

        def write(conn: Connection) -> Appended:
            fields = (
                self._stamp(),
                event.event_name,
                event_time,
                event.event_time_ms,
                event.shard,
                event.course_id,
                event.user_id,
                event.content_hash,
                source_ip,
            )
            first_copy = (EventStatus.ACCEPTED.value, *fields, payload)
            stored = inserted_id(conn, _INSERT_FIRST_COPY, first_copy)
            if stored is not None:
                return Appended(str(stored), None)
            first = conn.execute(
                "SELECT id FROM events WHERE content_hash = ? AND content_hash IS NOT NULL"
                " AND duplicate_of IS NULL",
                (event.content_hash,),
            ).fetchone()[0]
            duplicate = (EventStatus.DUPLICATE.value, *fields, first)
            return Appended(str(inserted_id(conn, _INSERT_DUPLICATE, duplicate)), str(first))

        return await self._db.write(write)

    async def append_rejected(self, rejection: Rejection) -> str:
        raw = rejection.raw[: self._keep_raw].decode("utf-8", errors="replace")
        error = json.dumps({"code": rejection.code, "message": rejection.message})

        def write(conn: Connection) -> str:
            rejected = inserted_id(
                conn,
                "INSERT INTO events (received_at, status, event_name, error, raw, source_ip)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    self._stamp(),
                    EventStatus.REJECTED.value,
                    rejection.event_name,
                    error,
                    raw,
                    rejection.source_ip,
                ),
            )
            return str(rejected)

        return await self._db.write(write)

    async def append_launch(self, entry: LaunchEntry) -> str:
        status = EventStatus.REJECTED if entry.error else EventStatus.PROCESSED
        outcome = json.dumps({"role": entry.role}) if entry.role else None
        error = json.dumps(entry.error) if entry.error else None

        def write(conn: Connection) -> str:
            received_at = self._stamp()
            launched = inserted_id(
                conn,
                "INSERT INTO events (received_at, status, event_name, event_time, course_id,"
                " user_id, outcome, error, source_ip) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    received_at,
                    status.value,
                    LAUNCH_EVENT,
                    received_at,
                    entry.course_id,
                    entry.user_id,
                    outcome,
                    error,
                    entry.source_ip,
                ),
            )
            return str(launched)

        return await self._db.write(write)

    async def claim_due(self, claim: Claim, limit: int) -> list[StoredEvent]:
        return await self._db.write(lambda conn: _claim_due(conn, claim, limit))

    async def release_claims(self, holder: str | None) -> int:
        def write(conn: Connection) -> int:
            release = "UPDATE events SET claimed_by = NULL, lease_until = NULL"
            if holder is None:
                cursor = conn.execute(release + " WHERE lease_until IS NOT NULL")
            else:
                cursor = conn.execute(
                    release + " WHERE lease_until IS NOT NULL AND claimed_by = ?", (holder,)
                )
            return int(cursor.rowcount)

        return await self._db.write(write)

    async def finish(self, event_id: str, finish: Finish) -> None:
        def write(conn: Connection) -> None:
            apply_changes(conn, finish.changes)
            conn.execute(
                "UPDATE events SET status = ?, attempts = ?, outcome = ?, error = ?,"
                " next_attempt_at = ?, lease_until = NULL WHERE id = ?",
                (
                    finish.status.value,
                    finish.attempts,
                    _json_or_none(finish.outcome),
                    _json_or_none(finish.error),
                    format_time(finish.next_attempt_at) if finish.next_attempt_at else None,
                    int(event_id),
                ),
            )

        await self._db.write(write)

    async def get(self, event_id: str) -> StoredEvent | None:
        row_id = record_id(event_id)
        if row_id is None:
            return None

        def read(conn: Connection) -> StoredEvent | None:
            row = conn.execute("SELECT * FROM events WHERE id = ?", (row_id,)).fetchone()
            return _event(row) if row else None

        return await self._db.read(read)

    async def search(self, query: EventQuery) -> EventPage:
        return await self._db.read(lambda conn: _search(conn, query))

    async def export(self, query: EventQuery) -> AsyncIterator[StoredEvent]:
        page_query = replace(query, limit=EXPORT_PAGE)
        while True:
            page = await self.search(page_query)
            for event in page.events:
                yield event
            if page.next_cursor is None:
                return
            page_query = replace(page_query, before_id=page.next_cursor)

    async def requeue(self, event_id: str) -> StoredEvent | None:
        row_id = record_id(event_id)
        if row_id is None:
            return None

        def write(conn: Connection) -> StoredEvent | None:
            # Which events may be requeued is replay.replayable's to say, before this.
            conn.execute(
                "UPDATE events SET status = 'accepted', attempts = 0, next_attempt_at = NULL,"
                " error = NULL WHERE id = ?",
                (row_id,),
            )
            row = conn.execute("SELECT * FROM events WHERE id = ?", (row_id,)).fetchone()
            return _event(row) if row else None

        return await self._db.write(write)

    async def counts_by_time(self, since: datetime, bucket: TimeBucket) -> list[BucketCount]:
        return await self._db.read(lambda conn: _counts_by_time(conn, since, bucket))

    async def counts_by_status(self) -> dict[str, int]:
        def read(conn: Connection) -> dict[str, int]:
            return {
                status.value: conn.execute(
                    f"SELECT count(*) FROM events WHERE status = ? AND {part_of(status)}",
                    (status.value,),
                ).fetchone()[0]
                for status in (EventStatus.ACCEPTED, EventStatus.FAILED)
            }

        return await self._db.read(read)

    async def oldest_waiting(self) -> datetime | None:
        """When the oldest event still waiting for its handler arrived (for the lag metric)."""

        def read(conn: Connection) -> str | None:
            row = conn.execute(
                f"SELECT received_at FROM events WHERE {WAITING} ORDER BY id LIMIT 1"
            ).fetchone()
            return row[0] if row else None

        stamp = await self._db.read(read)
        return parse_time_or_none(stamp)


def _claim_due(conn: Connection, claim: Claim, limit: int) -> list[StoredEvent]:
    now, holder = format_time(claim.now), claim.holder
    if conn.dialect is Dialect.POSTGRES:
        # Replicas claim one at a time, each seeing what the one before it claimed: no course
        # gets two holders. Held to the commit, this lock costs one claim at a time, not one
        # event at a time.
        conn.execute("SELECT pg_advisory_xact_lock(?)", (CLAIM_LOCK,))
    free = (
        " AND (lease_until IS NULL OR lease_until < :now OR claimed_by = :holder)"
        " AND (course_id IS NULL OR course_id NOT IN (SELECT course_id FROM events"
        "  WHERE lease_until >= :now AND claimed_by <> :holder AND course_id IS NOT NULL))"
        " ORDER BY id LIMIT :limit" + skip_locked(conn)
    )
    params = {"now": now, "holder": holder, "limit": limit}
    # Two index ranges: the waiting events in id order, and the failed ones now due.
    ids = [
        row[0]
        for row in conn.execute(f"SELECT id FROM events WHERE {WAITING}" + free, params).fetchall()
    ]
    ids += [
        row[0]
        for row in conn.execute(
            "SELECT id FROM events WHERE status = 'failed' AND next_attempt_at IS NOT NULL"
            " AND next_attempt_at <= :now" + free,
            params,
        ).fetchall()
    ]
    ids = sorted(ids)[:limit]
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    conn.execute(
        f"UPDATE events SET claimed_by = ?, lease_until = ? WHERE id IN ({marks})",
        (holder, format_time(claim.until), *ids),
    )
    rows = conn.execute(f"SELECT * FROM events WHERE id IN ({marks})", ids).fetchall()
    return sorted((_event(row) for row in rows), key=lambda event: int(event.id))


def _search(conn: Connection, query: EventQuery) -> EventPage:
    """Newest first, by id. Time bounds become id bounds first (ids and received_at rise together),
    so every filter walks one (column, id) index and the cost does not grow with the log."""
    clauses: list[str] = []
    params: list[Any] = []
    if query.since is not None:
        row = conn.execute(
            "SELECT id FROM events WHERE received_at >= ? ORDER BY received_at LIMIT 1",
            (format_time(query.since),),
        ).fetchone()
        if row is None:
            return EventPage([], None)
        clauses.append("id >= ?")
        params.append(row[0])
    if query.until is not None:
        row = conn.execute(
            "SELECT id FROM events WHERE received_at < ? ORDER BY received_at DESC LIMIT 1",
            (format_time(query.until),),
        ).fetchone()
        if row is None:
            return EventPage([], None)
        clauses.append("id <= ?")
        params.append(row[0])
    if query.before_id is not None:
        clauses.append("id < ?")
        params.append(int(query.before_id))
    status = query.status.value if query.status else None
    filters = [("course_id", query.course_id), ("event_name", query.event_name), ("status", status)]
    # Each pair of filters has its index. With all three, SQLite (which keeps no statistics on
    # these columns) would walk (event_name, status, id) across every course; a unary + keeps one
    # filter off the index so that it walks the course's: by status when the status is a rare
    # one, else by name. PostgreSQL chooses by its statistics, and has no unary + for text.
    unindexed = None
    if conn.dialect is Dialect.SQLITE and all(value is not None for _, value in filters):
        unindexed = "status" if status == EventStatus.PROCESSED.value else "event_name"
    for column, value in filters:
        if value is not None:
            clauses.append(f"{'+' if column == unindexed else ''}{column} = ?")
            params.append(value)

    def newest(part: list[str]) -> str:
        terms = clauses + part
        where = f" WHERE {' AND '.join(terms)}" if terms else ""
        return f"SELECT * FROM events{where} ORDER BY id DESC LIMIT ?"

    # A status lies in one part of the log. Without one, a filter by course or name reads both
    # parts, each through its own index, and keeps the newest; in one statement, so that an event
    # the worker files meanwhile is seen in one part or the other, not in neither. With no filter
    # at all, the id key itself is walked.
    limit = query.limit + 1
    if query.status is not None:
        sql, values = newest([part_of(query.status)]), [*params, limit]
    elif query.course_id is not None or query.event_name is not None:
        sql = (
            f"SELECT * FROM ({newest([FILED])}) AS filed UNION ALL"
            f" SELECT * FROM ({newest([WAITING])}) AS waiting ORDER BY id DESC LIMIT ?"
        )
        values = [*params, limit, *params, limit, limit]
    else:
        sql, values = newest([]), [*params, limit]
    rows = conn.execute(sql, values).fetchall()
    events = [_event(row) for row in rows[: query.limit]]
    next_cursor = events[-1].id if len(rows) > query.limit else None
    return EventPage(events, next_cursor)


def _counts_by_time(conn: Connection, since: datetime, bucket: TimeBucket) -> list[BucketCount]:
    """Bucket bounds become id bounds (ids and received_at rise together), then each (bucket,
    status) is a count over the (status, id) index, or over events_waiting for the events still
    waiting: index-only, and the cost follows the events in the window, not the size of the log
    or of its payloads."""
    newest = conn.execute("SELECT id, received_at FROM events ORDER BY id DESC LIMIT 1").fetchone()
    if newest is None:
        return []
    starts = [since]
    step = BUCKET_STEP[bucket]
    boundary = bucket_start(since, bucket) + step
    while format_time(boundary) <= newest["received_at"]:
        starts.append(boundary)
        boundary += step
    first_ids = []
    for start in starts:
        row = conn.execute(
            "SELECT id FROM events WHERE received_at >= ? ORDER BY received_at LIMIT 1",
            (format_time(start),),
        ).fetchone()
        first_ids.append(row[0] if row else newest["id"] + 1)
    first_ids.append(newest["id"] + 1)
    counts = []
    for start, low, high in zip(starts, first_ids[:-1], first_ids[1:], strict=True):
        if low >= high:
            continue  # no event in this bucket
        for status in EventStatus:
            (count,) = conn.execute(
                f"SELECT count(*) FROM events WHERE status = ? AND {part_of(status)}"
                " AND id >= ? AND id < ?",
                (status.value, low, high),
            ).fetchone()
            if count:
                counts.append(BucketCount(bucket_start(start, bucket), status, count))
    return counts


def _json_or_none(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"), default=str)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _event(row: Row) -> StoredEvent:
    return StoredEvent(
        id=str(row["id"]),
        received_at=parse_time(row["received_at"]),
        status=EventStatus(row["status"]),
        event_name=row["event_name"],
        event_time=parse_time_or_none(row["event_time"]),
        course_id=row["course_id"],
        user_id=row["user_id"],
        shard=row["shard"],
        error=_load(row["error"]),
        attempts=row["attempts"],
        next_attempt_at=parse_time_or_none(row["next_attempt_at"]),
        duplicate_of=str(row["duplicate_of"]) if row["duplicate_of"] is not None else None,
        payload=_load(row["payload"]),
        outcome=_load(row["outcome"]),
        raw=row["raw"],
        source_ip=row["source_ip"],
    )
