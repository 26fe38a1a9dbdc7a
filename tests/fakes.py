"""In-memory stand-ins for the ports, for unit tests of handlers/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime

from gpb.handlers.envelope import CanvasEvent
from gpb.handlers.eventlog import (
    Appended,
    EventPage,
    EventQuery,
    EventStatus,
    Finish,
    Rejection,
    StoredEvent,
)


class FakeEventLog:
    def __init__(self) -> None:
        self.events: dict[str, StoredEvent] = {}
        self.applied: list[object] = []
        self._first_by_hash: dict[str, str] = {}

    def _next_id(self) -> str:
        return str(len(self.events) + 1)

    async def append(self, event: CanvasEvent, source_ip: str | None) -> Appended:
        first = self._first_by_hash.get(event.content_hash)
        event_id = self._next_id()
        self.events[event_id] = StoredEvent(
            id=event_id,
            received_at=datetime.now(UTC),
            status=EventStatus.DUPLICATE if first else EventStatus.ACCEPTED,
            event_name=event.event_name,
            event_time=event.event_time,
            course_id=event.course_id,
            user_id=event.user_id,
            shard=event.shard,
            duplicate_of=first,
            payload=None if first else event.payload,
            source_ip=source_ip,
        )
        self._first_by_hash.setdefault(event.content_hash, event_id)
        return Appended(event_id, first)

    async def append_rejected(self, rejection: Rejection) -> str:
        event_id = self._next_id()
        self.events[event_id] = StoredEvent(
            id=event_id,
            received_at=datetime.now(UTC),
            status=EventStatus.REJECTED,
            event_name=rejection.event_name,
            error={"code": rejection.code, "message": rejection.message},
            raw=rejection.raw.decode("utf-8", "replace"),
            source_ip=rejection.source_ip,
        )
        return event_id

    async def due(self, now: datetime, limit: int) -> list[StoredEvent]:
        ready = [
            e
            for e in self.events.values()
            if e.status is EventStatus.ACCEPTED
            or (
                e.status is EventStatus.FAILED
                and e.next_attempt_at is not None
                and e.next_attempt_at <= now
            )
        ]
        return sorted(ready, key=lambda e: int(e.id))[:limit]

    async def finish(self, event_id: str, finish: Finish) -> None:
        self.applied.extend(finish.changes)
        self.events[event_id] = replace(
            self.events[event_id],
            status=finish.status,
            attempts=finish.attempts,
            outcome=finish.outcome,
            error=finish.error,
            next_attempt_at=finish.next_attempt_at,
        )

    async def get(self, event_id: str) -> StoredEvent | None:
        return self.events.get(event_id)

    async def search(self, query: EventQuery) -> EventPage:
        raise NotImplementedError("the fake does not search")

    async def export(self, query: EventQuery) -> AsyncIterator[StoredEvent]:
        raise NotImplementedError("the fake does not export")
        yield  # pragma: no cover

    async def requeue(self, event_id: str) -> StoredEvent | None:
        event = self.events.get(event_id)
        if event is None:
            return None
        self.events[event_id] = replace(
            event, status=EventStatus.ACCEPTED, attempts=0, error=None, next_attempt_at=None
        )
        return self.events[event_id]
