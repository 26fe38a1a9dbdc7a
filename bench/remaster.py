"""A remaster of 40 assignments x 200 students, beside a bare httpx loop doing the same PUTs, and
beside a floor: the bare loop plus the rest of what docs/design.md requires of a remaster.

All three talk to the same OneRoster stand-in (the sandbox, in its own process, strict: tokens,
vendor header, the official schema) at the same concurrency. gpb runs whole in a process of its
own: it re-reads the course and every grade from the sandbox's Canvas, plans, keeps what IC holds
before each section's writes (so that the run can be undone), upserts 40 x 2 line items and 8,000
results, and stores each confirmation before it counts. The bare loop only sends the PUTs, all of
them queued at once through one semaphore: the stand-in's own limit at that concurrency. The
floor (`floor_loop`) sends them with the bare loop's client and does only what a remaster cannot
leave out, with gpb's own parts: the grades re-read from Canvas, IC's records before each
section's writes read and stored durably, and each confirmation stored durably before it counts.
What gpb spends beyond the floor is its own; what the floor spends beyond the bare loop, any
remaster that keeps design.md's promises spends. The sandbox is reseeded between the three, so
each starts from an empty IC gradebook; every run starts a sandbox and a gpb of its own.

Each run also gives the CPU each side spent a PUT (from /proc): the bare client, the floor (its
client and its writer), gpb's event loop and its other threads (the SQLite writer and readers),
and the stand-in during each part; and all sides' CPU during the floor's and gpb's parts over the
bare loop's. On two cores, where the client, the writer and the stand-in are all busy at once, the
wall ratio follows that last figure; with a core for each side it would follow gpb's event loop's
CPU against the bare client's ('loop').

--sizes takes several sizes (10x50,40x200,80x400: assignments x students) to show how the time
grows, --runs how many runs of each; the table gives each run and the medians. The exit code is 1
when a size's median ratio (gpb over the bare loop) is over TARGET, or a run of gpb did not
succeed.

    .venv/bin/python bench/remaster.py [--sizes 40x200] [--runs 1] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from gpb.handlers.model import LineItem, Result
from gpb.handlers.sync_plan import line_item_id, result_id
from gpb.handlers.sync_runner import CONFIRMATION_LINGER_SECONDS
from gpb.infra.canvas import CanvasClient
from gpb.infra.oneroster import line_item_body, result_body
from gpb.infra.sandbox.settings import ROOT_ACCOUNT_ID
from gpb.infra.sandbox.state import load_seed
from gpb.infra.store.sqlite import SqliteDatabase, connect

ADMIN = "bench-admin-token-of-at-least-32-characters"
SECTIONS = ("7", "8")
COURSE_ID = "456"  # the seed's course
CANVAS_TOKEN = "sandbox-canvas-token"
# docs/design.md: "near the SIS stand-in's own limit at the same concurrency", at the median.
TARGET = 1.2
# How often the bench asks for the run: ten times a second, ten times the run page's pace (each
# answer is work for gpb's event loop, which a teacher's page does not ask fifty times a second).
POLL_SECONDS = 0.1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """User and system CPU a process (or one of its threads) spent so far, from /proc; NaN where
    there is none, so that the table says `nan` instead of a figure."""
    stat = f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat"
    try:
        fields = Path(stat).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def build_seed(assignments: int, students: int) -> dict[str, Any]:
    """The shipped seed, grown to `assignments` eligible assignments graded for `students`."""
    seed = load_seed().model_dump(mode="json")
    canvas = seed["canvas"]
    teacher = canvas["users"][0]
    users = [teacher]
    per_section: dict[str, list[str]] = {s: [] for s in SECTIONS}
    for n in range(students):
        user_id = str(5000 + n)
        users.append(
            {
                "id": user_id,
                "name": f"Student {n}",
                "sortable_name": f"{n}, Student",
                "sis_user_id": f"S-{user_id}",
                "login_id": f"s{user_id}@example.edu",
            }
        )
        per_section[SECTIONS[n % 2]].append(user_id)
    canvas["users"] = users
    for section in canvas["sections"]:
        section["students"] = per_section[section["id"]]
    canvas["enrollments"] = []
    template = next(a for a in canvas["assignments"] if a["id"] == "124")
    canvas["assignments"] = []
    canvas["submissions"] = []
    due = datetime(2026, 10, 16, 4, 59, 59, tzinfo=UTC)
    for n in range(assignments):
        assignment_id = str(3000 + n)
        canvas["assignments"].append(
            template
            | {
                "id": assignment_id,
                "name": f"Homework {n + 1}",
                "due_at": (due + timedelta(days=n)).isoformat(),
                "overrides": [],
            }
        )
        for k, user_id in enumerate(u for s in SECTIONS for u in per_section[s]):
            canvas["submissions"].append(
                {
                    "id": f"{assignment_id}{k:04d}",
                    "assignment_id": assignment_id,
                    "user_id": user_id,
                    "score": float((n + k) % 11),
                    "grade": str((n + k) % 11),
                    "workflow_state": "graded",
                    "graded_at": "2026-10-20T14:00:00Z",
                    "posted_at": "2026-10-20T14:00:00Z",
                }
            )
    return seed


@contextmanager
def process(
    argv: list[str], env: dict[str, str], ready_url: str, patience_seconds: float = 30.0
) -> Iterator[subprocess.Popen[bytes]]:
    """Runs `argv` until the block ends; yields the process once `ready_url` answers. It is given
    `patience_seconds` to start, and again to stop."""
    child = subprocess.Popen(
        argv, env=os.environ | env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + patience_seconds
        while time.monotonic() < deadline:
            try:
                if httpx.get(ready_url, timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"{argv[0]} did not start")
        yield child
    finally:
        child.terminate()
        child.wait(patience_seconds)


@dataclass(frozen=True)
class StandIn:
    url: str
    pid: int
    seed_file: Path  # the seed it started from


@contextmanager
def stand_in(folder: Path, seed: dict[str, Any]) -> Iterator[StandIn]:
    """The sandbox (Canvas and IC stand-ins, strict) seeded with `seed`, its seed and key kept in
    `folder`, for as long as the block runs."""
    seed_file = folder / "seed.json"
    seed_file.write_text(json.dumps(seed))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "gpb", "sandbox", "--port", str(port), "--seed", str(seed_file)]
    with process([*argv, "--key", str(folder / "key.json")], {}, f"{url}/_sandbox/state") as child:
        yield StandIn(url, child.pid, seed_file)


def gpb_env(sandbox: str, folder: Path, concurrency: int) -> dict[str, str]:
    return {
        "GPB_DATABASE_URL": f"sqlite:///{folder / 'gpb.db'}",
        "GPB_EVENTS_AUTH": "none",
        "GPB_ADMIN_TOKEN": ADMIN,
        "GPB_CANVAS_ROOT_ACCOUNT_ID": ROOT_ACCOUNT_ID,
        "GPB_CANVAS_BASE_URL": sandbox,
        "GPB_CANVAS_TOKEN": CANVAS_TOKEN,
        "GPB_SIS_BASE_URL": f"{sandbox}/ims/oneroster",
        "GPB_SIS_TOKEN_URL": f"{sandbox}/ims/oneroster/token",
        "GPB_SIS_CLIENT_ID": "sandbox-client",
        "GPB_SIS_CLIENT_SECRET": "sandbox-client-secret",
        "GPB_SIS_VENDOR_AUTHORIZATION": "sandbox-vendor-key:sandbox-vendor-secret",
        "GPB_SIS_MAX_CONCURRENCY": str(concurrency),
    }


def gpb_client(gpb: str) -> httpx.Client:
    return httpx.Client(base_url=gpb, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60)


def course_handled(client: httpx.Client) -> None:
    """Sends the course's first event and waits until gpb handled it (and so knows the course)."""
    event = json.loads(
        (
            Path(__file__).parents[1] / "tests/fixtures/events/course_updated_published.json"
        ).read_text()
    )
    handled = client.post("/events/canvas", content=json.dumps(event)).json()["id"]
    while client.get(f"/api/events/{handled}").json()["status"] == "accepted":
        time.sleep(0.05)


