"""Soak: a steady, mixed stream of signed Canvas events into `gpb serve` for minutes on end.

gpb and the sandbox (its Canvas reads and JWKS) each run in a process of their own. The stream is
tests/event_stream.py's busy class (gradings as grade_change + submission_updated pairs, hand-ins,
assignment edits that make gpb read Canvas), every event new, sent at a fixed rate over a few
keep-alive connections. Every few seconds the soak samples gpb's resident memory (/proc/PID), its
handler lag (GET /metrics) and the database's size; at the end it reports throughput, the lag, and
whether memory grew with time: the RSS of the last fifth of the run against the first fifth after
warm-up (a leak grows with the events handled; a steady load must level off).

    .venv/bin/python bench/soak.py [--seconds 180] [--rate 150] [--connections 4]
    .venv/bin/python bench/soak.py --short        # 20 s, to see that it runs
    .venv/bin/python bench/soak.py --database postgresql://postgres@127.0.0.1:55440/postgres
                                                  # gpb on a fresh database of that server
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from ingest import run_database
from remaster import ADMIN, free_port, gpb_env, process

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the event stream the reliability tests use

import event_stream  # noqa: E402

from gpb.infra.sandbox.keys import load_or_create_key, sign_event  # noqa: E402

SAMPLE_SECONDS = 5.0
WARM_UP_SHARE = 0.2  # the first fifth: imports, caches and pools filling up
GROWTH_LIMIT_MB = 10.0  # the last fifth against the first after warm-up


@dataclass
class Sample:
    at: float
    rss_mb: float
    lag_seconds: float
    database_mb: float
    sent: int


@dataclass
class Soak:
    gpb: str
    pid: int
    database: str  # its URL
    sent: int = 0
    refused: int = 0
    samples: list[Sample] = field(default_factory=list)

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def database_mb(self) -> float:
        if self.database.startswith("postgresql://"):
            with psycopg.connect(self.database) as conn:
                row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
            return float(row[0] if row else 0) / 2**20
        path = Path(self.database.removeprefix("sqlite:///"))
        files = [path, path.with_name(path.name + "-wal")]
        return sum(f.stat().st_size for f in files if f.exists()) / 2**20

    async def lag(self, client: httpx.AsyncClient) -> float:
        for line in (await client.get("/metrics")).text.splitlines():
            if line.startswith("gpb_handler_lag_seconds "):
                return float(line.split()[1])
        return 0.0


async def send(soak: Soak, key_file: Path, seconds: float, rate: float, connections: int) -> None:
    key = load_or_create_key(key_file)
    stream = event_stream.events(seed=1)
    interval = connections / rate
    deadline = time.monotonic() + seconds

    async def sender(offset: float) -> None:
        async with httpx.AsyncClient(base_url=soak.gpb, timeout=30) as client:
            due = time.monotonic() + offset
            while due < deadline:
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                answer = await client.post("/events/canvas", content=sign_event(next(stream), key))
                if answer.status_code == 202:
                    soak.sent += 1
                else:
                    soak.refused += 1
                due += interval

    async def sampler() -> None:
        async with httpx.AsyncClient(base_url=soak.gpb, timeout=30) as client:
            started = time.monotonic()
            while time.monotonic() < deadline:
                soak.samples.append(
                    Sample(
                        time.monotonic() - started,
                        soak.rss_mb(),
                        await soak.lag(client),
                        soak.database_mb(),
                        soak.sent,
                    )
                )
                await asyncio.sleep(SAMPLE_SECONDS)

    await asyncio.gather(
        sampler(), *(sender(n * interval / connections) for n in range(connections))
    )


async def drain(soak: Soak) -> float:
    """Seconds until gpb's worker has handled everything sent."""
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=soak.gpb, timeout=30) as client:
        while True:
            waiting = await client.get(
                "/api/events",
                params={"status": "accepted", "limit": 1},
                headers={"Authorization": f"Bearer {ADMIN}"},
            )
            if not waiting.json()["events"]:
                return time.monotonic() - started
            await asyncio.sleep(0.2)


def report(soak: Soak, seconds: float, rate: float, drained_after: float) -> bool:
    samples = soak.samples
    fifth = max(1, len(samples) // 5)
    settled = [s for s in samples if s.at >= seconds * WARM_UP_SHARE] or samples
    early = statistics.mean(s.rss_mb for s in settled[:fifth])
    late = statistics.mean(s.rss_mb for s in samples[-fifth:])
    lags = [s.lag_seconds for s in samples]
    grew = late - early
    print(f"soak of {seconds:.0f} s at {rate:.0f} events/s offered")
    print(f"  events accepted  : {soak.sent} ({soak.sent / seconds:.1f}/s), refused {soak.refused}")
    print(f"  handler lag      : median {statistics.median(lags):.2f} s, max {max(lags):.2f} s")
    print(f"  drained after    : {drained_after:.1f} s once the stream stopped")
    print(
        f"  RSS              : {samples[0].rss_mb:.1f} MB at start, {early:.1f} MB after warm-up,"
    )
    print(f"                     {late:.1f} MB at the end ({grew:+.1f} MB)")
    print(f"  database         : {samples[-1].database_mb:.1f} MB (SQLite: with its WAL)")
    print("  samples (s, RSS MB, lag s, DB MB, sent):")
    for s in samples[:: max(1, len(samples) // 12)]:
        print(
            f"    {s.at:6.0f} {s.rss_mb:8.1f} {s.lag_seconds:7.2f} {s.database_mb:7.1f} {s.sent:8d}"
        )
    steady = grew <= GROWTH_LIMIT_MB
    print(f"  memory {'steady' if steady else 'GROWING'} (limit +{GROWTH_LIMIT_MB:.0f} MB)")
    return steady


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--rate", type=float, default=150.0, help="events per second offered")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--short", action="store_true", help="a 20 s run")
    parser.add_argument(
        "--database", help="a PostgreSQL server's URL: gpb runs on a fresh database of it"
    )
    args = parser.parse_args()
    seconds = 20.0 if args.short else args.seconds

    with tempfile.TemporaryDirectory() as tmp, run_database(args.database, Path(tmp)) as database:
        folder = Path(tmp)
        key_file = folder / "key.json"
        sandbox_port, gpb_port = free_port(), free_port()
        sandbox = f"http://127.0.0.1:{sandbox_port}"
        gpb = f"http://127.0.0.1:{gpb_port}"
        cli = [sys.executable, "-m", "gpb"]
        sandbox_argv = [*cli, "sandbox", "--port", str(sandbox_port), "--key", str(key_file)]
        environment = gpb_env(sandbox, folder, 1) | {
            "GPB_EVENTS_AUTH": "jwt",
            "GPB_CANVAS_JWKS_URL": f"{sandbox}/jwks.json",
            "GPB_DATABASE_URL": database,
        }
        with (
            process(sandbox_argv, {}, f"{sandbox}/_sandbox/state"),
            process(
                [*cli, "serve", "--port", str(gpb_port)], environment, f"{gpb}/healthz"
            ) as child,
        ):
            soak = Soak(gpb, child.pid, database)
            asyncio.run(send(soak, key_file, seconds, args.rate, args.connections))
            drained_after = asyncio.run(drain(soak))
    return 0 if report(soak, seconds, args.rate, drained_after) else 1


if __name__ == "__main__":
    sys.exit(main())
