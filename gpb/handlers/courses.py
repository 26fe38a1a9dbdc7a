"""The courses gpb has heard of."""

from __future__ import annotations

from dataclasses import dataclass


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
    last_sync: str | None
