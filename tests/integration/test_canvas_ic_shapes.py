"""Canvas's and IC's real shapes end to end: what the rules read and what a sync sends.

The sandbox answers as Canvas and IC do (course-level overrides, module-restricted assignments,
checkpoints, grading periods); gpb reads them through its real clients, and its store (SQLite, or
PostgreSQL with GPB_TEST_POSTGRES) keeps what the pages and the runs use.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from running_gpb import ADMIN_TOKEN, SandboxedGpb, auth, finished, grade, sandboxed_gpb

from gpb.infra.sandbox.state import Checkpoint, Override


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[SandboxedGpb]:
    async with sandboxed_gpb(tmp_path, time_zone="America/Chicago") as env:
        yield env


async def codes_after_a_read(env: SandboxedGpb) -> dict[str, set[str]]:
    await env.handled(await env.post("assignment_created", assignment_id="10000000000124"))
    listed: dict[str, Any] = (await env.get("/api/courses/456/assignments")).json()
    return {a["id"]: {v["code"] for v in a["violations"]} for a in listed["assignments"]}


async def test_rules_read_canvas_as_it_answers(env: SandboxedGpb) -> None:
    canvas = env.sandbox.state.canvas
    canvas.courses["456"].workflow_state = "completed"  # concluded: teachers finish grades
    everyone = canvas.assignments["126"]  # "Everyone" through a course-level override
    everyone.workflow_state = "published"
    everyone.only_visible_to_overrides = True
    everyone.overrides = [Override(id="60", course_id="456", due_at=everyone.due_at)]
    everyone.due_at = None
    discussion = canvas.assignments["124"]  # a graded discussion with checkpoints
    discussion.due_at = None
    discussion.checkpoints = [
        Checkpoint(tag="reply_to_topic", name="Reply", due_at=datetime(2026, 10, 20, tzinfo=UTC)),
        Checkpoint(tag="reply_to_entry", name="Replies", due_at=datetime(2026, 10, 23, tzinfo=UTC)),
    ]
    canvas.assignments["123"].module_restricted = True  # given to some students by its module

    codes = await codes_after_a_read(env)
    assert not any("COURSE_UNPUBLISHED" in c for c in codes.values())
    assert codes["126"] == set()
    assert codes["124"] == set()
    assert "DIFFERENTIATED" in codes["123"]
    # The seed's title with '&' is 30 characters as typed, so it is not too long.
    assert codes["125"] == set()


async def test_a_sync_sends_the_title_and_dates_as_ic_accepts_them(env: SandboxedGpb) -> None:
    env.sandbox.state.canvas.courses["456"].workflow_state = "completed"  # still syncs
    codes = await codes_after_a_read(env)
    assert codes["125"] == set()
    await grade(env, "125", "1201", 41.0, "2026-11-02T10:00:00.000Z")
    response = await env.post_json("/api/courses/456/syncs", {"kind": "sync"})
    assert response.status_code == 202, response.text
    run = await finished(env, response.json()["id"])
    assert run["status"] == "succeeded", run["errors"]
    item = env.sandbox.state.ic.line_items["canvas-a125-s7"]
    assert item["title"] == "Test: Facts &notes, ch &sect 3"
    # Section 7 is due 2026-10-28T18:00Z: 13:00 in Chicago, sent with its offset.
    assert item["dueDate"] == "2026-10-28T13:00:00-05:00"
    assigned = datetime.fromisoformat(item["assignDate"])
    assert assigned <= datetime.fromisoformat(item["dueDate"])
    assert item["gradingPeriod"]["sourcedId"] == "GP-2026-S1"
    assert env.sandbox.state.ic.results["canvas-a125-s7-u1201"]["score"] == 41.0


async def test_the_api_and_pages_show_the_title_ic_gets(env: SandboxedGpb) -> None:
    env.sandbox.state.canvas.assignments["124"].name = " Facts &notes on ch &sect 2 "
    await codes_after_a_read(env)
    listed: dict[str, Any] = (await env.get("/api/courses/456/assignments")).json()
    titles = {a["id"]: a["title"] for a in listed["assignments"]}
    assert titles["124"] == "Facts &notes on ch &sect 2"
    page = await env.client.get(
        "/courses/456/assignment-rows",
        headers=auth(ADMIN_TOKEN),
    )
    assert "Facts &amp;notes on ch &amp;sect 2" in page.text, page.text[:500]
