"""SQLite with one writer thread that group-commits, and a few reader threads.

Every write is a plain function run on the writer thread. The writer takes all the writes queued
while it was busy, runs them in one transaction, and commits them together: under load many
requests share one fsync, yet each caller hears back only after its own write is committed.
A write that is in no hurry says how long it may linger for company: while every write of a batch
may still wait, the writer waits for more (until the earliest of them is due, or a write that may
not wait arrives), so that a steady stream of such writes shares a few commits rather than taking
one each. Writes that may not wait are committed as soon as the writer is free, as before.
A write that raises undoes only its own changes: the batch is then rolled back and run again with
each write in its own savepoint. So a write function may run more than once, and must change
nothing but the database.
WAL mode with `synchronous=FULL` makes a commit survive a power cut, and lets readers run
alongside the writer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from gpb.infra.store.database import Connection, Dialect
from gpb.infra.store.migrations import migrate

T = TypeVar("T")
log = logging.getLogger("gpb.sqlite")

MAX_BATCH = 512
# SQLite copies the WAL back into the database (and syncs both) each time the WAL passes this
# many pages. Its default, 1,000 pages, checkpoints every 150 or so ingested events, and each
# checkpoint writes again the index pages the next events dirty anew: at 10,000 a page changed
# many times in between is written back once, which took ingest's CPU per event down by about a
# sixth. The WAL then grows to about 40 MB between checkpoints; past a checkpoint it is cut back
# to WAL_KEPT_BYTES.
WAL_CHECKPOINT_PAGES = 10_000
WAL_KEPT_BYTES = 64 * 1024 * 1024


@dataclass
class _Job:
    fn: Callable[[Connection], Any]
    future: asyncio.Future[Any]
    due: float  # time.monotonic() by which its commit begins; 0 for a write that may not wait


_STOP = object()


class SqliteConnection(sqlite3.Connection):
    dialect = Dialect.SQLITE


def connect(path: str, *, readonly: bool = False) -> SqliteConnection:
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=30, factory=SqliteConnection
    )
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
    conn.execute(f"PRAGMA journal_size_limit={WAL_KEPT_BYTES}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    if readonly:
        conn.execute("PRAGMA query_only=ON")
    return conn


class SqliteDatabase:
    dialect = Dialect.SQLITE

    def __init__(self, path: str, *, readers: int = 2) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self._readers = readers
        self._queue: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._reader_conns: list[SqliteConnection] = []
        self._lock = threading.Lock()
        # While the writer lingers, a write that may not wait sets `_hurry` to end the wait.
        self._lingering = False
        self._hurry = threading.Event()

    def migrate(self) -> list[str]:
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        conn = connect(self.path)
        try:
            return migrate(conn, Dialect.SQLITE)
        finally:
            conn.close()

    def start(self) -> None:
        conn = connect(self.path)
        self._writer = threading.Thread(target=self._write_loop, args=(conn,), name="gpb-writer")
        self._writer.daemon = True
        self._writer.start()
        self._pool = ThreadPoolExecutor(self._readers, thread_name_prefix="gpb-reader")

    async def close(self) -> None:
        if self._writer is not None:
            self._queue.put(_STOP)
            self._hurry.set()
            await asyncio.to_thread(self._writer.join)
            self._writer = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        with self._lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()

    async def write(self, fn: Callable[[Connection], T], *, linger: float = 0.0) -> T:
        """Runs `fn` on the writer thread; returns after the transaction holding it committed.
        With `linger`, its commit may wait up to that many seconds for other writes to share it."""
        if self._writer is None:
            raise RuntimeError("the database is not started")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put(_Job(fn, future, time.monotonic() + linger if linger > 0 else 0.0))
        # Read after the put: a writer that began to linger since has taken this write already.
        if linger <= 0 and self._lingering:
            self._hurry.set()
        return await future

    async def read(self, fn: Callable[[Connection], T]) -> T:
        if self._pool is None:
            raise RuntimeError("the database is not started")
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._run_read, fn)

    def _run_read(self, fn: Callable[[Connection], T]) -> T:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, readonly=True)
            self._local.conn = conn
            with self._lock:
                self._reader_conns.append(conn)
        return fn(conn)

    def _write_loop(self, conn: SqliteConnection) -> None:
        try:
            while True:
                first = self._queue.get()
                if first is _STOP:
                    return
                batch: list[_Job] = [first]  # type: ignore[list-item]
                stop_after = self._take_more(batch) or self._linger(batch)
                self._commit_batch(conn, batch)
                if stop_after:
                    return
        finally:
            conn.close()

    def _take_more(self, batch: list[_Job]) -> bool:
        while len(batch) < MAX_BATCH:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return False
            if job is _STOP:
                return True
            batch.append(job)  # type: ignore[arg-type]
        return False

    def _linger(self, batch: list[_Job]) -> bool:
        """Waits for more writes while every write of the batch may still wait: until the
        earliest of them is due, a write that may not wait comes, or the batch is full. True when
        the database is closing."""
        due = min(job.due for job in batch)
        while len(batch) < MAX_BATCH and (wait := due - time.monotonic()) > 0:
            start = len(batch)
            self._hurry.clear()
            self._lingering = True
            try:
                # Writes queued before `_lingering` was set did not hurry the writer: taken first.
                closing = self._take_more(batch)
                if not closing and len(batch) == start:
                    self._hurry.wait(wait)
                    closing = self._take_more(batch)
            finally:
                self._lingering = False
            if closing:
                return True
            due = min([due, *(job.due for job in batch[start:])])
        return False

    def _commit_batch(self, conn: SqliteConnection, batch: list[_Job]) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
            outcomes = _run_all(conn, batch)
            conn.execute("COMMIT")
        except Exception as exc:  # the commit itself failed: nobody's write is durable
            log.exception("a write batch could not be committed")
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            outcomes = [(False, exc)] * len(batch)
        _resolve(batch, outcomes)


def _run_all(conn: SqliteConnection, batch: list[_Job]) -> list[tuple[bool, Any]]:
    """Runs the batch in the open transaction. Writes seldom fail, and a savepoint around each one
    would cost every write two more statements and a copy of each page it touches; so the batch
    runs bare, and only when a write raises is it rolled back and run again, each write in its own
    savepoint, so that the failure undoes its own changes and no others."""
    try:
        return [(True, job.fn(conn)) for job in batch]
    except Exception:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.execute("BEGIN IMMEDIATE")
        return [_run_in_savepoint(conn, job.fn) for job in batch]


def _run_in_savepoint(conn: SqliteConnection, fn: Callable[[Connection], Any]) -> tuple[bool, Any]:
    conn.execute("SAVEPOINT job")
    try:
        result = fn(conn)
    except Exception as exc:
        conn.execute("ROLLBACK TO job")
        conn.execute("RELEASE job")
        return (False, exc)
    conn.execute("RELEASE job")
    return (True, result)


def _resolve(batch: list[_Job], outcomes: list[tuple[bool, Any]]) -> None:
    loop = batch[0].future.get_loop()

    def settle() -> None:
        for job, (ok, value) in zip(batch, outcomes, strict=True):
            if job.future.done():
                continue
            if ok:
                job.future.set_result(value)
            else:
                job.future.set_exception(value)

    # One wake-up of the event loop per batch, not one per job.
    try:
        loop.call_soon_threadsafe(settle)
    except RuntimeError:  # the loop has closed: nobody is waiting any more
        log.debug("a write batch finished after its event loop closed")
