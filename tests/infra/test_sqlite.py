from pathlib import Path

from gpb.infra.store.database import Connection
from gpb.infra.store.sqlite import WAL_CHECKPOINT_PAGES, WAL_KEPT_BYTES, SqliteDatabase

FULL = 2


async def test_the_writer_commits_durably_and_checkpoints_the_wal_in_large_steps(
    tmp_path: Path,
) -> None:
    db = SqliteDatabase(str(tmp_path / "gpb.db"))
    db.migrate()
    db.start()
    try:

        def pragmas(conn: Connection) -> tuple[object, ...]:
            names = ("journal_mode", "synchronous", "wal_autocheckpoint", "journal_size_limit")
            return tuple(conn.execute(f"PRAGMA {name}").fetchone()[0] for name in names)

        assert await db.write(pragmas) == ("wal", FULL, WAL_CHECKPOINT_PAGES, WAL_KEPT_BYTES)
    finally:
        await db.close()
