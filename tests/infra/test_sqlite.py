import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from gpb.infra.store.database import Connection
from gpb.infra.store.sqlite import WAL_CHECKPOINT_PAGES, WAL_KEPT_BYTES, SqliteDatabase

FULL = 2


async def test_the_writer_commits_durably_and_checkpoints_the_wal_in_large_steps(
    db: SqliteDatabase,
) -> None:
    def pragmas(conn: Connection) -> tuple[object, ...]:
        names = ("journal_mode", "synchronous", "wal_autocheckpoint", "journal_size_limit")
        return tuple(conn.execute(f"PRAGMA {name}").fetchone()[0] for name in names)

    assert await db.write(pragmas) == ("wal", FULL, WAL_CHECKPOINT_PAGES, WAL_KEPT_BYTES)


async def started(path: Path) -> SqliteDatabase:
    """A migrated database at `path`, its writer started, with a table `t` of numbers."""
    database = SqliteDatabase(str(path))
    database.migrate()
    database.start()
    await database.write(lambda conn: conn.execute("CREATE TABLE t (n INTEGER)"))
    return database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    database = await started(tmp_path / "gpb.db")
    try:
        yield database
    finally:
        await database.close()


def insert(n: int) -> Callable[[Connection], int]:
    return lambda conn: int(conn.execute("INSERT INTO t VALUES (?)", (n,)).rowcount)


async def stored(db: SqliteDatabase) -> list[int]:
    return await db.read(lambda conn: [r[0] for r in conn.execute("SELECT n FROM t ORDER BY n")])


async def test_lingering_writes_wait_for_company_until_a_write_that_may_not_wait_comes(
    db: SqliteDatabase,
) -> None:
    lingering = [asyncio.ensure_future(db.write(insert(n), linger=60)) for n in (1, 2)]
    await asyncio.sleep(0.3)
    assert await stored(db) == []  # not committed while the writer waits for more
    assert not any(write.done() for write in lingering)
    # One write in a hurry ends the wait: the three are committed together, at once.
    assert await asyncio.wait_for(db.write(insert(3)), 10) == 1
    assert await asyncio.wait_for(asyncio.gather(*lingering), 10) == [1, 1]
    assert await stored(db) == [1, 2, 3]


async def test_a_lingering_write_is_committed_when_its_time_is_up(db: SqliteDatabase) -> None:
    started = time.monotonic()
    assert await asyncio.wait_for(db.write(insert(1), linger=0.2), 10) == 1
    assert time.monotonic() - started >= 0.2
    assert await stored(db) == [1]


async def test_closing_commits_a_lingering_write_without_waiting_for_it(tmp_path: Path) -> None:
    db = await started(tmp_path / "gpb.db")
    lingering = asyncio.ensure_future(db.write(insert(7), linger=60))
    await asyncio.sleep(0.1)
    await asyncio.wait_for(db.close(), 10)
    assert await asyncio.wait_for(lingering, 10) == 1
    reopened = SqliteDatabase(str(tmp_path / "gpb.db"))
    reopened.start()
    try:
        assert await stored(reopened) == [7]
    finally:
        await reopened.close()
