"""In-process wake-ups between the tasks of one gpb: new work stored, alerts changed."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress

log = logging.getLogger("gpb")


class Wakeup:
    """Wakes one loop that sleeps between rounds of work; a wake-up during a round is kept."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    async def sleep(self, seconds: float) -> None:
        """Returns when woken (at once if woken since the last sleep) or after `seconds`."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout=seconds)
        self._event.clear()


class Broadcast:
    """Wakes every waiter. Take `ticket()` before reading state, then `wait(ticket)`: a change
    between the read and the wait still wakes the waiter."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    def ticket(self) -> asyncio.Event:
        return self._event

    @staticmethod
    async def wait(ticket: asyncio.Event, seconds: float) -> bool:
        """True when fired, False when `seconds` passed first."""
        try:
            await asyncio.wait_for(ticket.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True


class Burst:
    """Tells a burst of requests (more than `requests` begun within the last one to two
    `window_seconds`) from a steady trickle, so that background work can give way to a burst:
    `over` waits until the burst has passed, or at most a given time."""

    def __init__(
        self,
        requests: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._requests = requests
        self._window = window_seconds
        self._clock = clock
        self._window_start = clock()
        self._current = 0  # requests begun in the window that began at _window_start
        self._previous = 0  # in the window before it

    def begun(self) -> None:
        self._roll(self._clock())
        self._current += 1

    def on(self) -> bool:
        self._roll(self._clock())
        return self._current + self._previous > self._requests

    async def over(self, at_most_seconds: float) -> None:
        """Returns at once outside a burst; else once it has passed, or after the time."""
        deadline = self._clock() + at_most_seconds
        while self.on():
            left = deadline - self._clock()
            if left <= 0:
                return
            await asyncio.sleep(min(self._window / 2, left))

    def _roll(self, now: float) -> None:
        passed = now - self._window_start
        if passed < self._window:
            return
        self._previous = self._current if passed < 2 * self._window else 0
        self._current = 0
        self._window_start = now


async def drain_forever(
    step: Callable[[], Awaitable[int]], wakeup: Wakeup, idle_seconds: float, what: str
) -> None:
    """Runs `step` again and again: at once while it finds work (it returns how much it did),
    else after a wake-up or `idle_seconds`. A failing round is logged and tried again after the
    pause, so one bad round never stops a background task."""
    while True:
        try:
            done = await step()
        except Exception:
            log.exception("%s failed; trying again shortly", what)
            done = 0
        if done == 0:
            await wakeup.sleep(idle_seconds)
