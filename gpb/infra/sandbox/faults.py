"""Fault injection for the stand-ins: the failures a client of Canvas or IC must live through.

Each stand-in (Canvas, OneRoster) sits behind its own `FaultInjector`, switched by a `Faults` object
that tests change at run time (in Python or through the control API). Faults are drawn per request
from a seeded random generator, so a failing run can be replayed, or taken from a script ("the next
three requests: 429, 500, drop") when a test wants exact steps. The injector also counts requests in
flight, which is how a test checks a client's concurrency cap.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FaultKind = Literal[
    "rate_limit",  # Canvas: 403 Rate Limit Exceeded; OneRoster: 429 (Retry-After sometimes)
    "server_error",  # 500, nothing applied
    "timeout",  # stall `timeout_seconds`, then handle (the client may have given up: lands late)
    "drop",  # headers, a few bytes, then the connection closes; nothing applied
    "error_after_apply",  # the request is handled and stored, then the client gets a 500
    "drop_after_apply",  # the request is handled and stored, then the connection drops
]

Method = Literal["GET", "POST", "PUT", "DELETE"]
METHODS: tuple[Method, ...] = ("GET", "POST", "PUT", "DELETE")

# How often a held request looks whether it is released. Polled rather than awaited on an event:
# tests switch faults from other threads, and reading an attribute is safe across threads.
HOLD_POLL_SECONDS = 0.02

# Set in the ASGI scope when the request is handled under an after-apply fault or after a timeout
# stall, so the gradebook can note in its write log that the client may never have seen the answer.
FAULT_SCOPE_KEY = "gpb.sandbox.fault"


class FaultConfig(BaseModel):
    """What to inject. Everything off by default."""

    model_config = ConfigDict(extra="forbid")

    rates: dict[FaultKind, float] = Field(
        default_factory=dict, description="probability per request of each fault; sum <= 1"
    )
    script: list[FaultKind | None] = Field(
        default_factory=list,
        description="faults for the next matching requests, in order, before any random draw;"
        " null lets that request through",
    )
    methods: list[Method] = Field(
        default_factory=lambda: list(METHODS),
        description="only requests with these methods get faults",
    )
    latency_seconds: float = Field(default=0.0, ge=0, description="added to every request")
    hold: bool = Field(
        default=False,
        description="requests with the listed methods wait, before any latency or fault, until"
        " a config without hold is set: a test holds a client midway to look at it",
    )
    timeout_seconds: float = Field(default=30.0, ge=0, description="how long a timeout stalls")
    retry_after_seconds: int = Field(default=1, ge=0)
    retry_after_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="share of OneRoster 429s that carry Retry-After (Canvas never sends one)",
    )
    rate_limit_status: int | None = Field(
        default=None, description="status of a rate-limit answer; None: the system's own"
    )
    seed: int | None = Field(default=None, description="random seed, for reproducible runs")

    @model_validator(mode="after")
    def _rates_are_probabilities(self) -> FaultConfig:
        if any(not 0 <= rate <= 1 for rate in self.rates.values()):
            raise ValueError("each rate is between 0 and 1")
        if sum(self.rates.values()) > 1:
            raise ValueError("the rates add up to more than 1")
        return self


class Faults:
    """The live fault switches of one stand-in, with what they did."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.held = 0
        self.configure(FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        """Switch to `config` and start counting afresh."""
        self.config = config
        self._rng = random.Random(config.seed)
        self._script = list(config.script)
        self.requests = 0
        self.injected: Counter[str] = Counter()
        self.max_in_flight = self.in_flight

    def reset(self) -> None:
        self.configure(FaultConfig())

    def draw(self, method: str) -> FaultKind | None:
        """The fault for the next request, if any."""
        self.requests += 1
        if method not in self.config.methods:
            return None
        kind: FaultKind | None = None
        if self._script:
            kind = self._script.pop(0)
        else:
            roll = self._rng.random()
            for candidate, rate in self.config.rates.items():
                if roll < rate:
                    kind = candidate
                    break
                roll -= rate
        if kind is not None:
            self.injected[kind] += 1
        return kind

    async def released(self, method: str) -> None:
        """Returns once the config no longer holds requests of this method; counts those waiting,
        so that a test can tell its client has reached the hold."""
        if not self._holds(method):
            return
        self.held += 1
        try:
            while self._holds(method):  # noqa: ASYNC110 (see HOLD_POLL_SECONDS)
                await asyncio.sleep(HOLD_POLL_SECONDS)
        finally:
            self.held -= 1

    def _holds(self, method: str) -> bool:
        return self.config.hold and method in self.config.methods

    def retry_after(self) -> int | None:
        """Retry-After for a rate-limit answer, or None when this one goes without."""
        if self._rng.random() < self.config.retry_after_share:
            return self.config.retry_after_seconds
        return None

    @contextmanager
    def tracking(self) -> Iterator[None]:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            yield
        finally:
            self.in_flight -= 1

    def report(self) -> dict[str, Any]:
        return {
            "config": self.config.model_dump(mode="json"),
            "requests": self.requests,
            "injected": dict(self.injected),
            "in_flight": self.in_flight,
            "held": self.held,
            "max_in_flight": self.max_in_flight,
        }


# How a stand-in words its refusals: (retry_after, rate_limit_status) -> rate-limit answer, and
# () -> server error answer.
RateLimitAnswer = Callable[[int | None, int | None], Response]
ServerErrorAnswer = Callable[[], Response]


async def drop_connection(send: Send) -> None:
    """Start an answer and stop short: uvicorn closes the connection, the client gets a protocol
    error. ASGI has no way to close a connection without answering; a truncated answer is the
    nearest thing, and what a crashing proxy produces."""
    headers = [(b"content-type", b"application/json"), (b"content-length", b"1024")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b'{"', "more_body": True})


async def _discard(message: Message) -> None:
    """Swallows the real answer of a request handled under an after-apply fault."""


class FaultInjector:
    """ASGI middleware that applies a `Faults` object to every request of the app it wraps."""

    def __init__(
        self,
        app: ASGIApp,
        faults: Faults,
        rate_limited: RateLimitAnswer,
        server_error: ServerErrorAnswer,
    ) -> None:
        self.app = app
        self.faults = faults
        self.rate_limited = rate_limited
        self.server_error = server_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        faults = self.faults
        with faults.tracking():
            await faults.released(scope["method"])
            config = faults.config
            if config.latency_seconds:
                await asyncio.sleep(config.latency_seconds)
            kind = faults.draw(scope["method"])
            if kind is None:
                await self.app(scope, receive, send)
            elif kind == "timeout":
                await asyncio.sleep(config.timeout_seconds)
                scope[FAULT_SCOPE_KEY] = kind
                await self.app(scope, receive, send)
            elif kind == "rate_limit":
                answer = self.rate_limited(faults.retry_after(), config.rate_limit_status)
                await answer(scope, receive, send)
            elif kind == "server_error":
                await self.server_error()(scope, receive, send)
            elif kind == "drop":
                await drop_connection(send)
            else:
                scope[FAULT_SCOPE_KEY] = kind
                await self.app(scope, receive, _discard)
                if kind == "error_after_apply":
                    await self.server_error()(scope, receive, send)
                else:
                    await drop_connection(send)
