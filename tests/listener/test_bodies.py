import asyncio
from collections.abc import Awaitable, Callable

import pytest
from starlette.requests import Request
from starlette.types import Message

from gpb.listener.bodies import CutOff, SlowBody, TooLarge, read_bounded
from gpb.listener.read_deadlines import ReadDeadlines


def request_of(*messages: Message, wait_after: bool = True) -> Request:
    """A request whose body arrives as `messages`; past them the client says nothing more (or,
    without `wait_after`, hangs up)."""
    queue = list(messages)

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        if wait_after:
            await asyncio.sleep(5)
        return {"type": "http.disconnect"}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b""}
    return Request(scope, receive)


def chunk(body: bytes, *, more: bool) -> Message:
    return {"type": "http.request", "body": body, "more_body": more}


def read(request: Request, limit: int = 100) -> Callable[[], Awaitable[bytes]]:
    return lambda: read_bounded(request, limit, ReadDeadlines(0.1))


async def test_a_body_in_chunks_is_read_whole() -> None:
    request = request_of(chunk(b"ab", more=True), chunk(b"cd", more=False))
    assert await read(request)() == b"abcd"


async def test_a_body_already_read_for_a_form_is_handed_over_at_once() -> None:
    request = request_of(chunk(b"csrf=x", more=False))
    assert await request.body() == b"csrf=x"  # as read_form does, before the route reads it
    assert await asyncio.wait_for(read(request)(), timeout=3) == b"csrf=x"


async def test_a_body_past_the_limit_is_refused_with_what_came_before_it() -> None:
    request = request_of(chunk(b"x" * 60, more=True), chunk(b"y" * 60, more=True))
    with pytest.raises(TooLarge) as refused:
        await read(request)()
    assert refused.value.prefix == b"x" * 60


async def test_a_client_that_leaves_midway_is_told_apart() -> None:
    request = request_of(chunk(b"ab", more=True), wait_after=False)
    with pytest.raises(CutOff) as cut:
        await read(request)()
    assert cut.value.prefix == b"ab"


async def test_a_body_that_stops_coming_runs_out_of_time() -> None:
    request = request_of(chunk(b"ab", more=True))
    with pytest.raises(SlowBody) as slow:
        await read(request)()
    assert slow.value.prefix == b"ab"
