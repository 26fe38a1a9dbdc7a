"""The command line fails in one clear line with a non-zero exit, leaving nothing behind: a second
`gpb serve` on a database in use, a busy port, and an export whose reader stops reading."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

from canvas_events import sample, variant

from gpb.handlers.envelope import parse_event
from gpb.infra.store.sqlite_lock import serving_lock
from gpb.infra.store.store import SqlStore


def _environment() -> dict[str, str]:
    """gpb's defaults, on a SQLite file in the folder it runs in (whatever the tests' engine)."""
    outside = {k: v for k, v in os.environ.items() if not k.startswith("GPB_")}
    return outside | {"GPB_DATABASE_URL": "sqlite:///./gpb.db"}


def _gpb(cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gpb", *args],
        cwd=cwd,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def test_a_busy_port_is_one_line_and_creates_no_database(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _gpb(tmp_path, "serve", "--port", str(port))
    assert done.returncode == 1
    assert _one_line(done.stderr) == (
        f"gpb serve: cannot listen on 127.0.0.1:{port}: Address already in use"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_second_serve_on_a_database_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    with serving_lock(str(tmp_path / "gpb.db"), "gpb serve"):
        done = _gpb(tmp_path, "serve", "--port", str(port))
    assert done.returncode == 1
    line = _one_line(done.stderr)
    assert line.startswith("gpb serve: the database is in use: gpb serve (pid "), line
    assert not (tmp_path / "gpb.db").exists()


def test_an_export_read_only_in_part_ends_without_a_traceback(tmp_path: Path) -> None:
    async def fill() -> None:
        store = SqlStore(str(tmp_path / "gpb.db"))
        store.migrate()
        store.start()
        try:
            for score in range(300):  # far more than a pipe holds
                event = variant(sample("grade_change_8_to_9_5"), score=score)
                await store.events.append(parse_event(event), None)
        finally:
            await store.close()

    asyncio.run(fill())
    export = subprocess.Popen(
        [sys.executable, "-m", "gpb", "events", "export"],
        cwd=tmp_path,
        env=_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert export.stdout is not None and export.stderr is not None
    assert export.stdout.readline().startswith("{")
    export.stdout.close()  # as `| head -1` does
    returncode = export.wait(timeout=60)
    errors = export.stderr.read()
    assert "Traceback" not in errors and "BrokenPipeError" not in errors, errors
    assert returncode == 1
    assert _one_line(errors) == "gpb events export: the reader closed the output; export stopped"


def test_the_sandbox_without_its_extra_is_one_line() -> None:
    # A production install has no pyyaml: importing it fails as it would there.
    script = "import sys; sys.modules['yaml'] = None; from gpb.cli import main; sys.exit(main())"
    done = subprocess.run(
        [sys.executable, "-c", script, "sandbox"],
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert _one_line(done.stderr) == (
        "gpb sandbox: the sandbox is not installed (yaml is missing): pip install 'gpb[sandbox]',"
        " or '.[sandbox]' in the project folder"
    )