def time_remaster(
    client: httpx.Client, poll_seconds: float = POLL_SECONDS
) -> tuple[float, dict[str, Any]]:
    """gpb's remaster, timed from its own record of the run (queued to finished, to the
    millisecond); the polls only see when it planned and when it ended."""
    started = time.perf_counter()
    run_id = client.post(f"/api/courses/{COURSE_ID}/syncs", json={"kind": "remaster"}).json()["id"]
    planned = None
    while (run := client.get(f"/api/syncs/{run_id}").json())["status"] in ("queued", "running"):
        if planned is None and run["progress"]["total"]:
            planned = time.perf_counter() - started
        time.sleep(poll_seconds)
    run["planned_after"] = planned
    took = datetime.fromisoformat(run["finished_at"]) - datetime.fromisoformat(run["created_at"])
    return took.total_seconds(), run


def line_items_of(seed: dict[str, Any]) -> list[LineItem]:
    """The line items of the seed's assignments, one for each section."""
    return [
        LineItem(
            line_item_id(assignment["id"], section),
            assignment["name"],
            datetime.fromisoformat(assignment["unlock_at"]),
            datetime.fromisoformat(assignment["due_at"]),
            f"SEC-{section}",
            "SCH-1",
            "CAT-3" if section == "7" else "CAT-6",
            10.0,
        )
        for assignment in seed["canvas"]["assignments"]
        for section in SECTIONS
    ]


