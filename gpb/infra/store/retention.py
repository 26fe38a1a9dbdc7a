"""Purging old events from the SQLite event log, a batch per write job.

Each batch is one job on the writer thread, so ingest keeps committing between batches: a purge of a
year of events never holds the write lock for long.

An event is kept, however old, while gpb still needs it: `accepted` (waiting for its handler),
`failed` with a retry scheduled, or the first copy of an event that a duplicate still points at
(`duplicate_of`). Old duplicates go first; their first copy follows in a later batch, so the
foreign key holds at every commit.
"""

from __future__ import annotations

import json
from datetime import datetime

from gpb.handlers.envelope import canonical_json
from gpb.handlers.retention import REQUEST_FIELDS, Purge
from gpb.handlers.timefmt import format_time, utcnow
from gpb.infra.store.database import Connection, Database
from gpb.infra.store.event_parts import FILED, WAITING

BATCH_SIZE = 1000

_PURGEABLE = """
    received_at < :cutoff
    AND status != 'accepted'
    AND NOT (status = 'failed' AND next_attempt_at IS NOT NULL)
    AND NOT EXISTS (SELECT 1 FROM events AS d WHERE d.duplicate_of = events.id)
"""
_FIELDS_KEPT = "payload IS NOT NULL AND request_fields_removed_at IS NULL AND received_at < :cutoff"


class SqlRetention:
    def __init__(self, db: Database, *, batch_size: int = BATCH_SIZE) -> None:
        self._db = db
        self._batch_size = batch_size

    async def purge_events(self, before: datetime) -> Purge:
        params = {"cutoff": format_time(before), "batch": self._batch_size}

        def purge_batch(conn: Connection) -> int:
            # Oldest first along the received_at index: LIMIT stops the scan, nothing is sorted.
            cursor = conn.execute(
                "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE"
                f" {_PURGEABLE} ORDER BY received_at LIMIT :batch)",
                params,
            )
            return cursor.rowcount

        def count_kept(conn: Connection) -> int:
            row = conn.execute("SELECT count(*) FROM events WHERE received_at < :cutoff", params)
            return int(row.fetchone()[0])

        purged = 0
        # Until a batch finds nothing: removing duplicates can free their first copies.
        while deleted := await self._db.write(purge_batch):
            purged += deleted
        return Purge(purged=purged, kept=await self._db.read(count_kept))

    async def purge_rejected(self, before: datetime) -> int:
        """Refused deliveries go sooner than the rest: nothing points at them, nothing waits."""
        params = {"cutoff": format_time(before), "batch": self._batch_size}

        def purge_batch(conn: Connection) -> int:
            cursor = conn.execute(
                "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE status = 'rejected'"
                f" AND {FILED} AND received_at < :cutoff ORDER BY id LIMIT :batch)",
                params,
            )
            return cursor.rowcount

        purged = 0
        while deleted := await self._db.write(purge_batch):
            purged += deleted
        return purged

    async def remove_request_fields(self, before: datetime) -> int:
        """Rewrites old payloads without Canvas's request fields, a batch per write, in Python
        so both engines store the same JSON (the canonical form the event was stored in)."""
        params = {"cutoff": format_time(before), "batch": self._batch_size}

        def scrub_batch(conn: Connection) -> int:
            # Each part of the log along its own index (event_parts.py): the handled events by
            # time, then, once they are done, the few still waiting by id (ids and times rise
            # together), which the index walks whole.
            rows = conn.execute(
                f"SELECT id, payload FROM events WHERE {_FIELDS_KEPT} AND {FILED}"
                " ORDER BY received_at LIMIT :batch",
                params,
            ).fetchall()
            if not rows:
                rows = conn.execute(
                    f"SELECT id, payload FROM events WHERE {_FIELDS_KEPT} AND {WAITING}"
                    " ORDER BY id LIMIT :batch",
                    params,
                ).fetchall()
            stamp = format_time(utcnow())
            for event_id, payload in rows:
                conn.execute(
                    "UPDATE events SET payload = ?, request_fields_removed_at = ? WHERE id = ?",
                    (_without_request_fields(payload), stamp, event_id),
                )
            return len(rows)

        removed = 0
        while changed := await self._db.write(scrub_batch):
            removed += changed
        return removed


def _without_request_fields(payload: str) -> str:
    event = json.loads(payload)
    metadata = event.get("metadata") if isinstance(event, dict) else None
    if isinstance(metadata, dict):
        for name in REQUEST_FIELDS:
            metadata.pop(name, None)
    return canonical_json(event)
