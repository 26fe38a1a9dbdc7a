"""Admin queries over a large event log: flat as the log grows from 100k to a million events?

Fills a log (gpb's own migrations, bulk insert) as a year of a district's Canvas deliveries:
about 2000 courses of very different sizes, the 15 event names gpb handles, mostly processed with
some failed, ignored, rejected and duplicate deliveries, arriving at a steady rate. The log as it
stood at a tenth of the rows (its first five weeks) is kept too. Each query then runs through
gpb's own SqlEventLog.search and export on both logs in turn, with the same draws, and the
table gives p50/p95 at both sizes and their ratio. Time windows are taken from the newest month,
so they hold as many events at both sizes. A query that returns more rows in the larger log
costs more for that alone; grows() tells that apart from a query that scans more.

The exit code is 1 when a query grows with the log: docs/design.md wants them flat. A p95 over 50 ms
(a page's budget) is flagged SLOW, but the run still passes: one slow draw on a busy machine is
not a query that scans more.

--reuse keeps both logs in bench/.cache/ (about 2 GB) for the next run, as long as gpb's
migrations are unchanged.

    .venv/bin/python bench/eventlog.py [--rows 1000000] [--reps 30] [--reuse]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import random
import shutil
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TypeVar

from sample_events import (
    COURSES,
    FIRST_EVENT_TIME,
    SAMPLES,
    Samples,
    course_weights,
    global_id,
)

from gpb.handlers.eventlog import EventQuery, EventStatus
from gpb.handlers.timefmt import format_time
from gpb.infra.store.store import SqlStore

CACHE = Path(__file__).resolve().parent / ".cache"
MIGRATIONS = resources.files("gpb.infra.store") / "migrations"
LAYOUT_VERSION = 2  # bump when the fill changes, so that --reuse rebuilds
YEAR = timedelta(days=365)
FILL_CHUNK = 50_000
VARIANTS = 48  # distinct payloads per event name
COURSE_SENTINEL = 999_999
P95_TARGET_MS = 50.0

# The 15 event names gpb handles, how often each arrives, and the sample whose shape it borrows.
NAMES: dict[str, tuple[float, str]] = {
    "grade_change": (34, "grade_change_8_to_9_5"),
    "submission_updated": (18, "submission_updated"),
    "submission_created": (18, "submission_created"),
    "enrollment_created": (6, "course_updated_published"),
    "enrollment_updated": (6, "course_updated_published"),
    "assignment_updated": (7, "assignment_updated_title_35"),
    "assignment_created": (3, "assignment_created"),
    "assignment_override_created": (2, "assignment_override_created"),
    "assignment_override_updated": (1.5, "assignment_override_created"),
    "course_updated": (1.5, "course_updated_published"),
    "course_section_updated": (0.9, "course_updated_published"),
    "assignment_group_updated": (0.8, "assignment_created"),
    "assignment_group_created": (0.5, "assignment_created"),
    "course_section_created": (0.3, "course_updated_published"),
    "course_created": (0.2, "course_updated_published"),
}
STATUSES: dict[EventStatus, float] = {
    EventStatus.PROCESSED: 95.5,
    EventStatus.DUPLICATE: 2.5,
    EventStatus.IGNORED: 1.0,
    EventStatus.REJECTED: 0.6,
    EventStatus.FAILED: 0.4,
}
WAITING = 40  # the newest events are still waiting for the worker
SOURCE_IPS = ("34.230.9.184", "52.4.181.17", "54.85.211.22")
REJECTIONS = (
    ("BAD_SIGNATURE", "the signature does not verify"),
    ("INVALID_ENVELOPE", "metadata.event_time: Field required"),
    ("UNKNOWN_KEY", "the token's kid is not among Canvas's signing keys"),
)
FAILURES = (
    ("CANVAS_UNAVAILABLE", "Canvas answered 503 after 4 attempts"),
    ("SIS_UNAVAILABLE", "IC timed out after 4 attempts"),
)

COLUMNS = (
    "id",
    "received_at",
    "status",
    "event_name",
    "event_time",
    "event_time_ms",
    "shard",
    "course_id",
    "user_id",
    "content_hash",
    "duplicate_of",
    "attempts",
    "next_attempt_at",
    "error",
    "payload",
    "outcome",
    "raw",
    "source_ip",
)
# What a duplicate shares with the first copy it points at.
EVENT_COLUMNS = ("event_name", "event_time", "event_time_ms", "shard", "course_id", "user_id")
REJECTED_BODY = "eyJhbGciOiJSUzI1NiIsImtpZCI6Im9sZCJ9." + "A" * 2300
Row = dict[str, object]
T = TypeVar("T")


# --- filling the log ------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """What a log of `rows` events looks like: one year of deliveries at a steady rate."""

    rows: int
    payloads: dict[str, list[str]]  # per event name, with the course as COURSE_SENTINEL
    course_cum_weights: list[float]
    name_cum_weights: list[float]

    @property
    def step(self) -> float:
        """Seconds between two arrivals."""
        return YEAR.total_seconds() / self.rows

    def received_at(self, row_id: int) -> datetime:
        return FIRST_EVENT_TIME + timedelta(seconds=(row_id - 1) * self.step)

    @classmethod
    def build(cls, rows: int) -> Shape:
        course_cum_weights = list(itertools.accumulate(course_weights()))
        payloads: dict[str, list[str]] = {}
        for offset, (name, (_, sample)) in enumerate(NAMES.items()):
            template = json.loads((SAMPLES / f"{sample}.json").read_text())
            shaped = Samples([template], [1], course_cum_weights)
            texts = []
            for variant in range(VARIANTS):
                event = shaped.event(offset * VARIANTS + variant, course=COURSE_SENTINEL)
                event["metadata"]["event_name"] = name
                texts.append(json.dumps(event, separators=(",", ":"), ensure_ascii=False))
            payloads[name] = texts
        name_cum_weights = list(itertools.accumulate(weight for weight, _ in NAMES.values()))
        return cls(rows, payloads, course_cum_weights, name_cum_weights)


def generate(shape: Shape, first_id: int, stop_id: int) -> Iterator[Row]:
    """Rows `first_id..stop_id-1`; a chunk is the same whenever it is generated."""
    rng = random.Random(first_id)
    statuses = list(STATUSES)
    status_weights = list(itertools.accumulate(STATUSES.values()))
    recent: list[Row] = []
    for row_id in range(first_id, stop_id):
        received = shape.received_at(row_id) + timedelta(seconds=rng.random() * shape.step)
        row: Row = dict.fromkeys(COLUMNS)
        row.update(id=row_id, received_at=format_time(received), source_ip=rng.choice(SOURCE_IPS))
        status = rng.choices(statuses, cum_weights=status_weights)[0]
        if row_id > shape.rows - WAITING:
            status = EventStatus.ACCEPTED
        if status is EventStatus.REJECTED:
            row.update(status=status.value, attempts=0, error=_error(REJECTIONS, rng))
            row["raw"] = REJECTED_BODY
        elif status is EventStatus.DUPLICATE and recent:
            first = rng.choice(recent)
            row.update({column: first[column] for column in EVENT_COLUMNS})
            row.update(status=status.value, attempts=0, content_hash=first["content_hash"])
            row["duplicate_of"] = first["id"]
        else:
            if status is EventStatus.DUPLICATE:
                status = EventStatus.PROCESSED  # nothing stored yet to be a duplicate of
            row.update(_event(shape, rng, row_id, received, status))
            recent = [*recent[-99:], row]
        yield row


def _event(
    shape: Shape, rng: random.Random, row_id: int, received: datetime, status: EventStatus
) -> Row:
    """The columns of a stored event, and what its handling left."""
    name = rng.choices(list(NAMES), cum_weights=shape.name_cum_weights)[0]
    course = rng.choices(range(1, COURSES + 1), cum_weights=shape.course_cum_weights)[0]
    event_time = received - timedelta(seconds=rng.random() * 2)
    payload = (
        rng.choice(shape.payloads[name])
        .replace(global_id(COURSE_SENTINEL), global_id(course))
        .replace(f"/courses/{COURSE_SENTINEL}/", f"/courses/{course}/")
    )
    row: Row = {
        "status": status.value,
        "event_name": name,
        "event_time": format_time(event_time),
        "event_time_ms": int(event_time.timestamp() * 1000),
        "shard": 1,
        "course_id": str(course),
        "user_id": str(rng.randrange(1, 60_000)),
        "content_hash": hashlib.sha256(f"event {row_id}".encode()).hexdigest(),
        "payload": payload,
        "attempts": 1,
        "outcome": json.dumps({"course_id": str(course)}),
    }
    if status is EventStatus.FAILED:
        row.update(attempts=8, outcome=None, error=_error(FAILURES, rng))
    elif status is EventStatus.ACCEPTED:
        row.update(attempts=0, outcome=None)
    return row


def _error(choices: tuple[tuple[str, str], ...], rng: random.Random) -> str:
    code, message = rng.choice(choices)
    return json.dumps({"code": code, "message": message})


def fill(path: Path, shape: Shape, first_id: int, stop_id: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1000000")
    columns = ", ".join(COLUMNS)
    placeholders = ", ".join(f":{column}" for column in COLUMNS)
    try:
        for start in range(first_id, stop_id, FILL_CHUNK):
            stop = min(start + FILL_CHUNK, stop_id)
            conn.execute("BEGIN")
            conn.executemany(
                f"INSERT INTO events ({columns}) VALUES ({placeholders})",
                generate(shape, start, stop),
            )
            conn.execute("COMMIT")
            if sys.stdout.isatty():
                print(f"\r  filled {stop - 1:,} of {shape.rows:,} events", end="", flush=True)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    print(f"\r  filled {stop_id - 1:,} of {shape.rows:,} events")


def _schema_key() -> str:
    """Names gpb's migrations as they are now: a cached log built under others is not reused."""
    files = sorted(entry.name for entry in MIGRATIONS.iterdir() if entry.name.endswith(".sql"))
    texts = ((MIGRATIONS / name).read_bytes() for name in files)
    return hashlib.sha256(b"".join(texts)).hexdigest()[:8]


