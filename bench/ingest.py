"""Durable ingest throughput: gpb's `POST /events/canvas` against a bare Starlette endpoint.

Both servers run the same way (uvicorn, httptools, uvloop, no access log) pinned to core 0; wrk
drives them from core 1 with keep-alive connections, posting distinct, realistic events (the
samples of tests/fixtures/events/ with varied ids, scores and times). gpb runs whole, its worker
included, against a JWKS served from this process.

The two servers take turns, in short rounds, so that whatever else the machine is doing weighs on
both alike; gpb is frozen (SIGSTOP) while the baseline runs, so that its worker, catching up,
does not run in the baseline's time. Besides req/s, the table gives each server's CPU time per
request, read from /proc over its rounds: the ratio of those is the same measure, less shaken by
other work on the machine.

The pool of events is signed once (a few minutes on two cores) and cached in bench/.cache/; gpb's
rounds go on through it, so every 202 is a new event. Should a run outlast the pool, wrk starts it
again and gpb answers those repeats with 200 (duplicate): they are counted apart, and not in the
throughput.

Last, where gpb's CPU time per event goes: its stages timed in this process on core 0, the
worker's share (its cost per event, measured as it catches up alone after the run, times the
share of events it handled during the run), and what is left: HTTP and the rest.

    .venv/bin/python bench/ingest.py [--mode signed|unsigned|both] [--duration 10]
        [--rounds 5] [--connections 32] [--pool 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from joserfc import jws
from joserfc.jwk import RSAKey
from sample_events import Samples

from gpb.handlers.envelope import CanvasEvent, content_hash, parse_event
from gpb.handlers.eventlog import EventLog
from gpb.handlers.ingest import EventDecoder
from gpb.infra.event_decoders import JwksCache, JwtDecoder, PlainJsonDecoder
from gpb.infra.store.store import SqlStore

BENCH = Path(__file__).resolve().parent
CACHE = BENCH / ".cache"
WRK_SCRIPT = BENCH / "ingest.lua"
SERVER_CORE = 0
CLIENT_CORE = 1
SIGNING_CHUNK = 2_000
BARE_BODIES = 20_000  # the baseline only reads bodies: a slice of the pool is plenty
# wrk loads only the bodies a round can use: more than gpb answers per second on any machine
# measured so far (a round that used them all would repeat them, and show duplicates).
BODIES_PER_ROUND_SECOND = 20_000
STAGE_SAMPLE = 3_000
TARGETS = {"signed": 0.25, "unsigned": 0.4}
CONTENT_TYPES = {"signed": "application/jwt", "unsigned": "application/json"}


@dataclass(frozen=True)
class Pool:
    key: RSAKey
    signed: Path
    plain: Path
    size: int

    def bodies(self, mode: str) -> Path:
        return self.signed if mode == "signed" else self.plain

    def read(self, mode: str, count: int) -> list[bytes]:
        with self.bodies(mode).open("rb") as lines:
            return [next(lines).rstrip(b"\n") for _ in range(count)]


@dataclass(frozen=True)
class Round:
    """One wrk run against one server, and the CPU time that server spent meanwhile."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    not_2xx: int
    errors: int
    cpu_seconds: float


@dataclass(frozen=True)
class Totals:
    rounds: list[Round]
    duplicates: int = 0  # answered 200: counted in gpb's log, since wrk does not tell 200 from 202

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.rounds)

    @property
    def failed(self) -> int:
        return sum(r.not_2xx + r.errors for r in self.rounds)

    @property
    def fresh(self) -> int:
        """Answers that stored a new event (202; the baseline answers 202 too)."""
        return self.requests - sum(r.not_2xx for r in self.rounds) - self.duplicates

    @property
    def throughput(self) -> float:
        return self.fresh / sum(r.seconds for r in self.rounds)

    @property
    def cpu_per_request_us(self) -> float:
        return sum(r.cpu_seconds for r in self.rounds) / self.requests * 1e6

    @property
    def p50_ms(self) -> float:
        return statistics.median(r.p50_ms for r in self.rounds)

    @property
    def p99_ms(self) -> float:
        return statistics.median(r.p99_ms for r in self.rounds)


