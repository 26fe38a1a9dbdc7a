"""POST /events/canvas over real HTTP: every refusal code, duplicates, unknown events, the log."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from canvas_events import canvas_examples, jwks_document, make_key, sample, sign, variant
from running_gpb import ADMIN_TOKEN, Gpb, auth, gpb_settings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gpb.bootstrap import create_app
from gpb.handlers.ingest import UNAUTHENTICATED_KEEP_BYTES
from gpb.infra.sandbox.server import serve_on_loopback as serve
from gpb.infra.sandbox.settings import ROOT_ACCOUNT_ID

pytestmark = pytest.mark.asyncio(loop_scope="module")


def unique(event: dict[str, Any], tag: str) -> dict[str, Any]:
    """The same event with a distinct body, so tests do not take each other's for duplicates."""
    return variant(event, test_tag=tag)


def ours(event: dict[str, Any]) -> dict[str, Any]:
    """The event as the configured root account's: Instructure's examples come from several."""
    return {**event, "metadata": {**event["metadata"], "root_account_id": ROOT_ACCOUNT_ID}}


async def test_every_instructure_example_is_accepted_and_handled(gpb: Gpb) -> None:
    ids = []
    for name, payload in canvas_examples():
        response = await gpb.post_event(gpb.sign(ours(unique(payload, name))))
        assert response.status_code == 202, (name, response.text)
        assert response.json()["duplicate"] is False
        ids.append(response.json()["id"])
    statuses = {(await gpb.handled(event_id))["status"] for event_id in ids}
    assert statuses <= {"processed", "ignored"}


async def test_a_signed_sample_is_stored_with_local_ids_and_its_payload(gpb: Gpb) -> None:
    event = unique(sample("grade_change_8_to_9_5"), "stored")
    response = await gpb.post_event(gpb.sign(event))
    assert response.status_code == 202
    stored = await gpb.handled(response.json()["id"])
    assert stored["status"] == "processed"
    assert (stored["course_id"], stored["user_id"], stored["event_name"]) == (
        "456",
        "789",
        "grade_change",
    )
    assert stored["payload"] == event
    assert stored["event_time"] == "2024-10-21T13:05:52.640Z"


async def test_a_resigned_copy_is_a_duplicate_and_logged_as_one(gpb: Gpb) -> None:
    event = unique(sample("submission_updated"), "dup")
    first = await gpb.post_event(gpb.sign(event))
    again = await gpb.post_event(sign({**event, "iat": int(time.time())}, gpb.key))
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json() == {"id": first.json()["id"], "duplicate": True}
    duplicates = (await gpb.admin_get("/api/events", status="duplicate")).json()["events"]
    assert any(entry["duplicate_of"] == first.json()["id"] for entry in duplicates)


async def test_an_unknown_event_is_accepted_and_ignored(gpb: Gpb) -> None:
    response = await gpb.post_event(gpb.sign(unique(sample("unknown_event"), "unknown")))
    assert response.status_code == 202
    stored = await gpb.handled(response.json()["id"])
    assert stored["status"] == "ignored"
    assert "assignment_archived" in stored["outcome"]["reason"]


REFUSALS = [
    ("not a jws", lambda gpb: b"hello there", 400, "INVALID_BODY"),
    (
        "plain json",
        lambda gpb: json.dumps(sample("assignment_created")).encode(),
        401,
        "BAD_SIGNATURE",
    ),
    (
        "forged",
        lambda gpb: sign(sample("assignment_created"), make_key(gpb.key.kid)),
        401,
        "BAD_SIGNATURE",
    ),
    (
        "unknown kid",
        lambda gpb: sign(sample("assignment_created"), make_key("k-nobody")),
        401,
        "UNKNOWN_KEY",
    ),
    (
        "no event_time",
        lambda gpb: gpb.sign({"metadata": {"event_name": "grade_change"}, "body": {}}),
        400,
        "INVALID_ENVELOPE",
    ),
    (
        "expired",
        lambda gpb: gpb.sign({**sample("assignment_created"), "exp": time.time() - 86400}),
        401,
        "BAD_SIGNATURE",
    ),
]


