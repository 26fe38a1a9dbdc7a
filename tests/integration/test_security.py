"""The edges against an attacker, over HTTP: token guessing, logging out, bounded bodies and
streams, exports that a spreadsheet cannot run, and what responses let caches keep."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from running_gpb import ADMIN_TOKEN, GpbProcess, auth, gpb_settings
from sse import open_stream

from gpb.bootstrap import create_app
from gpb.infra.sandbox.server import serve_on_loopback as serve
from gpb.infra.store.store import SqlStore

pytestmark = pytest.mark.asyncio(loop_scope="module")

JWKS = "http://127.0.0.1:9/jwks"  # these tests post no event


def csrf_of(page: httpx.Response) -> str:
    return page.text.split('name="csrf_token" value="')[1].split('"')[0]


async def auth_failures_counted(url: str) -> int:
    store = SqlStore(url)
    store.start()
    try:
        return await store.health.auth_failure_count(datetime(2000, 1, 1, tzinfo=UTC))
    finally:
        await store.close()


async def test_guessed_tokens_are_throttled_per_address_logged_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = gpb_settings(tmp_path, JWKS, auth_failures_per_minute=3)
    guesses = [f"guess-{n}-abcdefghijklmnopqrstuvwxyz" for n in range(3)]
    caplog.set_level(logging.WARNING, logger="gpb.auth")
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        wrong = [await client.get("/api/courses", headers=auth(guess)) for guess in guesses]
        blocked = await client.get("/api/courses", headers=auth("guess-3-abcdefghijklmnop"))
        right_but_blocked = await client.get("/api/courses", headers=auth(ADMIN_TOKEN))
        form = await client.get("/login")
        login = await client.post(
            "/login", data={"token": ADMIN_TOKEN, "csrf_token": csrf_of(form)}
        )
    assert [answer.status_code for answer in wrong] == [401, 401, 401]
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "TOO_MANY_ATTEMPTS"
    assert 1 <= int(blocked.headers["retry-after"]) <= 60
    assert right_but_blocked.status_code == 429  # a right guess cannot be told from a wrong one
    assert login.status_code == 429
    assert "Too many failed logins" in login.text
    assert "retry-after" in login.headers
    logged = [r.getMessage() for r in caplog.records if r.name == "gpb.auth"]
    assert len(logged) == 3
    assert all(line.startswith("failed bearer check from 127.0.0.1") for line in logged)
    assert not any(guess in line for guess in guesses for line in logged)
    assert await auth_failures_counted(settings.database_url) == 3


async def test_failed_logins_on_the_form_count_too(tmp_path: Path) -> None:
    settings = gpb_settings(tmp_path, JWKS, auth_failures_per_minute=2)
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        answers = []
        for guess in ("nope-1", "nope-2", "nope-3"):
            form = await client.get("/login")
            answers.append(
                await client.post("/login", data={"token": guess, "csrf_token": csrf_of(form)})
            )
    assert [a.status_code for a in answers] == [401, 401, 429]
    assert await auth_failures_counted(settings.database_url) == 2


async def test_serve_without_an_admin_token_makes_one_and_shows_it_once(tmp_path: Path) -> None:
    gpb = GpbProcess(tmp_path, {"GPB_ADMIN_TOKEN": ""})
    await gpb.start()
    try:
        shown = re.findall(r"^    (gpb_\S+)$", gpb.log.read_text(), re.MULTILINE)
        assert len(shown) == 1
        async with httpx.AsyncClient(base_url=gpb.url) as client:
            answer = await client.get("/api/courses", headers=auth(shown[0]))
        assert answer.status_code == 200
        await gpb.stop()
        await gpb.start()  # an admin token exists now: nothing more is made or shown
        assert re.findall(r"^    (gpb_\S+)$", gpb.log.read_text(), re.MULTILINE) == shown
    finally:
        await gpb.stop()


async def test_a_short_admin_token_stops_the_start_without_showing_it(tmp_path: Path) -> None:
    gpb = GpbProcess(tmp_path, {"GPB_ADMIN_TOKEN": "change-me"})
    with pytest.raises(AssertionError, match="gpb exited with 2"):
        await gpb.start()
    said = gpb.log.read_text()
    assert "GPB_ADMIN_TOKEN: Value error, must be at least 32 characters" in said
    assert "change-me" not in said


def raw_exchange(base_url: str, head: str, chunks: list[bytes], wait: float = 30.0) -> bytes:
    """Sends a request by hand (what httpx would not: a trickle, an endless chunked body) and
    returns the status line of the answer."""
    url = urlsplit(base_url)
    assert url.hostname is not None and url.port is not None
    with socket.create_connection((url.hostname, url.port), timeout=wait) as conn:
        try:
            conn.sendall(head.encode())
            for chunk in chunks:
                conn.sendall(chunk)
        except OSError:
            pass  # gpb answered and closed before the body ended: the answer is what counts
        return conn.recv(65_536).split(b"\r\n", 1)[0]


async def test_an_endless_chunked_body_is_refused_at_its_bound(tmp_path: Path) -> None:
    settings = gpb_settings(tmp_path, JWKS)
    head = (
        "POST /api/courses/456/syncs HTTP/1.1\r\nHost: gpb\r\n"
        f"Authorization: Bearer {ADMIN_TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    block = b"x" * 65_536
    chunk = f"{len(block):x}\r\n".encode() + block + b"\r\n"
    async with serve(create_app(settings)) as url:
        status = await asyncio.to_thread(raw_exchange, url, head, [chunk] * 160)  # 10 MB
    assert status.split()[1] == b"413", status


@pytest.mark.parametrize(
    ("path", "extra"),
    [
        ("/events/canvas", ""),
        ("/api/courses/456/syncs", f"Authorization: Bearer {ADMIN_TOKEN}\r\n"),
    ],
    ids=["event", "sync"],
)
async def test_a_body_trickling_in_is_dropped_after_the_timeout(
    tmp_path: Path, path: str, extra: str
) -> None:
    settings = gpb_settings(tmp_path, JWKS, body_read_timeout_seconds=1)
    head = f"POST {path} HTTP/1.1\r\nHost: gpb\r\n{extra}Content-Length: 1000\r\n\r\n"
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        status = await asyncio.to_thread(raw_exchange, url, head, [b"{" * 10])
        logged = await client.get(
            "/api/events", params={"status": "rejected"}, headers=auth(ADMIN_TOKEN)
        )
    assert status.split()[1] == b"408", status
    if path == "/events/canvas":
        (entry,) = logged.json()["events"]
        assert entry["error"]["code"] == "REQUEST_TIMEOUT"


async def test_one_token_holds_a_bounded_number_of_alert_streams(tmp_path: Path) -> None:
    settings = gpb_settings(tmp_path, JWKS, alert_streams_per_token=2)
    path = "/api/courses/456/alerts/stream"
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        async with (
            open_stream(client, path, auth(ADMIN_TOKEN)),
            open_stream(client, path, auth(ADMIN_TOKEN)),
        ):
            third = await client.get(path, headers=auth(ADMIN_TOKEN))
            assert third.status_code == 429
            assert third.json()["error"]["code"] == "TOO_MANY_STREAMS"
            assert third.headers["retry-after"] == "15"
        # Both closed: the token may open streams again once gpb has seen them go.
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            async with client.stream("GET", path, headers=auth(ADMIN_TOKEN)) as again:
                if again.status_code == 200:
                    break
            assert asyncio.get_running_loop().time() < deadline, "the slots were never freed"
            await asyncio.sleep(0.1)


async def test_api_answers_holding_grades_or_payloads_are_not_stored_by_caches(
    tmp_path: Path,
) -> None:
    settings = gpb_settings(tmp_path, JWKS)
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        answers = [
            await client.get(path, headers=auth(ADMIN_TOKEN))
            for path in (
                "/api/courses/456/pending",
                "/api/courses/456/assignments",
                "/api/events",
                "/api/events/export",
                "/api/courses/456/syncs",
                "/api/events/404",
            )
        ]
    assert [a.headers.get("cache-control") for a in answers] == ["no-store"] * len(answers)