@dataclass(frozen=True)
class Stages:
    """gpb's CPU time per event, in microseconds, measured in this process on the server's core."""

    decode: float
    parse: float
    hash: float
    append: float


# --- the pool -------------------------------------------------------------------------------


def _sign_range(key_data: dict[str, Any], start: int, stop: int) -> list[bytes]:
    key = RSAKey.import_key(key_data)
    samples = Samples.load()
    protected = {"alg": "RS256", "kid": key.kid}
    return [
        jws.serialize_compact(protected, json.dumps(samples.event(index)), key).encode()
        for index in range(start, stop)
    ]


def _plain_range(start: int, stop: int) -> list[bytes]:
    samples = Samples.load()
    return [json.dumps(samples.event(index)).encode() for index in range(start, stop)]


def _line_count(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as lines:
        return sum(1 for _ in lines)


def _extend(path: Path, size: int, make: Callable[[int, int], list[bytes]]) -> None:
    """Appends events `have..size-1` to the pool file, made in parallel over both cores."""
    have = _line_count(path)
    if have >= size:
        return
    print(f"  building {path.name}: events {have:,} to {size - 1:,}", flush=True)
    starts = range(have, size, SIGNING_CHUNK)
    stops = [min(start + SIGNING_CHUNK, size) for start in starts]
    with ProcessPoolExecutor(os.cpu_count()) as pool, path.open("ab") as out:
        for chunk in pool.map(make, starts, stops):
            out.writelines(line + b"\n" for line in chunk)


def load_pool(size: int) -> Pool:
    """The first `size` events of the cached pool, signed and plain; built or extended if short."""
    CACHE.mkdir(exist_ok=True)
    key_file = CACHE / "ingest-key.json"
    if not key_file.exists():
        key = RSAKey.generate_key(2048, parameters={"kid": "bench-key"}, private=True)
        key_file.write_text(json.dumps(key.as_dict(private=True)))
        for stale in CACHE.glob("ingest-pool-*.txt"):
            stale.unlink()
    key_data = json.loads(key_file.read_text())
    pool = Pool(
        RSAKey.import_key(key_data),
        CACHE / "ingest-pool-signed.txt",
        CACHE / "ingest-pool-plain.txt",
        size,
    )
    _extend(pool.signed, size, partial(_sign_range, key_data))
    _extend(pool.plain, size, _plain_range)
    return pool


def warm_up_body(mode: str, pool: Pool) -> bytes:
    """An event outside the pool, so that gpb has fetched its keys before wrk starts."""
    event = json.dumps(Samples.load().event(-1))
    if mode == "unsigned":
        return event.encode()
    protected = {"alg": "RS256", "kid": pool.key.kid}
    return jws.serialize_compact(protected, event, pool.key).encode()


# --- servers and load -----------------------------------------------------------------------


@contextmanager
def jwks_server(key: RSAKey) -> Iterator[str]:
    document = json.dumps({"keys": [key.as_dict(private=False)]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(document)))
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks"
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class Server:
    url: str
    pid: int

    @contextmanager
    def frozen(self) -> Iterator[None]:
        os.kill(self.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(self.pid, signal.SIGCONT)

    def cpu_seconds(self) -> float:
        """User and system CPU time the server process has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def uvicorn_server(factory: str, env: dict[str, str], cwd: Path) -> Iterator[Server]:
    """Serves `factory` on core 0 the way both contenders are served."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        *("taskset", "-c", str(SERVER_CORE), sys.executable, "-m", "uvicorn", "--factory"),
        *(factory, "--app-dir", str(BENCH), "--host", "127.0.0.1", "--port", str(port)),
        *("--http", "httptools", "--loop", "uvloop", "--no-access-log", "--log-level", "warning"),
    ]
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=cwd)
    server = Server(f"http://127.0.0.1:{port}", process.pid)  # taskset execs the server
    try:
        _wait_until_up(server.url, process)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            print(f"  {factory} did not stop within 30 s of SIGTERM; killed it")
            process.kill()
            process.wait()


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def warm_up(url: str, body: bytes) -> None:
    request = urllib.request.Request(f"{url}/events/canvas", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        if response.status != 202:
            raise RuntimeError(f"the warm-up event got {response.status}")


def run_round(
    server: Server, bodies: Path, lines: range, content_type: str, args: argparse.Namespace
) -> Round:
    """wrk posts `lines` of the pool file to the server for one round. The server's CPU time is
    read from when wrk has loaded its bodies to when it is done."""
    with tempfile.TemporaryDirectory(prefix="ingest-wrk-") as scratch:
        ready = Path(scratch) / "ready"
        command = [
            *("taskset", "-c", str(CLIENT_CORE), "wrk", "-t1", f"-c{args.connections}"),
            *(f"-d{args.round_seconds}s", "--timeout", "10s", "-s", str(WRK_SCRIPT)),
            *(f"{server.url}/events/canvas", "--", str(bodies), str(lines.start)),
            *(str(len(lines)), content_type, str(ready)),
        ]
        wrk = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        while not ready.exists() and wrk.poll() is None:
            time.sleep(0.001)
        cpu_before = server.cpu_seconds()
        output, _ = wrk.communicate()
        cpu_seconds = server.cpu_seconds() - cpu_before
    if wrk.returncode != 0:
        raise RuntimeError(f"wrk failed with {wrk.returncode}")
    report = json.loads(output.strip().splitlines()[-1])
    return Round(
        requests=report["requests"],
        seconds=report["duration_us"] / 1e6,
        p50_ms=report["p50_us"] / 1000,
        p99_ms=report["p99_us"] / 1000,
        not_2xx=report["not_2xx"],
        errors=report["errors"],
        cpu_seconds=cpu_seconds,
    )


def gpb_env(mode: str, run_dir: Path, jwks_url: str) -> dict[str, str]:
    return {
        "GPB_DATABASE_URL": f"sqlite:///{run_dir / 'gpb.db'}",
        "GPB_EVENTS_AUTH": "jwt" if mode == "signed" else "none",
        "GPB_CANVAS_JWKS_URL": jwks_url,
    }


WORKER_DONE = ("processed", "ignored", "failed")  # what the worker leaves an event as
DRAIN_SECONDS = 3


def statuses_in(database: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        return dict(conn.execute("SELECT status, count(*) FROM events GROUP BY status").fetchall())


def handled_in(stored: dict[str, int]) -> int:
    return sum(stored.get(status, 0) for status in WORKER_DONE)


@dataclass(frozen=True)
class Load:
    bare: Totals
    gpb: Totals
    stored: dict[str, int]  # gpb's log by status when its last round ended
    worker_us: float | None  # CPU per event the worker handles, alone, catching up afterwards


def run_load(mode: str, pool: Pool, jwks_url: str, args: argparse.Namespace) -> Load:
    """The baseline and gpb in turns. gpb is frozen (SIGSTOP) while the baseline runs, so that its
    worker, catching up, takes none of the baseline's time; its rounds go on through the pool.
    Then gpb's worker catches up alone for a while, to show what it costs per event."""
    bodies, content_type = pool.bodies(mode), CONTENT_TYPES[mode]
    bare_rounds, gpb_rounds = [], []
    posted = 0
    with tempfile.TemporaryDirectory(dir=CACHE, prefix="ingest-run-") as run_dir:
        database = Path(run_dir) / "gpb.db"
        env = gpb_env(mode, Path(run_dir), jwks_url)
        with (
            uvicorn_server("bare_app:create_app", {}, BENCH) as bare,
            uvicorn_server("gpb.bootstrap:create_app", env, Path(run_dir)) as gpb,
        ):
            warm_up(gpb.url, warm_up_body(mode, pool))
            for _ in range(args.rounds):
                with gpb.frozen():
                    baseline = range(min(pool.size, BARE_BODIES))
                    bare_rounds.append(run_round(bare, bodies, baseline, content_type, args))
                fresh = _next_bodies(posted, pool.size, args.round_seconds)
                gpb_rounds.append(run_round(gpb, bodies, fresh, content_type, args))
                posted += gpb_rounds[-1].requests + args.connections  # and those in flight
            with gpb.frozen():
                stored = statuses_in(database)
            worker_us = _worker_cost(gpb, database, handled_in(stored))
    duplicates = stored.get("duplicate", 0)
    return Load(Totals(bare_rounds), Totals(gpb_rounds, duplicates), stored, worker_us)


def _worker_cost(gpb: Server, database: Path, handled_before: int) -> float | None:
    cpu_before = gpb.cpu_seconds()
    time.sleep(DRAIN_SECONDS)
    with gpb.frozen():
        cpu_seconds = gpb.cpu_seconds() - cpu_before
        handled = handled_in(statuses_in(database)) - handled_before
    return cpu_seconds / handled * 1e6 if handled else None


def _next_bodies(posted: int, pool_size: int, seconds: int) -> range:
    """The pool lines a gpb round posts: those after the ones posted, or (the pool used up) the
    pool again, as duplicates."""
    start = posted if posted < pool_size else 0
    return range(start, min(pool_size, start + BODIES_PER_ROUND_SECOND * seconds))


# --- where gpb's time goes ------------------------------------------------------------------


def _cpu_us_per_item(started: float, count: int) -> float:
    return (time.process_time() - started) / count * 1e6


async def _time_decode(decoder: EventDecoder, bodies: list[bytes]) -> tuple[float, list[object]]:
    started = time.process_time()
    claims = [await decoder.decode(body) for body in bodies]
    return _cpu_us_per_item(started, len(bodies)), claims


async def _time_append(log: EventLog, events: list[CanvasEvent], connections: int) -> float:
    """CPU per event of the durable append, `connections` appends in flight as under load."""
    waiting = list(reversed(events))

    async def appender() -> None:
        while waiting:
            await log.append(waiting.pop(), "127.0.0.1")

    started = time.process_time()
    await asyncio.gather(*(appender() for _ in range(connections)))
    return _cpu_us_per_item(started, len(events))


def _decoder(mode: str, pool: Pool) -> tuple[EventDecoder, JwksCache | None]:
    if mode == "unsigned":
        return PlainJsonDecoder(), None
    jwks = {"keys": [pool.key.as_dict(private=False)]}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=jwks))
    keys = JwksCache("http://jwks.invalid/", transport=transport)
    return JwtDecoder(keys), keys


