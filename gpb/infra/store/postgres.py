"""PostgreSQL behind the same repositories as SQLite: a pool of psycopg connections on threads.

The repositories are plain functions over a DB-API connection (see `database.py`), so the same
functions, and the same SQL, run on both engines: `PostgresConnection` takes SQLite's `?` and
`:name` placeholders and hands psycopg its `%s` and `%(name)s`. Each `write` is one transaction
on a pooled connection; PostgreSQL groups concurrent commits itself, so there is no writer thread
here. The columns are integers where Python has booleans (SQLite has no boolean type), so
booleans are sent as integers, and the sums PostgreSQL types `numeric` come back as numbers.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.abc import Buffer
from psycopg.adapt import Dumper, Loader
from psycopg.rows import RowMaker
from psycopg.types.string import StrDumperUnknown
from psycopg_pool import ConnectionPool

from gpb.infra.store.database import Connection, Dialect
from gpb.infra.store.migrations import migrate

T = TypeVar("T")
log = logging.getLogger("gpb.postgres")

# A deadlock or a serialization failure undoes the whole transaction and says "try again". So does
# a unique violation: a write that reads, then inserts, can meet the same insert committed by
# another connection meanwhile; run again, it reads that row and takes the update path.
_RETRYABLE = (
    pg_errors.DeadlockDetected,
    pg_errors.SerializationFailure,
    pg_errors.UniqueViolation,
)
WRITE_ATTEMPTS = 3

# A quoted string or name, a `::` cast, a `?`, a `:name`, or a `%`.
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|::|\?|(?<!:):([A-Za-z_]\w*)|%")


@lru_cache(maxsize=1024)
def to_psycopg(sql: str) -> str:
    """SQLite's placeholders in psycopg's form. Inside quotes `?` and `:name` are text, but psycopg
    reads every `%` (it does not parse SQL), so each is doubled, quoted or not."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token.startswith(("'", '"')):
            return token.replace("%", "%%")
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        if match.group(1):
            return f"%({match.group(1)})s"
        return token

    return _TOKENS.sub(replace, sql)


class Row(tuple[Any, ...]):
    """By position, like a tuple, or by column name, like sqlite3.Row."""

    _index: dict[str, int]

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


def _row_factory(cursor: psycopg.Cursor[Any]) -> RowMaker[Row]:
    return _row_type(tuple(column.name for column in cursor.description or ()))


@lru_cache(maxsize=256)
def _row_type(names: tuple[str, ...]) -> Any:
    return type("Row", (Row,), {"_index": {name: i for i, name in enumerate(names)}})


class _TextDumper(StrDumperUnknown):
    """PostgreSQL's text cannot hold NUL; like bytes that are no UTF-8, it is stored as U+FFFD
    (a refused body is kept for forensics, whatever it holds)."""

    def dump(self, obj: str) -> Buffer | None:
        return super().dump(obj.replace("\x00", "\ufffd"))


class _BoolAsIntDumper(Dumper):
    oid = psycopg.postgres.types["int8"].oid

    def dump(self, obj: bool) -> bytes:
        return b"1" if obj else b"0"


class _NumberLoader(Loader):
    """`numeric` (what sum() of integers gives) as an int when whole, else a float."""

    def load(self, data: Any) -> int | float:
        value = Decimal(bytes(data).decode())
        return int(value) if value == value.to_integral_value() else float(value)


class PostgresConnection:
    """A psycopg connection that takes the repositories' SQL as written for both engines."""

    dialect = Dialect.POSTGRES

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.raw = conn

    def execute(
        self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = (), /
    ) -> psycopg.Cursor[Any]:
        return self.raw.execute(to_psycopg(sql), parameters)  # type: ignore[arg-type]

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> psycopg.Cursor[Any]:
        cursor = self.raw.cursor()
        cursor.executemany(to_psycopg(sql), parameters)  # type: ignore[arg-type]
        return cursor


def configure(conn: psycopg.Connection[Any]) -> None:
    conn.adapters.register_dumper(bool, _BoolAsIntDumper)
    conn.adapters.register_dumper(str, _TextDumper)
    conn.adapters.register_loader("numeric", _NumberLoader)


