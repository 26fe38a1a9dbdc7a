"""The shared retry policy: backoff with full jitter, Retry-After, and the send loop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from gpb.infra.http_retry import (
    WITHHELD,
    RetryPolicy,
    parse_retry_after,
    redact,
    send_with_retry,
)


class Sleeps:
    """An injected sleep that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def policy(
    sleeps: Sleeps, *, rand: float = 1.0, max_attempts: int = 4, base_delay: float = 0.5
) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=max_attempts, base_delay=base_delay, sleep=sleeps, rand=lambda: rand
    )


def scripted(
    *outcomes: int | Exception, headers: dict[str, str] | None = None
) -> tuple[Callable[[], Awaitable[httpx.Response]], list[int]]:
    """An attempt function answering with the given statuses or raising the given errors."""
    calls: list[int] = []
    queue = list(outcomes)

    async def send() -> httpx.Response:
        calls.append(1)
        outcome = queue.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return httpx.Response(outcome, headers=headers)

    return send, calls


def server_error(response: httpx.Response) -> bool:
    return response.status_code >= 500


# -- the policy ----------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap_and_jitters_over_the_whole_interval() -> None:
    full = RetryPolicy(base_delay=0.5, max_delay=3.0, rand=lambda: 1.0)
    assert [full.backoff(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    half = RetryPolicy(base_delay=0.5, max_delay=3.0, rand=lambda: 0.5)
    assert [half.backoff(n) for n in range(1, 4)] == [0.25, 0.5, 1.0]
    none = RetryPolicy(base_delay=0.5, rand=lambda: 0.0)
    assert none.backoff(3) == 0.0


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
    p = RetryPolicy(base_delay=1.0, max_delay=20.0, rand=lambda: 1.0)
    assert p.delay(1, httpx.Response(503, headers={"Retry-After": "9"})) == 9.0
    assert p.delay(1, httpx.Response(503, headers={"Retry-After": "600"})) == 20.0
    assert p.delay(3, httpx.Response(503)) == 4.0
    assert p.delay(2, None) == 2.0


def test_delay_reads_an_http_date_against_the_current_time() -> None:
    when = datetime.now(UTC) + timedelta(seconds=10)
    asked = RetryPolicy().delay(
        1, httpx.Response(429, headers={"Retry-After": format_datetime(when, usegmt=True)})
    )
    assert 8.5 <= asked <= 10.0


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(base_delay=-1)


# -- the send loop -------------------------------------------------------------------------


async def test_retries_a_named_status_then_returns_the_success() -> None:
    sleeps = Sleeps()
    send, calls = scripted(503, 502, 200)
    response = await send_with_retry(send, policy(sleeps, base_delay=1.0), retry_if=server_error)
    assert response.status_code == 200
    assert len(calls) == 3
    assert sleeps.delays == [1.0, 2.0]


async def test_a_status_not_named_is_returned_at_once() -> None:
    sleeps = Sleeps()
    send, calls = scripted(404)
    response = await send_with_retry(send, policy(sleeps), retry_if=server_error)
    assert response.status_code == 404
    assert len(calls) == 1
    assert sleeps.delays == []


async def test_when_attempts_are_spent_the_last_response_is_returned() -> None:
    sleeps = Sleeps()
    send, calls = scripted(503, 503, 500)
    response = await send_with_retry(send, policy(sleeps, max_attempts=3), retry_if=server_error)
    assert response.status_code == 500
    assert len(calls) == 3
    assert len(sleeps.delays) == 2  # no sleep after the last attempt


async def test_retry_after_is_honoured_between_attempts() -> None:
    sleeps = Sleeps()
    send, _ = scripted(429, 200, headers={"Retry-After": "4"})
    await send_with_retry(send, policy(sleeps), retry_if=lambda r: r.status_code == 429)
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
    sleeps = Sleeps()
    send, calls = scripted(error, 200)
    response = await send_with_retry(send, policy(sleeps), retry_if=server_error)
    assert response.status_code == 200
    assert len(calls) == 2


async def test_when_attempts_are_spent_on_errors_the_last_one_is_raised() -> None:
    sleeps = Sleeps()
    send, calls = scripted(httpx.ConnectError("a"), httpx.ConnectError("b"))
    with pytest.raises(httpx.ConnectError, match="b"):
        await send_with_retry(send, policy(sleeps, max_attempts=2), retry_if=server_error)
    assert len(calls) == 2


async def test_configuration_errors_are_not_retried() -> None:
    send, calls = scripted(httpx.UnsupportedProtocol("ftp"))
    with pytest.raises(httpx.UnsupportedProtocol):
        await send_with_retry(send, policy(Sleeps()), retry_if=server_error)
    assert len(calls) == 1


async def test_a_caller_narrows_the_errors_it_retries() -> None:
    narrow: tuple[type[Exception], ...] = (httpx.ConnectError,)
    send, calls = scripted(httpx.ReadTimeout("may have been processed"))
    with pytest.raises(httpx.ReadTimeout):
        await send_with_retry(send, policy(Sleeps()), retry_if=server_error, retry_on=narrow)
    assert len(calls) == 1


async def test_works_with_a_real_client_and_a_fresh_request_per_attempt() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["X-Attempt"])
        return httpx.Response(503 if len(seen) < 3 else 204)

    sleeps = Sleeps()
    attempt = 0
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:

        async def send() -> httpx.Response:
            nonlocal attempt
            attempt += 1
            return await client.put("https://sis.test/x", headers={"X-Attempt": str(attempt)})

        response = await send_with_retry(send, policy(sleeps), retry_if=server_error)
    assert response.status_code == 204
    assert seen == ["1", "2", "3"]


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
