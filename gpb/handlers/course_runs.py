"""A course's runs as a teacher or an admin asks for them, from the API or the pages: starting
one, finding one, undoing one, and the history. Both call these, so a run started from a page is
the run the API starts, refused for the same reasons with the same words."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, get_args

from gpb.handlers.ids import record_id
from gpb.handlers.ports import SyncStore
from gpb.handlers.refusals import Refused
from gpb.handlers.sync_service import SyncService
from gpb.handlers.syncs import RunKind, SyncRequest, SyncRun
from gpb.handlers.tokens import Principal

HISTORY_PAGE = 25

RunsRefusalCode = Literal["NOT_FOUND", "INVALID_QUERY"]


class RunsRefused(Refused):
    codes: ClassVar[tuple[str, ...]] = get_args(RunsRefusalCode)

    def __init__(self, code: RunsRefusalCode, message: str) -> None:
        super().__init__(code, message)


@dataclass(frozen=True)
class RunHistory:
    runs: list[SyncRun]  # newest first
    next_cursor: str | None  # None: no older runs


def requester(principal: Principal) -> str:
    """Who a run says asked for it."""
    return principal.name or principal.role.value


async def request_run(
    syncs: SyncService,
    principal: Principal,
    course_id: str,
    kind: RunKind,
    *,
    dry_run: bool,
    assignment_ids: Sequence[str] | None,
) -> SyncRun:
    """Queues a run as `principal` asked it; raises InvalidRequest or RunInProgress."""
    request = SyncRequest(
        course_id=course_id,
        kind=kind,
        dry_run=dry_run,
        assignment_ids=tuple(dict.fromkeys(assignment_ids)) if assignment_ids is not None else None,
        requested_by=requester(principal),
    )
    return await syncs.request(request)


async def undo_run(
    syncs: SyncService, principal: Principal, run: SyncRun, *, dry_run: bool
) -> SyncRun:
    """Queues the undo of `run` (or its preview); raises InvalidRequest, NewerRuns or
    RunInProgress."""
    return await syncs.undo(run, dry_run=dry_run, requested_by=requester(principal))


async def visible_run(runs: SyncStore, principal: Principal, sync_id: str) -> SyncRun:
    """The run, if `principal` may see its course; any other is "not found", like a course."""
    run = await runs.run(sync_id)
    if run is None or not principal.may_see(run.course_id):
        raise RunsRefused("NOT_FOUND", "no such run")
    return run


async def run_history(runs: SyncStore, course_id: str, cursor: str | None) -> RunHistory:
    """One page of the course's runs, newest first, after `cursor` (a run id this gave)."""
    if cursor is not None and record_id(cursor) is None:
        raise RunsRefused("INVALID_QUERY", "cursor is not one this API gave")
    found = await runs.runs(course_id, cursor, HISTORY_PAGE + 1)
    page = found[:HISTORY_PAGE]
    return RunHistory(page, page[-1].id if len(found) > HISTORY_PAGE else None)
