"""Used LTI nonces: inserting one that is there already spends nothing and says so."""

from __future__ import annotations

from datetime import datetime, timedelta

from gpb.handlers.timefmt import format_time
from gpb.infra.store.database import Connection, Database

# A nonce older than this rides only on a token past its `exp` (Canvas's live an hour), which the
# launch refuses before it looks at the nonce.
KEEP = timedelta(days=1)


class SqlNonceLedger:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def use(self, nonce: str, now: datetime) -> bool:
        def write(conn: Connection) -> bool:
            conn.execute("DELETE FROM lti_nonces WHERE used_at < ?", (format_time(now - KEEP),))
            used = conn.execute(
                "INSERT INTO lti_nonces (nonce, used_at) VALUES (?, ?)"
                " ON CONFLICT (nonce) DO NOTHING RETURNING nonce",
                (nonce, format_time(now)),
            ).fetchone()
            return used is not None

        return await self._db.write(write)
