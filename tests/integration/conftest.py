"""gpb under uvicorn on loopback, with a local JWKS host and real RS256-signed events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from canvas_events import jwks_document, make_key
from joserfc.jwk import RSAKey
from running_gpb import Gpb, SandboxedGpb, gpb_settings, sandboxed_gpb
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gpb.bootstrap import create_app
from gpb.infra.sandbox.server import serve_on_loopback as serve


@pytest.fixture(scope="module")
def signing_key() -> RSAKey:
    return make_key("canvas-test-key")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def jwks_url(signing_key: RSAKey) -> AsyncIterator[str]:
    async def keys(request: Request) -> JSONResponse:
        return JSONResponse(jwks_document(signing_key))

    async with serve(Starlette(routes=[Route("/jwks", keys)])) as url:
        yield f"{url}/jwks"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def gpb(
    tmp_path_factory: pytest.TempPathFactory, jwks_url: str, signing_key: RSAKey
) -> AsyncIterator[Gpb]:
    settings = gpb_settings(tmp_path_factory.mktemp("gpb"), jwks_url)
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        yield Gpb(url, signing_key, settings, client)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[SandboxedGpb]:
    """gpb against the sandbox, having read the seed course whole (its first event, one of
    assignment 124's, makes it). Modules that need another gpb define their own `env`."""
    async with sandboxed_gpb(tmp_path) as env:
        await env.handled(await env.post("assignment_created", assignment_id="10000000000124"))
        yield env
