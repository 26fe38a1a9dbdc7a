"""A remaster's cost a PUT in instructions, counted by valgrind's callgrind: what load hardly moves.

bench/remaster.py times gpb beside a bare loop sending the same PUTs, and beside a floor (the bare
loop plus the work design.md requires of a remaster). On a machine shared with other work its
ratios move with the load: on one day, ten runs of one code gave a median of 1.21 and ten more,
alternating with them, 1.65. Instructions move far less: from one run to the next the bare loop's
by under 1 %, gpb's and the floor's by up to 8 % (how their threads interleave changes how the
writer's commits batch and how often the event loop wakes). This bench runs the bare loop, the
floor and gpb, each in a process of its own under callgrind with collection off, and switches
collection on (callgrind_control) only for the work: the loops' calls; gpb's remaster from its
request to its end, the course's first event handled before. It does so at two sizes; the
difference over the extra PUTs is what a PUT costs, start-up and each run's fixed work left out.
Threads are counted apart: the main thread (gpb's event loop, the floor's client) and the others
(the SQLite writer, and gpb's readers).

Instructions are not time. They leave out what two cores shared between gpb, its writer and the
stand-in cost each other (caches, preemption), which bench/remaster.py's clock includes. gpb runs
about fifty times slower under callgrind, so the bench asks for the run every 5 s, not ten times
a second. It has no bar of its own (the bar is on time): it exits 1 when a run fails.

    .venv/bin/python bench/remaster_instructions.py [--sizes 10x50,20x100] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remaster import (
    Size,
    bare_loop,
    build_seed,
    course_handled,
    floor_loop,
    free_port,
    gpb_client,
    gpb_env,
    process,
    stand_in,
    time_remaster,
)

# Under callgrind a poll costs fifty times its usual time: ask seldom, or the polls are counted.
POLL_SECONDS = 5.0
PATIENCE_SECONDS = 300.0  # to start, and to stop writing its counts


@dataclass(frozen=True)
class Counted:
    """Instructions executed during one size's work."""

    puts: int
    bare_client: int  # all its threads
    floor_main: int  # the floor's client
    floor_others: int  # the floor's SQLite writer
    gpb_loop: int
    gpb_others: int


def callgrind(out: Path) -> list[str]:
    return [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",  # collection waits for callgrind_control
        "--separate-threads=yes",  # a file a thread: the main thread apart from the others
        f"--callgrind-out-file={out}",
    ]


def collecting(pid: int, on: bool) -> None:
    subprocess.run(
        ["callgrind_control", "-i", "on" if on else "off", str(pid)],
        check=True,
        capture_output=True,
    )


def totals(out: Path) -> int:
    """The instructions a callgrind output file counted."""
    for line in out.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"{out} has no totals")


def threads_of(folder: Path, name: str) -> tuple[int, int]:
    """The instructions of a process's main thread and of its other threads, from the files
    callgrind's --separate-threads wrote (`name-01` is the main thread)."""
    files = sorted(folder.glob(f"{name}-*"))
    return totals(files[0]), sum(totals(f) for f in files[1:])


