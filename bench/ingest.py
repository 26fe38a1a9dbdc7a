"""Durable ingest throughput: gpb's `POST /events/canvas` against a bare Starlette endpoint.

All servers run the same way (uvicorn, httptools, uvloop, no access log) pinned to core 0; wrk
drives them from core 1 (--server-cores and --client-cores choose others) with keep-alive
connections, posting distinct, realistic events (the
samples of tests/fixtures/events/ with varied ids, scores and times). gpb runs whole, its worker
included, against a JWKS served from this process.

The servers take turns, in short rounds, so that whatever else the machine is doing weighs on
all alike; gpb is frozen (SIGSTOP) while the others run, so that its worker, catching up, does
not run in their time. On SQLite a third server, the floor (bench/floor_app.py), takes its turn
too: only the work every event needs before its 202, with gpb's own parts, so that a run shows
how much that work alone costs; the target is a share of the floor's throughput.

Besides req/s, the table gives each server's CPU time per request, read from /proc over its
rounds: the ratio of those is the same measure, less shaken by other work on the machine.

The pool of events is signed once (a few minutes on two cores) and cached in bench/.cache/; gpb's
rounds go on through it, so every 202 is a new event. Should a run outlast the pool, wrk starts it
again and gpb answers those repeats with 200 (duplicate): they are counted apart, and not in the
throughput.

Last, where gpb's CPU time per event goes: its stages timed in this process on core 0, the
worker's share (its cost per event, measured as it catches up alone after the run, times the
share of events it handled during gpb's rounds, counted as each begins and ends), and what is left:
HTTP and the rest.

gpb stores its events in a SQLite file of the run's own, or, with --database, in a fresh database
on that PostgreSQL server (created for the run, dropped after it). On a server of this machine,
the table also gives the database server's CPU time per request, which gpb's own leaves out: use a
server of your own, since all of its work is counted. The exit code is 1 when gpb misses the
share of the floor's throughput of docs/benchmarks.md (0.8, signed and unsigned; on SQLite, where
the floor runs), a request failed, or an acknowledged event is not in the log.

--flood runs each of gpb's rounds a second time beside a flood of forged deliveries (unsigned
16 KB bodies, 270 a second as in the flood that once filled the disk, over a few keep-alive
connections from other processes on loopback, for the round's length only) and gives gpb's
throughput and p99 beside the flood as a ratio of its own without one, measured in the same run.

--replicas 1,2,3 (PostgreSQL only) serves gpb as that many processes on one database instead, one
count after another, each beside the baseline in the same rounds: one wrk per replica, all at once,
with the connections shared out and their throughputs summed. It has no target: it checks that
replicas ingest side by side (no failed request, no acknowledged event missing) and shows what
each costs. Given several server cores (--server-cores 0-2 --client-cores 3), the replicas take
one each, in turn, and each replica's wrk a client core in turn; with the default single server
core they share it, and their sum cannot grow.

    .venv/bin/python bench/ingest.py [--mode signed|unsigned|both] [--duration 10]
        [--rounds 5] [--connections 32] [--pool 200000]
        [--database postgresql://...] [--replicas 1,2,3] [--flood]
        [--server-cores 0] [--client-cores 1]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing
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
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
from joserfc import jws
from joserfc.jwk import RSAKey
from sample_events import Samples

from gpb.handlers.envelope import CanvasEvent, content_hash, parse_event
from gpb.handlers.ports import EventDecoder, EventLog
from gpb.infra.event_decoders import JwksCache, JwtDecoder, PlainJsonDecoder
from gpb.infra.sandbox.settings import ROOT_ACCOUNT_ID
from gpb.infra.store.store import POSTGRES_SCHEMES, SqlStore

BENCH = Path(__file__).resolve().parent
CACHE = BENCH / ".cache"
WRK_SCRIPT = BENCH / "ingest.lua"
SIGNING_CHUNK = 2_000
BARE_BODIES = 20_000  # the baseline only reads bodies: a slice of the pool is plenty
# wrk loads only the bodies a round can use: more than gpb answers per second on any machine
# measured so far (a round that used them all would repeat them, and show duplicates).
BODIES_PER_ROUND_SECOND = 20_000
STAGE_SAMPLE = 3_000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# docs/design.md: gpb's throughput at least this share of the floor's, signed and unsigned.
FLOOR_TARGET = 0.8
CONTENT_TYPES = {"signed": "application/jwt", "unsigned": "application/json"}


@dataclass(frozen=True)
class Cores:
    """Where the bench runs things: the servers (a replica to each core in turn, the baseline and
    the floor on the first) and the load generators (a wrk to each core in turn)."""

    servers: tuple[int, ...] = (0,)
    clients: tuple[int, ...] = (1,)

    def server(self, k: int) -> int:
        return self.servers[k % len(self.servers)]

    def client(self, k: int) -> int:
        return self.clients[k % len(self.clients)]

    @staticmethod
    def parse(text: str) -> tuple[int, ...]:
        """`0`, `0,1,2` or `0-2`."""
        cores: list[int] = []
        for part in text.split(","):
            first, _, last = part.partition("-")
            cores.extend(range(int(first), int(last or first) + 1))
        return tuple(cores)


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
    """One round against one contender (one wrk per server process, all at once), and the CPU
    time its processes and the database server spent meanwhile."""

    requests_by_server: tuple[int, ...]
    seconds: float
    p50_ms: float  # of the slowest server's wrk, when there are several
    p99_ms: float
    not_2xx: int
    errors: int
    cpu_seconds: float
    database_cpu_seconds: float | None  # None: no database server on this machine to read
    handled: int | None = None  # events gpb's worker finished meanwhile (None: not counted)

    @property
    def requests(self) -> int:
        return sum(self.requests_by_server)


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
    def database_cpu_per_request_us(self) -> float | None:
        seconds = [r.database_cpu_seconds for r in self.rounds]
        if any(s is None for s in seconds):
            return None
        return sum(s or 0.0 for s in seconds) / self.requests * 1e6

    @property
    def handled(self) -> int | None:
        """Events gpb's worker finished during the rounds (None: not counted)."""
        counts = [r.handled for r in self.rounds]
        return None if any(c is None for c in counts) else sum(c or 0 for c in counts)

    @property
    def p50_ms(self) -> float:
        return statistics.median(r.p50_ms for r in self.rounds)

    @property
    def p99_ms(self) -> float:
        return statistics.median(r.p99_ms for r in self.rounds)


