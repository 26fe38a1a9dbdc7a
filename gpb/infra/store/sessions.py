"""Page sessions ended by logging out, until they would have expired anyway."""

from __future__ import annotations

from datetime import datetime

from gpb.handlers.timefmt import format_time, utcnow
from gpb.infra.store.database import Connection, Database


class SqlEndedSessions:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def end(self, session_id: str, expires_at: datetime) -> None:
        params = {
            "id": session_id,
            "expires": format_time(expires_at),
            "now": format_time(utcnow()),
        }

        def write(conn: Connection) -> None:
            conn.execute(
                "INSERT INTO ended_sessions (id, expires_at) VALUES (:id, :expires)"
                " ON CONFLICT (id) DO NOTHING",
                params,
            )
            # Expired sessions are refused by their cookie's own expiry: their rows can go.
            conn.execute("DELETE FROM ended_sessions WHERE expires_at < :now", params)

        await self._db.write(write)

    async def has_ended(self, session_id: str) -> bool:
        def read(conn: Connection) -> bool:
            row = conn.execute("SELECT 1 FROM ended_sessions WHERE id = ?", (session_id,))
            return row.fetchone() is not None

        return await self._db.read(read)
