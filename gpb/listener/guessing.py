"""Slowing down token guessing: failed logins and bearer checks, per client address.

After `GPB_AUTH_FAILURES_PER_MINUTE` failures an address gets 429 with `Retry-After` for the rest of
its minute, whatever it sends, so a right guess cannot be told from a wrong one meanwhile. Each
failure is logged with the address (never the token) and counted for the TOKENS_GUESSED alert.
"""

from __future__ import annotations

import logging

from starlette.requests import Request

from gpb.listener.context import AppContext
from gpb.listener.errors import ApiError

log = logging.getLogger("gpb.auth")


def client_address(request: Request) -> str:
    """The caller's address: behind the proxy, the one uvicorn takes from its forwarded headers."""
    return request.client.host if request.client else "(unknown)"


def _context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.context
    return ctx


def wait_seconds(request: Request) -> int:
    """How long this address must wait before it may present a token again (0: not at all)."""
    return _context(request).auth_throttle.blocked_for(client_address(request))


def refuse_if_throttled(request: Request) -> None:
    wait = wait_seconds(request)
    if wait:
        raise too_many_attempts(wait)


def too_many_attempts(wait: int) -> ApiError:
    return ApiError(
        "TOO_MANY_ATTEMPTS",
        f"too many failed attempts from this address; try again in {wait} seconds",
        headers={"Retry-After": str(wait)},
    )


async def failed(request: Request, what: str) -> None:
    """Counts a failed login or bearer check of this request's address."""
    ctx = _context(request)
    address = client_address(request)
    ctx.auth_throttle.hit(address)
    log.warning("%s from %s on %s %s", what, address, request.method, request.url.path)
    await ctx.auth_failures.record(address, ctx.now())
