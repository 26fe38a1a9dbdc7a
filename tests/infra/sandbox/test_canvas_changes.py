"""The sandbox's Canvas changed as a teacher would, through `gpb sandbox canvas ...`: each change
lands in Canvas's state and sends the signed Live Event real Canvas would, or is refused in
Canvas's words."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
import pytest_asyncio
from joserfc import jws
from joserfc.jwk import KeySet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gpb.cli import build_parser
from gpb.infra.sandbox import canvas_cli
from gpb.infra.sandbox.keys import public_jwks
from gpb.infra.sandbox.server import RunningSandbox, run_sandbox, serve_on_loopback

pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass
class Gpb:
    """Stands in for gpb's event endpoint: verifies each event against the sandbox's JWKS."""

    keys: KeySet
    received: list[dict[str, Any]] = field(default_factory=list)

    async def receive(self, request: Request) -> Response:
        token = (await request.body()).decode()
        self.received.append(json.loads(jws.deserialize_compact(token, self.keys).payload))
        return JSONResponse({"id": str(len(self.received)), "duplicate": False}, 202)


@dataclass
class World:
    sandbox: RunningSandbox
    gpb: Gpb

    capsys: pytest.CaptureFixture[str] | None = None
    new: list[dict[str, Any]] = field(default_factory=list)

    async def run(self, *argv: str) -> tuple[int, str, str]:
        """`gpb sandbox canvas ARGV`; returns its exit code, output and error output."""
        assert self.capsys is not None
        args = build_parser().parse_args(
            ["sandbox", "canvas", "--sandbox", self.sandbox.base_url, *argv]
        )
        before = len(self.gpb.received)
        self.capsys.readouterr()
        code = await asyncio.to_thread(canvas_cli.run, args)
        self.new = self.gpb.received[before:]
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def world() -> AsyncIterator[World]:
    async with run_sandbox() as sandbox:
        gpb = Gpb(KeySet.import_key_set(public_jwks(sandbox.settings.signing_key)))
        app = Starlette(routes=[Route("/events/canvas", gpb.receive, methods=["POST"])])
        async with serve_on_loopback(app) as url:
            sandbox.state.live_events.url = url + "/events/canvas"
            yield World(sandbox, gpb)


@pytest.fixture(autouse=True)
def output(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.capsys = capsys


async def test_rename(world: World) -> None:
    code, out, _ = await world.run("rename", "123", "HW 3.2: Linear Equations")
    assert code == 0
    assert world.sandbox.state.canvas.assignments["123"].name == "HW 3.2: Linear Equations"
    (event,) = world.new
    assert event["metadata"]["event_name"] == "assignment_updated"
    assert event["metadata"]["context_id"] == "10000000000456"
    assert event["body"]["assignment_id"] == "10000000000123"
    assert event["body"]["title"] == "HW 3.2: Linear Equations"
    assert "assignment_updated -> " in out and "gpb answered 202" in out


async def test_publish(world: World) -> None:
    code, _, _ = await world.run("publish", "126")
    assert code == 0 and world.sandbox.state.canvas.assignments["126"].published
    assert world.new[0]["body"]["workflow_state"] == "published"


async def test_due_for_everyone_or_a_section(world: World) -> None:
    code, _, _ = await world.run("due", "124", "2026-10-22T23:59:00-05:00")
    assert code == 0
    due = world.sandbox.state.canvas.assignments["124"].due_at
    assert due is not None and due.isoformat() == "2026-10-23T04:59:00+00:00"
    assert world.new[0]["body"]["due_at"] == "2026-10-23T04:59:00Z"
    # Section 8 of 125 has an override: it is changed. Section 7 of 124 has none: one is made.
    code, _, _ = await world.run("due", "125", "2026-10-30T18:00:00Z", "--section", "8")
    assert code == 0
    (event,) = world.new
    assert event["metadata"]["event_name"] == "assignment_override_updated"
    assert (event["body"]["assignment_override_id"], event["body"]["course_section_id"]) == (
        "47",
        "8",
    )
    code, _, _ = await world.run("due", "124", "2026-10-21T23:59:00Z", "--section", "7")
    assert code == 0
    assert world.new[0]["metadata"]["event_name"] == "assignment_override_created"
    overrides = world.sandbox.state.canvas.assignments["124"].overrides
    assert [(o.course_section_id, o.due_at) for o in overrides] == [
        ("7", overrides[0].due_at)
    ] and overrides[0].due_at is not None


async def test_a_due_date_outside_the_availability_dates_is_refused(world: World) -> None:
    before = world.sandbox.state.canvas.assignments["123"].due_at
    code, _, err = await world.run("due", "123", "2026-12-01T12:00:00Z")
    assert code == 1
    assert "must be between availability dates" in err
    assert world.new == []
    assert world.sandbox.state.canvas.assignments["123"].due_at == before


async def test_group(world: World) -> None:
    code, _, _ = await world.run("group", "127", "311")
    assert code == 0
    assert world.sandbox.state.canvas.assignments["127"].assignment_group_id == "311"
    assert world.new[0]["body"]["assignment_group_id"] == "10000000000311"


async def test_grade_and_excuse(world: World) -> None:
    code, out, _ = await world.run("grade", "124", "1201", "8.5")
    assert code == 0 and "8.5" in out
    names = [e["metadata"]["event_name"] for e in world.new]
    assert names == ["submission_updated", "grade_change"]
    change = world.new[1]["body"]
    assert (change["score"], change["student_id"], change["student_sis_id"]) == (
        8.5,
        "10000000001201",
        world.sandbox.state.canvas.users["1201"].sis_user_id,
    )
    code, _, _ = await world.run("excuse", "124", "1202")
    assert code == 0
    assert world.sandbox.state.canvas.submissions[("124", "1202")].excused
    excused = world.new[1]["body"]
    assert (excused["score"], excused["grade"], excused["grading_complete"]) == (None, None, True)


async def test_post_grades(world: World) -> None:
    canvas = world.sandbox.state.canvas
    await world.run("grade", "128", "1204", "7")
    canvas.submissions[("128", "1204")] = canvas.submissions[("128", "1204")].model_copy(
        update={"posted_at": None}
    )
    code, out, _ = await world.run("post-grades", "128")
    assert code == 0 and "Posted 1 hidden grade" in out
    (event,) = world.new
    assert event["metadata"]["event_name"] == "submission_updated"
    assert event["body"]["posted_at"] is not None


async def test_enroll(world: World) -> None:
    code, out, _ = await world.run("enroll", "8", "--name", "Jo Newcomer", "--sis-id", "S-200001")
    assert code == 0
    (event,) = world.new
    assert event["metadata"]["event_name"] == "enrollment_created"
    assert event["body"]["user_name"] == "Jo Newcomer"
    assert event["body"]["course_section_id"] == "10000000000008"
    user_id = event["body"]["user_id"].removeprefix("1000000000").lstrip("0")
    assert user_id in world.sandbox.state.canvas.students_of_section("8")
    code, _, _ = await world.run("enroll", "7", "--user", "1213")
    assert code == 0
    assert "1213" in world.sandbox.state.canvas.students_of_section("7")


async def test_masquerading_needs_the_permission(world: World) -> None:
    import httpx

    outbox = world.sandbox.state.live_events
    headers = {"Authorization": f"Bearer {world.sandbox.settings.canvas_token}"}
    url = world.sandbox.canvas_url + "/courses/456/assignments/124"
    async with httpx.AsyncClient(headers=headers) as client:
        outbox.may_masquerade = False
        refused = await client.put(url, data={"assignment[name]": "x", "as_user_id": "789"})
        assert (refused.status_code, refused.json()) == (401, {"errors": "Invalid as_user_id"})
        outbox.may_masquerade = True
        student = await client.put(url, data={"assignment[name]": "x", "as_user_id": "1201"})
        assert student.status_code == 401
        assert (
            student.json()["errors"][0]["message"] == "user not authorized to perform that action"
        )
        teacher = await client.put(url, data={"assignment[name]": "Slope", "as_user_id": "789"})
        assert teacher.status_code == 200
    (event,) = [e for e in world.gpb.received if e["body"].get("title") == "Slope"]
    assert event["metadata"]["user_id"] == "10000000000789"
    assert event["metadata"]["real_user_id"] == "10000000000001"


async def test_an_unreachable_sandbox_says_where_it_looked(world: World) -> None:
    world.sandbox = replace(world.sandbox, base_url="http://127.0.0.1:9")
    code, _, err = await world.run("publish", "126")
    assert code == 1 and "is `gpb sandbox` running?" in err