class Roster:
    """Who is in which section, and their SIS ids: what turns a grade into an IC result."""

    def __init__(self, seed: dict[str, Any]) -> None:
        canvas = seed["canvas"]
        self._sis = {u["id"]: u["sis_user_id"] for u in canvas["users"]}
        self._section = {u: s["id"] for s in canvas["sections"] for u in s["students"]}

    def result(self, assignment_id: str, user_id: str, score: float | None) -> Result:
        section = self._section[user_id]
        return Result(
            result_id(assignment_id, section, user_id),
            line_item_id(assignment_id, section),
            self._sis[user_id],
            score,
            "fully graded",
            date(2026, 10, 20),
            False,
            False,
        )


class BareIc:
    """Plain httpx calls to the IC stand-in, at most `concurrency` in flight: the bare loop's and
    the floor's only client."""

    def __init__(self, client: httpx.AsyncClient, sandbox: str, concurrency: int) -> None:
        self.client = client
        self.root = f"{sandbox}/ims/oneroster"
        self.slots = asyncio.Semaphore(concurrency)
        self._headers: dict[str, str] = {}

    async def authenticate(self) -> None:
        token = (
            await self.client.post(
                f"{self.root}/token",
                data={"grant_type": "client_credentials"},
                auth=("sandbox-client", "sandbox-client-secret"),
            )
        ).json()["access_token"]
        self._headers = {
            "Authorization": f"Bearer {token}",
            "x-vendor-authorization": "sandbox-vendor-key:sandbox-vendor-secret",
        }

    async def put(self, path: str, body: dict[str, Any]) -> None:
        async with self.slots:
            response = await self.client.put(
                f"{self.root}/gradebook/v1p2/{path}", json=body, headers=self._headers
            )
            response.raise_for_status()

    async def held(self, item: LineItem) -> tuple[str | None, dict[str, str]]:
        """What IC holds of a section before its writes, as gpb reads it under one slot: the
        line item, and its results by sourcedId when IC has it (JSON text)."""
        async with self.slots:
            line_item = await self._get(f"lineItems/{item.sourced_id}")
            if line_item is None:
                return None, {}
            path = f"classes/{item.class_id}/lineItems/{item.sourced_id}/results"
            results = (await self._get(path) or {}).get("results", [])
        return json.dumps(line_item), {r["sourcedId"]: json.dumps(r) for r in results}

    async def _get(self, path: str) -> dict[str, Any] | None:
        response = await self.client.get(
            f"{self.root}/gradebook/v1p2/{path}", headers=self._headers
        )
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return dict(response.json())


