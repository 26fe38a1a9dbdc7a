"""Fixes made in Canvas from gpb, against the sandbox's Canvas: the REST write, Canvas's Live Event
back to gpb, the alert resolved, the fix in the event log; and every way Canvas or gpb refuses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from running_gpb import ADMIN_TOKEN, SandboxedGpb, auth, new_group_with_assignment, sandboxed_gpb

from gpb.bootstrap import open_store
from gpb.cli import main as gpb_cli
from gpb.handlers.tokens import Role, new_token
from gpb.infra.sandbox.faults import FaultConfig
from gpb.infra.sandbox.state import Assignment, Override

pytestmark = pytest.mark.asyncio(loop_scope="module")
COURSE = "/api/courses/456"


class Env:
    def __init__(self, gpb: SandboxedGpb, teacher: str, stranger: str) -> None:
        self.gpb = gpb
        self.canvas = gpb.sandbox.state.canvas
        self.teacher = teacher
        self.stranger = stranger

    async def fix(
        self, assignment_id: str, token: str = ADMIN_TOKEN, **body: Any
    ) -> httpx.Response:
        return await self.gpb.client.post(
            f"{COURSE}/assignments/{assignment_id}/fixes", json=body, headers=auth(token)
        )

    async def offers(self, assignment_id: str) -> dict[str, dict[str, Any]]:
        answer = await self.gpb.get(f"{COURSE}/assignments/{assignment_id}/fixes")
        assert answer.status_code == 200, answer.text
        return {o["code"]: o for o in answer.json()["fixes"]}

    async def codes(self, assignment_id: str) -> set[str]:
        listed = (await self.gpb.get(f"{COURSE}/assignments")).json()["assignments"]
        (found,) = [a for a in listed if a["id"] == assignment_id]
        return {v["code"] for v in found["violations"]}

    async def open_alert(self, assignment_id: str, code: str) -> bool:
        alerts = (await self.gpb.get(f"{COURSE}/alerts", state="open")).json()["alerts"]
        return any(a["assignment_id"] == assignment_id and a["code"] == code for a in alerts)

    async def until(self, check: Any, within: float = 30.0) -> None:
        deadline = asyncio.get_running_loop().time() + within
        while not await check():
            assert asyncio.get_running_loop().time() < deadline, "timed out"
            await asyncio.sleep(0.05)

    async def resolved(self, assignment_id: str, code: str) -> None:
        async def gone() -> bool:
            return not await self.open_alert(assignment_id, code)

        await self.until(gone)

    async def changed_in_canvas(self, assignment_id: str) -> None:
        """Canvas changed outside gpb: its Live Event tells gpb (as `gpb sandbox post` would)."""
        event = await self.gpb.post(
            "assignment_updated_title_35", assignment_id=f"1000000000{assignment_id:0>4}"
        )
        await self.gpb.handled(event)

    def change(self, assignment_id: str, fields: dict[str, Any]) -> None:
        """Changes an assignment in the sandbox's Canvas as a teacher would, validated."""
        current = self.canvas.assignments[assignment_id]
        data = current.model_dump(exclude_unset=True) | fields
        self.canvas.assignments[assignment_id] = Assignment.model_validate(data)

    def deliveries(self, name: str) -> list[dict[str, Any]]:
        return [d for d in self.gpb.sandbox.state.live_events.deliveries if d["event_name"] == name]

    async def fix_event(self, event_id: str) -> dict[str, Any]:
        event: dict[str, Any] = (await self.gpb.get(f"/api/events/{event_id}")).json()
        return event


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    tmp = tmp_path_factory.mktemp("fixes")
    async with sandboxed_gpb(tmp, time_zone="America/Chicago") as gpb:
        gpb.sandbox.state.live_events.url = str(gpb.client.base_url).rstrip("/") + "/events/canvas"
        teacher, stranger = new_token(), new_token()
        await _tokens(
            gpb, (teacher, ("456",), "Ms. Rivera", "789"), (stranger, ("999",), "elsewhere", "790")
        )
        await gpb.handled(await gpb.post("assignment_created"))
        yield Env(gpb, teacher, stranger)


async def _tokens(gpb: SandboxedGpb, *tokens: tuple[str, tuple[str, ...], str, str | None]) -> None:
    """Instructor tokens: (token, courses, name, Canvas user id)."""
    store = open_store(gpb.settings)
    store.start()
    try:
        for token, courses, name, canvas_user in tokens:
            await store.tokens.add(token, Role.INSTRUCTOR, courses, name, None, canvas_user)
    finally:
        await store.close()


