"""The database a test runs on: SQLite in the test's folder, or, when GPB_TEST_POSTGRES names a
PostgreSQL server, a fresh database of its own on that server.

scripts/test runs the suite once on each. A fresh PostgreSQL database is a copy of a template
migrated once per test session, so a test pays for a CREATE DATABASE, not for the migrations.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from contextlib import closing
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gpb.infra.store.store import open_database

TEMPLATE = "gpb_test_template"


def postgres_server() -> str | None:
    return os.environ.get("GPB_TEST_POSTGRES") or None


def on_postgres() -> bool:
    return postgres_server() is not None


sqlite_only = pytest.mark.skipif(
    on_postgres(), reason="SQLite's own file, lock or backup; PostgreSQL has its own tools"
)


def database_url(folder: Path) -> str:
    server = postgres_server()
    if server is None:
        return f"sqlite:///{folder / 'gpb.db'}"
    name = f"gpb_test_{uuid.uuid4().hex[:16]}"
    _template(server)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    return _with_database(server, name)


@cache
def _template(server: str) -> None:
    """A migrated database to copy, made anew once per test session (migrations may change)."""
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {TEMPLATE}")
    open_database(_with_database(server, TEMPLATE)).migrate()


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows read straight from gpb's database (while gpb runs: SQLite's WAL allows it)."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            return [tuple(row) for row in conn.execute(sql)]
    with psycopg.connect(url) as conn:
        return [tuple(row) for row in conn.execute(sql)]


def _with_database(server: str, name: str) -> str:
    return server.rsplit("/", 1)[0] + "/" + name