def bare_client(concurrency: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=concurrency))


async def bare_loop(sandbox: str, seed: dict[str, Any], concurrency: int) -> tuple[float, int]:
    """The same line items and results, PUT with httpx and nothing else: the stand-in's own limit.

    Every PUT goes through one semaphore of `concurrency` slots, all queued at once, so the slots
    never wait on an assignment boundary. The line items go first: IC refuses a result whose line
    item it does not know yet.
    """
    line_items = line_items_of(seed)
    roster = Roster(seed)
    results = [
        roster.result(s["assignment_id"], s["user_id"], s["score"])
        for s in seed["canvas"]["submissions"]
    ]
    async with bare_client(concurrency) as client:
        ic = BareIc(client, sandbox, concurrency)
        started = time.perf_counter()
        await ic.authenticate()
        await asyncio.gather(
            *(ic.put(f"lineItems/{i.sourced_id}", line_item_body(i, ic.root)) for i in line_items)
        )
        await asyncio.gather(
            *(ic.put(f"results/{r.sourced_id}", result_body(r, ic.root)) for r in results)
        )
        return time.perf_counter() - started, len(line_items) + len(results)


# The floor's records, in a database of its own: IC's records before each section's writes (what
# an undo puts back), and each result's confirmation.
FLOOR_SCHEMA = (
    "CREATE TABLE befores (sourced_id TEXT PRIMARY KEY, line_item_id TEXT NOT NULL, held TEXT)",
    "CREATE TABLE confirmed (sourced_id TEXT PRIMARY KEY, sent TEXT NOT NULL)",
)
FLOOR_BEFORE = "INSERT INTO befores (sourced_id, line_item_id, held) VALUES (?, ?, ?)"
FLOOR_CONFIRMED = "INSERT INTO confirmed (sourced_id, sent) VALUES (?, ?)"


async def floor_loop(
    sandbox: str, seed: dict[str, Any], concurrency: int, database: Path
) -> tuple[float, int]:
    """The bare loop plus the work docs/design.md requires of a remaster besides its PUTs, done
    with gpb's own parts and nothing else.

    - Every grade re-read from Canvas (gpb's Canvas client, the same paged reads).
    - Before a section's writes, what IC holds read (its line item, and the line item's results
      when IC has it) and stored durably, so that an undo could put it back.
    - Each result's confirmation stored durably before it counts: gpb's group-committing SQLite
      writer (WAL, synchronous=FULL), a row each, lingering for company as gpb's confirmations do
      (CONFIRMATION_LINGER_SECONDS).

    No course structure read (the seed gives it: a few calls), no rules, plan, run record,
    progress, report or grades stored, and the bare loop's client: what gpb spends beyond this
    is its own. Sections go at once under one limit of calls in flight, each line item before
    its results, as gpb sends them.
    """
    setup = connect(str(database))
    for statement in FLOOR_SCHEMA:
        setup.execute(statement)
    setup.close()
    store = SqliteDatabase(str(database))
    store.start()
    roster = Roster(seed)
    canvas = CanvasClient(sandbox, CANVAS_TOKEN)
    try:
        async with bare_client(concurrency) as client:
            ic = BareIc(client, sandbox, concurrency)
            started = time.perf_counter()
            await ic.authenticate()
            assignment_ids = [a["id"] for a in seed["canvas"]["assignments"]]
            results: dict[str, list[Result]] = {}
            for s in await canvas.list_submissions(COURSE_ID, assignment_ids):
                result = roster.result(s.assignment_id, s.user_id, s.score)
                results.setdefault(result.line_item_id, []).append(result)

            async def confirmed(result: Result) -> None:
                body = result_body(result, ic.root)
                await ic.put(f"results/{result.sourced_id}", body)
                row = (result.sourced_id, json.dumps(body["result"]["score"]))
                await store.write(
                    lambda conn: conn.execute(FLOOR_CONFIRMED, row),
                    linger=CONFIRMATION_LINGER_SECONDS,
                )

            async def section(item: LineItem) -> None:
                held, held_results = await ic.held(item)
                writes = results.get(item.sourced_id, [])
                rows = [(item.sourced_id, item.sourced_id, held)] + [
                    (r.sourced_id, item.sourced_id, held_results.get(r.sourced_id)) for r in writes
                ]
                await store.write(lambda conn: conn.executemany(FLOOR_BEFORE, rows))
                await ic.put(f"lineItems/{item.sourced_id}", line_item_body(item, ic.root))
                await asyncio.gather(*(confirmed(r) for r in writes))

            line_items = line_items_of(seed)
            await asyncio.gather(*(section(item) for item in line_items))
            took = time.perf_counter() - started
        sent = sum(len(r) for r in results.values())
        stored = await store.read(
            lambda conn: conn.execute("SELECT count(*) FROM confirmed").fetchone()[0]
        )
    finally:
        await canvas.close()
        await store.close()
    assert stored == sent, f"the floor stored {stored} confirmations of {sent} results"
    return took, len(line_items) + sent


