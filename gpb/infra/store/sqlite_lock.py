"""The lock that says "gpb is serving this database": an exclusive flock on `<database>.lock`.

`gpb serve` holds it for as long as it runs, `gpb restore` for the length of a restore, so neither
starts while the other runs, nor two servers on one database (both would drain the same event log).
The kernel drops a flock when its holder exits, however it exits (kill -9 included): a crash never
leaves a stale lock behind. The file stays; it names the last holder, for the message. Deleting it
would let a newcomer lock a new file while the old holder still runs on the old one.

A flock belongs to an open file, not to a process, so two locks taken in one process conflict too.
It needs a local file system, which SQLite's WAL mode needs anyway.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager


class DatabaseInUse(Exception):
    """Another process is serving or restoring the database."""


def lock_path(database: str) -> str:
    return os.path.abspath(database) + ".lock"


@contextmanager
def serving_lock(database: str, holder: str) -> Iterator[None]:
    """Holds the database's lock for the block; raises DatabaseInUse when another holds it."""
    path = lock_path(database)
    os.makedirs(os.path.dirname(path), exist_ok=True)  # a first start: the database comes next
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 200, 0).decode("utf-8", errors="replace").strip()
            raise DatabaseInUse(f"{other or 'another process'} holds {path}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{holder} (pid {os.getpid()})\n".encode(), 0)
        yield
    finally:
        os.close(fd)