async def measure_stages(mode: str, pool: Pool, connections: int) -> Stages:
    bodies = pool.read(mode, STAGE_SAMPLE)
    decoder, keys = _decoder(mode, pool)
    if keys is not None:
        await keys.refresh()
    decode, claims = await _time_decode(decoder, bodies)
    started = time.process_time()
    events = [parse_event(claim) for claim in claims]
    parse = _cpu_us_per_item(started, len(claims))
    started = time.process_time()
    for claim in claims:
        content_hash(claim)  # type: ignore[arg-type]
    hashing = _cpu_us_per_item(started, len(claims))
    with tempfile.TemporaryDirectory(dir=CACHE, prefix="ingest-stages-") as run_dir:
        store = SqlStore(str(Path(run_dir) / "gpb.db"))
        store.migrate()
        store.start()
        try:
            append = await _time_append(store.events, events, connections)
        finally:
            await store.close()
    if keys is not None:
        await keys.close()
    return Stages(decode, parse, hashing, append)


def stages_on_server_core(mode: str, pool: Pool, connections: int) -> Stages:
    os.sched_setaffinity(0, {SERVER_CORE})
    try:
        return asyncio.run(measure_stages(mode, pool, connections))
    finally:
        os.sched_setaffinity(0, {CLIENT_CORE})