def connect(url: str, *, statement_timeout_seconds: float = 30.0) -> psycopg.Connection[Any]:
    """One connection outside the pool (migrations, commands)."""
    conn: psycopg.Connection[Any] = psycopg.connect(
        url, row_factory=_row_factory, **_session_options(statement_timeout_seconds)
    )
    configure(conn)
    return conn


def _session_options(statement_timeout_seconds: float) -> dict[str, Any]:
    # A statement that runs longer than this is cancelled: a stuck query must not hold a
    # connection (and its locks) forever. Idle transactions are ended for the same reason.
    timeout_ms = int(statement_timeout_seconds * 1000)
    return {
        "options": f"-c statement_timeout={timeout_ms}"
        f" -c idle_in_transaction_session_timeout={max(timeout_ms * 2, 60_000)}",
        "application_name": "gpb",
    }


async def listen_forever(
    url: str, channel: str, on_notify: Callable[[str], None], *, retry_seconds: float = 2.0
) -> None:
    """Calls `on_notify(payload)` for each NOTIFY on `channel`, from any replica, for as long as
    it runs; a lost connection is opened again. Each (re)connection counts as a notification,
    since what was sent while it was down is lost."""
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                url, autocommit=True, application_name="gpb-listen"
            ) as conn:
                await conn.execute(f"LISTEN {channel}")
                on_notify("")
                async for notice in conn.notifies():
                    on_notify(notice.payload)
        except psycopg.Error as exc:
            log.warning("listening on %s failed (%s); again in %ss", channel, exc, retry_seconds)
        await asyncio.sleep(retry_seconds)


class PostgresDatabase:
    dialect = Dialect.POSTGRES

    def __init__(
        self, url: str, *, pool_size: int = 10, statement_timeout_seconds: float = 30.0
    ) -> None:
        self.url = url
        self._pool_size = pool_size
        self._statement_timeout = statement_timeout_seconds
        self._pool: ConnectionPool[Any] | None = None
        self._threads: ThreadPoolExecutor | None = None

    def migrate(self) -> list[str]:
        with connect(self.url, statement_timeout_seconds=0) as conn:
            conn.autocommit = True
            return migrate(PostgresConnection(conn), Dialect.POSTGRES)

    def start(self) -> None:
        self._pool = ConnectionPool(
            self.url,
            min_size=1,
            max_size=self._pool_size,
            kwargs={"row_factory": _row_factory, **_session_options(self._statement_timeout)},
            configure=configure,
            check=ConnectionPool.check_connection,
            name="gpb",
            open=False,
        )
        self._pool.open(wait=True, timeout=30)
        self._threads = ThreadPoolExecutor(self._pool_size, thread_name_prefix="gpb-postgres")

    async def close(self) -> None:
        if self._threads is not None:
            await asyncio.to_thread(self._threads.shutdown, wait=True)
            self._threads = None
        if self._pool is not None:
            await asyncio.to_thread(self._pool.close)
            self._pool = None

    async def write(self, fn: Callable[[Connection], T], *, linger: float = 0.0) -> T:
        # `linger` is SQLite's: each write here is a transaction of its own connection, and the
        # server lets concurrent commits share a flush of its log.
        # As with SQLite's writer: a write once handed over is carried out, even when its caller
        # stops waiting (a run cancelled by its time budget still records what IC confirmed).
        return await asyncio.shield(self._run(self._write, fn))

    async def read(self, fn: Callable[[Connection], T]) -> T:
        return await self._run(self._read, fn)

    def _run(self, runner: Callable[[Callable[[Connection], T]], T], fn: Any) -> asyncio.Future[T]:
        if self._threads is None:
            raise RuntimeError("the database is not started")
        return asyncio.get_running_loop().run_in_executor(self._threads, runner, fn)

    def _write(self, fn: Callable[[Connection], T]) -> T:
        assert self._pool is not None
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                with self._pool.connection() as conn, conn.transaction():
                    return fn(PostgresConnection(conn))
            except _RETRYABLE as exc:
                if attempt == WRITE_ATTEMPTS:
                    raise
                log.warning("a write met %s; trying it again", type(exc).__name__)
        raise AssertionError("unreachable")

    def _read(self, fn: Callable[[Connection], T]) -> T:
        assert self._pool is not None
        with self._pool.connection() as conn, conn.transaction():
            return fn(PostgresConnection(conn))