def count_loop(
    loop: str, folder: Path, seed: dict[str, Any], concurrency: int
) -> tuple[int, int, int]:
    """A loop's PUTs, and its instructions (main thread, other threads), in a child that waits
    on its stdin while collection is switched on and off."""
    with stand_in(folder, seed) as sandbox:
        argv = [sys.executable, __file__, "--child", loop, sandbox.url, str(sandbox.seed_file)]
        child = subprocess.Popen(
            [*callgrind(folder / f"{loop}.callgrind"), *argv, str(concurrency)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert child.stdin is not None and child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the {loop} loop did not start")
        collecting(child.pid, True)
        child.stdin.write("go\n")
        child.stdin.flush()
        puts = int(child.stdout.readline().split()[1])
        collecting(child.pid, False)
        child.stdin.close()
        if child.wait(PATIENCE_SECONDS) != 0:
            raise RuntimeError(f"the {loop} loop failed")
    return puts, *threads_of(folder, f"{loop}.callgrind")


def loop_child(loop: str, sandbox: str, seed_file: str, concurrency: int) -> None:
    """The bare loop or the floor, started once the parent says `go` (collection then on)."""
    seed = json.loads(Path(seed_file).read_text())
    print("ready", flush=True)
    sys.stdin.readline()
    if loop == "floor":
        database = Path(seed_file).parent / "floor.db"
        _, puts = asyncio.run(floor_loop(sandbox, seed, concurrency, database))
    else:
        _, puts = asyncio.run(bare_loop(sandbox, seed, concurrency))
    print(f"done {puts}", flush=True)
    sys.stdin.readline()  # collection is off again once the parent closes stdin


def count_gpb(folder: Path, seed: dict[str, Any], concurrency: int) -> tuple[int, int]:
    """gpb's event loop's instructions during the remaster, and its other threads'."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with stand_in(folder, seed) as sandbox:
        argv = [*callgrind(folder / "gpb.callgrind"), sys.executable, "-m", "gpb", "serve"]
        env = gpb_env(sandbox.url, folder, concurrency)
        with (
            # valgrind runs gpb in its own process: the pid is gpb's.
            process([*argv, "--port", str(port)], env, f"{url}/healthz", PATIENCE_SECONDS) as gpb,
            gpb_client(url) as client,
        ):
            course_handled(client)
            collecting(gpb.pid, True)
            _, run = time_remaster(client, POLL_SECONDS)
            collecting(gpb.pid, False)
        if run["status"] != "succeeded":
            raise RuntimeError(f"gpb's remaster ended {run['status']}")
    return threads_of(folder, "gpb.callgrind")  # the main thread is gpb's event loop


def count(size: Size, concurrency: int) -> Counted:
    seed = build_seed(size.assignments, size.students)
    with (
        tempfile.TemporaryDirectory() as bare_folder,
        tempfile.TemporaryDirectory() as floor_folder,
        tempfile.TemporaryDirectory() as gpb_folder,
    ):
        puts, *bare = count_loop("bare", Path(bare_folder), seed, concurrency)
        _, floor_main, floor_others = count_loop("floor", Path(floor_folder), seed, concurrency)
        loop, others = count_gpb(Path(gpb_folder), seed, concurrency)
    return Counted(puts, sum(bare), floor_main, floor_others, loop, others)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10x50,20x100", help="two sizes, smaller first")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        loop, sandbox, seed_file, concurrency = args.child
        loop_child(loop, sandbox, seed_file, int(concurrency))
        return 0
    small, large = (Size.parse(text) for text in args.sizes.split(","))
    print(f"instructions during the work at {small} and {large}, concurrency {args.concurrency}")
    first, second = count(small, args.concurrency), count(large, args.concurrency)
    extra = second.puts - first.puts

    def per_put(name: str) -> float:
        return float(getattr(second, name) - getattr(first, name)) / extra

    bare, loop, others = per_put("bare_client"), per_put("gpb_loop"), per_put("gpb_others")
    floor_main, floor_others = per_put("floor_main"), per_put("floor_others")
    floor, gpb = floor_main + floor_others, loop + others
    print(f"  a PUT, over the {extra} more PUTs of {large}:")
    print(f"    bare client         {bare / 1e6:6.2f} M")
    print(f"    floor, its client   {floor_main / 1e6:6.2f} M")
    print(f"    floor, its writer   {floor_others / 1e6:6.2f} M")
    print(f"    floor in all        {floor / 1e6:6.2f} M  ({floor / bare:.2f} of the bare client)")
    print(f"    gpb's event loop    {loop / 1e6:6.2f} M  ({loop / bare:.2f} of the bare client)")
    print(f"    gpb's other threads {others / 1e6:6.2f} M")
    print(
        f"    gpb in all          {gpb / 1e6:6.2f} M  ({gpb / bare:.2f} of the bare client,"
        f" {gpb / floor:.2f} of the floor)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
