"""Reconciliation against the sandbox: a grade whose event was lost comes back into the pending
delta, a grade changed by hand in IC is reported, and a course that opted in gets its remaster —
through `gpb reconcile`, the admin API and the nightly path."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from running_gpb import ADMIN_TOKEN, SandboxedGpb, auth, grade

from gpb.bootstrap import reconciling
from gpb.cli import main as gpb_cli
from gpb.handlers.reconcile import Reconciliation

# Seed: assignment 124 is eligible; students 1201 and 1202 are in section 7 (IC class SEC-7).
FINE = "124"
GRADED_AT = "2026-11-02T10:00:00.000Z"
ADMIN = auth(ADMIN_TOKEN)


async def in_canvas(env: SandboxedGpb, user_id: str, score: float) -> None:
    """The grade changes in Canvas; no event says so."""
    async with httpx.AsyncClient(base_url=env.sandbox.base_url) as sandbox:
        answer = await sandbox.post(
            f"/_sandbox/canvas/submissions/{FINE}/{user_id}", json={"score": score}
        )
        assert answer.status_code == 200, answer.text


async def synced(env: SandboxedGpb, kind: str = "sync") -> dict[str, Any]:
    started = await env.post_json("/api/courses/456/syncs", {"kind": kind})
    assert started.status_code == 202, started.text
    return await finished(env, started.json()["id"])


async def finished(env: SandboxedGpb, sync_id: str) -> dict[str, Any]:
    for _ in range(500):
        run: dict[str, Any] = (await env.get(f"/api/syncs/{sync_id}")).json()
        if run["status"] not in ("queued", "running"):
            return run
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {sync_id} did not finish")


async def reconcile(env: SandboxedGpb, trigger: Any = "command") -> Reconciliation:
    async with reconciling(env.settings) as reconciler:
        (done,) = await reconciler.run(trigger, ["456"])
    return done


def pending_of(changes: list[dict[str, Any]], user_id: str) -> list[dict[str, Any]]:
    return [c for c in changes if (c["assignment_id"], c["student_id"]) == (FINE, user_id)]


async def test_a_lost_grade_change_is_repaired_by_gpb_reconcile(
    env: SandboxedGpb, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    await in_canvas(env, "1201", 7.5)
    before = (await env.get("/api/courses/456/pending")).json()["changes"]
    assert pending_of(before, "1201") == []  # gpb heard nothing

    for name, value in env.sandbox.gpb_environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GPB_DATABASE_URL", env.settings.database_url)
    code = await asyncio.to_thread(gpb_cli, ["reconcile", "--course", "10000000000456"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    # The seed's Canvas holds grades gpb never heard of: they are repaired alongside.
    assert printed.startswith("course 456: succeeded, ") and " 0 drifted in IC" in printed

    (entry,) = pending_of((await env.get("/api/courses/456/pending")).json()["changes"], "1201")
    assert entry["canvas"]["score"] == 7.5 and entry["synced"] is None

    listed = (await env.get("/api/admin/reconciliations", course_id="456")).json()
    (summary,) = listed["reconciliations"]
    assert (summary["trigger"], summary["status"]) == ("command", "succeeded")
    assert f"{summary['repaired_grades']} grades repaired" in printed
    assert "repaired" not in summary and listed["next_cursor"] is None
    full = (await env.get(f"/api/admin/reconciliations/{summary['id']}")).json()
    (repaired,) = [
        r for r in full["repaired"] if (r["assignment_id"], r["student_id"]) == (FINE, "1201")
    ]
    assert repaired["before"] is None and repaired["after"]["score"] == 7.5
    course = (await env.get("/api/admin/courses/456/reconciliation")).json()
    assert course["nightly_remaster"] is False and course["latest"]["id"] == summary["id"]
    # Not ids at all, though str.isdigit() takes the first and SQLite cannot hold the second.
    for made_up in ("999", "5\u00b9", str(2**64)):
        assert (await env.get(f"/api/admin/reconciliations/{made_up}")).status_code == 404
    refused = await env.get("/api/admin/reconciliations", cursor="5\u00b9")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "INVALID_QUERY"

    opted = await asyncio.to_thread(gpb_cli, ["reconcile", "nightly-remaster", "456", "on"])
    assert opted == 0 and capsys.readouterr().out == "course 456: nightly remaster on\n"
    course = (await env.get("/api/admin/courses/456/reconciliation")).json()
    assert course["nightly_remaster"] is True
    assert await asyncio.to_thread(gpb_cli, ["reconcile", "nightly-remaster", "999", "on"]) == 1

    page = await env.get("/admin")
    assert "Reconciliations" in page.text and f"/api/admin/reconciliations/{summary['id']}" in (
        page.text
    )


async def test_a_grade_changed_by_hand_in_ic_is_reported_and_left_alone(
    env: SandboxedGpb,
) -> None:
    await grade(env, FINE, "1201", 9.5, GRADED_AT)
    await grade(env, FINE, "1202", 8.0, GRADED_AT)
    assert (await synced(env))["status"] == "succeeded"
    results = env.sandbox.state.ic.results
    results[f"canvas-a{FINE}-s7-u1201"]["score"] = 3.0  # someone typed over it in IC
    del results[f"canvas-a{FINE}-s7-u1202"]  # and removed another
    writes = len(env.sandbox.state.ic.writes)

    done = await reconcile(env)
    assert done.status.value == "succeeded" and done.drift_count == 2, done.report
    drift = {d["student_id"]: d for d in done.report["drift"]}
    assert drift["1201"]["kind"] == "changed_in_ic"
    assert (drift["1201"]["confirmed"]["score"], drift["1201"]["ic"]["score"]) == (9.5, 3.0)
    assert drift["1201"]["canvas"]["score"] == 9.5
    assert drift["1202"]["kind"] == "missing_in_ic" and drift["1202"]["ic"] is None
    assert len(env.sandbox.state.ic.writes) == writes  # nothing written to IC
    assert results[f"canvas-a{FINE}-s7-u1201"]["score"] == 3.0


async def test_a_course_that_opted_in_gets_a_remaster_each_night(env: SandboxedGpb) -> None:
    await grade(env, FINE, "1201", 9.5, GRADED_AT)
    await synced(env)
    result_id = f"canvas-a{FINE}-s7-u1201"
    env.sandbox.state.ic.results[result_id]["score"] = 3.0

    nightly = await reconcile(env, "nightly")
    assert nightly.report["remaster"] is None  # not opted in: a report only
    assert env.sandbox.state.ic.results[result_id]["score"] == 3.0

    opt_in = await env.client.put(
        "/api/admin/courses/456/reconciliation",
        json={"nightly_remaster": True},
        headers=ADMIN,
    )
    assert opt_in.status_code == 200, opt_in.text
    assert opt_in.json()["nightly_remaster"] is True
    unknown = await env.client.put(
        "/api/admin/courses/999/reconciliation", json={"nightly_remaster": True}, headers=ADMIN
    )
    assert unknown.status_code == 404
    wrong = await env.client.put(
        "/api/admin/courses/456/reconciliation", json={"nightly_remaster": "yes"}, headers=ADMIN
    )
    assert wrong.status_code == 400

    by_hand = await reconcile(env)  # `gpb reconcile` by day never writes to IC
    assert by_hand.report["remaster"] is None
    nightly = await reconcile(env, "nightly")
    remaster = nightly.report["remaster"]
    assert remaster["queued"] is True and nightly.drift_count == 1
    run = await finished(env, remaster["sync_id"])  # the running gpb picks it up
    assert run["kind"] == "remaster" and run["status"] == "succeeded", run["errors"]
    assert run["requested_by"] == "nightly reconciliation"
    assert env.sandbox.state.ic.results[result_id]["score"] == 9.5