# --- the flood of forged deliveries -------------------------------------------------------

FLOOD_CONNECTIONS = 4
FLOOD_BODY = b"A" * 16_384
# The flood that filled 77 MB before refusals were bounded: 2,700 such posts in 10 s. Paced, so
# that the flood's clients leave wrk its share of the client core.
FLOOD_PER_SECOND = 270


def _flood(
    url: str, core: int, seconds: float, answered: Any, ready: Any, go: Any, stop: Any
) -> None:
    """Posts FLOOD_BODY over one keep-alive connection, at its share of FLOOD_PER_SECOND, from
    when `go` is set (its start-up, imports included, is done by then) until `stop` is set, for
    at most `seconds`."""
    os.sched_setaffinity(0, {core})
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    interval = FLOOD_CONNECTIONS / FLOOD_PER_SECOND
    ready.release()
    go.wait()
    start = time.monotonic()
    deadline = start + seconds
    for sent in range(int(seconds / interval)):
        time.sleep(max(0.0, start + sent * interval - time.monotonic()))
        if time.monotonic() >= deadline or stop.is_set():
            break
        try:
            conn.request("POST", "/events/canvas", body=FLOOD_BODY)
            conn.getresponse().read()
        except (OSError, http.client.HTTPException):
            conn.close()  # gpb may close a connection after a refusal: open another
            continue
        with answered.get_lock():
            answered.value += 1
    conn.close()


@contextmanager
def flooding(url: str, core: int, seconds: float) -> Iterator[Any]:
    """A flood at `url` while the block runs, for at most `seconds` (a bounded loop per
    connection), begun once every flood process has started, so that their start-up takes
    nothing from the round; yields its answer count."""
    context = multiprocessing.get_context("spawn")
    answered, ready = context.Value("q", 0), context.Semaphore(0)
    go, stop = context.Event(), context.Event()
    floods = [
        context.Process(
            target=_flood, args=(url, core, seconds, answered, ready, go, stop), daemon=True
        )
        for _ in range(FLOOD_CONNECTIONS)
    ]
    for flood in floods:
        flood.start()
    for _ in floods:
        ready.acquire(timeout=120)
    go.set()
    try:
        yield answered
    finally:
        stop.set()
        for flood in floods:
            flood.join(30)


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


