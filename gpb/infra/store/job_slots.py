"""Scheduled jobs' slots: the process that inserts (job, slot) first runs that round."""

from __future__ import annotations

from datetime import datetime, timedelta

from gpb.handlers.timefmt import format_time
from gpb.infra.store.database import Connection, Database

# Slots older than this are forgotten: no round is ever run that late.
KEEP = timedelta(days=7)


class SqlJobSlots:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def take(self, job: str, slot: str, holder: str, now: datetime) -> bool:
        def write(conn: Connection) -> bool:
            conn.execute(
                "DELETE FROM job_slots WHERE job = ? AND taken_at < ?",
                (job, format_time(now - KEEP)),
            )
            taken = conn.execute(
                "INSERT INTO job_slots (job, slot, taken_by, taken_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (job, slot) DO NOTHING RETURNING job",
                (job, slot, holder, format_time(now)),
            ).fetchone()
            return taken is not None

        return await self._db.write(write)
