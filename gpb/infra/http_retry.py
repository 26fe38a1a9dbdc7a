"""The retry policy both HTTP adapters share: exponential backoff with full jitter, Retry-After.

Only idempotent calls go through `send_with_retry` with the default exceptions: every call gpb makes
is a GET, or a PUT/DELETE addressed by a fixed sourcedId, so sending it twice lands on the same
record. A caller with a non-idempotent request narrows `retry_on` and `retry_if` to failures that
prove the request was never processed.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Self

import httpx

Sleep = Callable[[float], Awaitable[None]]

# Failures after which the server may or may not have seen the request, and which a later attempt
# can cure. Configuration mistakes (httpx.UnsupportedProtocol, httpx.ProxyError) are left out: they
# would fail the same way every time.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)

# Failures that prove the request never left: safe to retry even for a request that is not
# idempotent. A read or write timeout is not among them, the server may have acted already.
NOT_SENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait between attempts.

    `sleep` and `rand` are injectable so tests run without waiting and with known jitter.
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    sleep: Sleep = asyncio.sleep
    rand: Callable[[], float] = random.random

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max_delay, base_delay * 2^(attempt-1))].

        Spreading the whole interval, rather than adding a little noise, keeps clients that failed
        together from coming back together.
        """
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return self.rand() * ceiling

    def delay(self, attempt: int, response: httpx.Response | None) -> float:
        """The wait after a failed `attempt` (1-based): the server's Retry-After, else backoff."""
        if response is not None:
            asked = parse_retry_after(response.headers.get("Retry-After"))
            if asked is not None:
                # Capped, so one server's long Retry-After cannot park a worker for an hour.
                return min(asked, self.max_delay)
        return self.backoff(attempt)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or HTTP-date); None if unusable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP-date is GMT by definition
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


async def send_with_retry(
    send: Callable[[], Awaitable[httpx.Response]],
    policy: RetryPolicy,
    *,
    retry_if: Callable[[httpx.Response], bool],
    retry_on: tuple[type[Exception], ...] = TRANSIENT_ERRORS,
) -> httpx.Response:
    """Run `send` (one HTTP attempt through the caller's httpx.AsyncClient) until it succeeds.

    `send` is called afresh for each attempt, so a caller can re-sign the request or hold a
    concurrency slot for the attempt only, never across the backoff sleep. When the attempts are
    spent, the last response is returned (the caller maps its status to an error) or the last
    exception is raised.
    """
    attempt = 1
    while True:
        response: httpx.Response | None
        try:
            response = await send()
        except retry_on:
            if attempt >= policy.max_attempts:
                raise
            response = None
        else:
            if attempt >= policy.max_attempts or not retry_if(response):
                return response
        await policy.sleep(policy.delay(attempt, response))
        attempt += 1


# A secret shorter than this is not cut out of a text but withholds all of it: replacing each
# occurrence of "ab" would show the secret by where the marks fall.
MIN_REDACTED_LENGTH = 8
WITHHELD = "[withheld: the text holds a configured secret]"


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Removes credentials from text bound for an exception message (which reaches logs and pages).

    Error bodies are the outside system's words; some echo what they were sent. The longest
    secrets go first, so one holding another is not left half shown.
    """
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        if secret not in text:
            continue
        if len(secret) < MIN_REDACTED_LENGTH:
            return WITHHELD
        text = text.replace(secret, "[redacted]")
    return text


class HttpAdapter:
    """An adapter that owns an httpx client: `close()` it, or use it with `async with`."""

    _http: httpx.AsyncClient

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
