"""The one failure to report out of the ExceptionGroup a task group raised.

A task group wraps what its tasks raise in an ExceptionGroup, and a task group running inside a
task raises a group that the outer one wraps again: `except*` keeps that nesting, so the first
member of a group may itself be a group. And which task fails first depends on how busy the
machine is. So the failures are taken from every level, and the one reported is chosen by what it
says, never by when it arrived: the same failures give the same report on a fast machine and a
loaded one.
"""

from __future__ import annotations

from typing import TypeVar

from gpb.handlers.errors import CanvasAuthFailed, ExternalError, SisAuthFailed

E = TypeVar("E", bound=BaseException)
X = TypeVar("X", bound=ExternalError)


def leaves(group: BaseExceptionGroup[E]) -> list[E]:
    """The exceptions of the group and of every group nested in it, depth first."""
    found: list[E] = []
    for member in group.exceptions:
        if isinstance(member, BaseExceptionGroup):
            found.extend(leaves(member))
        else:
            found.append(member)
    return found


def to_report(group: BaseExceptionGroup[X]) -> X:
    """Refused credentials first (they stop everything until a person fixes them), then by code
    and message."""
    return min(leaves(group), key=_rank)


def _rank(failure: ExternalError) -> tuple[bool, str, str]:
    refused = isinstance(failure, SisAuthFailed | CanvasAuthFailed)
    return (not refused, failure.code, failure.message)
