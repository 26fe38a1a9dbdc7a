"""The connection checks' own logic: the database probe, redaction, and what counts as failing."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from databases import database_url, on_postgres, query

from gpb.infra.canvas import CanvasClient
from gpb.infra.checks import ConnectionChecks, check_database, check_postgres
from gpb.infra.oneroster import OneRosterClient
from gpb.infra.settings import Settings
from gpb.infra.store.store import SqlStore

TOKEN = "7~canvas-token-that-must-never-leak"


def test_a_migrated_database_takes_a_write_that_leaves_no_trace(tmp_path: Path) -> None:
    path = str(tmp_path / "gpb.db")
    SqlStore(path).migrate()
    check = check_database(path)
    assert check.ok is True and "rolled back" in check.detail
    with closing(sqlite3.connect(path)) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "gpb_check_probe" not in tables


def test_a_missing_or_foreign_database_fails_with_the_fix(tmp_path: Path) -> None:
    missing = check_database(str(tmp_path / "nowhere.db"))
    assert missing.ok is False and missing.fix and "gpb migrate" in missing.fix
    assert not (tmp_path / "nowhere.db").exists()  # the check creates nothing
    foreign = tmp_path / "other.db"
    with closing(sqlite3.connect(foreign)) as conn:
        conn.execute("CREATE TABLE notes (text)")
    check = check_database(str(foreign))
    assert check.ok is False and "not a gpb database" in check.detail


async def test_whatever_a_probe_raises_is_its_line_with_secrets_removed(tmp_path: Path) -> None:
    path = tmp_path / "gpb.db"
    SqlStore(str(path)).migrate()

    def leaky(request: httpx.Request) -> httpx.Response:
        raise RuntimeError(f"proxy said: bad header Bearer {TOKEN}")

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=f"sqlite:///{path}",
        events_auth="none",
        canvas_base_url="https://canvas.test",
        canvas_token=TOKEN,
    )
    checks = ConnectionChecks(
        settings,
        lambda: CanvasClient("https://canvas.test", TOKEN, transport=httpx.MockTransport(leaky)),
        lambda: OneRosterClient(None, None, None, None, None),
    )
    report = await checks.report(None, None)
    by_name = {check["name"]: check for check in report["checks"]}
    canvas = by_name["canvas_token"]
    assert canvas["ok"] is False
    assert canvas["detail"] == "RuntimeError: proxy said: bad header Bearer [redacted]"
    assert by_name["jwks"]["ok"] is False and "GPB_EVENTS_AUTH" in by_name["jwks"]["fix"]
    assert by_name["ic_token"]["ok"] is False and "GPB_SIS_BASE_URL" in by_name["ic_token"]["fix"]
    assert by_name["ic_class"]["ok"] is None
    assert report["ok"] is False
    assert TOKEN not in str(report)


@pytest.mark.skipif(not on_postgres(), reason="needs a PostgreSQL server (GPB_TEST_POSTGRES)")
def test_postgres_takes_a_write_that_leaves_no_trace_and_a_wrong_password_stays_secret(
    tmp_path: Path,
) -> None:
    url = database_url(tmp_path)  # migrated: a copy of the migrated template
    check = check_postgres(url)
    assert check.ok is True and "rolled back" in check.detail and "@" not in check.detail
    assert query(url, "SELECT to_regclass('gpb_check_probe')") == [(None,)]

    empty = url.rsplit("/", 1)[0] + "/postgres"  # a database without gpb's schema
    assert "not a gpb database" in check_postgres(empty).detail

    parts = urlsplit(url)
    secret = "wrong-password-that-must-never-leak"
    unreachable = f"postgresql://gpb:{secret}@{parts.hostname}:1/gpb"
    settings = Settings(_env_file=None, database_url=unreachable)  # type: ignore[call-arg]
    checks = ConnectionChecks(settings, lambda: CanvasClient(None, None), lambda: None)  # type: ignore[arg-type,return-value]
    line = checks._redacted(check_postgres(unreachable))
    assert line.ok is False and line.fix and "GPB_DATABASE_URL" in line.fix
    assert secret not in line.detail
