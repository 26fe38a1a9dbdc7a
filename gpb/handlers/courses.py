"""The courses gpb has heard of, and the handler that notes them for families not yet handled."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from gpb.handlers.eventlog import StoredEvent
from gpb.handlers.messagebus import Handled


@dataclass(frozen=True)
class CourseSeen:
    """A change: an event named this course, so gpb lists it."""

    course_id: str
    shard: int | None


@dataclass(frozen=True)
class CourseSummary:
    id: str
    name: str | None
    open_alerts: int
    pending_changes: int
    last_sync: str | None


async def note_course(event: StoredEvent) -> Handled:
    changes: tuple[object, ...] = ()
    if event.course_id is not None:
        changes = (CourseSeen(event.course_id, event.shard),)
    return Handled(outcome={"course_id": event.course_id}, changes=changes)


class CourseDirectory(Protocol):
    async def summaries(self, only: Collection[str] | None) -> list[CourseSummary]:
        """Every known course (only=None), or those of `only` that gpb knows of."""
        ...
