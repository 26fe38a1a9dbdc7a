"""Who may call what, for every route the app serves (taken from its router, so a new route is
checked the day it is added), and no secret in any answer or log line.

- no token: 401 on the API, the login page (303) on the pages;
- an instructor of another course: 404 on anything of course 456 (its runs included);
- an instructor of the course: 403 on admin routes, and in on the rest;
- the configured secrets and every bearer token never appear in a response body, in the logs of
  gpb in this process (caplog), or in what `gpb serve` writes to its stderr.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import event_stream
import httpx
import pytest
import pytest_asyncio
from running_gpb import ADMIN_TOKEN, GpbProcess, SandboxedGpb, auth, sandboxed_gpb, start

from gpb.handlers.tokens import Role, new_token
from gpb.infra.sandbox.server import run_sandbox
from gpb.infra.store.store import SqlStore
from gpb.listener.app import ROUTES
from gpb.listener.openapi import documented_routes, operations

pytestmark = pytest.mark.reliability
OPERATIONS = operations(ROUTES)
# One gpb for the module's async tests: its tokens and runs are only read here.
in_module_loop = pytest.mark.asyncio(loop_scope="module")

SECRETS = {
    "session_secret": "session-secret-never-shown-to-anyone",
    "alert_webhook_secret": "whsec_webhook-secret-never-shown",
}
PARAM = re.compile(r"{(\w+)}")


@dataclass(frozen=True)
class Answer:
    status_code: int
    headers: httpx.Headers
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


@dataclass(frozen=True)
class Callers:
    own: str  # an instructor of course 456
    other: str  # an instructor of course 999


@dataclass(frozen=True)
class World:
    env: SandboxedGpb
    callers: Callers
    params: dict[str, str]

    def secrets(self) -> list[str]:
        sandbox = self.env.sandbox.settings
        return [
            ADMIN_TOKEN,
            self.callers.own,
            self.callers.other,
            sandbox.canvas_token,
            sandbox.sis_client_secret,
            sandbox.sis_vendor_authorization,
            *SECRETS.values(),
        ]


async def instructor(database: str, course: str) -> str:
    store = SqlStore(database)
    store.start()
    try:
        token = new_token()
        await store.tokens.add(token, Role.INSTRUCTOR, (course,), f"teacher of {course}", None)
        return token
    finally:
        await store.close()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with sandboxed_gpb(tmp_path_factory.mktemp("access"), **SECRETS) as env:
        for payload in event_stream.events(3, 30):
            await env.post_event(payload)
        run = await start(env, kind="sync", dry_run=True)
        database = env.settings.database_url
        callers = Callers(await instructor(database, "456"), await instructor(database, "999"))
        (event,) = (await env.get("/api/events", limit=1)).json()["events"]
        params = {
            "course_id": "456",
            "sync_id": run["id"],
            "event_id": event["id"],
            "reconciliation_id": "1",
            "assignment_id": "123",
            "group_id": "311",
        }
        yield World(env, callers, params)


async def call(world: World, path: str, method: str, token: str | None) -> tuple[Answer, str]:
    url = PARAM.sub(lambda m: world.params[m.group(1)], path)
    headers = auth(token) if token else {}
    client = world.env.client
    async with client.stream(method, url, headers=headers, json={}, timeout=30) as answer:
        # An endless alert stream: its status and first bytes are all there is to read.
        body = b""
        async for chunk in answer.aiter_bytes():
            body += chunk
            if answer.headers.get("content-type", "").startswith("text/event-stream"):
                break
    text = body.decode("utf-8", "replace")
    return Answer(answer.status_code, answer.headers, text), text


GUARDED = [key for key in documented_routes(ROUTES) if OPERATIONS[key].access != "public"]


@in_module_loop
@pytest.mark.parametrize(("path", "method"), GUARDED, ids=[f"{m} {p}" for p, m in GUARDED])
async def test_each_route_lets_in_only_whom_it_should(
    world: World, path: str, method: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    page = not path.startswith("/api/")
    admin_only = OPERATIONS[(path, method)].access == "admin"
    course_bound = "{course_id}" in path or "{sync_id}" in path
    answers = []

    nobody, body = await call(world, path, method, None)
    answers.append(body)
    if page:
        assert nobody.status_code == 303 and nobody.headers["location"].startswith("/login")
    else:
        assert nobody.status_code == 401, body
        assert nobody.json()["error"]["code"] == "UNAUTHENTICATED"

    other, body = await call(world, path, method, world.callers.other)
    answers.append(body)
    if admin_only:
        assert other.status_code == 403, body
    elif course_bound:
        assert other.status_code == 404, body
    else:
        assert other.status_code < 400, body

    own, body = await call(world, path, method, world.callers.own)
    answers.append(body)
    if admin_only:
        assert own.status_code == 403, body
    else:
        assert own.status_code not in (401, 403, 404), body

    admin, body = await call(world, path, method, ADMIN_TOKEN)
    answers.append(body)
    assert admin.status_code not in (401, 403) and admin.status_code < 500, body

    logged = [record.getMessage() for record in caplog.records]
    for secret in world.secrets():
        assert not [text for text in answers + logged if secret in text], "a secret is shown"


def test_every_route_is_guarded_or_deliberately_public() -> None:
    public = {key for key in documented_routes(ROUTES) if OPERATIONS[key].access == "public"}
    assert public == {
        ("/events/canvas", "POST"),
        ("/healthz", "GET"),
        ("/metrics", "GET"),
        ("/openapi.json", "GET"),
        ("/login", "GET"),
        ("/login", "POST"),
        # Launch from Canvas: the browser Canvas sends has no session yet; the launch checks
        # the platform's signed id_token instead (tests/integration/test_lti_launch.py).
        ("/lti/login", "GET"),
        ("/lti/login", "POST"),
        ("/lti/launch", "POST"),
        ("/lti/config.json", "GET"),
        ("/lti/jwks.json", "GET"),
        ("/favicon.ico", "GET"),  # a picture, the same for everyone
    }


@in_module_loop
async def test_gpb_serve_writes_no_secret_to_its_log(tmp_path: Path) -> None:
    async with run_sandbox() as sandbox:
        settings = sandbox.settings
        environment = sandbox.gpb_environment() | {
            "GPB_SESSION_SECRET": SECRETS["session_secret"],
            "GPB_ALERT_WEBHOOK_SECRET": SECRETS["alert_webhook_secret"],
        }
        gpb = GpbProcess(tmp_path, environment)
        await gpb.start()
        try:
            async with httpx.AsyncClient(base_url=gpb.url, timeout=60) as client:
                for payload in event_stream.events(4, 30):
                    posted = await client.post(
                        "/events/canvas", content=sandbox.sign_event(payload)
                    )
                    assert posted.status_code == 202
                admin = auth(ADMIN_TOKEN)
                queued = await client.post(
                    "/api/courses/456/syncs", json={"kind": "remaster"}, headers=admin
                )
                assert queued.status_code == 202, queued.text
                await client.get("/api/admin/check", headers=admin)
                await client.get("/api/courses", headers=auth("gpb_wrong-token"))
                run = f"/api/syncs/{queued.json()['id']}"
                for _ in range(600):
                    if (await client.get(run, headers=admin)).json()["status"] != "queued":
                        break
                    await asyncio.sleep(0.05)
        finally:
            await gpb.stop()
    log = gpb.log.read_text()
    assert "Application startup complete" in log
    for secret in (
        ADMIN_TOKEN,
        "gpb_wrong-token",
        settings.canvas_token,
        settings.sis_client_secret,
        settings.sis_vendor_authorization,
        *SECRETS.values(),
    ):
        assert secret not in log
