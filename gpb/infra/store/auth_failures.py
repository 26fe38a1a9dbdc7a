"""Failed logins and bearer checks, one row per client address and minute."""

from __future__ import annotations

from datetime import datetime, timedelta

from gpb.handlers.timefmt import format_time
from gpb.infra.store.database import Connection, Database

KEEP = timedelta(days=1)  # the alert looks back minutes; a day is plenty for a look by hand


def minute_of(at: datetime) -> str:
    return format_time(at.replace(second=0, microsecond=0))


class SqlAuthFailures:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, address: str, at: datetime) -> None:
        params = {"minute": minute_of(at), "address": address, "old": minute_of(at - KEEP)}

        def write(conn: Connection) -> None:
            conn.execute(
                "INSERT INTO auth_failures (minute, address, count)"
                " VALUES (:minute, :address, 1)"
                " ON CONFLICT (minute, address) DO UPDATE SET count = auth_failures.count + 1",
                params,
            )
            conn.execute("DELETE FROM auth_failures WHERE minute < :old", params)

        await self._db.write(write)

    async def count_since(self, since: datetime) -> int:
        def read(conn: Connection) -> int:
            row = conn.execute(
                "SELECT coalesce(sum(count), 0) FROM auth_failures WHERE minute >= ?",
                (minute_of(since),),
            ).fetchone()
            return int(row[0])

        return await self._db.read(read)