def warm_up_body(mode: str, pool: Pool, replica: int) -> bytes:
    """An event outside the pool, one for each replica, so that each has fetched its keys
    before wrk starts."""
    event = json.dumps(Samples.load().event(-1 - replica))
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
        fields = _stat(self.pid)
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name: state, ppid, ... (utime is [11])."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


@contextmanager
def frozen(servers: list[Server]) -> Iterator[None]:
    with ExitStack() as stack:
        for server in servers:
            stack.enter_context(server.frozen())
        yield


def cpu_seconds(servers: list[Server]) -> float:
    return sum(server.cpu_seconds() for server in servers)


@contextmanager
def uvicorn_servers(
    factory: str, env: dict[str, str], cwd: Path, cores: Cores, count: int = 1
) -> Iterator[list[Server]]:
    """Serves `factory` the way every contender is served: `count` processes, each on a port and
    a server core of its own (in turn), started together (replicas of gpb race for its
    migrations)."""
    command = [
        *(sys.executable, "-m", "uvicorn", "--factory"),
        *(factory, "--app-dir", str(BENCH), "--host", "127.0.0.1"),
        *("--http", "httptools", "--loop", "uvloop", "--no-access-log", "--log-level", "warning"),
    ]
    processes: list[subprocess.Popen[bytes]] = []
    servers = []
    try:
        for k in range(count):
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            process = subprocess.Popen(
                ["taskset", "-c", str(cores.server(k)), *command, "--port", str(port)],
                env={**os.environ, **env},
                cwd=cwd,
            )
            processes.append(process)
            servers.append(Server(f"http://127.0.0.1:{port}", process.pid))  # taskset execs it
        for server, process in zip(servers, processes, strict=True):
            _wait_until_up(server.url, process)
        yield servers
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                print(f"  {factory} did not stop within 30 s of SIGTERM; killed it")
                process.kill()
                process.wait()


def _value(conn: psycopg.Connection[Any], query: str) -> Any:
    return conn.execute(query).fetchall()[0][0]


@dataclass(frozen=True)
class DatabaseServer:
    """A PostgreSQL server on this machine: its CPU time is its postmaster's (which takes in the
    time of the backends it has reaped) and its live backends'."""

    postmaster: int

    @classmethod
    def find(cls, url: str) -> DatabaseServer | None:
        """The server behind `url`, when it runs on this machine; else None."""
        with psycopg.connect(url) as conn:
            backend = _value(conn, "SELECT pg_backend_pid()")
            try:
                if Path(f"/proc/{backend}/comm").read_text().strip() != "postgres":
                    return None
                return cls(int(_stat(backend)[1]))
            except FileNotFoundError:
                return None

    def cpu_seconds(self) -> float:
        own = _stat(self.postmaster)
        ticks = sum(int(field) for field in own[11:15])  # with its reaped children's
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = _stat(int(entry.name))
            except (FileNotFoundError, ProcessLookupError):
                continue  # ended meanwhile: its time is now in its parent's
            if int(fields[1]) == self.postmaster:
                ticks += int(fields[11]) + int(fields[12])
        return ticks / CLOCK_TICKS


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


def connections_of(servers: list[Server], args: argparse.Namespace) -> list[int]:
    """The keep-alive connections each server's wrk opens: the same total for any count."""
    count = len(servers)
    share, extra = divmod(args.connections, count)
    return [max(1, share + (k < extra)) for k in range(count)]


