"""The ports: what the handlers need from the outside, as protocols the adapters implement.

Every method may raise the errors of `gpb.handlers.errors`; adapters retry before they do.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from gpb.handlers.model import (
    Assignment,
    AssignmentChange,
    AssignmentGroup,
    Course,
    Enrollment,
    IcCategory,
    IcClass,
    IcRecord,
    LineItem,
    RecordKind,
    Result,
    Section,
    Submission,
)


class Canvas(Protocol):
    """The Canvas REST API, read for what live events do not carry."""

    async def get_course(self, course_id: str) -> Course | None: ...

    async def get_assignment(self, course_id: str, assignment_id: str) -> Assignment | None:
        """The assignment with its overrides; None when Canvas no longer has it (deleted)."""
        ...

    async def list_assignments(self, course_id: str) -> list[Assignment]: ...

    async def list_assignment_groups(self, course_id: str) -> list[AssignmentGroup]: ...

    async def list_sections(self, course_id: str) -> list[Section]: ...

    async def list_student_enrollments(self, course_id: str) -> list[Enrollment]: ...

    async def list_teacher_ids(self, course_id: str) -> list[str]: ...

    async def get_sortable_name(self, user_id: str) -> str | None:
        """The user's "Last, First"; None when Canvas has no such user."""
        ...

    async def get_submission(
        self, course_id: str, assignment_id: str, user_id: str
    ) -> Submission | None: ...

    async def list_submissions(
        self, course_id: str, assignment_ids: Sequence[str]
    ) -> list[Submission]: ...

    async def send_conversation(
        self, course_id: str | None, recipient_ids: Sequence[str], subject: str, body: str
    ) -> None:
        """A private message to each recipient, in the course's context when one is given."""
        ...


class CanvasWriter(Protocol):
    """The Canvas REST writes a fix makes. `as_user_id` masquerades as that user (None: gpb's own
    token user). Raises `CanvasRefused` with Canvas's reason, or `CanvasUnavailable` when it cannot
    tell whether the change was made; a change is never retried blindly."""

    async def update_assignment(
        self, course_id: str, assignment_id: str, change: AssignmentChange, as_user_id: str | None
    ) -> Assignment: ...

    async def set_section_due_at(
        self,
        course_id: str,
        assignment_id: str,
        section_id: str,
        override_id: str | None,
        due_at: datetime,
        as_user_id: str | None,
    ) -> None:
        """The section's due date, in its override (made when `override_id` is None)."""
        ...

    async def rename_assignment_group(
        self, course_id: str, group_id: str, name: str, as_user_id: str | None
    ) -> AssignmentGroup: ...


class Sis(Protocol):
    """Infinite Campus through OneRoster 1.2 (rostering reads, gradebook reads and writes)."""

    async def get_class(self, class_id: str) -> IcClass | None:
        """The class with its school and terms; None when IC has no such class."""
        ...

    async def list_categories(self, class_id: str) -> list[IcCategory]: ...

    async def put_line_item(self, line_item: LineItem) -> None: ...

    async def put_result(self, result: Result) -> None: ...

    async def delete_result(self, sourced_id: str) -> None:
        """Deletes a result; one IC does not have counts as deleted."""
        ...

    async def get_result(self, sourced_id: str) -> Result | None: ...

    async def read_record(self, kind: RecordKind, sourced_id: str) -> IcRecord | None:
        """The line item or result as IC holds it; None when IC has none."""
        ...

    async def read_results_of(self, class_id: str, line_item_id: str) -> list[IcRecord]:
        """The results IC holds on a line item of a class, as IC holds them."""
        ...

    async def restore_record(self, record: IcRecord) -> None:
        """Puts a record read by `read_record` back as it was."""
        ...

    async def delete_line_item(self, sourced_id: str) -> None:
        """Deletes a line item; one IC does not have counts as deleted."""
        ...
