"""The retrying transport of both HTTP adapters: backoff with full jitter, Retry-After, which
failures are retried, and the environment's proxies kept."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from fakes import Sleeps

from gpb.handlers.backoff import Jitter, RetryPolicy
from gpb.infra.http_retry import (
    NOT_SENT_ERRORS,
    RETRY_WHEN,
    WITHHELD,
    RetryingTransport,
    RetryWhen,
    parse_retry_after,
    redact,
    retry_delay,
    retrying_client,
)


def policy(max_attempts: int = 4, base_seconds: float = 0.5) -> RetryPolicy:
    return RetryPolicy(max_attempts=max_attempts, base_seconds=base_seconds, jitter=Jitter.FULL)


def server_error(response: httpx.Response) -> bool:
    return response.status_code >= 500


SERVER_ERRORS = RetryWhen(server_error)


def scripted(
    *outcomes: int | Exception,
    headers: dict[str, str] | None = None,
    retry: RetryPolicy | None = None,
    when: RetryWhen = SERVER_ERRORS,
    sleeps: Sleeps | None = None,
) -> tuple[httpx.AsyncClient, list[int]]:
    """A client whose network answers with the given statuses or raises the given errors, in
    turn, through a retrying transport (jitter pinned to the whole interval)."""
    calls: list[int] = []
    queue = list(outcomes)

    def network(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        outcome = queue.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return httpx.Response(outcome, headers=headers)

    transport = RetryingTransport(
        httpx.MockTransport(network),
        when,
        retry or policy(),
        sleep=sleeps or Sleeps(),
        rand=lambda: 1.0,
    )
    return httpx.AsyncClient(transport=transport), calls


# -- the policy ----------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap_and_jitters_over_the_whole_interval() -> None:
    full = RetryPolicy(base_seconds=0.5, max_seconds=3.0, jitter=Jitter.FULL)
    assert [full.delay(n, rand=lambda: 1.0) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert [full.delay(n, rand=lambda: 0.5) for n in range(1, 4)] == [0.25, 0.5, 1.0]
    assert full.delay(3, rand=lambda: 0.0) == 0.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [("7", 7.0), (" 0 ", 0.0), ("soon", None), ("-3", None), ("", None), (None, None)],
)
def test_retry_after_in_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_retry_after_as_http_date() -> None:
    now = datetime(2024, 10, 21, 13, 10, 0, tzinfo=UTC)
    assert parse_retry_after("Mon, 21 Oct 2024 13:10:42 GMT", now) == 42.0
    # A date already past means "now", never a negative wait.
    assert parse_retry_after("Mon, 21 Oct 2024 13:00:00 GMT", now) == 0.0


def test_delay_prefers_retry_after_but_caps_it() -> None:
    p = RetryPolicy(base_seconds=1.0, max_seconds=20.0, jitter=Jitter.FULL)

    def delay(attempt: int, response: httpx.Response | None) -> float:
        return retry_delay(p, attempt, response, lambda: 1.0)

    assert delay(1, httpx.Response(503, headers={"Retry-After": "9"})) == 9.0
    assert delay(1, httpx.Response(503, headers={"Retry-After": "600"})) == 20.0
    assert delay(3, httpx.Response(503)) == 4.0
    assert delay(2, None) == 2.0


def test_delay_reads_an_http_date_against_the_current_time() -> None:
    when = datetime.now(UTC) + timedelta(seconds=10)
    answer = httpx.Response(429, headers={"Retry-After": format_datetime(when, usegmt=True)})
    asked = retry_delay(policy(), 1, answer, lambda: 1.0)
    assert 8.5 <= asked <= 10.0


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(base_seconds=-1)


# -- the retrying transport ----------------------------------------------------------------


async def test_retries_a_named_status_then_returns_the_success() -> None:
    sleeps = Sleeps()
    client, calls = scripted(503, 502, 200, retry=policy(base_seconds=1.0), sleeps=sleeps)
    response = await client.get("https://sis.test/x")
    assert response.status_code == 200
    assert len(calls) == 3
    assert sleeps.delays == [1.0, 2.0]


async def test_a_status_not_named_is_returned_at_once() -> None:
    sleeps = Sleeps()
    client, calls = scripted(404, sleeps=sleeps)
    response = await client.get("https://sis.test/x")
    assert response.status_code == 404
    assert len(calls) == 1
    assert sleeps.delays == []


async def test_when_attempts_are_spent_the_last_response_is_returned() -> None:
    sleeps = Sleeps()
    client, calls = scripted(503, 503, 500, retry=policy(max_attempts=3), sleeps=sleeps)
    response = await client.get("https://sis.test/x")
    assert response.status_code == 500
    assert len(calls) == 3
    assert len(sleeps.delays) == 2  # no sleep after the last attempt


async def test_retry_after_is_honoured_between_attempts() -> None:
    sleeps = Sleeps()
    client, _ = scripted(
        429,
        200,
        headers={"Retry-After": "4"},
        when=RetryWhen(lambda r: r.status_code == 429),
        sleeps=sleeps,
    )
    await client.get("https://sis.test/x")
    assert sleeps.delays == [4.0]


@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("connection reset"),
    ],
)
async def test_transient_errors_are_retried_by_default(error: Exception) -> None:
    client, calls = scripted(error, 200)
    response = await client.get("https://sis.test/x")
    assert response.status_code == 200
    assert len(calls) == 2


async def test_when_attempts_are_spent_on_errors_the_last_one_is_raised() -> None:
    client, calls = scripted(
        httpx.ConnectError("a"), httpx.ConnectError("b"), retry=policy(max_attempts=2)
    )
    with pytest.raises(httpx.ConnectError, match="b"):
        await client.get("https://sis.test/x")
    assert len(calls) == 2


async def test_configuration_errors_are_not_retried() -> None:
    client, calls = scripted(httpx.UnsupportedProtocol("ftp"))
    with pytest.raises(httpx.UnsupportedProtocol):
        await client.get("https://sis.test/x")
    assert len(calls) == 1


async def test_a_request_that_is_not_idempotent_narrows_what_is_retried() -> None:
    once = {RETRY_WHEN: RetryWhen(lambda r: r.status_code == 429, NOT_SENT_ERRORS)}
    client, calls = scripted(httpx.ReadTimeout("may have been processed"))
    with pytest.raises(httpx.ReadTimeout):
        await client.post("https://sis.test/x", extensions=once)
    assert len(calls) == 1
    client, calls = scripted(503, 200)
    assert (await client.post("https://sis.test/x", extensions=once)).status_code == 503
    client, calls = scripted(httpx.ConnectError("never sent"), 429, 201)
    assert (await client.post("https://sis.test/x", extensions=once)).status_code == 201
    assert len(calls) == 3


async def test_the_environment_s_proxy_is_used_as_a_plain_client_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readline())
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    layered: list[str] = []

    def layers(network: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        layered.append(type(network).__name__)
        return RetryingTransport(network, SERVER_ERRORS)

    async with server:
        limits = httpx.Limits(max_connections=1)
        client = retrying_client(layers, transport=None, limits=limits, timeout=5.0)
        async with client:
            response = await client.get("http://ic.invalid/x")
    assert response.text == "ok"
    assert seen == [b"GET http://ic.invalid/x HTTP/1.1\r\n"]
    assert layered == ["AsyncHTTPTransport", "AsyncHTTPTransport"]  # the proxy's, the default


# -- the client ----------------------------------------------------------------------------


class Body(httpx.AsyncByteStream):
    """A body that arrives as the network's does: read by the client, not before."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._body


