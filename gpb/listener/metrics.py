"""Prometheus metrics of the HTTP edge; gauges cheaper to derive are read at scrape time."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from gpb.listener.auth import context

EVENTS_RECEIVED = Counter(
    "gpb_events_received", "Deliveries to POST /events/canvas, by outcome", ["outcome"]
)
HANDLER_LAG = Gauge(
    "gpb_handler_lag_seconds", "Age of the oldest stored event still waiting for its handler"
)


async def metrics(request: Request) -> Response:
    ctx = context(request)
    oldest = await ctx.lag.oldest_waiting()
    HANDLER_LAG.set((ctx.now() - oldest).total_seconds() if oldest else 0.0)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
