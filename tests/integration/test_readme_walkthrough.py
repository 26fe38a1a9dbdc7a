"""The README's sandbox walkthrough, run as written: its commands are read from the README.

Only the ports change (to free ones, so the test runs beside anything on 8000 and 8900), and the
environment says where the database and the sandbox's key go. The sandbox and gpb run as the
README starts them, in processes of their own; each later command runs in a shell, must succeed,
and is followed by the check of what the README says it shows.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from running_gpb import free_port

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Trying it without a district: the sandbox"
TOKEN = "sandbox-admin-token-at-least-32-chars"
WITHIN = 60.0


def walkthrough_blocks() -> list[list[str]]:
    """The section's ```sh blocks, each as its commands (continued lines joined)."""
    text = (ROOT / "README.md").read_text("utf-8")
    section = text[text.index(SECTION) :]
    section = section[: section.index("\n## ", len(SECTION))]
    blocks = []
    for block in re.findall(r"```sh\n(.*?)```", section, flags=re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        blocks.append([line.strip() for line in joined.splitlines() if line.strip()])
    return blocks


def with_ports(command: str, sandbox_port: int, gpb_port: int) -> str:
    command = re.sub(r"(127\.0\.0\.1:|--port )8900\b", rf"\g<1>{sandbox_port}", command)
    command = re.sub(r"(127\.0\.0\.1:|--port )8000\b", rf"\g<1>{gpb_port}", command)
    if not (ROOT / ".venv/bin/gpb").exists():
        command = command.replace(".venv/bin/gpb", f"{shlex.quote(sys.executable)} -m gpb")
    return command


def until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WITHIN
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting: {what}"
        time.sleep(0.2)


class Walk:
    def __init__(self, tmp: Path, sandbox_port: int, gpb_port: int) -> None:
        self.sandbox_port, self.gpb_port = sandbox_port, gpb_port
        self.env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(tmp / "config"),
            "GPB_SANDBOX_URL": f"http://127.0.0.1:{sandbox_port}",
            "GPB_DATABASE_URL": f"sqlite:///{tmp / 'gpb.db'}",
        }
        self.env.pop("GPB_SANDBOX_KEY_FILE", None)
        self.children: list[subprocess.Popen[str]] = []
        self.gpb = httpx.Client(
            base_url=f"http://127.0.0.1:{gpb_port}", headers={"Authorization": f"Bearer {TOKEN}"}
        )

    def start(self, command: str, env: dict[str, str]) -> subprocess.Popen[str]:
        child = subprocess.Popen(
            with_ports(command, self.sandbox_port, self.gpb_port),
            shell=True,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.children.append(child)
        return child

    def run(self, command: str) -> str:
        done = subprocess.run(
            with_ports(command, self.sandbox_port, self.gpb_port),
            shell=True,
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=WITHIN,
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def stop(self) -> None:
        for child in self.children:
            if child.poll() is None:
                os.killpg(child.pid, 15)
                child.wait(30)
        self.gpb.close()

    def get(self, path: str, **params: Any) -> Any:
        answer = self.gpb.get(path, params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def alert(self, state: str) -> bool:
        alerts = self.get("/api/courses/456/alerts", state=state)["alerts"]
        return any(a["assignment_id"] == "123" and a["code"] == "NAME_TOO_LONG" for a in alerts)

    def run_done(self, sync_id: str) -> bool:
        answer = self.gpb.get(f"/api/syncs/{sync_id}")
        return answer.status_code == 200 and answer.json()["status"] not in ("queued", "running")


@pytest.fixture
def walk(tmp_path: Path) -> Iterator[Walk]:
    walk = Walk(tmp_path, free_port(), free_port())
    try:
        yield walk
    finally:
        walk.stop()


def _exports(sandbox: subprocess.Popen[str]) -> dict[str, str]:
    """The `export` lines `gpb sandbox` prints, as the README says to paste them."""
    assert sandbox.stdout is not None
    found = {}
    for line in sandbox.stdout:
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").strip().partition("=")
            found[name] = shlex.split(value)[0]
        if line.startswith("# Send a signed event"):
            return found
    raise AssertionError("gpb sandbox stopped before printing its settings")


def _served(walk: Walk) -> bool:
    try:
        return walk.gpb.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False


def test_the_readme_walkthrough_fixes_an_assignment_and_sends_a_grade(walk: Walk) -> None:
    (sandbox_block, serve_block, *steps) = walkthrough_blocks()
    assert len(sandbox_block) == 1 and len(serve_block) == 1
    sandbox = walk.start(sandbox_block[0], walk.env)
    exports = _exports(sandbox)
    walk.start(serve_block[0], walk.env | exports)
    until(lambda: _served(walk), "gpb to serve")

    commands = [command for block in steps for command in block]
    outputs = {}
    for command in commands:
        outputs[command] = output = walk.run(command)
        # What the README says each step shows.
        if "sandbox post tests/fixtures/events/assignment_created.json" in command:
            until(lambda: walk.alert("open"), "the long title's alert")
        elif "sandbox canvas rename 123" in command:
            assert "assignment_updated -> " in output and "gpb answered 202" in output
            until(lambda: walk.alert("resolved") and not walk.alert("open"), "the alert resolved")
        elif "sandbox canvas grade 123 1201" in command:
            assert "grade_change -> " in output

            def pending() -> bool:
                changes = walk.get("/api/courses/456/pending")["changes"]
                return any(c["assignment_id"] == "123" for c in changes)

            until(pending, "the grade to be pending")
        elif '"dry_run": true' in command:
            until(lambda: walk.run_done("1"), "the preview")
        elif '{"kind": "sync"}' in command:
            until(lambda: walk.run_done("2"), "the sync")
            assert walk.get("/api/syncs/2")["status"] == "succeeded"
    (results,) = [out for command, out in outputs.items() if "/_sandbox/ic/results" in command]
    assert '"score":9.5' in results.replace(" ", "")
