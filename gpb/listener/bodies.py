"""Reading request bodies with a stated bound: a body larger than the route takes is refused as soon
as it passes the bound (a declared Content-Length beyond it, before anything is read), so a huge or
endless chunked upload never grows the process."""

from __future__ import annotations

import json

from starlette.requests import ClientDisconnect, Request

from gpb.listener.context import AppContext
from gpb.listener.errors import ApiError
from gpb.listener.read_deadlines import ReadDeadlines

MAX_JSON_BYTES = 65_536  # the API's JSON bodies are a few hundred bytes; a long id list fits


class Unread(Exception):
    """The body was not read whole; `prefix` is what had arrived."""

    def __init__(self, prefix: bytes) -> None:
        self.prefix = prefix


class TooLarge(Unread):
    pass


class CutOff(Unread):
    pass


class SlowBody(Unread):
    """The body did not arrive within the time allowed (a client trickling bytes)."""


async def read_bounded(request: Request, limit: int, deadlines: ReadDeadlines) -> bytes:
    """The body, refused (TooLarge) as soon as it passes `limit`; CutOff when the client left,
    SlowBody when it took longer than `deadlines.seconds` to arrive."""
    declared = request.headers.get("content-length", "")
    # Compared by length first: int() refuses more than 4,300 digits.
    if (
        declared.isascii()
        and declared.isdigit()
        and (len(declared) > len(str(limit)) or int(declared) > limit)
    ):
        raise TooLarge(b"")
    chunks: list[bytes] = []
    size = 0
    try:
        with deadlines.within():
            # Through Starlette's stream: it also hands over a body already read for a form.
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise TooLarge(b"".join(chunks))
                chunks.append(chunk)
    except ClientDisconnect:
        raise CutOff(b"".join(chunks)) from None
    except TimeoutError:
        raise SlowBody(b"".join(chunks)) from None
    return b"".join(chunks)


def read_deadlines(request: Request) -> ReadDeadlines:
    ctx: AppContext = request.app.state.context
    return ctx.read_deadlines


async def read_json(request: Request, what: str, limit: int = MAX_JSON_BYTES) -> object:
    """The JSON body of an API call (None when empty); 413 past `limit`, 400 when it is not JSON
    or nests deeper than the parser goes. `what` names the expected body in the message."""
    deadlines = read_deadlines(request)
    try:
        raw = await read_bounded(request, limit, deadlines)
    except TooLarge:
        raise ApiError("PAYLOAD_TOO_LARGE", f"the body is larger than {limit} bytes") from None
    except CutOff:
        raise ApiError("INVALID_BODY", "the connection closed before the body ended") from None
    except SlowBody:
        raise slow_body(deadlines.seconds) from None
    try:
        return json.loads(raw or b"null")
    except (ValueError, RecursionError):
        raise ApiError("INVALID_BODY", f"the body is not {what}: not JSON") from None


def slow_body(timeout: float) -> ApiError:
    return ApiError("REQUEST_TIMEOUT", f"the body did not arrive within {timeout:g} seconds")
