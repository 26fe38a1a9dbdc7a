"""Handling a stored event again, as an admin asks from the API, the event's page or the CLI.

`replayable` is the one statement of which events can be: the store requeues what it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Literal, get_args

from gpb.handlers.eventlog import LAUNCH_EVENT, EventStatus, StoredEvent
from gpb.handlers.ports import EventLog
from gpb.handlers.refusals import Refused

ReplayRefusalCode = Literal["NOT_FOUND", "NOT_REPLAYABLE"]


class ReplayRefused(Refused):
    codes: ClassVar[tuple[str, ...]] = get_args(ReplayRefusalCode)

    def __init__(self, code: ReplayRefusalCode, message: str) -> None:
        super().__init__(code, message)


def replayable(event: StoredEvent) -> bool:
    """A refused or duplicate delivery stored no event of its own to handle, and a launch from
    Canvas is a sign-in, not an event. Each is so from the moment it is stored."""
    if event.event_name == LAUNCH_EVENT:
        return False
    return event.status not in (EventStatus.REJECTED, EventStatus.DUPLICATE)


async def stored_event(log: EventLog, event_id: str) -> StoredEvent:
    event = await log.get(event_id)
    if event is None:
        raise ReplayRefused("NOT_FOUND", "no such event")
    return event


async def replay(
    log: EventLog, event_id: str, wake: Callable[[], None] | None = None
) -> StoredEvent:
    """Queues the stored event to be handled again, and wakes the worker of this process if
    there is one (another process's finds it at its next poll)."""
    event = await stored_event(log, event_id)
    if not replayable(event):
        raise ReplayRefused("NOT_REPLAYABLE", f"a {_what(event)} has no event to handle")
    requeued = await log.requeue(event.id)
    if requeued is None:  # purged by retention in between
        raise ReplayRefused("NOT_FOUND", "no such event")
    if wake is not None:
        wake()
    return requeued


def _what(event: StoredEvent) -> str:
    if event.event_name == LAUNCH_EVENT:
        return "launch from Canvas"
    return f"{event.status.value} delivery"