@dataclass(frozen=True)
class Size:
    assignments: int
    students: int

    @classmethod
    def parse(cls, text: str) -> Size:
        """`40x200`: assignments x students."""
        assignments, _, students = text.partition("x")
        return cls(int(assignments), int(students))

    def __str__(self) -> str:
        return f"{self.assignments}x{self.students}"


@dataclass(frozen=True)
class Cpu:
    """CPU seconds of each side during its part of a run: where the time went."""

    bare_client: float  # the bare loop's httpx client (this process)
    stand_in_bare: float  # the stand-in while the bare loop ran
    floor: float  # the floor: its client, and its SQLite writer (this process)
    stand_in_floor: float  # the stand-in while the floor ran
    gpb_loop: float  # gpb's event loop (its main thread)
    gpb_others: float  # gpb's other threads: the SQLite writer and readers
    stand_in_gpb: float  # the stand-in while gpb ran

    @property
    def bare_part(self) -> float:
        """All sides during the bare loop: its client and the stand-in."""
        return self.bare_client + self.stand_in_bare

    @property
    def floor_part(self) -> float:
        """All sides during the floor: its client and writer, and the stand-in."""
        return self.floor + self.stand_in_floor

    @property
    def gpb_part(self) -> float:
        """All sides during gpb's remaster: its threads and the stand-in."""
        return self.gpb_loop + self.gpb_others + self.stand_in_gpb


@dataclass(frozen=True)
class Measured:
    bare_seconds: float
    puts: int
    floor_seconds: float
    gpb_seconds: float
    run: dict[str, Any]
    cpu: Cpu

    @property
    def loop_ratio(self) -> float:
        """gpb's event loop's CPU against the bare client's: what the wall ratio follows while
        each side keeps one core busy."""
        return self.cpu.gpb_loop / self.cpu.bare_client

    @property
    def ratio(self) -> float:
        return self.gpb_seconds / self.bare_seconds

    @property
    def cpu_ratio(self) -> float:
        """The CPU all sides spent during gpb's part over what they spent during the bare loop's:
        on two cores, what the clock follows while every side is busy."""
        return self.cpu.gpb_part / self.cpu.bare_part

    @property
    def floor_cpu_ratio(self) -> float:
        """The same for the floor's part."""
        return self.cpu.floor_part / self.cpu.bare_part

    @property
    def floor_ratio(self) -> float:
        """What the required work alone costs, against the bare loop."""
        return self.floor_seconds / self.bare_seconds

    @property
    def over_floor(self) -> float:
        """gpb against the floor: what gpb spends beyond the required work."""
        return self.gpb_seconds / self.floor_seconds

    @property
    def succeeded(self) -> bool:
        return bool(self.run["status"] == "succeeded")


