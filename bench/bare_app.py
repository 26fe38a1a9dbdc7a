"""The baseline of bench/ingest.py: a Starlette endpoint that only reads the body and answers 202.

Served by uvicorn exactly as gpb is: `uvicorn --factory --app-dir bench bare_app:create_app`.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


async def receive(request: Request) -> Response:
    body = await request.body()
    return JSONResponse({"id": str(len(body)), "duplicate": False}, status_code=202)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def create_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/events/canvas", receive, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )
