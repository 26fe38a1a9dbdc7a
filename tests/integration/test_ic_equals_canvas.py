"""After a sync, IC holds what Canvas shows: assignment edits, a student in two sections, ended
enrollments, missing grades, hidden grades — over real HTTP against the sandbox's strict
OneRoster stand-in, seeded with each of these situations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from canvas_events import sample
from running_gpb import (
    ADMIN_TOKEN,
    SandboxedGpb,
    env_client,
    grade,
    ic_results,
    log_in,
    result_puts,
    sandboxed_gpb,
    start,
)

# Seed: 124 "Homework 3.3: Slope" (10 points, Homework) goes to both sections; 140 "Unit 3 Retake"
# is given to Period 1 (section 7, SEC-7) only; 1208 of Period 2 (section 8) is in Period 1 too;
# 1214 was concluded in Period 1 and keeps a grade of 9 on 124.
SLOPE, RETAKE = "124", "140"


async def _canvas(env: SandboxedGpb, path: str, change: dict[str, Any]) -> None:
    async with env_client(env) as sandbox:
        answer = await sandbox.post(f"/_sandbox/canvas/{path}", json=change)
        assert answer.status_code in (200, 201), answer.text


async def _edit_assignment(env: SandboxedGpb, assignment_id: str, **change: Any) -> None:
    """The teacher edits the assignment in Canvas, and Canvas says so."""
    await _canvas(env, f"assignments/{assignment_id}", change)
    event = sample("assignment_updated_title_35")
    event["body"].update(assignment_id=f"1000000000{assignment_id:0>4}")
    event["metadata"]["event_time"] = "2026-11-05T10:00:00.000Z"
    await env.handled(await env.post_event(event))


async def _page(env: SandboxedGpb, path: str) -> str:
    async with httpx.AsyncClient(base_url=str(env.client.base_url)) as browser:
        await log_in(browser, ADMIN_TOKEN, path)
        answer = await browser.get(path)
        assert answer.status_code == 200, answer.text
        return answer.text


async def test_an_assignment_edit_after_a_sync_is_pending_and_the_next_sync_sends_it(
    env: SandboxedGpb,
) -> None:
    await grade(env, SLOPE, "1201", 9.0, "2026-11-02T10:00:00.000Z")
    await start(env, kind="sync", assignment_ids=[SLOPE])
    assert env.sandbox.state.ic.line_items[f"canvas-a{SLOPE}-s7"]["resultValueMax"] == 10.0
    assert f"canvas-a{SLOPE}-s8" not in env.sandbox.state.ic.line_items  # no grade there yet

    await _edit_assignment(env, SLOPE, points_possible=20.0, name="Homework 3.3: Slopes")
    pending = (await env.get("/api/courses/456/pending")).json()
    (item,) = pending["line_items"]
    assert (item["assignment_id"], item["section_id"]) == (SLOPE, "7")
    assert item["message"] == (
        "details changed: title 'Homework 3.3: Slope' -> 'Homework 3.3: Slopes', points 10 -> 20"
    )
    assert item["blocked_by"] == []
    assert not [c for c in pending["changes"] if c["assignment_id"] == SLOPE]
    listed = (await env.get("/api/courses/456/assignments")).json()["assignments"]
    assert {a["id"]: a["pending_changes"] for a in listed}[SLOPE] == 1
    assert "details changed: title" in await _page(env, "/courses/456/pending")

    preview = await start(env, kind="sync", dry_run=True)
    assert preview["line_items"] == [
        {"assignment_id": SLOPE, "section_id": "7", "outcome": "sent", "message": item["message"]}
    ]
    assert env.sandbox.state.ic.line_items[f"canvas-a{SLOPE}-s7"]["resultValueMax"] == 10.0

    puts = result_puts(env)
    run = await start(env, kind="sync")  # no selection, and no grade changed
    assert run["status"] == "succeeded", run["errors"]
    line_item = env.sandbox.state.ic.line_items[f"canvas-a{SLOPE}-s7"]
    assert (line_item["title"], line_item["resultValueMax"]) == ("Homework 3.3: Slopes", 20.0)
    assert [i["outcome"] for i in run["line_items"]] == ["sent"]
    run_page = await _page(env, f"/courses/456/syncs/{run['id']}")
    assert "IC assignments sent again" in run_page and "points 10 -&gt; 20" in run_page
    assert result_puts(env) == puts  # the line item alone: no result written again
    assert f"canvas-a{SLOPE}-s8" not in env.sandbox.state.ic.line_items
    assert (await env.get("/api/courses/456/pending")).json()["line_items"] == []


async def test_a_student_in_two_sections_gets_a_result_only_where_the_assignment_goes(
    env: SandboxedGpb,
) -> None:
    await grade(env, SLOPE, "1208", 7.0, "2026-11-02T10:00:00.000Z")
    run = await start(env, kind="remaster")
    assert run["status"] in ("succeeded", "partial"), run["errors"]
    retake = {k for k in ic_results(env) if k.startswith(f"canvas-a{RETAKE}-")}
    assert retake == {f"canvas-a{RETAKE}-s7-u1208"}
    assert not any(k.startswith(f"canvas-a{RETAKE}-s8") for k in env.sandbox.state.ic.line_items)
    assert not [g for g in run["grades"] if g["assignment_id"] == RETAKE and g["section_id"] == "8"]
    # 124 and 125 are given to both sections: 1208 has a result in each of the two classes.
    for assignment_id in (SLOPE, "125"):
        both = {f"canvas-a{assignment_id}-s7-u1208", f"canvas-a{assignment_id}-s8-u1208"}
        assert both <= set(ic_results(env))


async def test_the_assignments_page_says_no_grades_yet_until_ic_has_one(
    env: SandboxedGpb,
) -> None:
    page = await _page(env, "/courses/456")
    assert "no grades yet" in page
    listed = (await env.get("/api/courses/456/assignments")).json()["assignments"]
    assert all(a["last_synced_at"] is None for a in listed)
    assert not env.sandbox.state.ic.line_items


def _expected(env: SandboxedGpb, eligible: set[str]) -> dict[str, tuple[float | None, str]]:
    """What IC should hold by Canvas: each graded, excused or missing submission of an eligible
    assignment, in the class of each section of the student that gets it."""
    canvas = env.sandbox.state.canvas
    sections: dict[str, set[str]] = {}
    for e in canvas.enrollments.values():
        if e.type == "StudentEnrollment" and e.enrollment_state in ("active", "completed"):
            sections.setdefault(e.user_id, set()).add(e.course_section_id)
    expected: dict[str, tuple[float | None, str]] = {}
    for (assignment_id, user_id), s in canvas.submissions.items():
        assignment = canvas.assignments[assignment_id]
        if assignment_id not in eligible or not canvas.users[user_id].sis_user_id:
            continue
        if s.score is None and not s.excused and not s.missing:
            continue
        given = {o.course_section_id for o in assignment.overrides if o.course_section_id}
        for section in sections.get(user_id, ()):
            if assignment.only_visible_to_overrides and section not in given:
                continue
            status = "exempt" if s.excused else "fully graded" if s.score is not None else ""
            expected[f"canvas-a{assignment_id}-s{section}-u{user_id}"] = (
                s.score,
                status or "not submitted",
            )
    return expected


async def test_a_remaster_after_all_of_it_leaves_ic_equal_to_canvas_each_result_written_once(
    env: SandboxedGpb,
) -> None:
    await grade(env, SLOPE, "1201", 9.0, "2026-11-02T10:00:00.000Z")
    await grade(env, SLOPE, "1202", 8.0, "2026-11-02T10:00:00.000Z")
    await start(env, kind="sync")
    # Afterwards: the assignment is edited, a student is concluded and their grade cleared, a
    # missing submission gets a score (it stays missing), and a grade is hidden.
    await _edit_assignment(env, SLOPE, points_possible=12.0)
    for enrollment in env.sandbox.state.canvas.enrollments.values():
        if enrollment.user_id == "1202" and enrollment.type == "StudentEnrollment":
            await _canvas(env, f"enrollments/{enrollment.id}", {"enrollment_state": "completed"})
    await _canvas(env, f"submissions/{SLOPE}/1202", {"score": None})
    missing = {"score": 0.0, "missing": True, "late_policy_status": "missing"}
    await _canvas(env, f"submissions/{SLOPE}/1206", missing)
    await _canvas(env, f"submissions/{SLOPE}/1205", {"score": 6.0, "posted": False})

    before = result_puts(env)
    run = await start(env, kind="remaster")
    assert run["status"] == "succeeded", run["errors"]
    written = result_puts(env) - before
    assert written and set(written.values()) == {1}  # each result written once

    listed = (await env.get("/api/courses/456/assignments")).json()["assignments"]
    eligible = {a["id"] for a in listed if a["eligible"]}
    assert {SLOPE, RETAKE} <= eligible
    expected = _expected(env, eligible)
    held = {k: (r["score"], r["scoreStatus"]) for k, r in ic_results(env).items()}
    # 1202 was concluded: the result IC holds stays (kept, counted), though Canvas cleared it.
    kept = f"canvas-a{SLOPE}-s7-u1202"
    assert held.pop(kept) == (8.0, "fully graded")
    assert held == expected
    assert ic_results(env)[f"canvas-a{SLOPE}-s7-u1206"]["missing"] == "true"  # scored, missing
    assert env.sandbox.state.ic.line_items[f"canvas-a{SLOPE}-s7"]["resultValueMax"] == 12.0
    codes = {w["code"] for w in run["warnings"]}
    assert {"KEPT_ENROLLMENT_ENDED", "UNPOSTED_SENT", "ASSIGNMENT_INELIGIBLE"} <= codes
    pending = (await env.get("/api/courses/456/pending")).json()
    assert pending["line_items"] == []
    assert not [c for c in pending["changes"] if not c["blocked_by"]]


async def test_hidden_grades_are_counted_in_a_preview_and_held_when_asked(tmp_path: Path) -> None:
    async with sandboxed_gpb(tmp_path / "send") as env:
        await env.handled(await env.post("assignment_created", assignment_id="10000000000124"))
        await _canvas(env, f"submissions/{SLOPE}/1205", {"score": 6.0, "posted": False})
        preview = await start(env, kind="remaster", dry_run=True)
        (hidden,) = [w for w in preview["warnings"] if w["code"] == "UNPOSTED_SENT"]
        assert hidden["assignment_id"] == SLOPE and "1 grade not posted" in hidden["message"]

    async with sandboxed_gpb(tmp_path / "hold", unposted_grades="hold") as env:
        await env.handled(await env.post("assignment_created", assignment_id="10000000000124"))
        await _canvas(env, f"submissions/{SLOPE}/1205", {"score": 6.0, "posted": False})
        hidden_event = sample("grade_change_8_to_9_5")
        hidden_event["body"].update(
            assignment_id="10000000000124",
            student_id="10000000001205",
            user_id="10000000001205",
            score=6.0,
            grade="6",
            muted=True,
        )
        hidden_event["metadata"]["event_time"] = "2026-11-02T10:00:00.000Z"
        await env.handled(await env.post_event(hidden_event))
        pending = (await env.get("/api/courses/456/pending")).json()["changes"]
        (held,) = [c for c in pending if (c["assignment_id"], c["student_id"]) == (SLOPE, "1205")]
        assert held["blocked_by"] == ["UNPOSTED_HELD"] and held["canvas"]["posted"] is False
        run = await start(env, kind="sync")
        assert {"reason": "UNPOSTED_HELD", "count": 1} in run["filtered"]
        assert f"canvas-a{SLOPE}-s7-u1205" not in ic_results(env)

        # Canvas posts the grade and says so: it goes with the next sync.
        await _canvas(env, f"submissions/{SLOPE}/1205", {"posted": True})
        posted = sample("submission_updated")
        posted["body"].update(
            assignment_id="10000000000124",
            user_id="10000000001205",
            score=6.0,
            grade="6",
            posted_at="2026-11-03T08:00:00Z",
        )
        posted["metadata"]["event_time"] = "2026-11-03T08:00:00.000Z"
        await env.handled(await env.post_event(posted))
        await start(env, kind="sync")
        assert ic_results(env)[f"canvas-a{SLOPE}-s7-u1205"]["score"] == 6.0
