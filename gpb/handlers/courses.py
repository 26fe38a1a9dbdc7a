"""The courses gpb has heard of."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol


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


class CourseDirectory(Protocol):
    async def summaries(self, only: Collection[str] | None) -> list[CourseSummary]:
        """Every known course (only=None), or those of `only` that gpb knows of."""
        ...