def reset(sandbox: StandIn, seed: dict[str, Any]) -> None:
    """The sandbox back to `seed`: an empty IC gradebook again."""
    httpx.post(f"{sandbox.url}/_sandbox/reset", json={"seed": seed}, timeout=60).raise_for_status()


def in_this_process(
    loop: Coroutine[Any, Any, tuple[float, int]], sandbox: StandIn
) -> tuple[float, int, float, float]:
    """Runs the bare loop or the floor here: its seconds and PUTs, then the CPU seconds this
    process and the stand-in spent meanwhile."""
    stand_in_before, before = cpu_seconds(sandbox.pid), time.process_time()
    seconds, puts = asyncio.run(loop)
    return seconds, puts, time.process_time() - before, cpu_seconds(sandbox.pid) - stand_in_before


def measure(size: Size, concurrency: int) -> Measured:
    """The bare loop, the floor, then gpb, on one sandbox seeded with `size` (reseeded between
    them): each from an empty IC gradebook, the floor and gpb from databases of their own."""
    seed = build_seed(size.assignments, size.students)
    with tempfile.TemporaryDirectory() as tmp, stand_in(Path(tmp), seed) as sandbox:
        folder = Path(tmp)
        bare = in_this_process(bare_loop(sandbox.url, seed, concurrency), sandbox)
        bare_seconds, puts, bare_client, stand_in_bare = bare
        reset(sandbox, seed)
        floor_run = floor_loop(sandbox.url, seed, concurrency, folder / "floor.db")
        floor_seconds, floor_puts, floor, stand_in_floor = in_this_process(floor_run, sandbox)
        assert floor_puts == puts, f"the floor sent {floor_puts} PUTs, the bare loop {puts}"
        reset(sandbox, seed)
        gpb_port = free_port()
        gpb = f"http://127.0.0.1:{gpb_port}"
        with (
            process(
                [sys.executable, "-m", "gpb", "serve", "--port", str(gpb_port)],
                gpb_env(sandbox.url, folder, concurrency),
                f"{gpb}/healthz",
            ) as served,
            gpb_client(gpb) as client,
        ):
            pid = served.pid
            course_handled(client)
            before = (cpu_seconds(sandbox.pid), cpu_seconds(pid), cpu_seconds(pid, pid))
            gpb_seconds, run = time_remaster(client)
            after = (cpu_seconds(sandbox.pid), cpu_seconds(pid), cpu_seconds(pid, pid))
    stand_in_gpb, gpb_all, gpb_loop = (b - a for a, b in zip(before, after, strict=True))
    cpu = Cpu(
        bare_client,
        stand_in_bare,
        floor,
        stand_in_floor,
        gpb_loop,
        gpb_all - gpb_loop,
        stand_in_gpb,
    )
    return Measured(bare_seconds, puts, floor_seconds, gpb_seconds, run, cpu)


