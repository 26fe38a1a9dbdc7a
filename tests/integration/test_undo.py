"""Undoing a run over real HTTP against the sandbox's OneRoster stand-in: IC back exactly as it was
before the run, grades changed in IC since kept, faults, interruption and resume, refusals."""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from running_gpb import SandboxedGpb, env_client, finished, grade, sandboxed_gpb, start

from gpb.infra.sandbox.faults import FaultConfig

FINE = "124"  # eligible; students 1201-1206 in section 7 (SEC-7), 1207+ in section 8


def ic_state(env: SandboxedGpb) -> dict[str, Any]:
    ic = env.sandbox.state.ic
    return copy.deepcopy({"line_items": ic.line_items, "results": ic.results})


async def undo(env: SandboxedGpb, sync_id: str, **body: Any) -> dict[str, Any]:
    response = await env.post_json(f"/api/syncs/{sync_id}/undo", body)
    assert response.status_code == 202, response.text
    return await finished(env, response.json()["id"])


async def pending_students(env: SandboxedGpb) -> set[str]:
    changes = (await env.get("/api/courses/456/pending")).json()["changes"]
    return {c["student_id"] for c in changes if c["assignment_id"] == FINE}


async def test_undo_of_a_sync_puts_ic_back_exactly_and_the_grades_back_in_the_delta(
    env: SandboxedGpb,
) -> None:
    empty = ic_state(env)
    await grade(env, FINE, "1201", 9.0, "2026-11-02T10:00:00.000Z")
    await grade(env, FINE, "1207", 7.0, "2026-11-02T10:00:00.000Z")
    first = await start(env, kind="sync")
    assert first["status"] == "succeeded", first["errors"]
    after_first = ic_state(env)
    await grade(env, FINE, "1201", 4.0, "2026-11-02T11:00:00.000Z")  # changed
    await grade(env, FINE, "1202", 8.0, "2026-11-02T11:00:00.000Z")  # new
    second = await start(env, kind="sync")
    assert second["counts"]["sent"] == 2
    assert ic_state(env) != after_first

    undone = await undo(env, second["id"])
    assert undone["kind"] == "undo" and undone["undo_of"] == second["id"]
    assert undone["status"] == "succeeded", undone["errors"]
    assert ic_state(env) == after_first
    by_student = {g["student_id"]: g for g in undone["grades"]}
    assert by_student["1201"]["outcome"] == "sent" and by_student["1201"]["sis"]["score"] == 9.0
    assert by_student["1202"]["outcome"] == "deleted"
    assert await pending_students(env) == {"1201", "1202"}  # Canvas still has them

    # the first run, now that the one after it is undone: IC as before any run
    undone_first = await undo(env, first["id"])
    assert undone_first["status"] == "succeeded", undone_first["errors"]
    assert ic_state(env) == empty
    assert await pending_students(env) == {"1201", "1202", "1207"}
    history = (await env.get("/api/courses/456/syncs")).json()["syncs"]
    assert [r["kind"] for r in history[:2]] == ["undo", "undo"]


async def test_undo_of_a_remaster_restores_the_results_it_deleted(env: SandboxedGpb) -> None:
    await grade(env, FINE, "1201", 9.0, "2026-11-02T10:00:00.000Z")
    await grade(env, FINE, "1203", 6.0, "2026-11-02T10:00:00.000Z")
    await start(env, kind="sync")
    before = ic_state(env)
    async with env_client(env) as sandbox:  # a grade removed and one changed, no events
        await sandbox.post(f"/_sandbox/canvas/submissions/{FINE}/1203", json={"score": None})
        await sandbox.post(f"/_sandbox/canvas/submissions/{FINE}/1201", json={"score": 3.0})
    remaster = await start(env, kind="remaster")
    assert remaster["counts"]["deleted"] >= 1, remaster["grades"]
    assert f"canvas-a{FINE}-s7-u1203" not in env.sandbox.state.ic.results

    undone = await undo(env, remaster["id"])
    assert undone["status"] == "succeeded", undone["errors"]
    assert ic_state(env) == before


