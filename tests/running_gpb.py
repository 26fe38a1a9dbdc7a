"""A gpb under test: its settings, and a client that speaks its API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from canvas_events import sample, sign
from joserfc.jwk import RSAKey

from gpb.bootstrap import create_app
from gpb.infra.sandbox.server import RunningSandbox, run_sandbox
from gpb.infra.sandbox.server import serve_on_loopback as serve
from gpb.infra.settings import Settings

ADMIN_TOKEN = "admin-bootstrap-secret-token"


@dataclass
class Gpb:
    url: str
    key: RSAKey
    settings: Settings
    client: httpx.AsyncClient

    def sign(self, event: dict[str, Any], **header: Any) -> bytes:
        return sign(event, self.key, **header)

    async def post_event(self, body: bytes) -> httpx.Response:
        return await self.client.post("/events/canvas", content=body)

    async def admin_get(self, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params, headers=auth(ADMIN_TOKEN))

    async def wait_for(self, check: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
        deadline = asyncio.get_running_loop().time() + within
        while not await check():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("timed out waiting")
            await asyncio.sleep(0.02)

    async def event(self, event_id: str) -> dict[str, Any]:
        response = await self.admin_get(f"/api/events/{event_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def handled(self, event_id: str) -> dict[str, Any]:
        async def done() -> bool:
            return (await self.event(event_id))["status"] != "accepted"

        await self.wait_for(done)
        return await self.event(event_id)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def gpb_settings(tmp: Path, jwks_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp / 'gpb.db'}",
        "canvas_jwks_url": jwks_url,
        "admin_token": ADMIN_TOKEN,
        "max_event_bytes": 64 * 1024,
        "handler_retry_base_seconds": 0.05,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class SandboxedGpb:
    """gpb pointed at the sandbox's Canvas, IC and JWKS, with helpers to drive both."""

    sandbox: RunningSandbox
    settings: Settings
    client: httpx.AsyncClient

    async def post(self, name: str, **body: Any) -> str:
        """Posts a sample event (body fields replaced), signed as Canvas would; returns its id."""
        event = sample(name)
        event["body"].update(body)
        return await self.post_event(event)

    async def post_event(self, event: dict[str, Any]) -> str:
        response = await self.client.post("/events/canvas", content=self.sandbox.sign_event(event))
        assert response.status_code in (200, 202), response.text
        event_id: str = response.json()["id"]
        return event_id

    async def handled(self, event_id: str) -> dict[str, Any]:
        for _ in range(500):
            event: dict[str, Any] = (await self.get(f"/api/events/{event_id}")).json()
            if event["status"] != "accepted":
                return event
            await asyncio.sleep(0.02)
        raise AssertionError(f"event {event_id} was not handled")

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params, headers=auth(ADMIN_TOKEN))

    async def post_json(self, path: str, body: Any) -> httpx.Response:
        return await self.client.post(path, json=body, headers=auth(ADMIN_TOKEN))


@asynccontextmanager
async def sandboxed_gpb(tmp: Path, **overrides: Any) -> AsyncIterator[SandboxedGpb]:
    async with run_sandbox() as sandbox:
        environment = {
            k.removeprefix("GPB_").lower(): v for k, v in sandbox.gpb_environment().items()
        }
        settings = gpb_settings(
            tmp, environment.pop("canvas_jwks_url"), **(environment | overrides)
        )
        async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
            yield SandboxedGpb(sandbox, settings, client)
