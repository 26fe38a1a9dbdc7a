"""A small Server-Sent Events reader for tests: messages as they arrive on a live stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Message:
    event: str
    id: str
    data: dict[str, Any]


class Stream:
    def __init__(self, lines: AsyncIterator[str]) -> None:
        self._lines = lines
        self.comments: list[str] = []

    async def next(self, within: float = 5.0) -> Message:
        return await asyncio.wait_for(self._read(), timeout=within)

    async def _read(self) -> Message:
        fields: dict[str, str] = {}
        async for line in self._lines:
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
            elif line == "":
                if "data" in fields:
                    return Message(
                        fields.get("event", "message"),
                        fields.get("id", ""),
                        json.loads(fields["data"]),
                    )
                fields = {}
            else:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
        raise EOFError("the stream ended")


@asynccontextmanager
async def open_stream(
    client: httpx.AsyncClient, url: str, headers: dict[str, str]
) -> AsyncIterator[Stream]:
    async with client.stream("GET", url, headers=headers, timeout=None) as response:
        assert response.status_code == 200, response.status_code
        assert response.headers["content-type"].startswith("text/event-stream")
        yield Stream(response.aiter_lines())