async def test_a_grade_changed_in_ic_since_is_kept_and_reported(env: SandboxedGpb) -> None:
    await grade(env, FINE, "1201", 9.0, "2026-11-02T10:00:00.000Z")
    await grade(env, FINE, "1202", 8.0, "2026-11-02T10:00:00.000Z")
    before = ic_state(env)
    run = await start(env, kind="sync")
    changed = f"canvas-a{FINE}-s7-u1202"
    env.sandbox.state.ic.results[changed]["score"] = 5.5  # a teacher's edit in IC

    preview = await undo(env, run["id"], dry_run=True)
    assert preview["dry_run"] is True
    assert env.sandbox.state.ic.results[changed]["score"] == 5.5
    assert f"canvas-a{FINE}-s7-u1201" in env.sandbox.state.ic.results  # a preview writes nothing

    undone = await undo(env, run["id"])
    assert undone["status"] == "succeeded", undone["errors"]
    (kept,) = [g for g in undone["grades"] if g["student_id"] == "1202"]
    assert kept["outcome"] == "filtered" and kept["code"] == "CHANGED_IN_IC_SINCE"
    assert kept["sis"]["score"] == 5.5
    assert {"reason": "CHANGED_IN_IC_SINCE", "count": 1} in undone["filtered"]
    assert preview["grades"] == undone["grades"]
    # the kept result stays, and so does its line item; everything else is as before the run
    assert env.sandbox.state.ic.results[changed]["score"] == 5.5
    assert f"canvas-a{FINE}-s7" in env.sandbox.state.ic.line_items
    assert f"canvas-a{FINE}-s7-u1201" not in env.sandbox.state.ic.results
    assert set(env.sandbox.state.ic.results) == set(before["results"]) | {changed}
    assert [w["code"] for w in undone["warnings"]] == ["CHANGED_IN_IC_SINCE"]


async def test_faults_mid_undo_still_end_with_ic_as_before(env: SandboxedGpb) -> None:
    for user_id, score in (("1201", 9.0), ("1202", 8.0), ("1205", 7.0), ("1207", 6.0)):
        await grade(env, FINE, user_id, score, "2026-11-02T10:00:00.000Z")
    before = ic_state(env)
    run = await start(env, kind="sync")
    env.sandbox.state.sis_faults.configure(
        FaultConfig(rates={"rate_limit": 0.2, "server_error": 0.2}, seed=3, retry_after_seconds=0)
    )
    undone = await undo(env, run["id"])
    env.sandbox.state.sis_faults.configure(FaultConfig())
    assert undone["status"] == "succeeded", undone["errors"]
    assert ic_state(env) == before


async def test_an_interrupted_undo_resumes_without_writing_twice(tmp_path: Path) -> None:
    # A budget the sync keeps easily and the slowed undo cannot: each of its calls takes 1.5 s.
    async with sandboxed_gpb(tmp_path, sync_time_budget_seconds=5) as env:
        await env.handled(await env.post("assignment_created", assignment_id="10000000000124"))
        users = ("1201", "1202", "1205", "1206", "1207", "1208")
        for user_id in users:
            await grade(env, FINE, user_id, 5.0, "2026-11-02T10:00:00.000Z")
        before = ic_state(env)
        run = await start(env, kind="sync")
        assert run["status"] == "succeeded", run["errors"]
        writes = len(env.sandbox.state.ic.writes)
        env.sandbox.state.sis_faults.configure(FaultConfig(latency_seconds=1.5))
        stopped = await undo(env, run["id"])
        assert stopped["status"] == "interrupted"
        env.sandbox.state.sis_faults.configure(FaultConfig())
        resumed = await env.post_json(f"/api/syncs/{stopped['id']}/resume", {})
        assert resumed.status_code == 202
        done = await finished(env, stopped["id"])
        assert done["status"] == "succeeded", done["errors"]
        assert ic_state(env) == before
        undo_writes = Counter(
            (w.method, w.sourced_id) for w in env.sandbox.state.ic.writes[writes:] if w.applied
        )
        assert all(count == 1 for count in undo_writes.values()), undo_writes


