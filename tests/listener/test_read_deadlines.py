import asyncio
import contextlib

import pytest

from gpb.listener.read_deadlines import ReadDeadlines


async def test_a_read_that_ends_in_time_is_left_alone() -> None:
    deadlines = ReadDeadlines(0.1)
    with deadlines.within():
        await asyncio.sleep(0)
    # Past the deadline's second: the read's timer has nothing left to cancel.
    await asyncio.sleep(1.3)


async def test_a_read_past_its_deadline_raises_timeout_within_a_second_of_it() -> None:
    deadlines = ReadDeadlines(0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError), deadlines.within():
        await asyncio.sleep(5)
    waited = loop.time() - started
    assert 0.2 <= waited < 1.2 + 1.0  # a second late at most (and slack for a busy machine)
    # The task is not left cancelled: it goes on awaiting.
    await asyncio.sleep(0)
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_reads_sharing_a_second_each_end_on_their_own() -> None:
    deadlines = ReadDeadlines(0.2)
    gate = asyncio.Event()

    async def read(wait_for_gate: bool) -> str:
        try:
            with deadlines.within():
                if wait_for_gate:
                    await gate.wait()
                else:
                    await asyncio.sleep(5)
        except TimeoutError:
            return "timed out"
        return "read"

    quick = asyncio.create_task(read(True))
    slow = asyncio.create_task(read(False))
    await asyncio.sleep(0)
    gate.set()
    assert await quick == "read"
    assert await slow == "timed out"


async def test_a_cancellation_from_elsewhere_stays_a_cancellation() -> None:
    deadlines = ReadDeadlines(10)

    async def read() -> None:
        with deadlines.within():
            await asyncio.sleep(5)

    task = asyncio.create_task(read())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_read_cancelled_from_elsewhere_as_it_expires_stays_cancelled() -> None:
    deadlines = ReadDeadlines(0.1)
    expired = asyncio.Event()

    async def read() -> None:
        with deadlines.within():
            try:
                await asyncio.sleep(5)
            except asyncio.CancelledError:
                expired.set()
                await asyncio.sleep(5)  # the server's own cancellation comes next

    task = asyncio.create_task(read())
    await expired.wait()
    # Its deadline cancelled it once; now the server cancels it too: the task must end cancelled.
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_expiry_the_read_swallowed_leaves_the_task_uncancelled() -> None:
    deadlines = ReadDeadlines(0.1)

    async def read() -> int:
        # A read that ends on its own once cancelled.
        with deadlines.within(), contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(5)
        await asyncio.sleep(0.01)  # the task goes on awaiting, not cancelled
        return asyncio.current_task().cancelling()  # type: ignore[union-attr]

    assert await asyncio.wait_for(read(), timeout=5) == 0
