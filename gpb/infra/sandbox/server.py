"""Serving an ASGI app under uvicorn on a free loopback port, inside the caller's event loop.

Integration tests run the sandbox (and gpb itself) this way: real HTTP over a real socket, with no
subprocess to manage, and the sandbox's state at hand to set up situations and read results.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from gpb.infra.sandbox.app import create_sandbox_app
from gpb.infra.sandbox.keys import sign_event
from gpb.infra.sandbox.lti_platform import LtiPlatform
from gpb.infra.sandbox.settings import (
    CANVAS_PREFIX,
    JWKS_PATH,
    ONEROSTER_PREFIX,
    TOKEN_PATH,
    SandboxSettings,
    gpb_environment,
    lti_environment,
    other_site,
)
from gpb.infra.sandbox.state import SandboxState


class _InLoopServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to whoever owns the process (pytest)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


# How long an idle keep-alive connection stays open. uvicorn's default, 5 s, is also httpx's
# default expiry of an idle pooled connection: a client reusing a connection just as the server
# closes it fails with a read error, even for a request the server never saw. Servers the stand-ins
# stand for keep idle connections longer (a minute or more behind the usual load balancers), so
# clients drop them first.
KEEP_ALIVE_SECONDS = 75


@contextlib.asynccontextmanager
async def serve_on_loopback(
    app: ASGIApp, *, host: str = "127.0.0.1", graceful_seconds: int = 1
) -> AsyncIterator[str]:
    """Serves `app` until the block ends; yields its base URL (`http://127.0.0.1:PORT`).

    Requests still running at the end (a fault stalling on purpose) get `graceful_seconds` before
    they are cancelled.
    """
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
    # without it every answer waits out the peer's delayed ACK (about 40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="auto",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=graceful_seconds,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    server = _InLoopServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.005)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass(frozen=True)
class RunningSandbox:
    base_url: str
    state: SandboxState
    settings: SandboxSettings
    platform: LtiPlatform

    @property
    def canvas_url(self) -> str:
        """The Canvas REST root, `/api/v1` included."""
        return self.base_url + CANVAS_PREFIX

    @property
    def sis_url(self) -> str:
        """The OneRoster root, up to and including `/ims/oneroster` (as GPB_SIS_BASE_URL)."""
        return self.base_url + ONEROSTER_PREFIX

    @property
    def token_url(self) -> str:
        return self.base_url + TOKEN_PATH

    @property
    def jwks_url(self) -> str:
        return self.base_url + JWKS_PATH

    def gpb_environment(self) -> dict[str, str]:
        """The GPB_* settings that point gpb at this sandbox."""
        return gpb_environment(self.base_url, self.settings)

    def lti_environment(self) -> dict[str, str]:
        """The GPB_LTI_* settings that make gpb a tool of this sandbox's platform."""
        return lti_environment(self.base_url, self.platform)

    @property
    def pages_url(self) -> str:
        """Where to open the sandbox's Canvas pages: another site than gpb's 127.0.0.1."""
        return other_site(self.base_url)

    def sign_event(self, event: Mapping[str, Any]) -> str:
        """The event as Canvas would deliver it: a JWS that verifies against `jwks_url`."""
        return sign_event(event, self.settings.signing_key)


@contextlib.asynccontextmanager
async def run_sandbox(
    state: SandboxState | None = None, settings: SandboxSettings | None = None
) -> AsyncIterator[RunningSandbox]:
    """The sandbox served on loopback for the duration of the block.

    Fresh seeded state and a fresh signing key unless given.
    """
    state = state if state is not None else SandboxState()
    settings = settings if settings is not None else SandboxSettings()
    platform = LtiPlatform(settings.signing_key)  # its tool_url is set once gpb runs
    async with serve_on_loopback(create_sandbox_app(state, settings, platform)) as base_url:
        yield RunningSandbox(base_url, state, settings, platform)
