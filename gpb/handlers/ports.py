"""The ports: what the handlers need from the outside, as protocols the adapters implement.

Every method may raise the errors of `gpb.handlers.errors`; adapters retry before they do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from gpb.handlers.model import (
    Assignment,
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
