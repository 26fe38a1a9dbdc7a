"""Serving on loopback: idle keep-alive connections outlive the clients' own expiry."""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from gpb.infra.sandbox.server import serve_on_loopback

# httpx drops an idle pooled connection after 5 s by default: past that, a server that closed it
# would race every client reusing it.
CLIENTS_IDLE_EXPIRY_SECONDS = 5.0


async def ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(b"GET / HTTP/1.1\r\nHost: sandbox.test\r\n\r\n")
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    await asyncio.wait_for(reader.readexactly(2), 10)  # the body, "ok"
    return head.split(b"\r\n", 1)[0]


async def test_an_idle_connection_stays_open_past_the_clients_expiry() -> None:
    app = Starlette(routes=[Route("/", ok)])
    async with serve_on_loopback(app) as url:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            assert await exchange(reader, writer) == b"HTTP/1.1 200 OK"
            await asyncio.sleep(CLIENTS_IDLE_EXPIRY_SECONDS + 1)
            assert await exchange(reader, writer) == b"HTTP/1.1 200 OK"
        finally:
            writer.close()
            await writer.wait_closed()
