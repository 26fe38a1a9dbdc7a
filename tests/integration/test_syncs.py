"""Grades from events to IC over real HTTP: the pending delta, sync, remaster, dry runs, faults,
interruption and resume — against the sandbox's strict OneRoster stand-in."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from canvas_events import sample
from databases import on_postgres
from running_gpb import (
    HOLD_WRITES,
    SandboxedGpb,
    applied_result_puts,
    env_client,
    finished,
    grade,
    ic_results,
    result_puts,
    resumed_to_the_end,
    sandboxed_gpb,
    start,
    until_held,
)

from gpb.infra.sandbox.faults import FaultConfig

# Seed: assignment 124 "Homework 3.3: Slope" (10 points, group Homework) is eligible; sections 7
# (SEC-7) and 8 (SEC-8); student 1201 is S-102938 in section 7.
FINE = "124"


async def test_a_grade_change_is_pending_until_a_sync_sends_it(env: SandboxedGpb) -> None:
    await grade(env, FINE, "1201", 9.5, "2026-11-02T10:00:00.000Z")
    pending = (await env.get("/api/courses/456/pending")).json()["changes"]
    mine = [c for c in pending if (c["assignment_id"], c["student_id"]) == (FINE, "1201")]
    assert len(mine) == 1
    assert mine[0]["canvas"]["score"] == 9.5 and mine[0]["synced"] is None
    assert mine[0]["section_id"] == "7" and mine[0]["student_sis_id"] == "S-102938"
    assert mine[0]["blocked_by"] == []

    run = await start(env, kind="sync", assignment_ids=[FINE])
    assert run["status"] == "succeeded", run["errors"]
    assert run["counts"]["sent"] >= 1 and run["counts"]["failed"] == 0
    assert run["counts"]["extracted"] == sum(
        run["counts"][k] for k in ("filtered", "unchanged", "sent", "deleted", "failed")
    )
    result = ic_results(env)[f"canvas-a{FINE}-s7-u1201"]
    assert result["score"] == 9.5 and result["scoreStatus"] == "fully graded"
    assert result["student"]["sourcedId"] == "S-102938"
    line_item = env.sandbox.state.ic.line_items[f"canvas-a{FINE}-s7"]
    assert (
        line_item["title"] == "Homework 3.3: Slope" and line_item["class"]["sourcedId"] == "SEC-7"
    )

    after = (await env.get("/api/courses/456/pending")).json()["changes"]
    assert not [c for c in after if (c["assignment_id"], c["student_id"]) == (FINE, "1201")]
    assignments = {
        a["id"]: a for a in (await env.get("/api/courses/456/assignments")).json()["assignments"]
    }
    assert assignments[FINE]["last_synced_at"] is not None
    (course,) = (await env.get("/api/courses")).json()["courses"]
    assert course["last_sync"] is not None

    # back to the value IC holds: nothing pending; a new value: pending again
    await grade(env, FINE, "1201", 7.0, "2026-11-02T10:05:00.000Z")
    assert any(
        c["student_id"] == "1201"
        for c in (await env.get("/api/courses/456/pending")).json()["changes"]
    )
    await grade(env, FINE, "1201", 9.5, "2026-11-02T10:06:00.000Z")
    assert not any(
        c["student_id"] == "1201" and c["assignment_id"] == FINE
        for c in (await env.get("/api/courses/456/pending")).json()["changes"]
    )


async def test_a_removed_grade_is_deleted_from_ic_by_a_sync(env: SandboxedGpb) -> None:
    await grade(env, FINE, "1202", 8.0, "2026-11-02T10:00:00.000Z")
    await start(env, kind="sync", assignment_ids=[FINE])
    assert f"canvas-a{FINE}-s7-u1202" in ic_results(env)
    await grade(env, FINE, "1202", None, "2026-11-02T11:00:00.000Z")  # the teacher clears the cell
    (entry,) = [
        c
        for c in (await env.get("/api/courses/456/pending")).json()["changes"]
        if c["student_id"] == "1202" and c["assignment_id"] == FINE
    ]
    assert entry["canvas"]["score"] is None and entry["canvas"]["excused"] is False
    run = await start(env, kind="sync")
    assert run["counts"]["deleted"] == 1
    assert f"canvas-a{FINE}-s7-u1202" not in ic_results(env)


async def test_an_excused_grade_goes_as_exempt(env: SandboxedGpb) -> None:
    await grade(env, FINE, "1204", None, "2026-11-02T10:00:00.000Z", excused=True)
    await start(env, kind="sync", assignment_ids=[FINE])
    assert ic_results(env)[f"canvas-a{FINE}-s7-u1204"]["scoreStatus"] == "exempt"


async def test_a_dry_run_writes_nothing_and_shows_what_ic_holds(env: SandboxedGpb) -> None:
    await grade(env, FINE, "1201", 9.5, "2026-11-02T10:00:00.000Z")
    writes = len(env.sandbox.state.ic.writes)
    run = await start(env, kind="sync", dry_run=True)
    assert run["dry_run"] is True and run["status"] == "succeeded"
    assert len(env.sandbox.state.ic.writes) == writes
    (mine,) = [g for g in run["grades"] if (g["assignment_id"], g["student_id"]) == (FINE, "1201")]
    assert mine["outcome"] == "sent" and mine["sis"] is None and mine["canvas"]["score"] == 9.5
    assert (await env.get("/api/courses/456/pending")).json()["changes"]  # still pending


async def test_an_unposted_grade_is_sent_and_marked_in_the_pending_view_and_the_preview(
    env: SandboxedGpb,
) -> None:
    async with env_client(env) as sandbox:  # graded, but hidden from the student in Canvas
        answer = await sandbox.post(
            f"/_sandbox/canvas/submissions/{FINE}/1202", json={"score": 8.0, "posted": False}
        )
        assert answer.status_code == 200, answer.text
    preview = await start(env, kind="remaster", dry_run=True)
    (hidden,) = [
        g for g in preview["grades"] if (g["assignment_id"], g["student_id"]) == (FINE, "1202")
    ]
    assert hidden["outcome"] == "sent" and hidden["canvas"]["posted"] is False
    # The preview's re-read of Canvas is in the snapshot too: the pending view marks it.
    pending = (await env.get("/api/courses/456/pending")).json()["changes"]
    (mine,) = [c for c in pending if (c["assignment_id"], c["student_id"]) == (FINE, "1202")]
    assert mine["canvas"]["score"] == 8.0 and mine["canvas"]["posted"] is False
    await start(env, kind="remaster")
    assert ic_results(env)[f"canvas-a{FINE}-s7-u1202"]["score"] == 8.0  # sent though hidden


async def test_remaster_catches_a_change_no_event_announced(env: SandboxedGpb) -> None:
    await grade(env, FINE, "1201", 9.5, "2026-11-02T10:00:00.000Z")
    await start(env, kind="sync")
    async with env_client(env) as sandbox:  # a grade changed while gpb heard nothing
        await sandbox.post(f"/_sandbox/canvas/submissions/{FINE}/1201", json={"score": 4.0})
    run = await start(env, kind="remaster")
    assert run["status"] in ("succeeded", "partial"), run["errors"]
    assert ic_results(env)[f"canvas-a{FINE}-s7-u1201"]["score"] == 4.0


async def _set_enrollment(env: SandboxedGpb, user_id: str, state: str) -> None:
    enrollment = next(
        e
        for e in env.sandbox.state.canvas.enrollments.values()
        if e.user_id == user_id and e.type == "StudentEnrollment"
    )
    async with env_client(env) as sandbox:
        answer = await sandbox.post(
            f"/_sandbox/canvas/enrollments/{enrollment.id}", json={"enrollment_state": state}
        )
        assert answer.status_code == 200, answer.text


async def test_remaster_keeps_the_results_of_students_whose_enrollment_ended(
    env: SandboxedGpb,
) -> None:
    """Dropped, concluded, deactivated: IC keeps their grades. Only a grade Canvas removed for a
    student still enrolled is deleted. Before, a remaster deleted the first three."""
    for user_id in ("1201", "1202", "1203", "1205"):
        await grade(env, FINE, user_id, 6.0, "2026-11-02T10:00:00.000Z")
    await start(env, kind="sync")
    await _set_enrollment(env, "1203", "deleted")
    await _set_enrollment(env, "1202", "completed")
    await _set_enrollment(env, "1205", "inactive")
    async with env_client(env) as sandbox:  # removed in Canvas: concluded 1202 and enrolled 1201
        for user_id in ("1201", "1202"):
            await sandbox.post(
                f"/_sandbox/canvas/submissions/{FINE}/{user_id}", json={"score": None}
            )
    run = await start(env, kind="remaster")
    assert run["status"] == "succeeded", run["errors"]
    results = ic_results(env)
    assert f"canvas-a{FINE}-s7-u1201" not in results  # still enrolled: deleted
    for user_id in ("1202", "1203", "1205"):
        assert results[f"canvas-a{FINE}-s7-u{user_id}"]["score"] == 6.0
    kept = {g["student_id"] for g in run["grades"] if g["code"] == "KEPT_ENROLLMENT_ENDED"}
    assert kept == {"1202", "1203", "1205"}
    assert {"reason": "KEPT_ENROLLMENT_ENDED", "count": 3} in run["filtered"]
    assert any(w["code"] == "KEPT_ENROLLMENT_ENDED" for w in run["warnings"])
    assert not [
        c
        for c in (await env.get("/api/courses/456/pending")).json()["changes"]
        if c["assignment_id"] == FINE and c["student_id"] in kept
    ]


async def test_a_remaster_after_the_term_ended_sends_and_deletes_nothing_of_concluded_students(
    env: SandboxedGpb,
) -> None:
    """Once the term is over Canvas lists every student as `completed`: a remaster in the
    grade-finalising window still sends their grades, and wipes nothing."""
    await grade(env, FINE, "1201", 6.0, "2026-11-02T10:00:00.000Z")
    await start(env, kind="sync")
    for enrollment in list(env.sandbox.state.canvas.enrollments.values()):
        if enrollment.type == "StudentEnrollment" and enrollment.enrollment_state == "active":
            await _set_enrollment(env, enrollment.user_id, "completed")
    async with env_client(env) as sandbox:  # the teacher finishes a grade after the term
        await sandbox.post(f"/_sandbox/canvas/submissions/{FINE}/1202", json={"score": 7.0})
    run = await start(env, kind="remaster")
    assert run["status"] == "succeeded", run["errors"]
    assert ic_results(env)[f"canvas-a{FINE}-s7-u1201"]["score"] == 6.0
    assert ic_results(env)[f"canvas-a{FINE}-s7-u1202"]["score"] == 7.0
    assert run["counts"]["deleted"] == 0


async def test_the_line_items_of_an_assignment_that_stopped_syncing_stay_in_ic_with_a_warning(
    env: SandboxedGpb,
) -> None:
    await grade(env, FINE, "1201", 9.5, "2026-11-02T10:00:00.000Z")
    await start(env, kind="sync")
    assert f"canvas-a{FINE}-s7" in env.sandbox.state.ic.line_items
    async with env_client(env) as sandbox:
        answer = await sandbox.post(
            f"/_sandbox/canvas/assignments/{FINE}", json={"post_to_sis": False}
        )
        assert answer.status_code == 200, answer.text
    await env.handled(
        await env.post("assignment_updated_title_35", assignment_id="10000000000124", title="x")
    )
    run = await start(env, kind="remaster")
    assert run["status"] == "succeeded", run["errors"]
    orphaned = [w for w in run["warnings"] if w["code"] == "ORPHANED_IN_IC"]
    assert [w["assignment_id"] for w in orphaned] == [FINE]
    # Teachers may have worked on it in IC: gpb deletes no line item.
    assert f"canvas-a{FINE}-s7" in env.sandbox.state.ic.line_items
    assert not any(g["assignment_id"] == FINE for g in run["grades"] if g["outcome"] == "sent")


async def test_injected_429_and_500_still_end_with_ic_equal_to_canvas(env: SandboxedGpb) -> None:
    for user_id, score in (("1201", 9.0), ("1202", 8.0), ("1205", 7.0), ("1206", 6.0)):
        await grade(env, FINE, user_id, score, "2026-11-02T10:00:00.000Z")
    env.sandbox.state.sis_faults.configure(
        FaultConfig(rates={"rate_limit": 0.15, "server_error": 0.15}, seed=7, retry_after_seconds=0)
    )
    run = await start(env, kind="remaster")
    env.sandbox.state.sis_faults.configure(FaultConfig())
    assert run["status"] == "succeeded", run["errors"]
    submissions = env.sandbox.state.canvas.submissions
    for (assignment_id, user_id), submission in submissions.items():
        if assignment_id != FINE or submission.score is None:
            continue
        in_period_1 = {"1201", "1202", "1203", "1204", "1205", "1206", "1214"}
        section = "7" if user_id in in_period_1 else "8"
        key = f"canvas-a{FINE}-s{section}-u{user_id}"
        assert ic_results(env)[key]["score"] == submission.score
    # each result written once for the value it carries: retries of a refused PUT don't count
    applied = Counter(
        w.sourced_id for w in env.sandbox.state.ic.writes if w.kind == "result" and w.applied
    )
    assert set(applied.values()) == {1}


async def test_a_second_run_while_one_is_queued_is_409(env: SandboxedGpb) -> None:
    env.sandbox.state.sis_faults.configure(HOLD_WRITES)  # the first run stays under way
    await grade(env, FINE, "1201", 9.5, "2026-11-02T10:00:00.000Z")
    first = await env.post_json("/api/courses/456/syncs", {"kind": "sync"})
    second = await env.post_json("/api/courses/456/syncs", {"kind": "remaster"})
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "SYNC_IN_PROGRESS"
    assert second.json()["sync_id"] == first.json()["id"]
    dry = await env.post_json("/api/courses/456/syncs", {"kind": "sync", "dry_run": True})
    assert dry.status_code == 202  # dry runs never wait and never block
    env.sandbox.state.sis_faults.configure(FaultConfig())
    assert (await finished(env, first.json()["id"]))["status"] == "succeeded"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"kind": "sync", "assignment_ids": []}, "NO_ASSIGNMENTS"),
        ({"kind": "sync", "assignment_ids": ["999"]}, "UNKNOWN_ASSIGNMENT"),
        ({"kind": "remaster", "assignment_ids": ["124"]}, "ASSIGNMENTS_NOT_ALLOWED"),
        ({"kind": "everything"}, "INVALID_BODY"),
        ({"kind": "sync", "surprise": 1}, "INVALID_BODY"),
    ],
)
async def test_bad_requests_are_400(env: SandboxedGpb, body: dict[str, Any], code: str) -> None:
    response = await env.post_json("/api/courses/456/syncs", body)
    assert (response.status_code, response.json()["error"]["code"]) == (400, code)


async def test_an_ineligible_assignment_is_accepted_and_its_grades_filtered(
    env: SandboxedGpb,
) -> None:
    await grade(env, "123", "1201", 5.0, "2026-11-02T10:00:00.000Z")  # its title is too long
    run = await start(env, kind="sync", assignment_ids=["123"])
    assert run["status"] == "succeeded"
    assert {"reason": "ASSIGNMENT_INELIGIBLE", "count": 1} in run["filtered"]
    assert run["counts"]["sent"] == 0


async def test_nothing_to_send_still_makes_a_successful_run(env: SandboxedGpb) -> None:
    run = await start(env, kind="sync")
    assert run["status"] == "succeeded" and run["counts"]["extracted"] == 0
    history = (await env.get("/api/courses/456/syncs")).json()
    assert history["syncs"][0]["id"] == run["id"]


async def test_an_interrupted_run_resumes_without_sending_twice(tmp_path: Path) -> None:
    async with sandboxed_gpb(tmp_path, sync_time_budget_seconds=0.4) as env:
        await env.handled(await env.post("assignment_created", assignment_id="10000000000124"))
        for user_id in ("1201", "1202", "1205", "1206", "1207", "1208"):
            await grade(env, FINE, user_id, 5.0, "2026-11-02T10:00:00.000Z")
        env.sandbox.state.sis_faults.configure(FaultConfig(latency_seconds=0.15))
        run = await start(env, kind="remaster")
        assert run["status"] == "interrupted"
        assert run["errors"][0]["code"] == "SYNC_TIMED_OUT"
        env.sandbox.state.sis_faults.configure(FaultConfig())
        before = result_puts(env)
        done = await resumed_to_the_end(env, run["id"])
        assert done["status"] == "succeeded", done["errors"]
        after = result_puts(env)
        assert all(count == 1 for count in after.values()), after
        assert set(before) < set(after)


async def test_the_error_dictionary(env: SandboxedGpb) -> None:
    answer = (await env.get("/api/errors")).json()
    errors = {e["code"]: e for e in answer["errors"]}
    assert errors["SIS_AUTH_FAILED"]["canvas_title"] == "Exchange Error"
    assert errors["NAME_TOO_LONG"]["fix"] and errors["STUDENT_WITHOUT_SIS_ID"]["meaning"]
    titles = {t["title"]: t for t in answer["canvas_titles"]}
    section = titles["Cannot Export Canvas Submission in Section"]
    assert "STUDENT_WITHOUT_SIS_ID" in section["codes"] and section["fix"]
    put = titles["Assignment Scores Export-PUT for OneRoster Error"]
    assert put["codes"] == ["SIS_RESULT_REJECTED"]
    assert (await env.client.get("/api/errors")).status_code == 401


async def test_an_ic_token_that_expires_mid_run_is_refreshed(env: SandboxedGpb) -> None:
    for user_id in ("1201", "1202", "1205", "1206"):
        await grade(env, FINE, user_id, 6.0, "2026-11-02T10:00:00.000Z")
    tokens, faults = env.sandbox.state.sis_tokens, env.sandbox.state.sis_faults
    faults.configure(HOLD_WRITES)
    started = await env.post_json("/api/courses/456/syncs", {"kind": "remaster"})
    assert started.status_code == 202, started.text
    await until_held(faults)  # the run read IC with its token and waits to write
    issued = tokens.issued
    tokens.expire_all()  # the token dies mid-run, long before gpb thought it would
    faults.configure(FaultConfig())
    run = await finished(env, started.json()["id"])
    assert run["status"] == "succeeded", run["errors"]
    assert tokens.issued > issued  # refused once, gpb fetched a new token and went on
    assert all(count == 1 for count in result_puts(env).values())


async def test_a_run_killed_with_its_process_is_resumed_after_the_restart(tmp_path: Path) -> None:
    from running_gpb import ADMIN_TOKEN, auth, sandbox_settings

    from gpb.bootstrap import create_app
    from gpb.infra.sandbox.server import run_sandbox
    from gpb.infra.sandbox.server import serve_on_loopback as serve

    async with run_sandbox() as sandbox:
        settings = sandbox_settings(sandbox, tmp_path, event_lease_seconds=2)
        sandbox.state.sis_faults.configure(FaultConfig(latency_seconds=0.2))
        async with serve(create_app(settings)) as url, httpx_client(url) as client:
            first = SandboxedGpb(sandbox, settings, client)
            await first.handled(
                await first.post("assignment_created", assignment_id="10000000000124")
            )
            started = await first.post_json("/api/courses/456/syncs", {"kind": "remaster"})
            sync_id = started.json()["id"]
            for _ in range(500):  # until IC applied a first result, so the stop falls mid-run
                if any(w.applied for w in sandbox.state.ic.writes if w.kind == "result"):
                    break
                await asyncio.sleep(0.02)
            # IC holds the next write, so the run cannot end before gpb stops, however slowly.
            sandbox.state.sis_faults.configure(HOLD_WRITES)
            await until_held(sandbox.state.sis_faults)
        # gpb stopped mid-run (its tasks cancelled, as a killed process leaves them)
        sandbox.state.sis_faults.configure(FaultConfig())
        async with serve(create_app(settings)) as url, httpx_client(url) as client:
            second = SandboxedGpb(sandbox, settings, client)
            stopped = (await second.get(f"/api/syncs/{sync_id}")).json()
            if on_postgres():
                # Among replicas, nobody knows that the run's holder stopped until its claim runs
                # out; then the next process to look resumes the run by itself.
                assert stopped["status"] == "running"
            else:
                # Alone on its database, the new process knows the old one is gone.
                assert stopped["status"] == "interrupted"
                # It tells how far it got: what IC confirmed before the stop counts as sent.
                confirmed = sum(1 for w in sandbox.state.ic.writes if w.kind == "result")
                assert 1 <= stopped["progress"]["confirmed"] <= confirmed
                assert stopped["counts"]["sent"] == stopped["progress"]["confirmed"]
                assert stopped["progress"]["total"] > stopped["progress"]["done"]
                resumed = await client.post(
                    f"/api/syncs/{sync_id}/resume", headers=auth(ADMIN_TOKEN)
                )
                assert resumed.status_code == 202
            done = await finished(second, sync_id)
    assert done["status"] == "succeeded", done["errors"]
    puts = applied_result_puts(sandbox)
    # What IC confirmed before the stop is not sent again. The one PUT in flight at the stop (the
    # SIS concurrency is 1) may have been applied with its answer lost: sending it again is a
    # retry of a call that never returned, not a second write of a confirmed value.
    assert puts and sum(count - 1 for count in puts.values()) <= 1, puts
    assert set(puts) == {k for k in sandbox.state.ic.results if k.startswith("canvas-a")}


def httpx_client(url: str) -> Any:
    import httpx

    return httpx.AsyncClient(base_url=url)


async def test_students_are_named_in_the_pending_delta_and_the_runs_grades(
    env: SandboxedGpb,
) -> None:
    await grade(env, FINE, "1201", 9.5, "2026-11-02T10:00:00.000Z")
    (mine,) = [
        c
        for c in (await env.get("/api/courses/456/pending")).json()["changes"]
        if (c["assignment_id"], c["student_id"]) == (FINE, "1201")
    ]
    assert mine["student_name"] == "Student, Sam" and mine["student_sis_id"] == "S-102938"
    run = await start(env, kind="sync", assignment_ids=[FINE])
    named = {g["student_id"]: g["student_name"] for g in run["grades"]}
    assert named["1201"] == "Student, Sam"

    # Canvas renames the student: its user_updated event (which lacks the sortable name) makes
    # gpb read the user again.
    env.sandbox.state.canvas.users["1201"].sortable_name = "Student-Rivera, Sam"
    event = sample("grade_change_8_to_9_5")
    event["metadata"]["event_name"] = "user_updated"
    event["body"] = {"user_id": "10000000001201", "name": "Sam Student-Rivera"}
    handled = await env.handled(await env.post_event(event))
    assert handled["status"] == "processed", handled
    assert "Rivera" not in json.dumps(handled["outcome"])
    run_again = (await env.get(f"/api/syncs/{run['id']}")).json()
    assert {g["student_name"] for g in run_again["grades"] if g["student_id"] == "1201"} == {
        "Student-Rivera, Sam"
    }

    # An enrollment event reads the roster again, names included.
    env.sandbox.state.canvas.users["1202"].sortable_name = "Brooks-Lee, Avery"
    await grade(env, FINE, "1202", 7.0, "2026-11-02T10:00:00.000Z")
    event = sample("grade_change_8_to_9_5")
    event["metadata"]["event_name"] = "enrollment_updated"
    event["body"] = {
        "enrollment_id": "10000000000901",
        "course_id": "10000000000456",
        "user_id": "10000000001202",
        "course_section_id": "10000000000007",
        "type": "StudentEnrollment",
        "workflow_state": "active",
    }
    handled = await env.handled(await env.post_event(event))
    assert handled["status"] == "processed", handled
    names = {
        c["student_id"]: c["student_name"]
        for c in (await env.get("/api/courses/456/pending")).json()["changes"]
    }
    assert names["1202"] == "Brooks-Lee, Avery"


async def test_the_course_list_counts_the_pending_changes_the_course_shows(
    env: SandboxedGpb,
) -> None:
    await grade(env, FINE, "1201", 9.5, "2026-11-02T10:00:00.000Z")
    await grade(env, FINE, "1202", 8.0, "2026-11-02T10:00:00.000Z")
    pending = (await env.get("/api/courses/456/pending")).json()["changes"]
    (course,) = (await env.get("/api/courses")).json()["courses"]
    assert course["pending_changes"] == len(pending) >= 2
    assignments = (await env.get("/api/courses/456/assignments")).json()["assignments"]
    assert course["pending_changes"] == sum(a["pending_changes"] for a in assignments)


async def test_progress_moves_grade_by_grade(env: SandboxedGpb) -> None:
    for user_id in ("1201", "1202", "1205", "1206", "1207", "1208"):
        await grade(env, FINE, user_id, 5.0, "2026-11-02T10:00:00.000Z")
    env.sandbox.state.sis_faults.configure(FaultConfig(latency_seconds=0.2))
    response = await env.post_json("/api/courses/456/syncs", {"kind": "remaster"})
    sync_id = response.json()["id"]
    seen: set[int] = set()
    while (run := (await env.get(f"/api/syncs/{sync_id}")).json())["status"] in (
        "queued",
        "running",
    ):
        seen.add(run["progress"]["done"])
        await asyncio.sleep(0.02)
    env.sandbox.state.sis_faults.configure(FaultConfig())
    assert run["status"] == "succeeded", run["errors"]
    total = run["progress"]["total"]
    assert run["progress"]["done"] == total
    # One IC call takes 0.2 s and the page looks every 0.02 s: counted per (assignment, section)
    # it would show at most one value per line item; counted per grade, most of them.
    line_items = len(run["sections"]) * len(run["assignments"])
    assert len(seen - {0, total}) > line_items, (sorted(seen), total, line_items)
