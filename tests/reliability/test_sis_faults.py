"""Infinite Campus misbehaving: 429s, 500s, stalls past gpb's patience, dropped connections,
answers lost after IC applied the write, tokens expiring mid-run, refused credentials.

What must hold:
- IC ends equal to Canvas once the faults are survivable;
- each result is written once per value (docs/design.md): a PUT counts as a write when IC applied it
  and gpb heard it confirmed. A PUT whose answer was lost (a 500 or a drop after IC applied it, a
  stall gpb gave up on) is a failed call to gpb, and sending it again is a retry, not a second
  write; so for each result and value exactly one applied PUT may have come back clean;
- the run's status says what happened: `succeeded` when nothing failed, `partial` when some grades
  went and some did not, `failed` when none went or the run could not start.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from running_gpb import SandboxedGpb, grade, ic_results, sandboxed_gpb, start

from gpb.infra.sandbox.faults import FaultConfig, FaultKind
from gpb.infra.sandbox.state import SandboxState

pytestmark = pytest.mark.reliability

ELIGIBLE = ("124", "125")  # the seed's assignments that pass every rule
SECTION = {user: "7" if user < "1207" else "8" for user in ("1201", "1202", "1203", "1207", "1208")}
SEED = 11


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[SandboxedGpb]:
    # A stall longer than gpb's patience is a timeout to gpb; retries wait at most a second.
    async with sandboxed_gpb(tmp_path, sis_timeout_seconds=0.5) as env:
        for assignment in ELIGIBLE:
            await env.handled(
                await env.post("assignment_created", assignment_id=f"1000000000{assignment:0>4}")
            )
        yield env


def now() -> str:
    """Grading happens now: a remaster's read of Canvas is newer than every event before it."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def grade_class(env: SandboxedGpb, score: float) -> None:
    for n, user in enumerate(SECTION):
        for assignment in ELIGIBLE:
            await grade(env, assignment, user, score + n % 3, now())


def faults(env: SandboxedGpb, **config: Any) -> None:
    env.sandbox.state.sis_faults.configure(
        FaultConfig(retry_after_seconds=0, timeout_seconds=0.8, **config)
    )


def assert_ic_equals_canvas(state: SandboxState) -> None:
    for (assignment, user), submission in state.canvas.submissions.items():
        if assignment not in ELIGIBLE or user not in SECTION:
            continue
        result = state.ic.results.get(f"canvas-a{assignment}-s{SECTION[user]}-u{user}")
        assert result is not None and result["score"] == submission.score, (assignment, user)


def assert_written_once_per_value(state: SandboxState) -> None:
    confirmed = Counter(
        (w.sourced_id, w.body["result"].get("score") if w.body else None)
        for w in state.ic.writes
        if w.kind == "result" and w.method == "PUT" and w.applied and w.fault is None
    )
    assert confirmed and set(confirmed.values()) == {1}, confirmed.most_common(3)


def assert_honest(run: dict[str, Any]) -> None:
    counts = run["counts"]
    went, failed = counts["sent"] + counts["deleted"], counts["failed"] > 0 or run["errors"]
    expected = "succeeded" if not failed else "partial" if went else "failed"
    assert run["status"] == expected, run["errors"]


async def test_a_remaster_and_a_sync_through_every_kind_of_fault(env: SandboxedGpb) -> None:
    await grade_class(env, 5.0)
    kinds: list[FaultKind] = [
        "rate_limit",
        "server_error",
        "timeout",
        "drop",
        "error_after_apply",
        "drop_after_apply",
    ]
    # Each kind once to begin with, then at random. Seeded, so the same calls meet the same faults
    # on every run: none meets 4 in a row (gpb's attempts per call), which would be a fault that
    # persists (the partial test below has those).
    script = [step for kind in kinds for step in (kind, None)]
    faults(env, script=script, rates={kind: 0.03 for kind in kinds}, seed=SEED)
    env.sandbox.state.sis_tokens.lifetime_seconds = 1.0  # tokens expire while the runs go on
    env.sandbox.state.sis_tokens.expire_all()
    remaster = await start(env, within=120, kind="remaster")
    assert_honest(remaster)
    assert remaster["status"] == "succeeded", (remaster["errors"], remaster["counts"])

    await grade_class(env, 2.0)
    sync = await start(env, within=120, kind="sync")
    assert sync["status"] == "succeeded", sync["errors"]
    injected = env.sandbox.state.sis_faults.injected
    assert set(injected) == set(kinds), injected  # every kind struck at least once
    assert env.sandbox.state.sis_tokens.issued > 1
    assert_ic_equals_canvas(env.sandbox.state)
    assert_written_once_per_value(env.sandbox.state)


