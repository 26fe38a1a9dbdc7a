"""The outboxes' common step: taking the notices that are due, so that one process sends each."""

from __future__ import annotations

from datetime import datetime

from gpb.handlers.notices import NOTICE_CLAIM
from gpb.handlers.timefmt import format_time
from gpb.infra.store.database import Connection, skip_locked


def claim_due(conn: Connection, table: str, now: datetime, limit: int) -> list[int]:
    """The ids of `table`'s pending notices due at `now`, claimed for NOTICE_CLAIM."""
    stamp = format_time(now)
    rows = conn.execute(
        f"SELECT id FROM {table} WHERE status = 'pending' AND send_after <= ?"
        " AND (lease_until IS NULL OR lease_until < ?)"
        " ORDER BY send_after, id LIMIT ?" + skip_locked(conn),
        (stamp, stamp, limit),
    ).fetchall()
    ids = [row[0] for row in rows]
    if ids:
        conn.execute(
            f"UPDATE {table} SET lease_until = ? WHERE id IN ({','.join('?' * len(ids))})",
            (format_time(now + NOTICE_CLAIM), *ids),
        )
    return ids
