"""Routes each stored event by name to its handler (a registry, filled in by the bootstrap)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gpb.handlers.eventlog import EventStatus, StoredEvent

if TYPE_CHECKING:  # the changes are defined by modules that import this one
    from gpb.handlers.changes import Change


@dataclass(frozen=True)
class Handled:
    """What a handler did: its status, a summary for the audit log, and the state changes to apply.

    The store applies `changes` in the same transaction that marks the event handled, so an event
    is never half-applied nor applied twice.
    """

    status: EventStatus = EventStatus.PROCESSED
    outcome: dict[str, Any] = field(default_factory=dict)
    changes: tuple[Change, ...] = ()
    # Handled as far as possible, with a problem worth recording that retrying would not fix.
    error: dict[str, Any] | None = None


class Unusable(Exception):
    """The event lacks what its handler needs: it is ignored with this reason, never retried."""


Handler = Callable[[StoredEvent], Awaitable[Handled]]


class MessageBus:
    def __init__(self, handlers: Mapping[str, Handler]) -> None:
        self._handlers = dict(handlers)

    def knows(self, event_name: str) -> bool:
        return event_name in self._handlers

    async def handle(self, event: StoredEvent) -> Handled:
        handler = self._handlers.get(event.event_name or "")
        if handler is None:
            return Handled(
                EventStatus.IGNORED, {"reason": f"gpb does not handle {event.event_name!r} events"}
            )
        return await handler(event)
