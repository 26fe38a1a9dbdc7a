"""A gpb under test: its settings, and a client that speaks its API."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from canvas_events import sample, sign
from databases import database_url
from joserfc.jwk import RSAKey

from gpb.bootstrap import create_app
from gpb.handlers.ports import Sis
from gpb.infra.sandbox.faults import FaultConfig, Faults
from gpb.infra.sandbox.server import RunningSandbox, run_sandbox
from gpb.infra.sandbox.server import serve_on_loopback as serve
from gpb.infra.sandbox.settings import ROOT_ACCOUNT_ID
from gpb.infra.sandbox.state import Assignment, AssignmentGroup
from gpb.infra.settings import Settings

ADMIN_TOKEN = "admin-bootstrap-secret-token-for-the-tests"


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


async def drained(client: httpx.AsyncClient, within: float = 120.0) -> None:
    """Waits until the worker has handled every stored event: none waits for its handler or for
    a retry (`client` reaches gpb; the admin token is sent)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        waiting = []
        for status in ("accepted", "failed"):
            answer = await client.get(
                "/api/events", params={"status": status, "limit": 500}, headers=auth(ADMIN_TOKEN)
            )
            assert answer.status_code == 200, answer.text
            waiting += [
                e
                for e in answer.json()["events"]
                if e.get("next_attempt_at") or status == "accepted"
            ]
        if not waiting:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"events still waiting: {waiting[:5]}")
        await asyncio.sleep(0.05)


