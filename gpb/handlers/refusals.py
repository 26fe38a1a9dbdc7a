"""What gpb will not do, said as a code and a message: the domain's side of every error answer.

A refusal carries no HTTP status. The listener answers each code with the status of its one table
(`listener/errors.py`), the same for the ingress, the API and the pages. Each kind of refusal
lists the codes it may carry in a Literal, so mypy holds whoever raises it to those codes, and a
test holds the listener's table to every one of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar


class Refused(Exception):
    """gpb will not do what was asked; nothing was changed. `data` is what the caller needs
    besides the message to act on it (the run under way, the runs to undo first), and
    `retry_after` the seconds after which asking again may succeed."""

    # The codes this kind of refusal may carry: the arguments of its Literal.
    codes: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retry_after: int | None = None,
        data: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.data: Mapping[str, object] = data or {}
