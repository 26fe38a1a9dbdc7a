"""The failure reported out of nested task groups: found at any depth, chosen the same way
whichever task failed first."""

from __future__ import annotations

import asyncio

import pytest

from gpb.handlers.errors import ExternalError, SisAuthFailed, SisBusy, SisUnavailable
from gpb.handlers.failure_groups import leaves, to_report


def test_leaves_come_from_every_level_in_order() -> None:
    busy, down, refused = SisBusy("busy"), SisUnavailable("down"), SisAuthFailed("refused")
    group = ExceptionGroup("outer", [busy, ExceptionGroup("inner", [down, refused])])
    assert leaves(group) == [busy, down, refused]


@pytest.mark.parametrize("reverse", [False, True])
def test_the_same_failures_report_the_same_one_in_either_order(reverse: bool) -> None:
    failures: list[ExternalError] = [
        SisUnavailable("IC did not answer"),
        SisAuthFailed("IC refused the token"),
        SisBusy("IC asked gpb to slow down"),
    ]
    if reverse:
        failures.reverse()
    group = ExceptionGroup("sections", [ExceptionGroup("results", failures[:2]), failures[2]])
    reported = to_report(group)
    assert isinstance(reported, SisAuthFailed)
    assert reported.message == "IC refused the token"


def test_without_refused_credentials_the_code_then_the_message_decides() -> None:
    group = ExceptionGroup(
        "g", [SisUnavailable("b"), ExceptionGroup("h", [SisUnavailable("a"), SisBusy("z")])]
    )
    assert (to_report(group).code, to_report(group).message) == ("SIS_BUSY", "z")
    only_unavailable = ExceptionGroup("g", [SisUnavailable("b"), SisUnavailable("a")])
    assert to_report(only_unavailable).message == "a"


async def test_a_failure_two_task_groups_deep_is_found_through_except_star() -> None:
    async def result() -> None:
        raise SisAuthFailed("refused")

    async def section() -> None:
        async with asyncio.TaskGroup() as results:
            results.create_task(result())

    reported: ExternalError | None = None
    try:
        async with asyncio.TaskGroup() as sections:
            sections.create_task(section())
    except* ExternalError as group:
        assert isinstance(group.exceptions[0], ExceptionGroup)  # what `except*` hands over
        reported = to_report(group)
    assert isinstance(reported, SisAuthFailed)