# --- the report -----------------------------------------------------------------------------


def _row(name: str, totals: Totals, ratio: str) -> str:
    return (
        f"  {name:<16} {totals.throughput:>8,.0f} {totals.fresh:>9,} {totals.duplicates:>8,}"
        f" {totals.failed:>6,} {totals.p50_ms:>7.2f} {totals.p99_ms:>7.2f}"
        f" {totals.cpu_per_request_us:>8.1f}  {ratio}"
    )


def print_load(mode: str, load: Load) -> None:
    ratio = load.gpb.throughput / load.bare.throughput
    target = TARGETS[mode]
    verdict = "meets" if ratio >= target else "MISSES"
    print(f"\n{mode} bodies")
    header = f"{'server':<16} {'req/s':>8} {'202':>9} {'200 dup':>8} {'failed':>6}"
    print(f"  {header} {'p50 ms':>7} {'p99 ms':>7} {'CPU us/req':>8}  ratio")
    print(_row("bare Starlette", load.bare, "1 (baseline)"))
    print(_row(f"gpb {mode}", load.gpb, f"{ratio:.3f} ({verdict} the target >= {target})"))
    cpu_ratio = load.bare.cpu_per_request_us / load.gpb.cpu_per_request_us
    print("  (p50 and p99: the median over the rounds of each round's own)")
    print(f"  the same ratio by server CPU time per request: {cpu_ratio:.3f}")
    by_status = ", ".join(f"{status} {count:,}" for status, count in sorted(load.stored.items()))
    print(f"  gpb's log after the run: {by_status}")


