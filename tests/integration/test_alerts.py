"""A teacher learns at once: signed events in, the sandbox's Canvas and IC read, alerts out on SSE,
over the API, and to a webhook after the coalescing window."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from canvas_events import sample
from running_gpb import ADMIN_TOKEN, auth, sandbox_settings
from sse import open_stream
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gpb.bootstrap import create_app
from gpb.handlers.tokens import Role, new_token
from gpb.infra.sandbox.server import RunningSandbox, run_sandbox
from gpb.infra.sandbox.server import serve_on_loopback as serve
from gpb.infra.settings import Settings
from gpb.infra.store.store import SqlStore

pytestmark = pytest.mark.asyncio(loop_scope="module")
ADMIN = auth(ADMIN_TOKEN)


class Hooks:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []

    async def receive(self, request: Request) -> Response:
        import json

        self.received.append(json.loads(await request.body()))
        self.headers.append(dict(request.headers))
        return Response(status_code=204)


class Env:
    def __init__(
        self, sandbox: RunningSandbox, gpb: httpx.AsyncClient, hooks: Hooks, settings: Settings
    ) -> None:
        self.sandbox = sandbox
        self.settings = settings
        self.gpb = gpb
        self.hooks = hooks
        self.control = httpx.AsyncClient(base_url=sandbox.base_url + "/_sandbox")

    async def post(self, name: str, **body: Any) -> str:
        event = sample(name)
        event["body"].update(body)
        response = await self.gpb.post("/events/canvas", content=self.sandbox.sign_event(event))
        assert response.status_code in (200, 202), response.text
        event_id: str = response.json()["id"]
        return event_id

    async def handled(self, event_id: str) -> dict[str, Any]:
        for _ in range(250):
            event = (await self.gpb.get(f"/api/events/{event_id}", headers=ADMIN)).json()
            if event["status"] not in ("accepted",):
                return event  # type: ignore[no-any-return]
            await asyncio.sleep(0.02)
        raise AssertionError(f"event {event_id} was not handled")

    async def assignments(self) -> dict[str, dict[str, Any]]:
        listed = (await self.gpb.get("/api/courses/456/assignments", headers=ADMIN)).json()
        return {a["id"]: a for a in listed["assignments"]}


# Wide enough that a burst of two edits, each handled with a Canvas re-read, falls in one window
# even on a loaded machine; the test that watches the webhook waits for windows to close.
COALESCE_SECONDS = 5.0


async def _quiet_hooks(hooks: Hooks) -> None:
    """Waits until no notice has arrived for longer than a coalescing window, so that notices of
    earlier tests' edits are all in before a test counts its own (at most a minute)."""
    seen, quiet_since = len(hooks.received), asyncio.get_running_loop().time()
    deadline = quiet_since + 60
    while asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.2)
        now = asyncio.get_running_loop().time()
        if len(hooks.received) != seen:
            seen, quiet_since = len(hooks.received), now
        elif now - quiet_since > COALESCE_SECONDS + 1:
            return


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    hooks = Hooks()
    async with (
        run_sandbox() as sandbox,
        serve(Starlette(routes=[Route("/hook", hooks.receive, methods=["POST"])])) as hook_url,
    ):
        settings = sandbox_settings(
            sandbox,
            Path(tmp_path_factory.mktemp("gpb")),
            alert_webhook_url=f"{hook_url}/hook",
            alert_webhook_secret="whsec_" + "c2VjcmV0LWtleS1mb3ItdGVzdHM=",
            alert_coalesce_seconds=COALESCE_SECONDS,
        )
        async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
            yield Env(sandbox, client, hooks, settings)


async def test_the_first_event_checks_every_assignment_of_the_course(env: Env) -> None:
    event = await env.handled(await env.post("assignment_created"))
    assert event["status"] == "processed", event
    assignments = await env.assignments()
    assert {"123", "124", "125", "126", "127", "128", "129"} <= set(assignments)
    codes = {aid: {v["code"] for v in a["violations"]} for aid, a in assignments.items()}
    assert "NAME_TOO_LONG" in codes["123"]
    assert codes["124"] == set() and assignments["124"]["eligible"] is True
    assert codes["125"] == set()  # section dates differ per section: fine
    assert "ASSIGNMENT_UNPUBLISHED" in codes["126"]
    assert "CATEGORY_NOT_FOUND" in codes["127"]
    assert "DIFFERENTIATED" in codes["128"]
    assert assignments["129"]["sync_enabled"] is False and codes["129"] == set()
    assert assignments["123"]["assignment_group"] == "Homework"
    assert assignments["124"]["eligible"] is True


