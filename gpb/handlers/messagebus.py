"""Routes each stored event by name to its handler (the table is `gpb/handlers/events.py`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

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
B = TypeVar("B", bound=BaseModel)
Body_co = TypeVar("Body_co", bound=BaseModel, covariant=True)


@dataclass(frozen=True)
class Event(Generic[Body_co]):
    """A stored event as its handler sees it: what the log filed it under, and its body read into
    the event's model. Handlers never see the JSON."""

    event_time: datetime | None
    received_at: datetime
    course_id: str | None
    shard: int | None
    body: Body_co

    @property
    def event_time_ms(self) -> int:
        return int(self.event_time.timestamp() * 1000) if self.event_time else 0


@dataclass(frozen=True)
class Route(Generic[B]):
    """The handler of one event name, with the model its body is read into."""

    body: type[B]
    handler: Callable[[Event[B]], Awaitable[Handled]]

    async def __call__(self, event: StoredEvent) -> Handled:
        """Reads the body into the model, then hands it over. A body the model refuses makes the
        event unusable: recorded as ignored with the reason, never retried, and kept in the log
        as it came."""
        try:
            body = self.body.model_validate(event.body)
        except ValidationError as exc:
            raise Unusable(_refusal(self.body, exc)) from None
        typed = Event(event.event_time, event.received_at, event.course_id, event.shard, body)
        return await self.handler(typed)


def _refusal(model: type[BaseModel], exc: ValidationError) -> str:
    """Names the field, never its value: the reason is shown on the admin pages."""
    first = exc.errors(include_url=False)[0]
    name = str(first["loc"][0]) if first["loc"] else ""
    known = model.model_fields.get(name)
    what = (known.description if known else None) or name
    if first["type"] == "missing" or first.get("input") is None:
        return f"the event body has no {what}"
    problem = first.get("ctx", {}).get("error") or first["msg"]  # a validator's own words
    return f"the event body's {what}: {problem}"


class MessageBus:
    def __init__(self, handlers: Mapping[str, Handler]) -> None:
        self._handlers = dict(handlers)

    async def handle(self, event: StoredEvent) -> Handled:
        handler = self._handlers.get(event.event_name or "")
        if handler is None:
            return Handled(
                EventStatus.IGNORED, {"reason": f"gpb does not handle {event.event_name!r} events"}
            )
        return await handler(event)
