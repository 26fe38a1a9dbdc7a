"""Latency from `POST /events/canvas` to the alert on SSE, with the Canvas stand-in local.

gpb and the sandbox each run in a process of their own. For every round the sandbox's assignment
124 flips between a title over the limit and a fine one (set through the sandbox, untimed); the
timed part is: post the signed `assignment_updated` event, gpb verifies and stores it, its worker
re-reads the assignment from Canvas, re-checks the course, opens or resolves the alert, and the
SSE client reads it.

The exit code is 1 when the p99 misses docs/design.md's 100 ms.

    .venv/bin/python bench/alerts.py [--rounds 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from remaster import free_port, gpb_env, process

from gpb.infra.sandbox.keys import load_or_create_key, sign_event

TARGET_P99_MS = 100.0
EVENT = (
    Path(__file__).resolve().parents[1] / "tests/fixtures/events/assignment_updated_title_35.json"
)
WATCHED = '"assignment_id":"124","code":"NAME_TOO_LONG"'
TITLES = ("Homework 3.3: Slope and Intercepts, Part 2", "Homework 3.3: Slope")


async def measure(gpb: str, sandbox: str, key_file: Path, rounds: int, admin: str) -> list[float]:
    key = load_or_create_key(key_file)
    template = json.loads(EVENT.read_text())
    template["body"]["assignment_id"] = "10000000000124"
    headers = {"Authorization": f"Bearer {admin}"}
    latencies = []
    async with (
        httpx.AsyncClient(base_url=gpb, timeout=30) as client,
        httpx.AsyncClient(base_url=sandbox, timeout=30) as control,
        client.stream("GET", "/api/courses/456/alerts/stream", headers=headers) as stream,
    ):
        lines = stream.aiter_lines()
        for n in range(rounds + 1):
            await control.post("/_sandbox/canvas/assignments/124", json={"name": TITLES[n % 2]})
            event = json.loads(json.dumps(template))
            event["body"]["title"] = f"round {n}"  # a distinct event each round
            body = sign_event(event, key)
            started = time.perf_counter()
            answer = await client.post("/events/canvas", content=body)
            assert answer.status_code == 202, answer.text
            async for line in lines:
                if line.startswith("data:") and WATCHED in line:
                    break
            if n:  # the first round loads the whole course: not what a teacher waits for
                latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    admin = "bench-admin-token"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        key_file = folder / "key.json"
        sandbox_port, gpb_port = free_port(), free_port()
        sandbox, gpb = f"http://127.0.0.1:{sandbox_port}", f"http://127.0.0.1:{gpb_port}"
        gpb_cli = [sys.executable, "-m", "gpb"]
        sandbox_argv = [*gpb_cli, "sandbox", "--port", str(sandbox_port), "--key", str(key_file)]
        with process(sandbox_argv, {}, f"{sandbox}/_sandbox/state"):
            env = gpb_env(sandbox, folder, 1) | {
                "GPB_EVENTS_AUTH": "jwt",
                "GPB_CANVAS_JWKS_URL": f"{sandbox}/jwks.json",
            }
            with process([*gpb_cli, "serve", "--port", str(gpb_port)], env, f"{gpb}/healthz"):
                latencies = asyncio.run(measure(gpb, sandbox, key_file, args.rounds, admin))
    ordered = sorted(latencies)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"event to alert on SSE, {len(ordered)} rounds (Canvas stand-in local, signed events)")
    print(f"  p50 {p50:6.1f} ms   p99 {p99:6.1f} ms   max {ordered[-1]:6.1f} ms")
    met = p99 <= TARGET_P99_MS
    print(f"  target p99 <= {TARGET_P99_MS:.0f} ms: {'OK' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