async def test_a_long_title_is_renamed_in_canvas_and_the_alert_resolves(env: Env) -> None:
    offers = await env.offers("123")
    offer = offers["NAME_TOO_LONG"]
    assert offer["title"] == {
        "suggestion": "HW 3.2: Linear Equations Rev2",
        "length": 29,
        "limit": 30,
        "cut_mid_word": False,
    }
    answer = await env.fix(
        "123", env.teacher, code="NAME_TOO_LONG", title=offer["title"]["suggestion"]
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["applied"] and result["before"] == {
        "title": "Homework 3.2: Linear Equations Rev2"
    }
    assert env.canvas.assignments["123"].name == "HW 3.2: Linear Equations Rev2"
    # Canvas sent its Live Event to gpb, signed, and gpb took it.
    assert [d["status"] for d in env.deliveries("assignment_updated")][-1] == 202
    await env.resolved("123", "NAME_TOO_LONG")
    logged = await env.fix_event(result["event_id"])
    assert logged["event_name"] == "gpb_fix"
    body = logged["payload"]["body"]
    assert body["who"] == "Ms. Rivera" and body["outcome"] == "applied"
    assert body["before"] == {"title": "Homework 3.2: Linear Equations Rev2"}
    assert body["after"] == {"title": "HW 3.2: Linear Equations Rev2"}
    # Fixed already: a second click is refused before Canvas is asked.
    again = await env.fix("123", code="NAME_TOO_LONG", title="HW 3.2")
    assert again.status_code == 409 and again.json()["error"]["code"] == "FIX_NOT_NEEDED"


async def test_a_title_over_the_limit_is_refused_before_canvas_is_asked(env: Env) -> None:
    env.change("124", {"name": "Homework 3.3: Slope and the Slope-Intercept Form"})
    await env.changed_in_canvas("124")
    assert "NAME_TOO_LONG" in await env.codes("124")
    sent = len(env.deliveries("assignment_updated"))
    answer = await env.fix("124", code="NAME_TOO_LONG", title="x" * 31)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "INVALID_FIX"
    assert len(env.deliveries("assignment_updated")) == sent
    suggestion = (await env.offers("124"))["NAME_TOO_LONG"]["title"]["suggestion"]
    assert suggestion == "HW 3.3: Slope Slope-Intercept"
    assert (await env.fix("124", code="NAME_TOO_LONG", title=suggestion)).status_code == 200
    await env.resolved("124", "NAME_TOO_LONG")


async def test_an_assignment_changed_meanwhile_is_left_alone(env: Env) -> None:
    env.change("128", {"name": "Homework 3.4: Graphing Linear Functions"})
    await env.changed_in_canvas("128")
    # Someone renames it in Canvas again; gpb has not heard yet.
    env.change("128", {"name": "Homework 3.4: Graphing Linear Functions!"})
    answer = await env.fix("128", code="NAME_TOO_LONG", title="HW 3.4: Graphing")
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"]["code"] == "CANVAS_CHANGED"
    assert env.canvas.assignments["128"].name == "Homework 3.4: Graphing Linear Functions!"


async def test_an_unpublished_assignment_is_published(env: Env) -> None:
    assert "ASSIGNMENT_UNPUBLISHED" in await env.codes("126")
    answer = await env.fix("126", env.teacher, code="ASSIGNMENT_UNPUBLISHED")
    assert answer.status_code == 200, answer.text
    assert env.canvas.assignments["126"].published
    await env.resolved("126", "ASSIGNMENT_UNPUBLISHED")


async def test_a_due_date_is_set_in_the_district_zone_and_canvas_refusals_are_told(
    env: Env,
) -> None:
    env.change("127", {"due_at": None, "lock_at": None, "unlock_at": "2026-10-26T05:00:00Z"})
    await env.changed_in_canvas("127")
    assert "DUE_DATE_MISSING" in await env.codes("127")
    # Canvas refuses a due date before the assignment opens, in its own words.
    refused = await env.fix("127", code="DUE_DATE_MISSING", due_at="2026-10-01T23:59")
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "CANVAS_REFUSED"
    assert "must be between availability dates" in error["message"]
    assert env.canvas.assignments["127"].due_at is None
    assert refused.json()["fix"]["outcome"] == "refused"
    assert await env.open_alert("127", "DUE_DATE_MISSING")
    # A date typed without a zone is the district's: 23:59 in Chicago is 04:59 UTC next day.
    answer = await env.fix("127", code="DUE_DATE_MISSING", due_at="2026-11-05T23:59")
    assert answer.status_code == 200, answer.text
    due = env.canvas.assignments["127"].due_at
    assert due is not None and due.isoformat() == "2026-11-06T05:59:00+00:00"
    await env.resolved("127", "DUE_DATE_MISSING")


async def test_a_section_without_a_date_gets_one_in_its_override(env: Env) -> None:
    current = env.canvas.assignments["125"]
    overrides = [current.overrides[0], Override(id="47", course_section_id="8", due_at=None)]
    env.change("125", {"overrides": overrides})
    await env.changed_in_canvas("125")
    offer = (await env.offers("125"))["DUE_DATE_MISSING"]
    assert offer["sections_without_date"] == [{"id": "8", "name": "Algebra I - Period 2"}]
    answer = await env.fix(
        "125", code="DUE_DATE_MISSING", due_at="2026-10-29T13:00:00-05:00", section_ids=["8"]
    )
    assert answer.status_code == 200, answer.text
    (override,) = [o for o in env.canvas.assignments["125"].overrides if o.id == "47"]
    assert (
        override.due_at is not None and override.due_at.isoformat() == "2026-10-29T18:00:00+00:00"
    )
    assert env.deliveries("assignment_override_updated")[-1]["status"] == 202
    await env.resolved("125", "DUE_DATE_MISSING")


async def test_one_of_two_twins_is_renamed(env: Env) -> None:
    twin = env.canvas.assignments["126"].name
    env.change("129", {"name": twin, "post_to_sis": True})
    await env.changed_in_canvas("129")
    assert "NAME_NOT_UNIQUE" in await env.codes("129")
    suggestion = (await env.offers("129"))["NAME_NOT_UNIQUE"]["title"]["suggestion"]
    assert suggestion == f"{twin} 2"
    refused = await env.fix("129", code="NAME_NOT_UNIQUE", title=twin)
    assert refused.status_code == 400
    answer = await env.fix("129", code="NAME_NOT_UNIQUE", title=suggestion)
    assert answer.status_code == 200, answer.text
    await env.resolved("129", "NAME_NOT_UNIQUE")
    await env.resolved("126", "NAME_NOT_UNIQUE")


async def test_the_assistant_ranks_categories_and_renames_or_moves(env: Env) -> None:
    canvas = env.canvas
    await new_group_with_assignment(env.gpb, "314", "Quizes", 4, "130", "Quiz 1")
    offer = (await env.offers("130"))["CATEGORY_NOT_FOUND"]
    assert offer["candidates"][0]["title"] == "Quizzes"
    assert offer["candidates"][0]["close"]
    assert offer["group_assignments"] == ["Quiz 1"]
    # A name another group has is refused: moving is the fix then.
    taken = await env.fix(
        "130", code="CATEGORY_NOT_FOUND", action="rename_group", group_name="tests"
    )
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "GROUP_NAME_TAKEN"
    answer = await env.fix(
        "130", code="CATEGORY_NOT_FOUND", action="rename_group", group_name="Quizzes"
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["after"] == {"group": "Quizzes", "assignments_moved": ["Quiz 1"]}
    assert canvas.assignment_groups["314"].name == "Quizzes"
    assert env.deliveries("assignment_group_updated")[-1]["status"] == 202
    await env.resolved("130", "CATEGORY_NOT_FOUND")
    # Moving: 127 sits in "Extra Practice", which no IC class has.
    assert "CATEGORY_NOT_FOUND" in await env.codes("127")
    moved = await env.fix("127", code="CATEGORY_NOT_FOUND", action="move", group_id="311")
    assert moved.status_code == 200, moved.text
    assert canvas.assignments["127"].assignment_group_id == "311"
    await env.resolved("127", "CATEGORY_NOT_FOUND")
    view = (await env.gpb.get(f"{COURSE}/categories")).json()["groups"]
    by_name = {g["name"]: g for g in view}
    assert by_name["Quizzes"]["aligned"] and by_name["Homework"]["aligned"]
    assert not by_name["Extra Practice"]["aligned"]


async def test_problems_without_an_automatic_fix_say_why(env: Env) -> None:
    offer = (await env.offers("128"))["DIFFERENTIATED"]
    assert not offer["automatic"] and "some students" in offer["explanation"]
    answer = await env.fix("128", code="DIFFERENTIATED")
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "NO_AUTOMATIC_FIX"


async def test_a_teacher_of_another_course_cannot_fix(env: Env) -> None:
    answer = await env.fix("123", env.stranger, code="NAME_TOO_LONG", title="HW")
    assert answer.status_code == 404
    listed = await env.gpb.client.get(f"{COURSE}/assignments/123/fixes", headers=auth(env.stranger))
    assert listed.status_code == 404


async def test_an_ambiguous_failure_is_reported_and_never_retried(env: Env) -> None:
    canvas = env.canvas
    canvas.assignments["131"] = Assignment(
        id="131",
        course_id="456",
        name="Unit 5 Test",
        assignment_group_id="312",
        post_to_sis=True,
        workflow_state="unpublished",
        due_at="2026-12-10T18:00:00Z",
        points_possible=50.0,
    )
    await env.gpb.handled(await env.gpb.post("assignment_created", assignment_id="10000000000131"))
    before = len(env.deliveries("assignment_updated"))
    env.gpb.sandbox.state.canvas_faults.configure(
        FaultConfig(script=["error_after_apply"], methods=["PUT"])
    )
    try:
        answer = await env.fix("131", code="ASSIGNMENT_UNPUBLISHED")
    finally:
        env.gpb.sandbox.state.canvas_faults.configure(FaultConfig())
    assert answer.status_code == 502, answer.text
    assert "may or may not" in answer.json()["error"]["message"]
    # Sent once: Canvas made the change once, and said so once.
    assert len(env.deliveries("assignment_updated")) == before + 1
    await env.resolved("131", "ASSIGNMENT_UNPUBLISHED")


async def test_acting_as_the_teacher(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with sandboxed_gpb(tmp_path, canvas_act_as_user=True) as gpb:
        outbox = gpb.sandbox.state.live_events
        outbox.url = str(gpb.client.base_url).rstrip("/") + "/events/canvas"
        # The teacher's token names their Canvas user (a global id is taken too).
        monkeypatch.setenv("GPB_DATABASE_URL", gpb.settings.database_url)
        argv = ["token", "create", "--role", "instructor", "--course", "456"]
        code = await asyncio.to_thread(
            gpb_cli, [*argv, "--name", "Ms. Rivera", "--canvas-user", "10000000000789"]
        )
        assert code == 0
        teacher = capsys.readouterr().out.strip()
        assert await asyncio.to_thread(gpb_cli, [*argv, "--canvas-user", "nobody"]) == 2
        nameless = new_token()
        await _tokens(gpb, (nameless, ("456",), "no user", None))
        await gpb.handled(await gpb.post("assignment_created"))
        path = f"{COURSE}/assignments/126/fixes"
        body = {"code": "ASSIGNMENT_UNPUBLISHED"}
        unnamed = await gpb.client.post(path, json=body, headers=auth(nameless))
        assert unnamed.status_code == 403
        assert unnamed.json()["error"]["code"] == "ACT_AS_UNAVAILABLE"
        # Without "Become other users", Canvas refuses the masquerade.
        outbox.may_masquerade = False
        refused = await gpb.client.post(path, json=body, headers=auth(teacher))
        assert refused.status_code == 422, refused.text
        assert "Invalid as_user_id" in refused.json()["error"]["message"]
        assert not gpb.sandbox.state.canvas.assignments["126"].published
        outbox.may_masquerade = True
        answer = await gpb.client.post(path, json=body, headers=auth(teacher))
        assert answer.status_code == 200, answer.text
        logged = (await gpb.get(f"/api/events/{answer.json()['event_id']}")).json()
        assert logged["payload"]["body"]["as_user_id"] == "789"
        # Canvas's own event names the teacher, and gpb's token user as the real one.
        events = (await gpb.get("/api/events", event_name="assignment_updated")).json()["events"]
        latest = (await gpb.get(f"/api/events/{events[0]['id']}")).json()
        assert latest["payload"]["metadata"]["user_id"] == "10000000000789"
        assert latest["payload"]["metadata"]["real_user_id"] == "10000000000001"


async def test_a_change_canvas_ignores_is_not_taken_for_done(env: Env) -> None:
    """Canvas ignores an assignment_group_id it does not know, and answers 200 all the same."""
    canvas = env.canvas
    await new_group_with_assignment(env.gpb, "315", "Odds", 5, "132", "Odds 1")
    assert "CATEGORY_NOT_FOUND" in await env.codes("132")
    # The Tests group goes away in Canvas; gpb has not heard yet.
    canvas.assignment_groups["312"] = canvas.assignment_groups["312"].model_copy(
        update={"workflow_state": "deleted"}
    )
    try:
        answer = await env.fix("132", code="CATEGORY_NOT_FOUND", action="move", group_id="312")
    finally:
        canvas.assignment_groups["312"] = canvas.assignment_groups["312"].model_copy(
            update={"workflow_state": "available"}
        )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["message"] == (
        "Canvas answered, but the assignment stayed in its group"
    )
    assert canvas.assignments["132"].assignment_group_id == "315"
    assert await env.open_alert("132", "CATEGORY_NOT_FOUND")