@pytest.mark.parametrize("lost", ["error_after_apply", "drop_after_apply"])
async def test_a_write_whose_answer_is_lost_is_retried_not_written_twice(
    env: SandboxedGpb, lost: FaultKind
) -> None:
    await grade_class(env, 6.0)
    # After the first line item, IC applies PUTs whose answers never reach gpb: every other one,
    # twice running now and then (gpb tries a call 4 times).
    faults(env, script=[None, *[lost, None, lost, lost, None, "drop"] * 5], methods=["PUT"])
    run = await start(env, within=120, kind="sync")
    assert run["status"] == "succeeded", run["errors"]
    writes = env.sandbox.state.ic.writes
    assert sum(w.fault == lost and w.applied for w in writes if w.kind == "result") >= 3
    assert_ic_equals_canvas(env.sandbox.state)
    assert_written_once_per_value(env.sandbox.state)


async def test_answers_lost_on_every_attempt_fail_the_grade_and_the_next_sync_confirms_it(
    env: SandboxedGpb,
) -> None:
    await grade(env, "124", "1201", 9.0, now())
    faults(env, rates={"error_after_apply": 1.0}, methods=["PUT"])
    run = await start(env, within=120, kind="sync", assignment_ids=["124"])
    # IC applied the PUTs but never said so: gpb cannot count the grade as sent.
    assert run["status"] == "failed" and run["counts"]["sent"] == 0
    assert {e["code"] for e in run["errors"]} == {"SIS_UNAVAILABLE"}
    pending = (await env.get("/api/courses/456/pending")).json()["changes"]
    assert any(c["student_id"] == "1201" and c["assignment_id"] == "124" for c in pending)

    faults(env)
    again = await start(env, kind="sync", assignment_ids=["124"])
    assert again["status"] == "succeeded" and again["counts"]["sent"] == 1
    assert ic_results(env)["canvas-a124-s7-u1201"]["score"] == 9.0
    assert_written_once_per_value(env.sandbox.state)


async def test_persistent_500s_fail_the_run(env: SandboxedGpb) -> None:
    await grade_class(env, 7.0)
    faults(env, rates={"server_error": 1.0})
    run = await start(env, within=120, kind="sync")
    assert_honest(run)
    assert run["status"] == "failed" and run["counts"]["sent"] == 0
    assert {e["code"] for e in run["errors"]} <= {"SIS_UNAVAILABLE"}
    assert not any(w.applied for w in env.sandbox.state.ic.writes)


async def test_500s_on_some_writes_give_an_honest_partial(env: SandboxedGpb) -> None:
    await grade_class(env, 8.0)
    # The first line item and result go through; the next result meets four 500s: all its tries.
    faults(env, script=[None, None, *["server_error"] * 4], methods=["PUT"])
    run = await start(env, within=120, kind="sync")
    assert_honest(run)
    assert run["status"] == "partial"
    held = ic_results(env)
    for outcome in run["grades"]:
        key = (
            f"canvas-a{outcome['assignment_id']}-s{outcome['section_id']}-u{outcome['student_id']}"
        )
        assert (key in held) == (outcome["outcome"] == "sent"), outcome

    faults(env)
    rest = await start(env, kind="sync")
    assert rest["status"] == "succeeded" and rest["counts"]["sent"] == run["counts"]["failed"]
    assert_ic_equals_canvas(env.sandbox.state)
    assert_written_once_per_value(env.sandbox.state)


@pytest.mark.parametrize(
    "wrong", [{"sis_client_secret": "not-the-secret"}, {"sis_vendor_authorization": "nope"}]
)
async def test_ic_refusing_the_credentials_fails_the_run(
    tmp_path: Path, wrong: dict[str, str]
) -> None:
    async with sandboxed_gpb(tmp_path, **wrong) as env:
        await env.handled(await env.post("assignment_created", assignment_id="10000000000124"))
        await grade(env, "124", "1201", 9.0, now())
        run = await start(env, kind="remaster")
    assert run["status"] == "failed"
    assert "SIS_AUTH_FAILED" in {e["code"] for e in run["errors"]}
    assert not any(w.applied for w in env.sandbox.state.ic.writes)