def answering(body: bytes) -> httpx.AsyncClient:
    """A client as the adapters get it, whose network answers every request with `body`."""
    network = httpx.MockTransport(lambda request: httpx.Response(200, stream=Body(body)))
    limits = httpx.Limits(max_connections=1)
    return retrying_client(lambda t: t, transport=network, limits=limits, timeout=5.0)


@pytest.fixture
def no_cyclic_collection() -> Iterator[None]:
    """Only reference counting frees objects meanwhile: what stays alive is held or in a cycle."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.usefixtures("no_cyclic_collection")
async def test_a_read_response_is_freed_as_soon_as_nobody_holds_it() -> None:
    async with answering(b'{"ok": true}') as client:
        response = await client.get("https://sis.test/x")
        assert response.json() == {"ok": True}
        assert response.elapsed.total_seconds() >= 0
        released = weakref.ref(response)
        del response
        assert released() is None


async def test_a_streamed_response_still_streams_its_body() -> None:
    client = answering(b"a body in chunks")
    async with client, client.stream("GET", "https://sis.test/x") as response:
        chunks = [chunk async for chunk in response.aiter_bytes()]
    assert b"".join(chunks) == b"a body in chunks"


def test_redact_removes_every_secret_and_ignores_missing_ones() -> None:
    text = redact(
        "token abc-token-1 and secret s3cr3t-value, again abc-token-1",
        ["abc-token-1", None, "", "s3cr3t-value"],
    )
    assert text == "token [redacted] and secret [redacted], again [redacted]"


def test_redact_never_shows_a_secret_by_what_it_replaces() -> None:
    # A one-letter secret cut out of every word would spell itself out: the text is withheld.
    assert redact("connection refused by the server", ["e"]) == WITHHELD
    assert redact("connection refused", ["zz"]) == "connection refused"
    # A secret holding another is cut out whole, not left half shown around the shorter one.
    text = redact("sent vendor-key:vendor-secret", ["vendor-key", "vendor-key:vendor-secret"])
    assert text == "sent [redacted]"