def print_stages(mode: str, stages: Stages, load: Load) -> None:
    per_event = load.gpb.cpu_per_request_us
    rows = [
        ("JWS verify + decode" if mode == "signed" else "JSON decode", stages.decode),
        ("envelope parse + hash", stages.parse),
        ("  of which content hash", stages.hash),
        ("durable append", stages.append),
    ]
    worker_share = 0.0
    if load.worker_us is not None:
        handled = handled_in(load.stored) / sum(load.stored.values())
        worker_share = load.worker_us * handled
        rows.append((f"worker ({handled:.0%} handled), est.", worker_share))
    rest = per_event - stages.decode - stages.parse - stages.append - worker_share
    rows.append(("HTTP and the rest", rest))
    print(f"  where gpb's {per_event:.0f} us of CPU per event go (stages timed in-process):")
    for name, micros in rows:
        print(f"    {name:<26} {micros:>7.1f} us  {micros / per_event:>6.1%}")
    print(
        f"    (the bare endpoint spends {load.bare.cpu_per_request_us:.1f} us per request", end=""
    )
    if load.worker_us is not None:
        print(f"; the worker alone spends {load.worker_us:.0f} us per event it handles)")
    else:
        print(")")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["signed", "unsigned", "both"], default="both")
    parser.add_argument("--duration", type=int, default=10, help="seconds per server and mode")
    parser.add_argument("--rounds", type=int, default=5, help="turns the duration is cut into")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--pool", type=int, default=200_000, help="distinct events to post")
    args = parser.parse_args()
    args.round_seconds = max(1, args.duration // args.rounds)
    return args


def main() -> None:
    args = parse_args()
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed: apt-get install -y {tool}")
    pool = load_pool(args.pool)
    os.sched_setaffinity(0, {CLIENT_CORE})
    print(
        f"ingest: {args.rounds} rounds of {args.round_seconds} s per server and mode,"
        f" {args.connections} keep-alive connections, a pool of {pool.size:,} distinct events;"
        f"\nservers on core {SERVER_CORE}, wrk on core {CLIENT_CORE}"
    )
    modes = ["signed", "unsigned"] if args.mode == "both" else [args.mode]
    with jwks_server(pool.key) as jwks_url:
        for mode in modes:
            load = run_load(mode, pool, jwks_url, args)
            print_load(mode, load)
            print_stages(mode, stages_on_server_core(mode, pool, args.connections), load)


if __name__ == "__main__":
    main()
