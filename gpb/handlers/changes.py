"""Every state change the domain hands the store: one union, each member with one writer.

Handlers and jobs say what changed as plain values; the store applies them in the transaction that
finishes their work. `gpb/infra/store/changes.py` checks at import that each member has exactly
one writer, and mypy refuses a handler that returns anything else. To add a change: a frozen
dataclass in the module it concerns, a member here, and a writer in the store module that owns its
tables.
"""

from __future__ import annotations

from typing import TypeAlias

from gpb.handlers.alerts import AlertOpened, AlertResolved, AlertUpdated
from gpb.handlers.course_state import (
    AssignmentStored,
    CourseStored,
    EnrollmentsStored,
    GroupsStored,
    SectionsStored,
)
from gpb.handlers.courses import CourseSeen
from gpb.handlers.grades import GradeChanged, GradeStored
from gpb.handlers.health import AdminAlertOpened, AdminAlertResolved, AdminAlertUpdated
from gpb.handlers.notices import NoticesQueued
from gpb.handlers.students import StudentRenamed
from gpb.handlers.syncs import LineItemConfirmed, LineItemUndone, ResultConfirmed, ResultDeleted

Change: TypeAlias = (
    CourseSeen
    | CourseStored
    | SectionsStored
    | GroupsStored
    | EnrollmentsStored
    | AssignmentStored
    | StudentRenamed
    | AlertOpened
    | AlertUpdated
    | AlertResolved
    | NoticesQueued
    | GradeStored
    | GradeChanged
    | ResultConfirmed
    | ResultDeleted
    | LineItemConfirmed
    | LineItemUndone
    | AdminAlertOpened
    | AdminAlertUpdated
    | AdminAlertResolved
)
