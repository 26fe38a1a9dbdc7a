"""The floor of bench/ingest.py: only the work every accepted event needs before its answer.

What docs/api.md and docs/design.md require before a 202, done with gpb's own parts and nothing
else: verify the JWS (gpb's decoder and JWKS cache) or decode the JSON, validate the envelope and
hash it (gpb's `parse_event`), and commit one row durably through gpb's group-committing SQLite
writer (WAL, `synchronous=FULL`) into a table whose only index is the one de-duplication needs; the
garbage collector tuned as gpb tunes it. No audit indexes, no worker, no metrics, no recording of
refusals: what gpb does beyond this is what makes it a product, and this floor shows what the bar
leaves for it.

Served by uvicorn exactly as gpb is, with GPB_EVENTS_AUTH, GPB_CANVAS_JWKS_URL and FLOOR_DATABASE
(a file path) set.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gpb.handlers.envelope import parse_event
from gpb.handlers.ports import EventDecoder
from gpb.infra.event_decoders import JwksCache, JwtDecoder, PlainJsonDecoder
from gpb.infra.garbage_collector import tuned_for_serving
from gpb.infra.store.database import Connection
from gpb.infra.store.sqlite import SqliteDatabase, connect

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, received_at TEXT NOT NULL,"
    " event_name TEXT NOT NULL, course_id TEXT, content_hash TEXT NOT NULL UNIQUE,"
    " payload TEXT NOT NULL)"
)
_INSERT = (
    "INSERT INTO events (received_at, event_name, course_id, content_hash, payload)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (content_hash) DO NOTHING"
)


def create_app() -> Starlette:
    path = os.environ["FLOOR_DATABASE"]
    setup = connect(path)
    setup.execute(_SCHEMA)
    setup.close()
    database = SqliteDatabase(path)
    keys = JwksCache(os.environ.get("GPB_CANVAS_JWKS_URL", "http://jwks.invalid/"))
    decoder: EventDecoder = (
        PlainJsonDecoder() if os.environ.get("GPB_EVENTS_AUTH") == "none" else JwtDecoder(keys)
    )

    async def receive(request: Request) -> Response:
        event = parse_event(await decoder.decode(await request.body()))
        row = (
            datetime.now(UTC).isoformat(),
            event.event_name,
            event.course_id,
            event.content_hash,
            event.payload_json,
        )

        def insert(conn: Connection) -> int:
            return int(conn.execute(_INSERT, row).rowcount)

        added = await database.write(insert)
        status = 202 if added else 200
        return Response(b'{"id":"1","duplicate":false}', status, media_type="application/json")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        database.start()
        try:
            with tuned_for_serving():
                yield
        finally:
            await database.close()
            await keys.close()

    async def healthz(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    routes = [
        Route("/events/canvas", receive, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