def gpb_settings(tmp: Path, jwks_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url(tmp),
        "canvas_jwks_url": jwks_url,
        "canvas_root_account_id": ROOT_ACCOUNT_ID,
        # Every unknown kid fetches the keys again, so its answer does not hang on how long ago
        # gpb started (within the interval it would be 503, tested on its own).
        "jwks_min_refetch_seconds": 0,
        # The tests send many refusals from one address and look each one up in the log; the
        # per-address bounds are tested on their own.
        "refusals_logged_per_minute": 1_000_000,
        "auth_failures_per_minute": 1_000_000,
        "admin_token": ADMIN_TOKEN,
        "max_event_bytes": 64 * 1024,
        "handler_retry_base_seconds": 0.05,
        # The tests' gpb must not warn of the test machine's own disk.
        "disk_min_free_percent": 0,
        "disk_min_free_mb": 0,
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

    async def drained(self) -> None:
        await drained(self.client)

    async def post_json(self, path: str, body: Any) -> httpx.Response:
        return await self.client.post(path, json=body, headers=auth(ADMIN_TOKEN))


# -- grading in the sandbox and running syncs ------------------------------------------------


def grade_event(
    assignment_id: str, user_id: str, score: float | None, **extra: Any
) -> dict[str, Any]:
    event = sample("grade_change_8_to_9_5")
    event["body"].update(
        assignment_id=f"1000000000{assignment_id:0>4}",
        student_id=f"1000000000{user_id:0>4}",
        user_id=f"1000000000{user_id:0>4}",
        score=score,
        grade=None if score is None else str(score),
        **extra,
    )
    return event


async def graded_in_canvas(
    env: SandboxedGpb, grades: Iterable[tuple[str, str, dict[str, Any]]]
) -> None:
    """The teacher grades in Canvas: the sandbox holds each (assignment, student, submission
    fields); no event is posted."""
    async with env_client(env) as sandbox:
        for assignment_id, user_id, body in grades:
            control = f"/_sandbox/canvas/submissions/{assignment_id}/{user_id}"
            answer = await sandbox.post(control, json=body)
            assert answer.status_code == 200, answer.text


async def grade(
    env: SandboxedGpb, assignment_id: str, user_id: str, score: float | None, at: str, **extra: Any
) -> None:
    """The teacher grades in Canvas: the sandbox holds the grade, and the event is posted."""
    body: dict[str, Any] = {"score": score} if score is not None else {"score": None}
    body.update({k: v for k, v in extra.items() if k in ("excused",)})
    await graded_in_canvas(env, [(assignment_id, user_id, body)])
    event = grade_event(assignment_id, user_id, score)
    event["metadata"]["event_time"] = at
    await env.handled(await env.post_event(event))


async def new_group_with_assignment(
    env: SandboxedGpb, group_id: str, group_name: str, position: int, assignment_id: str, title: str
) -> None:
    """A new assignment group in the seed course holding one syncing assignment; gpb handles the
    group's event, then the assignment's (so its rules are checked against the group)."""
    course_id = "456"
    canvas = env.sandbox.state.canvas
    canvas.assignment_groups[group_id] = AssignmentGroup(
        id=group_id, course_id=course_id, name=group_name, position=position
    )
    canvas.assignments[assignment_id] = Assignment(
        id=assignment_id,
        course_id=course_id,
        name=title,
        assignment_group_id=group_id,
        post_to_sis=True,
        due_at="2026-11-10T18:00:00Z",
        points_possible=10.0,
    )
    group_event = sample("assignment_created")
    group_event["metadata"]["event_name"] = "assignment_group_created"
    group_event["body"] = {
        "assignment_group_id": group_id,
        "context_id": course_id,
        "name": group_name,
    }
    await env.handled(await env.post_event(group_event))
    await env.handled(
        await env.post("assignment_created", assignment_id=f"1000000000{assignment_id:0>4}")
    )


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


async def log_in(client: httpx.AsyncClient, token: str, next_path: str = "/") -> httpx.Response:
    """Logs a browser-like client (its own cookie jar) in to gpb's pages with `token`."""
    form = await client.get("/login", params={"next": next_path})
    return await client.post(
        "/login", data={"csrf_token": csrf_of(form.text), "token": token, "next": next_path}
    )


def env_client(env: SandboxedGpb) -> httpx.AsyncClient:
    """A client of the sandbox (its control API under /_sandbox)."""
    return httpx.AsyncClient(base_url=env.sandbox.base_url)


RUN_GOING = ("queued", "running")  # a run's statuses before it ends


async def finished(env: SandboxedGpb, sync_id: str, within: float = 30.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        run: dict[str, Any] = (await env.get(f"/api/syncs/{sync_id}")).json()
        if run["status"] not in RUN_GOING:
            return run
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {sync_id} did not finish")


async def start(env: SandboxedGpb, within: float = 30.0, **body: Any) -> dict[str, Any]:
    """Starts a run of course 456 and returns it finished."""
    response = await env.post_json("/api/courses/456/syncs", body)
    assert response.status_code == 202, response.text
    return await finished(env, response.json()["id"], within)


async def resumed_to_the_end(env: SandboxedGpb, sync_id: str) -> dict[str, Any]:
    """The run, resumed until it is no longer interrupted: on a busy machine a short time budget
    can run out again in a resumption, which then skips what IC confirmed before."""
    run = await finished(env, sync_id)
    for _ in range(50):
        if run["status"] != "interrupted":
            return run
        answer = await env.client.post(f"/api/syncs/{sync_id}/resume", headers=auth(ADMIN_TOKEN))
        assert answer.status_code == 202, answer.text
        run = await finished(env, sync_id)
    raise AssertionError(f"run {sync_id} was still interrupted after 50 resumptions")


# IC holds every write until the test switches faults again: a run stays under way, however fast
# or slow the machine, while the test looks at it.
HOLD_WRITES = FaultConfig(hold=True, methods=["PUT", "DELETE"])


async def until_held(faults: Faults, within: float = 30.0) -> None:
    """Returns once a request waits at the stand-in's hold: the client has got that far."""
    deadline = asyncio.get_running_loop().time() + within
    while faults.held == 0:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("no request reached the hold")
        await asyncio.sleep(0.02)


def ic_results(env: SandboxedGpb) -> dict[str, dict[str, Any]]:
    return dict(env.sandbox.state.ic.results)


def applied_result_puts(sandbox: RunningSandbox) -> Counter[str]:
    """How many times IC applied a PUT of each result (and its answer may have been lost)."""
    return Counter(
        w.sourced_id
        for w in sandbox.state.ic.writes
        if w.kind == "result" and w.method == "PUT" and w.applied
    )


def result_puts(env: SandboxedGpb) -> Counter[str]:
    return Counter(
        w.sourced_id
        for w in env.sandbox.state.ic.writes
        if w.kind == "result" and w.method == "PUT"
    )


def sandbox_settings(
    sandbox: RunningSandbox, tmp: Path, *, lti: bool = False, **overrides: Any
) -> Settings:
    """gpb's settings pointed at the sandbox's Canvas, IC and JWKS (with `lti`, at its LTI
    platform too), `overrides` on top."""
    variables = sandbox.gpb_environment() | (sandbox.lti_environment() if lti else {})
    environment = {k.removeprefix("GPB_").lower(): v for k, v in variables.items()}
    return gpb_settings(tmp, environment.pop("canvas_jwks_url"), **(environment | overrides))


@asynccontextmanager
async def sandboxed_gpb(
    tmp: Path, *, lti: bool = False, sis: Sis | None = None, **overrides: Any
) -> AsyncIterator[SandboxedGpb]:
    """gpb on the sandbox; with `lti`, also a tool of the sandbox's platform (launch from its
    Canvas pages); with `sis`, on that SIS instead of the sandbox's IC."""
    async with run_sandbox() as sandbox:
        settings = sandbox_settings(sandbox, tmp, lti=lti, **overrides)
        app = create_app(settings, sis=sis)
        async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
            sandbox.platform.tool_url = url
            yield SandboxedGpb(sandbox, settings, client)


T = TypeVar("T")


class LoopThread:
    """An event loop in a thread of its own, for tests that are not async themselves (hypothesis,
    schemathesis): their blocking calls would stall a server running in the test's own loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="gpb-test-loop")
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)
        self.loop.close()


@contextmanager
def sandboxed_gpb_in_thread(tmp: Path, **overrides: Any) -> Iterator[SandboxedGpb]:
    """`sandboxed_gpb` served from a LoopThread, for blocking clients of its URL
    (`env.client.base_url`); `env.client` itself belongs to that thread's loop."""
    thread = LoopThread()
    running = sandboxed_gpb(tmp, **overrides)
    try:
        yield thread.run(running.__aenter__())
    finally:
        thread.run(running.__aexit__(None, None, None))
        thread.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class GpbProcess:
    """`gpb serve` as a real process (uvicorn), on one database and port across restarts; its
    output is kept in `folder/gpb.log`. Started in `folder`, so no developer's .env is read."""

    def __init__(self, folder: Path, environment: dict[str, str]) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "gpb.log"
        self.environment = {
            "GPB_DATABASE_URL": database_url(folder),
            # Stable across restarts, as a deployment's should be: a restarted gpb ends the claims
            # its killed self left, rather than waiting for them to run out.
            "GPB_REPLICA_NAME": f"gpb-{folder.name}",
            "GPB_ADMIN_TOKEN": ADMIN_TOKEN,
            "GPB_CANVAS_ROOT_ACCOUNT_ID": ROOT_ACCOUNT_ID,
            "GPB_REFUSALS_LOGGED_PER_MINUTE": "1000000",
            "GPB_AUTH_FAILURES_PER_MINUTE": "1000000",
            **environment,
        }
        self._child: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        assert self._child is not None
        return self._child.pid

    async def start(self, within: float = 60.0) -> None:
        """Starts gpb and returns once it answers /healthz."""
        with self.log.open("ab") as log:
            self._child = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "gpb", "serve", "--port", str(self.port)),
                cwd=self.folder,
                env=os.environ | self.environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = asyncio.get_running_loop().time() + within
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as client:
            while True:
                if self._child.returncode is not None:
                    raise AssertionError(
                        f"gpb exited with {self._child.returncode}; see {self.log}"
                    )
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"gpb did not start; see {self.log}")
                await asyncio.sleep(0.05)

    async def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, nothing of gpb's own gets to run."""
        await self._stop(signal.SIGKILL)

    async def stop(self) -> None:
        await self._stop(signal.SIGTERM)

    async def _stop(self, how: signal.Signals) -> None:
        if self._child is not None and self._child.returncode is None:
            self._child.send_signal(how)
            await asyncio.wait_for(self._child.wait(), 30)
        self._child = None