async def test_refusals(env: SandboxedGpb) -> None:
    await grade(env, FINE, "1201", 9.0, "2026-11-02T10:00:00.000Z")
    first = await start(env, kind="sync")
    await grade(env, FINE, "1201", 8.0, "2026-11-02T11:00:00.000Z")
    second = await start(env, kind="sync")

    older = await env.post_json(f"/api/syncs/{first['id']}/undo", {})
    assert older.status_code == 409
    assert older.json()["error"]["code"] == "UNDO_NEWER_RUNS"
    assert older.json()["sync_ids"] == [second["id"]]

    undone = await undo(env, second["id"])
    again = await env.post_json(f"/api/syncs/{second['id']}/undo", {})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "ALREADY_UNDONE")
    of_undo = await env.post_json(f"/api/syncs/{undone['id']}/undo", {})
    assert (of_undo.status_code, of_undo.json()["error"]["code"]) == (409, "UNDO_OF_UNDO")
    dry = await start(env, kind="sync", dry_run=True)
    of_dry = await env.post_json(f"/api/syncs/{dry['id']}/undo", {})
    assert (of_dry.status_code, of_dry.json()["error"]["code"]) == (409, "NOT_UNDOABLE")
    bad = await env.post_json(f"/api/syncs/{first['id']}/undo", {"dry_run": "maybe"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "INVALID_BODY")


async def test_an_undo_stopped_with_its_process_is_finished_after_the_restart(
    tmp_path: Path,
) -> None:
    from databases import on_postgres
    from running_gpb import ADMIN_TOKEN, auth, sandbox_settings

    from gpb.bootstrap import create_app
    from gpb.infra.sandbox.server import run_sandbox
    from gpb.infra.sandbox.server import serve_on_loopback as serve

    async with run_sandbox() as sandbox:
        settings = sandbox_settings(sandbox, tmp_path, event_lease_seconds=2)
        async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
            first = SandboxedGpb(sandbox, settings, client)
            await first.handled(
                await first.post("assignment_created", assignment_id="10000000000124")
            )
            before = ic_state(first)
            for user_id in ("1201", "1202", "1205", "1206", "1207", "1208"):
                await grade(first, FINE, user_id, 5.0, "2026-11-02T10:00:00.000Z")
            run = await start(first, kind="sync")
            writes = len(sandbox.state.ic.writes)
            sandbox.state.sis_faults.configure(FaultConfig(latency_seconds=0.2))
            started = await first.post_json(f"/api/syncs/{run['id']}/undo", {})
            undo_id = started.json()["id"]
            for _ in range(500):  # until IC applied a first deletion, so the stop falls mid-undo
                if any(w.applied for w in sandbox.state.ic.writes[writes:]):
                    break
                await asyncio.sleep(0.02)
        sandbox.state.sis_faults.configure(FaultConfig())
        async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
            second = SandboxedGpb(sandbox, settings, client)
            if not on_postgres():  # alone on its database, the new process knows it stopped
                stopped = (await second.get(f"/api/syncs/{undo_id}")).json()
                assert stopped["status"] == "interrupted"
                resumed = await client.post(
                    f"/api/syncs/{undo_id}/resume", headers=auth(ADMIN_TOKEN)
                )
                assert resumed.status_code == 202
            done = await finished(second, undo_id)
            assert done["status"] == "succeeded", done["errors"]
            assert ic_state(second) == before
    applied = Counter(
        (w.method, w.sourced_id) for w in sandbox.state.ic.writes[writes:] if w.applied
    )
    # the one call in flight at the stop may have been applied with its answer lost
    assert sum(count - 1 for count in applied.values()) <= 1, applied


async def test_a_line_item_the_run_created_stays_while_ic_holds_another_result_on_it(
    env: SandboxedGpb,
) -> None:
    await grade(env, FINE, "1207", 7.0, "2026-11-02T10:00:00.000Z")  # section 8
    run = await start(env, kind="sync")
    ic = env.sandbox.state.ic
    entered = copy.deepcopy(ic.results[f"canvas-a{FINE}-s8-u1207"])  # a teacher's own, in IC
    entered["sourcedId"] = "entered-in-ic"
    ic.results["entered-in-ic"] = entered

    undone = await undo(env, run["id"])
    assert undone["status"] == "succeeded", undone["errors"]
    assert f"canvas-a{FINE}-s8-u1207" not in ic.results
    assert "entered-in-ic" in ic.results and f"canvas-a{FINE}-s8" in ic.line_items
    (kept,) = undone["warnings"]
    assert kept["code"] == "CHANGED_IN_IC_SINCE" and "still holds results" in kept["message"]
