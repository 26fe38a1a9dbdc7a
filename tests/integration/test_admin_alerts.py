"""Admin alerts in a running gpb: judged by its health job, listed at /api/admin/alerts, shown on
the district overview, and sent to the webhook and the admins' Canvas inboxes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from databases import sqlite_only
from running_gpb import SandboxedGpb, auth, sandboxed_gpb
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gpb.handlers.tokens import Role, new_token
from gpb.infra.sandbox.server import serve_on_loopback as serve
from gpb.infra.store.store import SqlStore


class Hook:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []

    async def receive(self, request: Request) -> Response:
        self.received.append(json.loads(await request.body()))
        return Response(status_code=204)


@pytest.fixture
async def hook() -> AsyncIterator[tuple[Hook, str]]:
    hook = Hook()
    async with serve(Starlette(routes=[Route("/hook", hook.receive, methods=["POST"])])) as url:
        yield hook, f"{url}/hook"


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(250):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out waiting")


async def open_alerts(env: SandboxedGpb) -> dict[str, dict[str, Any]]:
    answer = await env.get("/api/admin/alerts", state="open")
    assert answer.status_code == 200, answer.text
    return {a["code"]: a for a in answer.json()["alerts"]}


@sqlite_only  # the disk alert watches SQLite's file system; PostgreSQL's disk is the server's
async def test_admin_alerts_are_listed_shown_and_sent(
    tmp_path: Path, hook: tuple[Hook, str]
) -> None:
    receiver, hook_url = hook
    async with sandboxed_gpb(
        tmp_path,
        disk_min_free_percent=100,  # any disk is nearly full by this measure
        event_failures_alert_count=3,
        health_check_seconds=0.05,
        alert_webhook_url=hook_url,
        admin_canvas_user_ids="789",
    ) as env:

        async def disk_alert() -> bool:
            return "DISK_LOW" in await open_alerts(env)

        await until(disk_alert)
        alert = (await open_alerts(env))["DISK_LOW"]
        assert alert["title"] == "The database's disk is nearly full"
        assert alert["state"] == "open" and alert["resolved_at"] is None
        assert "MB free" in alert["message"] and alert["details"]["free_mb"] >= 0

        async def sent() -> bool:
            return bool(receiver.received) and bool(env.sandbox.state.canvas.conversations)

        await until(sent)
        (payload,) = receiver.received
        assert payload["type"] == "gpb.admin_alert" and payload["change"] == "opened"
        assert payload["alert"]["code"] == "DISK_LOW"
        (message,) = env.sandbox.state.canvas.conversations
        assert "nearly full" in message.subject

        for _ in range(3):  # deliveries nobody signed: refused
            refused = await env.client.post("/events/canvas", content=b'{"metadata": {}}')
            assert refused.status_code == 401

        async def failing() -> bool:
            return "EVENTS_FAILING" in await open_alerts(env)

        await until(failing)
        assert (await open_alerts(env))["EVENTS_FAILING"]["details"]["count"] == 3

        page = await env.get("/admin")
        assert "Admin alerts" in page.text and "The database&#39;s disk is nearly full" in page.text
        assert "Events failing or refused in bulk" in page.text

        assert (await env.get("/api/admin/alerts", state="closed")).status_code == 400
        token = new_token()
        store = SqlStore(env.settings.database_url)
        store.start()
        try:
            await store.tokens.add(token, Role.INSTRUCTOR, ("456",), "teacher", None)
        finally:
            await store.close()
        forbidden = await env.client.get("/api/admin/alerts", headers=auth(token))
        assert forbidden.status_code == 403
