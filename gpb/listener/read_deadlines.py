"""Deadlines for reading request bodies: a client that trickles its body in is dropped."""

from __future__ import annotations

import asyncio
import math
from typing import Any


class ReadDeadlines:
    """Drops the reads of request bodies that run past their time, with one loop timer for each
    second in which deadlines fall rather than one for each read.

    asyncio.timeout arms and cancels a timer of the event loop for every read: about 6 us under
    uvloop, a twentieth of what storing an event costs gpb. Here a read joins the reads whose
    deadline falls in the same second (rounded up: no read is dropped early, and none more than a
    second late), and that second's timer cancels the reads still under way. The cancellation
    becomes a TimeoutError only inside the read it was meant for, as with asyncio.timeout."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._due: dict[int, set[asyncio.Task[Any]]] = {}
        self._expired: set[asyncio.Task[Any]] = set()

    def within(self) -> _Read:
        return _Read(self)

    def _join(self, task: asyncio.Task[Any]) -> int:
        loop = asyncio.get_running_loop()
        second = math.ceil(loop.time() + self.seconds)
        reads = self._due.get(second)
        if reads is None:
            reads = self._due[second] = set()
            loop.call_at(second, self._expire, second)
        reads.add(task)
        return second

    def _leave(self, task: asyncio.Task[Any], second: int) -> bool:
        """Whether the read was cancelled for running past its deadline."""
        reads = self._due.get(second)
        if reads is not None:
            reads.discard(task)
        if task in self._expired:
            self._expired.discard(task)
            return True
        return False

    def _expire(self, second: int) -> None:
        for task in self._due.pop(second, ()):
            self._expired.add(task)
            task.cancel()


class _Read:
    """One read under its deadline: `with deadlines.within():` raises TimeoutError when the
    deadline passes before the block ends."""

    __slots__ = ("_deadlines", "_task", "_second")

    def __init__(self, deadlines: ReadDeadlines) -> None:
        self._deadlines = deadlines

    def __enter__(self) -> None:
        task = asyncio.current_task()
        assert task is not None, "a read runs in a task"
        self._task = task
        self._second = self._deadlines._join(task)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: object
    ) -> None:
        if not self._deadlines._leave(self._task, self._second):
            return
        # The deadline's cancellation is taken back whatever became of it; one from elsewhere as
        # well (the client left, the server stops) stays a cancellation.
        if self._task.uncancel() == 0 and kind is asyncio.CancelledError:
            raise TimeoutError from error
