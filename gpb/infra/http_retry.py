"""The retrying transport both HTTP adapters (Canvas and OneRoster) send through, and their client.

An httpx transport wrapped around the real one: each exchange that fails in a way a later attempt
can cure is sent again after a wait (gpb's `RetryPolicy`, with full jitter, or the server's
Retry-After). Only idempotent calls are retried on every such failure: every call gpb makes is a
GET, or a PUT/DELETE addressed by a fixed sourcedId, so sending it twice lands on the same record.
A request that is not idempotent names its own `RetryWhen` in its extensions (`RETRY_WHEN`): it is
retried only on failures that prove it was never processed.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self

import httpx

# httpx's own reading of HTTP(S)_PROXY, ALL_PROXY and NO_PROXY, which a plain AsyncClient applies:
# retrying_client() keeps it when it brings a transport of its own.
from httpx._utils import get_environment_proxies

from gpb.handlers.backoff import Jitter, RetryPolicy

Sleep = Callable[[float], Awaitable[None]]

# Four tries within about half a minute: a call waits for an outside system's hiccup, not for an
# outage (stored work is retried later, by its own policy).
HTTP_RETRY = RetryPolicy(max_attempts=4, base_seconds=0.5, max_seconds=30.0, jitter=Jitter.FULL)

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
class RetryWhen:
    """Which failed exchanges are sent again: answers `answer` says a later attempt may cure, and
    the `errors` raised."""

    answer: Callable[[httpx.Response], bool]
    errors: tuple[type[Exception], ...] = TRANSIENT_ERRORS


# The request extension naming a request's own `RetryWhen`, instead of its transport's.
RETRY_WHEN = "gpb.retry_when"


def retry_delay(
    policy: RetryPolicy, attempt: int, response: httpx.Response | None, rand: Callable[[], float]
) -> float:
    """The wait after a failed `attempt` (1-based): the server's Retry-After, else backoff."""
    if response is not None:
        asked = parse_retry_after(response.headers.get("Retry-After"))
        if asked is not None:
            # Capped, so one server's long Retry-After cannot park a worker for an hour.
            return min(asked, policy.max_seconds)
    return policy.delay(attempt, rand)


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


class RetryingTransport(httpx.AsyncBaseTransport):
    """Sends each request through `inner` until it succeeds or the policy's attempts are spent.

    Then the last answer is returned (the adapter maps its status to an error) or the last
    exception raised. The sleep between attempts happens here, above `inner`: a layer below that
    limits the exchanges in flight holds its slot for one exchange, never across the sleep.
    `sleep` and `rand` are injectable so tests run without waiting and with known jitter.
    """

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        when: RetryWhen,
        policy: RetryPolicy = HTTP_RETRY,
        *,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._inner = inner
        self._when = when
        self._policy = policy
        self._sleep = sleep
        self._rand = rand

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        when: RetryWhen = request.extensions.get(RETRY_WHEN, self._when)
        attempt = 1
        while True:
            response: httpx.Response | None
            try:
                response = await self._inner.handle_async_request(request)
                # Read here: whether to retry may depend on the body, and a retried answer's
                # connection goes back to the pool.
                await response.aread()
            except when.errors:
                if attempt >= self._policy.max_attempts:
                    raise
                response = None
            else:
                if attempt >= self._policy.max_attempts or not when.answer(response):
                    return response
            await self._sleep(retry_delay(self._policy, attempt, response, self._rand))
            attempt += 1

    async def aclose(self) -> None:
        await self._inner.aclose()


class ReleasingClient(httpx.AsyncClient):
    """httpx's AsyncClient, except that a response it has read leaves no reference cycle behind.

    httpx ties each response and its body stream to one another (the stream sets the response's
    `elapsed` when it closes). So every exchange, some forty-five objects with the request, the
    headers and the connection's, outlives the caller's last reference until Python's cyclic
    garbage collector finds it: in a remaster of 8,000 grades, about half a second of the event
    loop (docs/benchmarks.md). Once the body is read, the read bytes take the bound stream's
    place, and reference counting frees the whole exchange as soon as the caller lets go of it.
    A streamed response is left as httpx made it.
    """

    async def send(
        self, request: httpx.Request, *, stream: bool = False, **kwargs: Any
    ) -> httpx.Response:
        response = await super().send(request, stream=stream, **kwargs)
        if not stream:
            response.stream = httpx.ByteStream(response.content)
        return response


def retrying_client(
    layers: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport],
    *,
    transport: httpx.AsyncBaseTransport | None,
    limits: httpx.Limits,
    timeout: float,
    auth: httpx.Auth | None = None,
) -> httpx.AsyncClient:
    """An AsyncClient whose every exchange goes through `layers` wrapped around the network.

    The network is `transport` when given (tests), else httpx's own with the proxies of the
    environment (HTTPS_PROXY, NO_PROXY...) as a plain AsyncClient would use them: a client given
    a transport of its own no longer reads them itself.
    """
    if transport is not None:
        return ReleasingClient(transport=layers(transport), timeout=timeout, auth=auth)
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {
        # None: no proxy for these hosts, the default transport below serves them.
        pattern: layers(httpx.AsyncHTTPTransport(limits=limits, proxy=proxy)) if proxy else None
        for pattern, proxy in get_environment_proxies().items()
    }
    return ReleasingClient(
        transport=layers(httpx.AsyncHTTPTransport(limits=limits)),
        mounts=mounts,
        timeout=timeout,
        auth=auth,
    )


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