def run_round(
    servers: list[Server],
    bodies: Path,
    lines: list[range],
    content_type: str,
    args: argparse.Namespace,
    database: DatabaseServer | None,
    handled: Callable[[], int] | None = None,
) -> Round:
    """One wrk per server, all at once, each posting its `lines` of the pool file over its share
    of the connections. The servers' CPU time (and the database server's, and `handled`: the
    events gpb's worker has finished) is read from when every wrk has loaded its bodies to when
    all are done."""
    with tempfile.TemporaryDirectory(prefix="ingest-wrk-") as scratch:
        wrks = []
        shares = zip(servers, lines, connections_of(servers, args), strict=True)
        for k, (server, share, conns) in enumerate(shares):
            ready = Path(scratch) / f"ready-{k}"
            command = [
                *("taskset", "-c", str(args.cores.client(k)), "wrk", "-t1", f"-c{conns}"),
                *(f"-d{args.round_seconds}s", "--timeout", "10s", "-s", str(WRK_SCRIPT)),
                *(f"{server.url}/events/canvas", "--", str(bodies), str(share.start)),
                *(str(len(share)), content_type, str(ready)),
            ]
            wrks.append((subprocess.Popen(command, stdout=subprocess.PIPE, text=True), ready))
        while any(not ready.exists() and wrk.poll() is None for wrk, ready in wrks):
            time.sleep(0.001)
        handled_before = handled() if handled else None
        cpu_before = cpu_seconds(servers)
        database_before = database.cpu_seconds() if database else None
        outputs = [wrk.communicate()[0] for wrk, _ in wrks]
        cpu = cpu_seconds(servers) - cpu_before
        handled_during = (
            handled() - handled_before if handled and handled_before is not None else None
        )
        database_cpu = (
            database.cpu_seconds() - database_before
            if database and database_before is not None
            else None
        )
    for wrk, _ in wrks:
        if wrk.returncode != 0:
            raise RuntimeError(f"wrk failed with {wrk.returncode}")
    reports = [json.loads(output.strip().splitlines()[-1]) for output in outputs]
    return Round(
        requests_by_server=tuple(r["requests"] for r in reports),
        seconds=max(r["duration_us"] for r in reports) / 1e6,
        p50_ms=max(r["p50_us"] for r in reports) / 1000,
        p99_ms=max(r["p99_us"] for r in reports) / 1000,
        not_2xx=sum(r["not_2xx"] for r in reports),
        errors=sum(r["errors"] for r in reports),
        cpu_seconds=cpu,
        database_cpu_seconds=database_cpu,
        handled=handled_during,
    )


def gpb_env(mode: str, database_url: str, jwks_url: str) -> dict[str, str]:
    return {
        "GPB_DATABASE_URL": database_url,
        "GPB_EVENTS_AUTH": "jwt" if mode == "signed" else "none",
        "GPB_CANVAS_JWKS_URL": jwks_url,
        "GPB_CANVAS_ROOT_ACCOUNT_ID": ROOT_ACCOUNT_ID,
    }


@contextmanager
def run_database(server: str | None, run_dir: Path) -> Iterator[str]:
    """gpb's database for one run: a SQLite file in the run's folder, or a fresh database on the
    PostgreSQL server `server`, dropped afterwards."""
    if server is None:
        yield f"sqlite:///{run_dir / 'gpb.db'}"
        return
    name = f"gpb_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield urlsplit(server)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def describe_database(server: str | None) -> str:
    """Which database gpb commits to, and whether its commits reach the disk before it answers."""
    if server is None:
        return "a SQLite file (WAL, synchronous=FULL)"
    with psycopg.connect(server) as conn:
        version = _value(conn, "SHOW server_version")
        flushed = {name: _value(conn, f"SHOW {name}") for name in ("fsync", "synchronous_commit")}
    where = urlsplit(server)
    settings = ", ".join(f"{name}={value}" for name, value in flushed.items())
    text = f"PostgreSQL {version} at {where.hostname}:{where.port or 5432} ({settings})"
    if "off" in flushed.values():
        text += "\n  WARNING: this server does not flush its commits: the ingest is not durable"
    return text


WORKER_DONE = ("processed", "ignored", "failed")  # what the worker leaves an event as
STORED = (*WORKER_DONE, "accepted")  # an event gpb acknowledged with 202
DRAIN_SECONDS = 3


def statuses_in(database_url: str) -> dict[str, int]:
    query = "SELECT status, count(*) FROM events GROUP BY status"
    if database_url.startswith("sqlite:///"):
        path = database_url.removeprefix("sqlite:///")
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            return dict(conn.execute(query).fetchall())
    with psycopg.connect(database_url) as conn:
        return dict(conn.execute(query).fetchall())


def _handled_now(database_url: str) -> int:
    return handled_in(statuses_in(database_url))


def handled_in(stored: dict[str, int]) -> int:
    return sum(stored.get(status, 0) for status in WORKER_DONE)


