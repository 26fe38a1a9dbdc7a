"""An IC line item's details (title, points, dates, group) and how they drift from what IC holds.

IC's percentages rest on `resultValueMax`, and teachers read titles and due dates there: an edit of
the assignment after a sync must reach IC with the next sync, not wait for a remaster. gpb keeps
the details IC confirmed for each line item it wrote; an assignment whose details now differ has
its line items pending, and the next sync of it PUTs them before any result.

gpb never creates an IC line item on its own: only with its first result (Canvas's own passback
needs a grade too), so only line items IC already holds can be pending here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from gpb.handlers.course_state import CourseState
from gpb.handlers.ic_dates import assign_date, section_due_at
from gpb.handlers.ic_names import sent_title
from gpb.handlers.model import Assignment
from gpb.handlers.syncs import LineItemConfirmed
from gpb.handlers.timefmt import iso, parse_time_or_none


@dataclass(frozen=True)
class LineItemDetails:
    """What the line item of one (assignment, section) says, as gpb sends it."""

    title: str
    points: float | None
    due_at: datetime | None
    assign_at: datetime | None
    group: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "points": self.points,
            "due_at": iso(self.due_at),
            "assign_at": iso(self.assign_at),
            "group": self.group,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LineItemDetails:
        def when(name: str) -> datetime | None:
            value = data.get(name)
            return parse_time_or_none(value)

        points = data.get("points")
        return cls(
            title=str(data.get("title", "")),
            points=None if points is None else float(points),
            due_at=when("due_at"),
            assign_at=when("assign_at"),
            group=data.get("group"),
        )


# How the fields read in a change's message.
_LABELS = {
    "title": "title",
    "points": "points",
    "due_at": "due date",
    "assign_at": "assign date",
    "group": "group",
}


def line_item_details(
    assignment: Assignment, section_id: str, group_name: str | None
) -> LineItemDetails:
    """The details the line item of (assignment, section) gets: the sender builds the line item
    from them, and the pending view compares them with what IC confirmed."""
    due = section_due_at(assignment, section_id)
    return LineItemDetails(
        title=sent_title(assignment.title),
        points=assignment.points_possible,
        due_at=due,
        assign_at=assign_date(assignment, section_id, due),
        group=group_name,
    )


@dataclass(frozen=True)
class FieldChange:
    name: str
    before: object
    after: object


def _shown(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, datetime):
        return iso(value) or "none"
    return repr(value) if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class LineItemChange:
    """A line item IC holds whose details changed in Canvas since."""

    assignment_id: str
    section_id: str
    changes: tuple[FieldChange, ...]
    details: LineItemDetails
    blocked_by: tuple[str, ...] = ()  # the assignment's errors, which keep it from IC

    @property
    def message(self) -> str:
        said = ", ".join(
            f"{_LABELS[c.name]} {_shown(c.before)} -> {_shown(c.after)}" for c in self.changes
        )
        return f"details changed: {said}"


def differences(before: LineItemDetails, after: LineItemDetails) -> tuple[FieldChange, ...]:
    return tuple(
        FieldChange(f.name, getattr(before, f.name), getattr(after, f.name))
        for f in fields(LineItemDetails)
        if getattr(before, f.name) != getattr(after, f.name)
    )


def changed_line_items(
    state: CourseState, written: Iterable[LineItemConfirmed]
) -> list[LineItemChange]:
    """The line items IC holds for sync-enabled assignments whose details changed in Canvas, in
    assignment and section order. One written before gpb kept details (None) is sent again with
    its next result, not on its own."""
    groups = {g.id: g.name for g in state.groups}
    found = []
    for item in written:
        record = state.assignments.get(item.assignment_id)
        if record is None or not record.sync_enabled or item.details is None:
            continue
        assignment = record.assignment
        now = line_item_details(
            assignment, item.section_id, groups.get(assignment.assignment_group_id or "")
        )
        changes = differences(item.details, now)
        if changes:
            errors = record.error_codes
            found.append(LineItemChange(item.assignment_id, item.section_id, changes, now, errors))
    found.sort(key=lambda c: (int(c.assignment_id), int(c.section_id)))
    return found