def build_logs(rows: int, reuse: bool) -> tuple[Path, Path]:
    """The log at a tenth of `rows` and at `rows`: the first is the second's beginning."""
    CACHE.mkdir(exist_ok=True)
    version = f"v{LAYOUT_VERSION}-{_schema_key()}"
    small = CACHE / f"eventlog-{version}-{rows // 10}-of-{rows}.db"
    large = CACHE / f"eventlog-{version}-{rows}.db"
    if reuse and small.exists() and large.exists():
        print(f"  reusing {small.name} and {large.name}")
        return small, large
    for stale in (small, large):
        for path in (stale, Path(f"{stale}-wal"), Path(f"{stale}-shm")):
            path.unlink(missing_ok=True)
    SqlStore(str(large)).migrate()
    shape = Shape.build(rows)
    started = time.perf_counter()
    fill(large, shape, 1, rows // 10 + 1)
    shutil.copyfile(large, small)
    fill(large, shape, rows // 10 + 1, rows + 1)
    print(f"  filled in {time.perf_counter() - started:.0f} s")
    return small, large


# --- the queries ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LogFacts:
    """What the queries are drawn from: the newest arrival and the courses by size."""

    newest: datetime
    courses_by_size: list[str]  # busiest first

    @classmethod
    def read(cls, path: Path) -> LogFacts:
        with sqlite3.connect(path) as conn:
            newest = conn.execute("SELECT max(received_at) FROM events").fetchone()[0]
        # course k is drawn with weight 1/k^0.8: course "1" is the busiest
        ranked = [str(course) for course in range(1, COURSES + 1)]
        return cls(datetime.fromisoformat(newest).astimezone(UTC), ranked)

    def recent_day(self, rng: random.Random) -> tuple[datetime, datetime]:
        """One day within the newest month."""
        start = self.newest - timedelta(days=30) + timedelta(seconds=rng.random() * 29 * 86400)
        return start, start + timedelta(days=1)

    def busy_course(self, rng: random.Random) -> str:
        """One of the 20 busiest courses (each about 1% of all events or more)."""
        return rng.choice(self.courses_by_size[:20])

    def course(self, rng: random.Random) -> str:
        """One of the 200 busiest courses: a page of events each even in the smaller log."""
        return rng.choice(self.courses_by_size[:200])

    def quiet_course(self, rng: random.Random) -> str:
        """One of the 1000 quietest courses (a few hundred events a year each)."""
        return rng.choice(self.courses_by_size[-1000:])


QueryMaker = Callable[[LogFacts, random.Random], EventQuery]


def _between(
    facts: LogFacts,
    rng: random.Random,
    event_name: str | None = None,
    status: EventStatus | None = None,
) -> EventQuery:
    since, until = facts.recent_day(rng)
    return EventQuery(since=since, until=until, event_name=event_name, status=status)


PAGES: dict[str, QueryMaker] = {
    "newest page": lambda facts, rng: EventQuery(),
    "course, busy": lambda facts, rng: EventQuery(course_id=facts.busy_course(rng)),
    "course": lambda facts, rng: EventQuery(course_id=facts.course(rng)),
    "course, quiet": lambda facts, rng: EventQuery(course_id=facts.quiet_course(rng)),
    "event name, common": lambda facts, rng: EventQuery(event_name="grade_change"),
    "event name, rare": lambda facts, rng: EventQuery(event_name="course_created"),
    "status processed": lambda facts, rng: EventQuery(status=EventStatus.PROCESSED),
    "status failed": lambda facts, rng: EventQuery(status=EventStatus.FAILED),
    "status rejected": lambda facts, rng: EventQuery(status=EventStatus.REJECTED),
    "one day": lambda facts, rng: _between(facts, rng),
    "one day + event name, rare": lambda facts, rng: _between(
        facts, rng, event_name="assignment_group_created"
    ),
    "one day + status failed": lambda facts, rng: _between(facts, rng, status=EventStatus.FAILED),
    "course + event name": lambda facts, rng: EventQuery(
        course_id=facts.course(rng), event_name="assignment_updated"
    ),
    "course + status failed": lambda facts, rng: EventQuery(
        course_id=facts.course(rng), status=EventStatus.FAILED
    ),
    "event name, rare + status failed": lambda facts, rng: EventQuery(
        event_name="assignment_group_created", status=EventStatus.FAILED
    ),
    "busy course + name + status": lambda facts, rng: EventQuery(
        course_id=facts.busy_course(rng), event_name="grade_change", status=EventStatus.FAILED
    ),
}
WALKS: dict[str, QueryMaker] = {
    "50 pages, all": lambda facts, rng: EventQuery(),
    "50 pages, event name": lambda facts, rng: EventQuery(event_name="submission_created"),
}
EXPORTS: dict[str, QueryMaker] = {
    "export one day of grade_change": lambda facts, rng: _between(
        facts, rng, event_name="grade_change"
    ),
}


Sample = tuple[float, int]  # milliseconds, rows returned
Runner = Callable[[SqlStore, EventQuery], Awaitable[list[Sample]]]


async def _timed(run: Callable[[EventQuery], Awaitable[T]], query: EventQuery) -> tuple[float, T]:
    started = time.perf_counter()
    result = await run(query)
    return (time.perf_counter() - started) * 1000, result


async def page(store: SqlStore, query: EventQuery) -> list[Sample]:
    elapsed, found = await _timed(store.events.search, query)
    return [(elapsed, len(found.events))]


async def export(store: SqlStore, query: EventQuery) -> list[Sample]:
    async def rows(query: EventQuery) -> int:
        return sum([1 async for _ in store.events.export(query)])

    elapsed, count = await _timed(rows, query)
    return [(elapsed, count)]


async def walk(store: SqlStore, query: EventQuery) -> list[Sample]:
    """Follows the cursor 50 pages deep; each page is one sample."""
    samples = []
    for _ in range(50):
        elapsed, found = await _timed(store.events.search, query)
        samples.append((elapsed, len(found.events)))
        if found.next_cursor is None:
            break
        query = replace(query, before_id=found.next_cursor)
    return samples


QUERIES: dict[str, tuple[QueryMaker, Runner]] = {
    **{name: (make, page) for name, make in PAGES.items()},
    **{name: (make, walk) for name, make in WALKS.items()},
    **{name: (make, export) for name, make in EXPORTS.items()},
}


@dataclass
class Timings:
    millis: list[float] = field(default_factory=list)
    rows: int = 0  # returned, summed over the repetitions

    def add(self, samples: list[Sample]) -> None:
        for elapsed, rows in samples:
            self.millis.append(elapsed)
            self.rows += rows

    @property
    def rows_per_query(self) -> float:
        return self.rows / len(self.millis)

    def p(self, percent: int) -> float:
        ordered = sorted(self.millis)
        return ordered[min(len(ordered) - 1, round(percent / 100 * (len(ordered) - 1)))]


@dataclass(frozen=True)
class OpenLog:
    store: SqlStore
    facts: LogFacts


async def measure(paths: tuple[Path, Path], reps: int) -> tuple[dict[str, Timings], ...]:
    """Every query on both logs in turn, repetition by repetition, with the same draws, so that
    whatever else the machine is doing weighs on both alike."""
    logs = [OpenLog(SqlStore(str(path)), LogFacts.read(path)) for path in paths]
    for log in logs:
        log.store.start()
    results: tuple[dict[str, Timings], ...] = tuple({} for _ in logs)
    try:
        for name, (make, run) in QUERIES.items():
            timings = [result.setdefault(name, Timings()) for result in results]
            draws = random.Random(name)
            repetitions = reps if run is not walk else max(1, reps // 10)
            for repetition in range(repetitions + 1):
                seed = draws.random()
                for log, timing in zip(logs, timings, strict=True):
                    samples = await run(log.store, make(log.facts, random.Random(seed)))
                    if repetition:  # the first one warms the caches
                        timing.add(samples)
    finally:
        for log in logs:
            await log.store.close()
    return results


# --- the report -----------------------------------------------------------------------------


def grows(small: Timings, large: Timings, row_ms: float) -> bool:
    """Over twice as slow in the larger log as the smaller log's time plus the extra rows it
    returns (at `row_ms` each) would explain: the query scans more as the log grows."""
    extra_rows = max(0.0, large.rows_per_query - small.rows_per_query)
    return large.p(50) > 2 * (small.p(50) + extra_rows * row_ms)


def report(rows: int, small: dict[str, Timings], large: dict[str, Timings]) -> bool:
    """Prints the table; True when no query grows with the log (docs/design.md's bar)."""
    sizes = f"{rows // 10:,} events", f"{rows:,} events"
    print(f"\n  {'':<32} {sizes[0]:^24} {sizes[1]:^24}")
    columns = f"{'p50 ms':>8} {'p95 ms':>8} {'rows':>6}"
    print(f"  {'query':<32} {columns} {columns} {'ratio p50':>10}")
    slow, growing = [], []
    newest = large["newest page"]
    row_ms = newest.p(50) / newest.rows_per_query
    for name, at_large in large.items():
        at_small = small[name]
        flags = []
        if at_large.p(95) > P95_TARGET_MS:
            flags.append("SLOW")
            slow.append(name)
        if grows(at_small, at_large, row_ms):
            flags.append("GROWS")
            growing.append(name)
        cells = [
            f"{timings.p(50):>8.2f} {timings.p(95):>8.2f} {timings.rows_per_query:>6.0f}"
            for timings in (at_small, at_large)
        ]
        ratio = at_large.p(50) / at_small.p(50)
        print(f"  {name:<32} {cells[0]} {cells[1]} {ratio:>10.2f}  {' '.join(flags)}")
    print("  (rows: events returned per query; a walk times each page, an export the whole export)")
    verdict = "met" if not slow else f"MISSED by {', '.join(slow)}"
    print(f"\n  p95 <= {P95_TARGET_MS:.0f} ms at {rows:,} events (a page's budget): {verdict}")
    flat = "none" if not growing else ", ".join(growing)
    print(f"  queries that scan more as the log grows (see grows()): {flat}")
    return not growing


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=30, help="timings per query")
    parser.add_argument("--reuse", action="store_true", help="keep and reuse the built logs")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    print(f"eventlog: {args.rows // 10:,} and {args.rows:,} events, {args.reps} timings a query")
    small, large = build_logs(args.rows, args.reuse)
    try:
        at_small, at_large = asyncio.run(measure((small, large), args.reps))
    finally:
        if not args.reuse:
            for path in (small, large):
                path.unlink(missing_ok=True)
    return 0 if report(args.rows, at_small, at_large) else 1


if __name__ == "__main__":
    sys.exit(main())