@dataclass(frozen=True)
class Load:
    bare: Totals
    gpb: Totals
    floor: Totals | None  # bench/floor_app.py: the work every event needs, and nothing more
    stored: dict[str, int]  # gpb's log by status when its last round ended
    worker_us: float | None  # CPU per event the worker handles, alone, catching up afterwards
    flooded: Totals | None = None  # gpb's rounds beside a flood of forged deliveries (--flood)
    forged: int = 0  # forged deliveries gpb answered during those rounds

    @property
    def lost(self) -> int:
        """How many more events gpb acknowledged with 202 than its log holds: anything but 0 is
        a lost event. (The log may hold more than wrk counted: the answers still in flight when a
        round ends.)"""
        acknowledged = self.gpb.fresh + (self.flooded.fresh if self.flooded else 0)
        return max(0, acknowledged - sum(self.stored.get(s, 0) for s in STORED))


def run_load(
    mode: str, pool: Pool, jwks_url: str, args: argparse.Namespace, replicas: int = 1
) -> Load:
    """The baseline and gpb in turns. gpb is frozen (SIGSTOP) while the baseline runs, so that its
    worker, catching up, takes none of the baseline's time; its rounds go on through the pool,
    each replica through a part of its own. With one replica, gpb's worker then catches up alone
    for a while, to show what it costs per event."""
    bodies, content_type = pool.bodies(mode), CONTENT_TYPES[mode]
    bare_rounds, gpb_rounds, floor_rounds, flooded_rounds = [], [], [], []
    forged = 0
    with_floor = args.database is None and replicas == 1
    parts = [
        range(k * pool.size // replicas, (k + 1) * pool.size // replicas) for k in range(replicas)
    ]
    posted = [part.start for part in parts]
    floor_posted = 0  # the floor has a file of its own, and goes through the pool at its own pace
    with (
        tempfile.TemporaryDirectory(dir=CACHE, prefix="ingest-run-") as run_dir,
        run_database(args.database, Path(run_dir)) as database_url,
    ):
        env = gpb_env(mode, database_url, jwks_url)
        database = None if args.database is None else DatabaseServer.find(database_url)
        with (
            uvicorn_servers("bare_app:create_app", {}, BENCH, args.cores) as bare,
            uvicorn_servers(
                "gpb.bootstrap:create_app", env, Path(run_dir), args.cores, replicas
            ) as gpb,
            floor_servers(with_floor, env, Path(run_dir), args.cores) as floor,
        ):
            for k, replica in enumerate(gpb):
                warm_up(replica.url, warm_up_body(mode, pool, k))
            for server in floor:
                warm_up(server.url, warm_up_body(mode, pool, 0))
            for _ in range(args.rounds):
                with frozen(gpb):
                    baseline = [range(min(pool.size, BARE_BODIES))]
                    bare_rounds.append(run_round(bare, bodies, baseline, content_type, args, None))
                per_replica = BODIES_PER_ROUND_SECOND * args.round_seconds // replicas
                fresh = [
                    _next_bodies(start, part, per_replica)
                    for start, part in zip(posted, parts, strict=True)
                ]
                if floor:
                    floor_fresh = _next_bodies(floor_posted, range(pool.size), per_replica)
                    with frozen(gpb):
                        floor_rounds.append(
                            run_round(floor, bodies, [floor_fresh], content_type, args, None)
                        )
                    floor_posted = floor_fresh.start + floor_rounds[-1].requests + args.connections
                handled = partial(_handled_now, database_url)
                gpb_rounds.append(
                    run_round(gpb, bodies, fresh, content_type, args, database, handled)
                )
                posted = _past(fresh, gpb_rounds[-1], gpb, args)
                if args.flood:
                    fresh = [
                        _next_bodies(start, part, per_replica)
                        for start, part in zip(posted, parts, strict=True)
                    ]
                    flood_core = args.cores.client(0)
                    with flooding(gpb[0].url, flood_core, args.round_seconds + 60) as answered:
                        flooded = run_round(gpb, bodies, fresh, content_type, args, database)
                    flooded_rounds.append(flooded)
                    forged += answered.value
                    posted = _past(fresh, flooded, gpb, args)
            with frozen(gpb):
                stored = statuses_in(database_url)
            floor_duplicates = _floor_duplicates(floor_rounds, Path(run_dir)) if floor else 0
            worker_us = None
            if replicas == 1:
                worker_us = _worker_cost(gpb, database_url, handled_in(stored))
    duplicates = stored.get("duplicate", 0)
    floor_totals = Totals(floor_rounds, floor_duplicates) if floor_rounds else None
    return Load(
        Totals(bare_rounds),
        Totals(gpb_rounds, duplicates),
        floor_totals,
        stored,
        worker_us,
        Totals(flooded_rounds) if flooded_rounds else None,
        forged,
    )


def _past(
    fresh: list[range], done: Round, gpb: list[Server], args: argparse.Namespace
) -> list[int]:
    """Where each replica's next round starts in the pool: past what was answered, and those in
    flight."""
    sent = zip(fresh, done.requests_by_server, connections_of(gpb, args), strict=True)
    return [lines.start + answered + conns for lines, answered, conns in sent]


def _floor_duplicates(rounds: list[Round], run_dir: Path) -> int:
    """The floor's answers that stored nothing (a pool used up): its requests past its rows."""
    with closing(sqlite3.connect(f"file:{run_dir / 'floor.db'}?mode=ro", uri=True)) as conn:
        (rows,) = conn.execute("SELECT count(*) FROM events").fetchone()
    return max(0, sum(r.requests for r in rounds) - (rows - 1))  # less the warm-up's row


@contextmanager
def floor_servers(
    wanted: bool, env: dict[str, str], run_dir: Path, cores: Cores
) -> Iterator[list[Server]]:
    """The floor, served like gpb with gpb's settings, storing in a file of its own; or none."""
    if not wanted:
        yield []
        return
    floor_env = {**env, "FLOOR_DATABASE": str(run_dir / "floor.db")}
    with uvicorn_servers("floor_app:create_app", floor_env, run_dir, cores) as servers:
        yield servers


def _worker_cost(gpb: list[Server], database_url: str, handled_before: int) -> float | None:
    cpu_before = cpu_seconds(gpb)
    time.sleep(DRAIN_SECONDS)
    with frozen(gpb):
        cpu = cpu_seconds(gpb) - cpu_before
        handled = handled_in(statuses_in(database_url)) - handled_before
    return cpu / handled * 1e6 if handled else None


def _next_bodies(posted: int, part: range, count: int) -> range:
    """The `count` pool lines a replica posts in a round: those of its part after the ones it
    posted, or (its part used up) its part again, as duplicates."""
    start = posted if posted < part.stop else part.start
    return range(start, min(part.stop, start + count))


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


async def measure_stages(mode: str, pool: Pool, args: argparse.Namespace) -> Stages:
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
    with (
        tempfile.TemporaryDirectory(dir=CACHE, prefix="ingest-stages-") as run_dir,
        run_database(args.database, Path(run_dir)) as database_url,
    ):
        store = SqlStore(database_url)
        store.migrate()
        store.start()
        try:
            append = await _time_append(store.events, events, args.connections)
        finally:
            await store.close()
    if keys is not None:
        await keys.close()
    return Stages(decode, parse, hashing, append)


def stages_on_server_core(mode: str, pool: Pool, args: argparse.Namespace) -> Stages:
    os.sched_setaffinity(0, {args.cores.server(0)})
    try:
        return asyncio.run(measure_stages(mode, pool, args))
    finally:
        os.sched_setaffinity(0, set(args.cores.clients))


# --- the report -----------------------------------------------------------------------------


def _row(name: str, totals: Totals, ratio: str) -> str:
    return (
        f"  {name:<16} {totals.throughput:>8,.0f} {totals.fresh:>9,} {totals.duplicates:>8,}"
        f" {totals.failed:>6,} {totals.p50_ms:>7.2f} {totals.p99_ms:>7.2f}"
        f" {totals.cpu_per_request_us:>8.1f}  {ratio}"
    )


def _functional(load: Load) -> bool:
    """Every request answered 2xx, and every acknowledged event is in the log; says so if not."""
    if load.gpb.failed:
        print(f"  FAILED: {load.gpb.failed:,} requests to gpb were not answered 2xx")
    if load.lost:
        print(f"  FAILED: {load.lost:,} events acknowledged with 202 are not in gpb's log")
    return not load.gpb.failed and not load.lost


def print_load(mode: str, load: Load) -> bool:
    """The table of one mode; True when gpb meets its target (on SQLite, where the floor runs) and
    lost or failed nothing."""
    ratio = load.gpb.throughput / load.bare.throughput
    print(f"\n{mode} bodies")
    header = f"{'server':<16} {'req/s':>8} {'202':>9} {'200 dup':>8} {'failed':>6}"
    print(f"  {header} {'p50 ms':>7} {'p99 ms':>7} {'CPU us/req':>8}  ratio to the baseline")
    print(_row("bare Starlette", load.bare, "1 (baseline)"))
    print(_row(f"gpb {mode}", load.gpb, f"{ratio:.3f}"))
    cpu_ratio = load.bare.cpu_per_request_us / load.gpb.cpu_per_request_us
    meets = True
    if load.floor is not None:
        floor_ratio = load.floor.throughput / load.bare.throughput
        print(_row("floor", load.floor, f"{floor_ratio:.3f} (the required work alone)"))
        of_floor = load.gpb.throughput / load.floor.throughput
        meets = of_floor >= FLOOR_TARGET
        verdict = "meets" if meets else "MISSES"
        of_floor_cpu = load.floor.cpu_per_request_us / load.gpb.cpu_per_request_us
        print(
            f"  gpb / floor: {of_floor:.3f} ({verdict} the target >= {FLOOR_TARGET});"
            f" by CPU time per request: {of_floor_cpu:.3f}"
        )
    print("  (p50 and p99: the median over the rounds of each round's own)")
    print(f"  gpb / baseline by server CPU time per request: {cpu_ratio:.3f}", end="")
    if load.floor is not None:
        floor_cpu = load.bare.cpu_per_request_us / load.floor.cpu_per_request_us
        print(f"; the floor's: {floor_cpu:.3f}")
        print(
            "  (floor: bench/floor_app.py, verify or decode, envelope and hash, one durable row"
            " with only\n   the de-duplication index, through gpb's own parts: no audit indexes,"
            " worker or metrics)"
        )
    else:
        print("\n  (no floor beside gpb on PostgreSQL: no target, a check and its figures)")
    database_us = load.gpb.database_cpu_per_request_us
    if database_us is not None:
        with_database = load.bare.cpu_per_request_us / (load.gpb.cpu_per_request_us + database_us)
        print(
            f"  PostgreSQL's own CPU per request: {database_us:.1f} us; the ratio by CPU time"
            f" with it: {with_database:.3f}"
        )
    if load.flooded is not None:
        print_flood(load)
    by_status = ", ".join(f"{status} {count:,}" for status, count in sorted(load.stored.items()))
    print(f"  gpb's log after the run: {by_status}")
    return _functional(load) and meets


def print_flood(load: Load) -> None:
    assert load.flooded is not None
    seconds = sum(r.seconds for r in load.flooded.rounds)
    ratio = load.flooded.throughput / load.gpb.throughput
    print(_row("gpb beside flood", load.flooded, f"{ratio:.3f} of gpb's own throughput"))
    print(
        f"  the flood: {load.forged:,} forged {len(FLOOD_BODY) // 1024} KB posts answered"
        f" ({load.forged / seconds:,.0f}/s) over {FLOOD_CONNECTIONS} connections; gpb's p99"
        f" beside it {load.flooded.p99_ms / load.gpb.p99_ms:.2f}x its own"
    )


def print_replicas(mode: str, loads: dict[int, Load]) -> bool:
    """The table of one mode over the replica counts; True when none lost or failed anything."""
    print(f"\n{mode} bodies, gpb replicas on one PostgreSQL database (no target: a check)")
    print(
        f"  {'replicas':>8} {'req/s':>8} {'bare req/s':>10} {'ratio':>6} {'202':>9}"
        f" {'200 dup':>8} {'failed':>6} {'p99 ms':>7} {'gpb CPU us/req':>14} {'db CPU us/req':>13}"
        f" {'CPU ratio':>9}"
    )
    ok = True
    for count, load in loads.items():
        gpb, bare = load.gpb, load.bare
        database_us = gpb.database_cpu_per_request_us
        database = "n/a" if database_us is None else f"{database_us:.1f}"
        print(
            f"  {count:>8} {gpb.throughput:>8,.0f} {bare.throughput:>10,.0f}"
            f" {gpb.throughput / bare.throughput:>6.3f} {gpb.fresh:>9,} {gpb.duplicates:>8,}"
            f" {gpb.failed:>6,} {gpb.p99_ms:>7.2f} {gpb.cpu_per_request_us:>14.1f} {database:>13}"
            f" {bare.cpu_per_request_us / gpb.cpu_per_request_us:>9.3f}"
        )
        ok = _functional(load) and ok
    print(
        "  (each count beside the baseline in its own rounds; p99: the slowest replica's;"
        "\n   gpb CPU: all replicas together; db CPU: the PostgreSQL server's;"
        "\n   CPU ratio: the baseline's CPU time per request over gpb's, the server's left out)"
    )
    return ok


def print_stages(mode: str, stages: Stages, load: Load) -> None:
    per_event = load.gpb.cpu_per_request_us
    rows = [
        ("JWS verify + decode" if mode == "signed" else "JSON decode", stages.decode),
        ("envelope parse + hash", stages.parse),
        ("  of which content hash", stages.hash),
        ("durable append", stages.append),
    ]
    worker_share = 0.0
    if load.worker_us is not None and load.gpb.handled is not None:
        handled = load.gpb.handled / load.gpb.requests
        worker_share = load.worker_us * handled
        rows.append((f"worker ({handled:.0%} handled in the rounds), est.", worker_share))
    elif load.gpb.handled is not None:
        share = load.gpb.handled / load.gpb.requests
        rows.append((f"worker ({share:.0%} handled in the rounds): cost n/a", 0.0))
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
    parser.add_argument(
        "--database", metavar="URL", help="a PostgreSQL server (postgresql://...) for gpb's events"
    )
    parser.add_argument(
        "--replicas", metavar="COUNTS", help="gpb replicas to run side by side, e.g. 1,2,3"
    )
    parser.add_argument(
        "--flood", action="store_true", help="run gpb's rounds again beside forged deliveries"
    )
    parser.add_argument(
        "--server-cores",
        default="0",
        metavar="CORES",
        help="cores for the servers, e.g. 0-2: each replica on one, in turn (default 0)",
    )
    parser.add_argument(
        "--client-cores",
        default="1",
        metavar="CORES",
        help="cores for wrk, e.g. 3,4: each replica's wrk on one, in turn (default 1)",
    )
    args = parser.parse_args()
    args.cores = Cores(Cores.parse(args.server_cores), Cores.parse(args.client_cores))
    if set(args.cores.servers) & set(args.cores.clients):
        parser.error("--server-cores and --client-cores must not share a core")
    missing = set(args.cores.servers + args.cores.clients) - os.sched_getaffinity(0)
    if missing:
        parser.error(f"no such core here: {sorted(missing)} ({os.cpu_count()} cores)")
    args.round_seconds = max(1, args.duration // args.rounds)
    if args.database is not None and not args.database.startswith(POSTGRES_SCHEMES):
        parser.error("--database takes a PostgreSQL URL (postgresql://...); SQLite is the default")
    if args.replicas is not None:
        if args.database is None:
            parser.error("--replicas needs --database: replicas share a PostgreSQL database")
        args.replicas = [int(count) for count in args.replicas.split(",")]
    return args


def main() -> int:
    args = parse_args()
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: run bench/setup (as root it installs Debian's {tool})")
    pool = load_pool(args.pool)
    os.sched_setaffinity(0, set(args.cores.clients))
    print(
        f"ingest: {args.rounds} rounds of {args.round_seconds} s per server and mode,"
        f" {args.connections} keep-alive connections, a pool of {pool.size:,} distinct events;"
        f"\nservers on cores {args.server_cores}, wrk on cores {args.client_cores};"
        f" gpb's database: {describe_database(args.database)}"
    )
    modes = ["signed", "unsigned"] if args.mode == "both" else [args.mode]
    ok = True
    with jwks_server(pool.key) as jwks_url:
        for mode in modes:
            if args.replicas:
                loads = {n: run_load(mode, pool, jwks_url, args, n) for n in args.replicas}
                ok = print_replicas(mode, loads) and ok
                continue
            load = run_load(mode, pool, jwks_url, args)
            ok = print_load(mode, load) and ok
            print_stages(mode, stages_on_server_core(mode, pool, args), load)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