@pytest.mark.parametrize(("case", "body", "status", "code"), REFUSALS, ids=[r[0] for r in REFUSALS])
async def test_refusals_carry_their_code_and_are_logged(
    gpb: Gpb, case: str, body: Any, status: int, code: str
) -> None:
    raw = body(gpb)
    response = await gpb.post_event(raw)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    latest = (await gpb.admin_get("/api/events", status="rejected", limit=1)).json()["events"][0]
    assert latest["error"]["code"] == code
    detail = await gpb.event(latest["id"])
    # Refused before its signature was checked: only a short prefix is kept, whatever its size.
    kept = raw if code == "INVALID_ENVELOPE" else raw[:UNAUTHENTICATED_KEEP_BYTES]
    assert detail["raw"] == kept.decode()


async def test_an_oversize_body_is_refused_before_it_is_read_whole(gpb: Gpb) -> None:
    big = b"x" * (gpb.settings.max_event_bytes + 1)
    response = await gpb.post_event(big)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while streaming
        for _ in range(200):
            yield b"y" * 1024

    streamed = await gpb.client.post("/events/canvas", content=chunks())
    assert streamed.status_code == 413
    latest = (await gpb.admin_get("/api/events", status="rejected", limit=1)).json()["events"][0]
    assert latest["error"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_a_delivery_cut_off_mid_body_is_logged_as_refused(gpb: Gpb) -> None:
    arrived = b"eyJhbGciOiJSUzI1NiJ9.cut-off-mid-body"
    url = httpx.URL(gpb.url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    writer.write(
        b"POST /events/canvas HTTP/1.1\r\nHost: gpb\r\nContent-Type: application/jwt\r\n"
        b"Content-Length: 4000\r\n\r\n" + arrived
    )
    await writer.drain()
    await asyncio.sleep(0.5)  # gpb has read what arrived, and waits for the rest
    writer.close()
    await writer.wait_closed()

    async def logged() -> bool:
        latest = (await gpb.admin_get("/api/events", status="rejected", limit=1)).json()["events"]
        return bool(latest) and latest[0]["error"]["message"].startswith("the connection closed")

    await gpb.wait_for(logged)
    latest = (await gpb.admin_get("/api/events", status="rejected", limit=1)).json()["events"][0]
    assert latest["error"] == {
        "code": "INVALID_BODY",
        "message": f"the connection closed after {len(arrived)} bytes, before the body ended",
    }
    assert (await gpb.event(latest["id"]))["raw"] == arrived.decode()


async def test_another_root_account_is_refused(
    tmp_path: Any, jwks_url: str, signing_key: Any
) -> None:
    settings = gpb_settings(tmp_path, jwks_url, canvas_root_account_id="21070000000000001")
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        theirs = await client.post(
            "/events/canvas", content=sign(sample("assignment_created"), signing_key)
        )
        ours = await client.post(
            "/events/canvas", content=sign(canvas_examples()[0][1], signing_key)
        )
    assert theirs.status_code == 403
    assert theirs.json()["error"]["code"] == "WRONG_ROOT_ACCOUNT"
    assert ours.status_code == 202


async def test_without_a_root_account_every_signed_event_is_refused_and_admins_are_told(
    tmp_path: Any, jwks_url: str, signing_key: Any
) -> None:
    settings = gpb_settings(tmp_path, jwks_url, canvas_root_account_id=None)
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        refused = await client.post(
            "/events/canvas", content=sign(sample("grade_change_8_to_9_5"), signing_key)
        )
        logged = await client.get("/api/events", headers=auth(ADMIN_TOKEN))
        await client.post("/login", data={"token": ADMIN_TOKEN})  # no CSRF token: refused
        form = await client.get("/login")
        csrf = form.text.split('name="csrf_token" value="')[1].split('"')[0]
        await client.post("/login", data={"token": ADMIN_TOKEN, "csrf_token": csrf})
        overview = await client.get("/admin")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "ROOT_ACCOUNT_NOT_CONFIGURED"
    (entry,) = logged.json()["events"]
    assert (entry["status"], entry["error"]["code"]) == ("rejected", "ROOT_ACCOUNT_NOT_CONFIGURED")
    assert overview.status_code == 200
    assert 'id="root-account-missing"' in overview.text
    assert "GPB_CANVAS_ROOT_ACCOUNT_ID is not set" in overview.text


async def test_a_signed_600_kb_event_is_accepted(
    tmp_path: Any, jwks_url: str, signing_key: Any
) -> None:
    """Canvas sends an assignment's description twice (`description` and in the body's HTML);
    joserfc's own limit is 128,000 bytes, gpb's is GPB_MAX_EVENT_BYTES."""
    event = sample("assignment_created")
    text = "<p>" + "a long description " * 12_000 + "</p>"
    event["body"]["description"] = text
    event["body"]["test_copy_of_description"] = text
    raw = sign(event, signing_key)
    assert 600_000 < len(raw) < 1_048_576
    settings = gpb_settings(tmp_path, jwks_url, max_event_bytes=1_048_576)
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.post("/events/canvas", content=raw)
    assert response.status_code == 202, response.text


async def test_a_key_rotated_in_just_after_start_costs_one_retry_not_the_event(
    tmp_path: Any, signing_key: Any
) -> None:
    published = [signing_key]

    async def keys(request: Request) -> JSONResponse:
        return JSONResponse(jwks_document(*published))

    async with serve(Starlette(routes=[Route("/jwks", keys)])) as jwks:
        settings = gpb_settings(tmp_path, f"{jwks}/jwks", jwks_min_refetch_seconds=3600)
        async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
            known = await client.post(
                "/events/canvas", content=sign(sample("grade_change_8_to_9_5"), signing_key)
            )
            assert known.status_code == 202  # so start-up's fetch is done
            rotated = make_key("k-next")
            published.append(rotated)
            response = await client.post(
                "/events/canvas", content=sign(sample("assignment_created"), rotated)
            )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "KEYS_UNAVAILABLE"
    assert 1 <= int(response.headers["retry-after"]) <= 3600


async def test_unreachable_keys_answer_503_with_retry_after(
    tmp_path: Any, signing_key: Any
) -> None:
    settings = gpb_settings(tmp_path, "http://127.0.0.1:9/jwks")
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.post(
            "/events/canvas", content=sign(sample("assignment_created"), signing_key)
        )
        events = await client.get(
            "/api/events",
            headers={"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"},
        )  # type: ignore[union-attr]
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "KEYS_UNAVAILABLE"
    assert int(response.headers["retry-after"]) > 0
    assert events.json()["events"][0]["error"]["code"] == "KEYS_UNAVAILABLE"


async def test_unsigned_mode_takes_plain_json(tmp_path: Any, jwks_url: str) -> None:
    settings = gpb_settings(tmp_path, jwks_url, events_auth="none")
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.post(
            "/events/canvas", content=json.dumps(sample("assignment_created"))
        )
    assert response.status_code == 202


async def test_a_flood_of_unsigned_posts_is_logged_in_a_bounded_share(
    tmp_path: Any, jwks_url: str, signing_key: Any
) -> None:
    settings = gpb_settings(tmp_path, jwks_url, refusals_logged_per_minute=20)
    junk = b"A" * 16_384
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        answers = [await client.post("/events/canvas", content=junk) for _ in range(200)]
        genuine = await client.post(
            "/events/canvas", content=sign(sample("grade_change_8_to_9_5"), signing_key)
        )
        logged = await client.get(
            "/api/events", params={"status": "rejected", "limit": 500}, headers=auth(ADMIN_TOKEN)
        )
        raws = [
            (await client.get(f"/api/events/{e['id']}", headers=auth(ADMIN_TOKEN))).json()["raw"]
            for e in logged.json()["events"]
        ]
    assert {a.status_code for a in answers} == {400}  # every one is still answered
    assert genuine.status_code == 202
    assert len(raws) == 20
    assert all(len(raw) == UNAUTHENTICATED_KEEP_BYTES for raw in raws)
