"""Odd input on every edge, found by hand and kept: ids of thousands of digits (Python's int()
refuses more than 4,300), times at the end of the calendar, JSON nested past the parser, numbers
that are not numbers, and a Content-Length no int() takes. Each is a 4xx or an ordinary answer,
never a 5xx."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from canvas_events import sample
from running_gpb import ADMIN_TOKEN, SandboxedGpb, auth

from gpb.infra.sandbox.keys import sign_event

pytestmark = pytest.mark.reliability

HUGE = "9" * 5000
END_OF_TIME = "9999-12-31T23:59:59-01:00"
DEEP = "[" * 100_000 + "]" * 100_000
DEEP_BUT_SMALL = "[" * 30_000 + "]" * 30_000  # within the JSON bodies' 64 KB


@pytest.fixture(scope="module")
def client(served_gpb: SandboxedGpb) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=str(served_gpb.client.base_url), timeout=60, headers=auth(ADMIN_TOKEN)
    ) as client:
        yield client


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", f"/api/events/{HUGE}", {}),
        ("POST", f"/api/events/{HUGE}/replay", {}),
        ("GET", f"/api/syncs/{HUGE}", {}),
        ("POST", f"/api/syncs/{HUGE}/resume", {}),
        ("GET", f"/api/courses/{HUGE}/assignments", {}),
        ("GET", f"/api/courses/{HUGE}/pending", {}),
        ("GET", "/api/courses/456/syncs", {"cursor": HUGE}),
        ("GET", "/api/events", {"cursor": HUGE}),
        ("GET", "/api/events", {"limit": HUGE}),
        ("GET", "/api/events", {"course_id": HUGE}),
        ("GET", "/api/events", {"since": END_OF_TIME}),
        ("GET", "/api/events", {"until": END_OF_TIME}),
        ("GET", "/api/events/export", {"since": END_OF_TIME}),
        ("GET", "/admin/events", {"since": END_OF_TIME}),
        ("GET", "/admin/events", {"until": "0001-01-01T00:00:00+01:00"}),
        ("GET", "/admin/events", {"cursor": HUGE, "limit": HUGE}),
        ("GET", f"/admin/events/{HUGE}", {}),
        ("GET", f"/courses/{HUGE}", {}),
        ("GET", f"/syncs/{HUGE}", {}),
    ],
)
def test_odd_ids_times_and_numbers_are_never_a_5xx(
    client: httpx.Client, method: str, path: str, params: dict[str, str]
) -> None:
    answer = client.request(method, path, params=params)
    assert answer.status_code < 500, answer.text[:500]


def test_last_event_id_of_thousands_of_digits_starts_the_stream(client: httpx.Client) -> None:
    for last in (HUGE, f"{HUGE}.{HUGE}", "1." + HUGE):
        with client.stream(
            "GET", "/api/courses/456/alerts/stream", headers={"Last-Event-ID": last}
        ) as stream:
            assert stream.status_code == 200
            assert next(stream.iter_lines()) is not None  # the stream runs: it says something


def test_json_nested_past_the_parser_is_a_400(client: httpx.Client) -> None:
    for method, path in (
        ("PUT", "/api/admin/courses/456/reconciliation"),
        ("POST", "/api/courses/456/syncs"),
    ):
        deep = client.request(method, path, content=DEEP_BUT_SMALL)
        assert deep.status_code == 400, (method, path, deep.text[:300])
        assert "not JSON" in deep.json()["error"]["message"]
        deeper = client.request(method, path, content=DEEP)
        assert deeper.status_code == 413, (method, path, deeper.text[:300])


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
def test_a_time_claim_that_is_not_a_finite_number_is_refused(
    client: httpx.Client, served_gpb: SandboxedGpb, claim: str, value: float
) -> None:
    token = sign_event(
        {**sample("grade_change_8_to_9_5"), claim: value}, served_gpb.sandbox.settings.signing_key
    )
    answer = client.post("/events/canvas", content=token)
    assert (answer.status_code, answer.json()["error"]["code"]) == (401, "BAD_SIGNATURE")


@pytest.mark.parametrize("path", ["/events/canvas", "/login", "/api/courses/456/syncs"])
def test_a_content_length_of_thousands_of_digits_is_a_4xx(
    served_gpb: SandboxedGpb, path: str
) -> None:
    url = urlsplit(str(served_gpb.client.base_url))
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {url.hostname}\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {HUGE}\r\n\r\nx"
    ).encode()
    with socket.create_connection((url.hostname, url.port), timeout=30) as conn:
        conn.sendall(request)
        status_line = conn.recv(4096).split(b"\r\n", 1)[0]
    status = int(status_line.split()[1])
    assert 400 <= status < 500, status_line
