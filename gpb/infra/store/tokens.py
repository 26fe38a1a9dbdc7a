"""API tokens on SQLite: only their hashes are stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from gpb.handlers.timefmt import format_time, parse_time, parse_time_or_none
from gpb.handlers.tokens import Role, TokenInfo, token_hash, token_prefix
from gpb.infra.store.database import Connection, Database, Row


class SqlTokens:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        token: str,
        role: Role,
        course_ids: tuple[str, ...],
        name: str | None,
        expires_at: datetime | None,
        canvas_user_id: str | None = None,
    ) -> TokenInfo:
        created = datetime.now(UTC)

        def write(conn: Connection) -> None:
            conn.execute(
                "INSERT INTO tokens (prefix, token_hash, role, name, course_ids, created_at,"
                " expires_at, canvas_user_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    token_prefix(token),
                    token_hash(token),
                    role.value,
                    name,
                    json.dumps(list(course_ids)),
                    format_time(created),
                    format_time(expires_at) if expires_at else None,
                    canvas_user_id,
                ),
            )

        await self._db.write(write)
        return TokenInfo(
            token_prefix(token), role, name, course_ids, created, expires_at, None, canvas_user_id
        )

    async def find_by_hash(self, digest: str, now: datetime) -> TokenInfo | None:
        def read(conn: Connection) -> Row | None:
            return conn.execute(
                "SELECT * FROM tokens WHERE token_hash = ? AND revoked_at IS NULL"
                " AND (expires_at IS NULL OR expires_at > ?)",
                (digest, format_time(now)),
            ).fetchone()

        row = await self._db.read(read)
        return _info(row) if row else None

    async def revoke(self, prefix: str, now: datetime) -> int:
        def write(conn: Connection) -> int:
            cursor = conn.execute(
                "UPDATE tokens SET revoked_at = ? WHERE prefix = ? AND revoked_at IS NULL",
                (format_time(now), prefix),
            )
            return cursor.rowcount

        return await self._db.write(write)

    async def list(self) -> list[TokenInfo]:
        rows = await self._db.read(
            lambda conn: conn.execute("SELECT * FROM tokens ORDER BY id").fetchall()
        )
        return [_info(row) for row in rows]


def _info(row: Row) -> TokenInfo:
    return TokenInfo(
        prefix=row["prefix"],
        role=Role(row["role"]),
        name=row["name"],
        course_ids=tuple(json.loads(row["course_ids"])),
        created_at=parse_time(row["created_at"]),
        expires_at=parse_time_or_none(row["expires_at"]),
        revoked_at=parse_time_or_none(row["revoked_at"]),
        canvas_user_id=row["canvas_user_id"],
    )
