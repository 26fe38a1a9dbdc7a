"""Drains the event log in arrival order through the message bus, retrying failures with backoff."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

from gpb.handlers.backoff import RetryPolicy
from gpb.handlers.claims import Claim
from gpb.handlers.eventlog import EventStatus, Finish, StoredEvent
from gpb.handlers.messagebus import MessageBus, Unusable
from gpb.handlers.ports import EventLog
from gpb.handlers.signals import Burst, Wakeup, drain_forever
from gpb.handlers.timefmt import utcnow

log = logging.getLogger("gpb.worker")
WORKER_LANES = 8  # courses handled side by side: enough for their writes to share a commit
# During a burst of deliveries (more than BURST_DELIVERIES within BURST_WINDOW_SECONDS to twice
# that: 250 a second or more; a busy district's steady stream is about 150) the worker waits up
# to YIELD_SECONDS before each batch. The burst is answered first (Canvas waits for each answer,
# and a stored event is safe), a batch still goes every YIELD_SECONDS or so while it lasts, and
# outside bursts (an alert's single event) the worker does not wait at all.
BURST_DELIVERIES = 50
BURST_WINDOW_SECONDS = 0.1
YIELD_SECONDS = 0.5


class Worker:
    def __init__(
        self,
        log: EventLog,
        bus: MessageBus,
        retry: RetryPolicy,
        *,
        holder: str = "gpb",
        lease_seconds: float = 300.0,
        clock: Callable[[], datetime] = utcnow,
        batch_size: int = 100,
        lanes: int = WORKER_LANES,
        idle_poll_seconds: float = 1.0,
        after_finish: Callable[[Finish], None] | None = None,
        yield_seconds: float = YIELD_SECONDS,
        deliveries: Burst | None = None,
    ) -> None:
        self._log = log
        self._bus = bus
        self._retry = retry
        self._holder = holder
        self._lease = timedelta(seconds=lease_seconds)
        self._clock = clock
        self._batch_size = batch_size
        self._lanes = lanes
        self._idle_poll = idle_poll_seconds
        self._after_finish = after_finish
        self._wakeup = Wakeup()
        self._yield_seconds = yield_seconds
        self._deliveries = deliveries or Burst(BURST_DELIVERIES, BURST_WINDOW_SECONDS)

    def notify(self) -> None:
        """New events are stored: drain now rather than at the next poll."""
        self._wakeup.set()

    def delivery_begun(self) -> None:
        """A delivery came: the worker gives way to a burst of them (see YIELD_SECONDS)."""
        self._deliveries.begun()

    async def run(self) -> None:
        await drain_forever(self.drain, self._wakeup, self._idle_poll, "draining the event log")

    async def drain(self) -> int:
        """Claims the events that are due now and handles them; returns how many it handled.

        A course's events are handled one after another in the order claimed; up to `lanes`
        courses are handled side by side, so that their writes share a commit rather than each
        waiting for its own. Past half its claim's time it stops, so that no claim runs out under
        a slow batch: the rest stays claimed by this worker, which claims it again at once, for a
        new term."""
        await self._deliveries.over(self._yield_seconds)
        now = self._clock()
        claim = Claim.starting(self._holder, now, self._lease)
        renew_at = now + self._lease / 2
        courses = deque(by_course(await self._log.claim_due(claim, self._batch_size)))
        handled = 0

        async def lane() -> None:
            nonlocal handled
            while courses:
                for event in courses.popleft():
                    if self._clock() >= renew_at:
                        return
                    await self.handle(event)
                    handled += 1

        async with asyncio.TaskGroup() as lanes:
            for _ in range(min(self._lanes, len(courses))):
                lanes.create_task(lane())
        return handled

    async def handle(self, event: StoredEvent) -> None:
        finish = await self._attempt(event)
        await self._log.finish(event.id, finish)
        if self._after_finish is not None and finish.changes:
            self._after_finish(finish)

    async def _attempt(self, event: StoredEvent) -> Finish:
        attempts = event.attempts + 1
        try:
            handled = await self._bus.handle(event)
        except Unusable as exc:
            return Finish(EventStatus.IGNORED, attempts, outcome={"reason": str(exc)})
        except Exception as exc:
            return self._failure(event, attempts, exc)
        return Finish(
            handled.status,
            attempts,
            outcome=handled.outcome,
            error=handled.error,
            changes=handled.changes,
        )

    def _failure(self, event: StoredEvent, attempts: int, exc: Exception) -> Finish:
        error = {"code": getattr(exc, "code", "HANDLER_ERROR"), "message": str(exc)}
        if attempts >= self._retry.max_attempts:
            log.error("event %s failed for good after %d attempts: %s", event.id, attempts, error)
            return Finish(EventStatus.FAILED, attempts, error=error)
        retry_at = self._clock() + timedelta(seconds=self._retry.delay(attempts))
        log.warning(
            "event %s failed (attempt %d), retry at %s: %s", event.id, attempts, retry_at, error
        )
        return Finish(EventStatus.FAILED, attempts, error=error, next_attempt_at=retry_at)


def by_course(events: list[StoredEvent]) -> list[list[StoredEvent]]:
    """The events of each course in the order given, courses in the order of their first event;
    the events of no course are one more sequence of their own."""
    sequences: dict[str | None, list[StoredEvent]] = {}
    for event in events:
        sequences.setdefault(event.course_id, []).append(event)
    return list(sequences.values())
