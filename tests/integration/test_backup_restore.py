"""`gpb backup` of a database that is taking events, and `gpb restore` only once gpb has stopped."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from canvas_events import sample, variant
from databases import sqlite_only
from joserfc.jwk import RSAKey
from running_gpb import Gpb, gpb_settings

from gpb.bootstrap import create_app
from gpb.cli import main as gpb_cli
from gpb.infra.sandbox.server import serve_on_loopback as serve

# `gpb backup` and `gpb restore` are SQLite's; PostgreSQL has pg_dump and pg_restore.
pytestmark = [pytest.mark.asyncio(loop_scope="module"), sqlite_only]


async def cli(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *argv: str,
) -> tuple[int, str, str]:
    monkeypatch.setenv("GPB_DATABASE_URL", database_url)
    code = await asyncio.to_thread(gpb_cli, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def post(gpb: Gpb, tag: str) -> str:
    response = await gpb.post_event(gpb.sign(variant(sample("unknown_event"), test_tag=tag)))
    assert response.status_code == 202, response.text
    event_id: str = response.json()["id"]
    return event_id


def stored_ids(path: Path) -> set[str]:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        return {str(row[0]) for row in conn.execute("SELECT id FROM events")}


async def test_a_backup_taken_during_ingest_holds_every_acknowledged_event(
    gpb: Gpb,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    acknowledged: list[str] = []
    under_way, stop = asyncio.Event(), asyncio.Event()

    async def ingest(worker: int) -> None:
        sent = 0
        while not stop.is_set():
            acknowledged.append(await post(gpb, f"backup-{worker}-{sent}"))
            sent += 1
            if len(acknowledged) >= 200:
                under_way.set()

    posters = [asyncio.create_task(ingest(n)) for n in range(4)]
    await under_way.wait()
    before = list(acknowledged)
    code, out, err = await cli(
        gpb.settings.database_url, monkeypatch, capsys, "backup", str(tmp_path)
    )
    stop.set()
    await asyncio.gather(*posters)

    assert code == 0, err
    assert "integrity ok" in out
    (copy,) = await asyncio.to_thread(lambda: list(tmp_path.iterdir()))  # no partial left over
    assert copy.name.startswith("gpb-") and copy.suffix == ".db"
    assert set(before) <= stored_ids(copy)
    # One self-contained file: no WAL beside it to carry along.
    with closing(sqlite3.connect(f"file:{copy}?mode=ro", uri=True)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


async def test_restore_is_refused_while_gpb_serves_and_allowed_after(
    tmp_path: Path,
    jwks_url: str,
    signing_key: RSAKey,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = gpb_settings(tmp_path / "live", jwks_url)
    backup = tmp_path / "backup.db"
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        live = Gpb(url, signing_key, settings, client)
        kept = await post(live, "before-backup")
        code, _, err = await cli(settings.database_url, monkeypatch, capsys, "backup", str(backup))
        assert code == 0, err
        later = await post(live, "after-backup")
        code, out, err = await cli(
            settings.database_url, monkeypatch, capsys, "restore", str(backup)
        )
        assert code == 1
        assert "refusing to restore" in err and "gpb serve" in err
        assert (await live.event(later))["id"] == later  # still serving, its database untouched

    code, out, err = await cli(settings.database_url, monkeypatch, capsys, "restore", str(backup))
    assert code == 0, err
    assert "restored" in out and "kept at" in out

    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        restarted = Gpb(url, signing_key, settings, client)
        assert (await restarted.event(kept))["id"] == kept
        gone = await restarted.admin_get(f"/api/events/{later}")
        assert gone.status_code == 404
