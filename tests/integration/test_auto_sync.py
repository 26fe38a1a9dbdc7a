"""Automatic syncs end to end: a teacher's grading session reaches IC as one automatic run, with
no one pressing Sync; the course's choice through the API."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from running_gpb import (
    ADMIN_TOKEN,
    SandboxedGpb,
    auth,
    finished,
    grade,
    ic_results,
    sandboxed_gpb,
)

FINE = "124"


async def runs(env: SandboxedGpb) -> list[dict[str, Any]]:
    history: list[dict[str, Any]] = (await env.get("/api/courses/456/syncs")).json()["syncs"]
    return history


async def first_run(env: SandboxedGpb, within: float = 60.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        history = await runs(env)
        if history:
            return await finished(env, history[-1]["id"])
        await asyncio.sleep(0.05)
    raise AssertionError("no automatic run started")


async def test_a_grading_session_goes_to_ic_as_one_automatic_run(tmp_path: Path) -> None:
    # 0.02 minutes: grading must pause 1.2 s; the grades below come faster than that
    async with sandboxed_gpb(tmp_path, auto_sync_delay_minutes=0.02) as env:
        await env.handled(await env.post("assignment_created", assignment_id="10000000000124"))
        chosen = await env.client.put(
            "/api/courses/456/auto-sync",
            json={"mode": "after_change"},
            headers=auth(ADMIN_TOKEN),
        )
        assert chosen.status_code == 200, chosen.text
        assert chosen.json()["mode"] == "after_change" and chosen.json()["chosen"] == "after_change"
        for user_id, score in (("1201", 9.0), ("1202", 8.0), ("1207", 7.0)):
            await grade(env, FINE, user_id, score, "2026-11-02T10:00:00.000Z")
        run = await first_run(env)
        assert (run["kind"], run["requested_by"], run["status"]) == (
            "auto",
            "automatic",
            "succeeded",
        ), run["errors"]
        assert run["counts"]["sent"] == 3
        assert ic_results(env)[f"canvas-a{FINE}-s7-u1201"]["score"] == 9.0
        pending = (await env.get("/api/courses/456/pending")).json()["changes"]
        assert not [c for c in pending if c["assignment_id"] == FINE]
        await asyncio.sleep(2.5)  # rounds go on: nothing new, no second run
        assert len(await runs(env)) == 1


async def test_choices_the_district_does_not_allow_are_400(tmp_path: Path) -> None:
    async with sandboxed_gpb(tmp_path, auto_sync_modes="off,nightly") as env:
        headers = auth(ADMIN_TOKEN)
        put = env.client.put
        refused = await put(
            "/api/courses/456/auto-sync", json={"mode": "after_change"}, headers=headers
        )
        assert (refused.status_code, refused.json()["error"]["code"]) == (
            400,
            "AUTO_SYNC_MODE_NOT_ALLOWED",
        )
        outside = await put(
            "/api/courses/456/auto-sync",
            json={"mode": "nightly", "nightly_at": "12:00"},
            headers=headers,
        )
        assert outside.json()["error"]["code"] == "NIGHTLY_OUTSIDE_WINDOW"
        bad = await put("/api/courses/456/auto-sync", json={"mode": "hourly"}, headers=headers)
        assert (bad.status_code, bad.json()["error"]["code"]) == (400, "INVALID_BODY")
        fine = await put(
            "/api/courses/456/auto-sync",
            json={"mode": "nightly", "nightly_at": "23:15"},
            headers=headers,
        )
        assert fine.status_code == 200
        shown = (await env.get("/api/courses/456/auto-sync")).json()
        assert (shown["mode"], shown["nightly_at"], shown["allowed"]) == (
            "nightly",
            "23:15",
            ["nightly", "off"],
        )


async def until(check: Any, within: float = 60.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        if found := await check():
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("not within the time allowed")


async def test_an_assignment_that_keeps_failing_is_left_out_until_the_teacher_syncs_it(
    tmp_path: Path,
) -> None:
    async with sandboxed_gpb(
        tmp_path,
        auto_sync_default="after_change",
        auto_sync_delay_minutes=0.01,
        auto_sync_max_failures=2,
        sis_category_cache_seconds=0,
    ) as env:
        await env.handled(await env.post("assignment_created", assignment_id="10000000000124"))
        sandbox_ic = env.sandbox.state.ic
        gone = sandbox_ic.classes.pop("SEC-7")  # IC lost section 7's class: its grades fail

        async def failed_runs(count: int) -> list[dict[str, Any]] | None:
            done = [r for r in await runs(env) if r["status"] in ("failed", "partial")]
            return done if len(done) >= count else None

        for n, score in enumerate((5.0, 6.0), start=1):
            await grade(env, FINE, "1201", score, f"2026-11-02T10:0{n}:00.000Z")
            (latest, *_) = await until(lambda n=n: failed_runs(n))
            assert latest["kind"] == "auto"

        async def paused() -> list[dict[str, Any]] | None:
            shown = (await env.get("/api/courses/456/auto-sync")).json()
            return shown["paused_assignments"] or None

        # The failure is counted once the failed run is stored: wait for the count, not the run.
        assert await until(paused) == [{"id": FINE, "failures": 2}]

        await grade(env, FINE, "1201", 7.0, "2026-11-02T10:05:00.000Z")
        await asyncio.sleep(1.5)  # rounds go on; the paused assignment starts no run
        assert len(await runs(env)) == 2

        sandbox_ic.classes["SEC-7"] = gone  # fixed; the teacher syncs it once by hand
        response = await env.post_json("/api/courses/456/syncs", {"kind": "sync"})
        manual = await finished(env, response.json()["id"])
        assert manual["status"] == "succeeded", manual["errors"]

        async def resumed() -> bool:
            shown = (await env.get("/api/courses/456/auto-sync")).json()
            return shown["paused_assignments"] == []

        await until(resumed)  # counted once the run has finished
        assert ic_results(env)[f"canvas-a{FINE}-s7-u1201"]["score"] == 7.0