def measure_size(size: Size, concurrency: int, count: int) -> list[Measured]:
    """`count` runs of one size, each printed as it ends."""
    print(f"remaster of {size.assignments} assignments x {size.students} students", flush=True)
    print("  times in s, ratios to the bare loop, and gpb's to the floor ('over floor');")
    print("  CPU in us a PUT: the bare client, the floor, gpb's event loop and its other threads,")
    print(
        "  the stand-in during each part; 'loop' is gpb's event loop's CPU over the bare client's;"
    )
    print("  'all CPU': all sides' CPU during the floor's and gpb's parts over the bare loop's.")
    print(
        f"  {'run':>4} {'bare':>6} {'floor':>6} {'gpb':>6} {'planned':>7}"
        f" {'floor':>6} {'gpb':>6} {'over floor':>10}"
        f" {'client':>7} {'floor':>6} {'loop':>6} {'others':>6} {'stand-in':>17} {'loop':>5}"
        f" {'all CPU':>9}  status"
    )
    runs = []
    for k in range(1, count + 1):
        m = measure(size, concurrency)
        counts = m.run["counts"]
        us = {name: seconds / m.puts * 1e6 for name, seconds in vars(m.cpu).items()}
        stand_ins = f"{us['stand_in_bare']:.0f}|{us['stand_in_floor']:.0f}|{us['stand_in_gpb']:.0f}"
        print(
            f"  {k:>4} {m.bare_seconds:>6.2f} {m.floor_seconds:>6.2f} {m.gpb_seconds:>6.2f}"
            f" {m.run['planned_after'] or 0:>7.2f}"
            f" {m.floor_ratio:>6.2f} {m.ratio:>6.2f} {m.over_floor:>10.2f}"
            f" {us['bare_client']:>7.0f} {us['floor']:>6.0f} {us['gpb_loop']:>6.0f}"
            f" {us['gpb_others']:>6.0f} {stand_ins:>17} {m.loop_ratio:>5.2f}"
            f" {m.floor_cpu_ratio:>4.2f}|{m.cpu_ratio:>4.2f}"
            f"  {m.run['status']} (sent {counts['sent']}, failed {counts['failed']})",
            flush=True,
        )
        runs.append(m)
    return runs


def report(runs: list[Measured]) -> float:
    """Prints the medians of one size's runs; returns gpb's median ratio to the bare loop."""
    puts = runs[0].puts
    bare = statistics.median(m.bare_seconds for m in runs)
    floor = statistics.median(m.floor_seconds for m in runs)
    gpb = statistics.median(m.gpb_seconds for m in runs)
    ratio = statistics.median(m.ratio for m in runs)
    print(
        f"  median: bare {bare:.2f} s ({puts} PUTs, {bare / puts * 1e6:,.0f} us each),"
        f" floor {floor:.2f} s, gpb {gpb:.2f} s ({gpb / puts * 1e6:,.0f} us a PUT)"
    )
    print(
        f"  ratio {ratio:.2f} (target <= {TARGET}) {'OK' if ratio <= TARGET else 'MISSED'};"
        f" the floor's {statistics.median(m.floor_ratio for m in runs):.2f};"
        f" gpb over the floor {statistics.median(m.over_floor for m in runs):.2f};"
        f" gpb's loop's CPU {statistics.median(m.loop_ratio for m in runs):.2f} of the bare"
        " client's"
    )
    floor_cpu = statistics.median(m.floor_cpu_ratio for m in runs)
    gpb_cpu = statistics.median(m.cpu_ratio for m in runs)
    print(
        f"  all sides' CPU: the floor's part {floor_cpu:.2f} of the bare loop's,"
        f" gpb's {gpb_cpu:.2f}{_follows(runs)}"
    )
    return ratio


def _follows(runs: list[Measured]) -> str:
    """How closely gpb's clock followed all sides' CPU from run to run (Pearson's r), once there
    are runs enough for it to mean something."""
    if len(runs) < 3:
        return ""
    ratios, cpus = [m.ratio for m in runs], [m.cpu_ratio for m in runs]
    try:
        return f"; gpb's ratio follows it with r = {statistics.correlation(ratios, cpus):.2f}"
    except statistics.StatisticsError:  # every run alike: nothing to correlate
        return ""


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        default="40x200",
        help="assignments x students, one or several: 10x50,40x200,80x400 (default 40x200)",
    )
    parser.add_argument("--runs", type=int, default=1, help="runs of each size (default 1)")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    sizes = [Size.parse(text) for text in args.sizes.split(",")]
    print(f"concurrency {args.concurrency} for both; {args.runs} run(s) of each size", flush=True)
    ok = True
    for size in sizes:
        runs = measure_size(size, args.concurrency, args.runs)
        ratio = report(runs)
        ok = ok and ratio <= TARGET and all(m.succeeded for m in runs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
