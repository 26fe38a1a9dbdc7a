"""Alerts: one per (assignment, rule code) while the violation lasts.

Opened when a violation appears on a sync-enabled assignment, updated in place when its details
change, resolved when it goes away (or the assignment stops syncing, or is deleted). An unchanged
violation raises nothing new; one that comes back after being resolved opens a new alert.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gpb.handlers.eligibility import Violation
from gpb.handlers.timefmt import iso


@dataclass(frozen=True)
class Alert:
    id: str
    course_id: str
    assignment_id: str
    code: str
    severity: str
    message: str
    fix: str
    state: str  # "open" | "resolved"
    version: int
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "assignment_id": self.assignment_id,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "fix": self.fix,
            "state": self.state,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "resolved_at": iso(self.resolved_at),
        }


@dataclass(frozen=True)
class AlertOpened:
    course_id: str
    assignment_id: str
    code: str
    severity: str
    message: str
    fix: str


@dataclass(frozen=True)
class AlertUpdated:
    alert_id: str
    severity: str
    message: str
    fix: str


@dataclass(frozen=True)
class AlertResolved:
    alert_id: str


AlertChange = AlertOpened | AlertUpdated | AlertResolved
ALERT_CHANGES = (AlertOpened, AlertUpdated, AlertResolved)


@dataclass(frozen=True)
class FeedEntry:
    """One opened, updated or resolved alert, as SSE sends it: `id: <alert id>.<version>`."""

    seq: int
    alert: Alert

    @property
    def event_id(self) -> str:
        return f"{self.alert.id}.{self.alert.version}"


def _combined(violations: Sequence[Violation]) -> tuple[str, str, str]:
    """One alert per code: a rule broken in several sections lists them all in one message."""
    severity = violations[0].severity
    message = " ".join(dict.fromkeys(v.message for v in violations))
    fix = " ".join(dict.fromkeys(v.fix for v in violations))
    return severity, message, fix


def alert_changes(
    course_id: str,
    open_alerts: Iterable[Alert],
    violations_by_assignment: Mapping[str, Sequence[Violation]],
) -> list[AlertChange]:
    """What to open, update and resolve so that the open alerts match the violations.

    `violations_by_assignment` holds every sync-enabled, undeleted assignment of the course (with
    an empty list when it is clean); open alerts of any other assignment are resolved.
    """
    wanted: dict[tuple[str, str], list[Violation]] = {}
    for assignment_id, violations in violations_by_assignment.items():
        for violation in violations:
            wanted.setdefault((assignment_id, violation.code), []).append(violation)

    changes: list[AlertChange] = []
    current = {(a.assignment_id, a.code): a for a in open_alerts}
    for key, alert in current.items():
        if key not in wanted:
            changes.append(AlertResolved(alert.id))
            continue
        severity, message, fix = _combined(wanted[key])
        if (alert.severity, alert.message, alert.fix) != (severity, message, fix):
            changes.append(AlertUpdated(alert.id, severity, message, fix))
    for (assignment_id, code), violations in wanted.items():
        if (assignment_id, code) not in current:
            severity, message, fix = _combined(violations)
            changes.append(AlertOpened(course_id, assignment_id, code, severity, message, fix))
    return changes