async def test_an_alert_arrives_live_and_resolves_when_the_teacher_fixes_it(env: Env) -> None:
    await env.handled(await env.post("assignment_created"))
    async with open_stream(env.gpb, "/api/courses/10000000000456/alerts/stream", ADMIN) as stream:
        await env.control.post(
            "/canvas/assignments/124", json={"name": "Homework 3.3: Quadratic Equations, Part 2"}
        )
        await env.post("assignment_updated_title_35", assignment_id="10000000000124", title="new")
        opened = await stream.next()
        assert opened.event == "alert"
        assert (opened.data["assignment_id"], opened.data["code"], opened.data["state"]) == (
            "124",
            "NAME_TOO_LONG",
            "open",
        )
        assert "remove 11" in opened.data["message"]
        assert opened.id == f"{opened.data['id']}.1"

        await env.control.post("/canvas/assignments/124", json={"name": "Homework 3.3"})
        await env.post("assignment_updated_title_35", assignment_id="10000000000124", title="fixed")
        resolved = await stream.next()
        assert (resolved.data["id"], resolved.data["state"]) == (opened.data["id"], "resolved")
        assert resolved.id == f"{opened.data['id']}.2"

    alerts = (
        await env.gpb.get("/api/courses/456/alerts", params={"state": "resolved"}, headers=ADMIN)
    ).json()["alerts"]
    assert any(a["id"] == opened.data["id"] for a in alerts)

    # a client that reconnects with Last-Event-ID gets what it missed
    async with open_stream(
        env.gpb, "/api/courses/456/alerts/stream", {**ADMIN, "Last-Event-ID": opened.id}
    ) as again:
        missed = await again.next()
        assert missed.id == resolved.id


async def test_the_webhook_gets_one_signed_notice_per_burst(env: Env) -> None:
    await _quiet_hooks(env.hooks)
    before = len(env.hooks.received)
    await env.control.post("/canvas/assignments/124", json={"name": "x" * 31})
    await env.handled(
        await env.post(
            "assignment_updated_title_35", assignment_id="10000000000124", title="burst 1"
        )
    )
    await env.control.post("/canvas/assignments/124", json={"name": "x" * 32, "points_possible": 0})
    await env.handled(
        await env.post(
            "assignment_updated_title_35", assignment_id="10000000000124", title="burst 2"
        )
    )
    for _ in range(600):
        if any(n["assignment_id"] == "124" for n in env.hooks.received[before:]):
            break
        await asyncio.sleep(0.1)
    await _quiet_hooks(env.hooks)  # a second notice of the burst would arrive by now
    new = [n for n in env.hooks.received[before:] if n["assignment_id"] == "124"]
    assert len(new) == 1, new
    codes = {a["code"]: a for a in new[0]["alerts"]}
    assert {"NAME_TOO_LONG", "POINTS_MISSING"} <= set(codes)
    assert "remove 2" in codes["NAME_TOO_LONG"]["message"]
    first = next(
        i for i in range(before, len(env.hooks.received)) if env.hooks.received[i] is new[0]
    )
    headers = env.hooks.headers[first]
    assert headers["webhook-signature"].startswith("v1,") and headers["webhook-id"].startswith(
        "gpb-notice-"
    )


async def test_ic_categories_decide_the_category_rule(env: Env) -> None:
    await env.control.post("/canvas/assignment_groups/311", json={"name": "Practice"})
    await env.handled(
        await env.post("assignment_created", assignment_id="10000000000123", title="group renamed")
    )
    event = sample("assignment_created")
    event["metadata"]["event_name"] = "assignment_group_updated"
    event["body"] = {
        "assignment_group_id": "311",
        "context_id": "456",
        "context_type": "Course",
        "name": "Practice",
        "workflow_state": "available",
    }
    response = await env.gpb.post("/events/canvas", content=env.sandbox.sign_event(event))
    await env.handled(response.json()["id"])
    codes = {v["code"] for v in (await env.assignments())["123"]["violations"]}
    assert "CATEGORY_NOT_FOUND" in codes
    await env.control.post("/canvas/assignment_groups/311", json={"name": "Homework"})
    response = await env.gpb.post(
        "/events/canvas",
        content=env.sandbox.sign_event(event | {"body": {**event["body"], "name": "Homework"}}),
    )
    await env.handled(response.json()["id"])
    assert "CATEGORY_NOT_FOUND" not in {
        v["code"] for v in (await env.assignments())["123"]["violations"]
    }


async def test_course_routes_follow_the_access_rules(env: Env) -> None:
    other, mine = new_token(), new_token()
    store = SqlStore(env.settings.database_url)
    store.start()
    try:
        await store.tokens.add(other, Role.INSTRUCTOR, ("999",), "elsewhere", None)
        await store.tokens.add(mine, Role.INSTRUCTOR, ("456",), "Ms. Rivera", None)
    finally:
        await store.close()
    for path in ("assignments", "alerts", "alerts/stream"):
        refused = await env.gpb.get(f"/api/courses/456/{path}", headers=auth(other))
        assert (refused.status_code, refused.json()["error"]["code"]) == (404, "NOT_FOUND")
        assert (await env.gpb.get(f"/api/courses/456/{path}")).status_code == 401
    assert (
        await env.gpb.get("/api/courses/456/assignments", headers=auth(mine))
    ).status_code == 200
    unknown = await env.gpb.get("/api/courses/999/assignments", headers=auth(other))
    assert (unknown.status_code, unknown.json()) == (200, {"assignments": []})
