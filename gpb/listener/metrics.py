"""Prometheus metrics of the HTTP edge; gauges cheaper to derive are read at scrape time.

gpb's calls to IC are counted where they are made (`gpb_sis_calls_total`, infra/oneroster.py);
every metric lands in the one default registry that `generate_latest` renders.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from gpb.handlers.syncs import RunStatus
from gpb.listener.auth import context
from gpb.listener.operations import Answer, operation

EVENTS_RECEIVED = Counter(
    "gpb_events_received", "Deliveries to POST /events/canvas, by outcome", ["outcome"]
)
HANDLER_LAG = Gauge(
    "gpb_handler_lag_seconds", "Age of the oldest stored event still waiting for its handler"
)
# From the database, so that every replica reports the same runs, whichever ran them.
SYNC_RUNS = Gauge("gpb_sync_runs", "Sync and remaster runs in the database, by status", ["status"])


@operation("Prometheus metrics", "public", {200: Answer("metrics", media=("text/plain",))})
async def metrics(request: Request) -> Response:
    ctx = context(request)
    oldest = await ctx.event_lag.oldest_waiting()
    HANDLER_LAG.set((ctx.now() - oldest).total_seconds() if oldest else 0.0)
    counts = await ctx.sync_runs.counts_by_status()
    for status in RunStatus:  # 0 too: a series stays when its last run moves on to another status
        SYNC_RUNS.labels(status.value).set(counts.get(status.value, 0))
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
