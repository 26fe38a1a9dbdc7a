"""A course's grades on their way to IC: the pending delta, starting a sync or a remaster (or a
preview of one), the history of runs, and one run as it goes and once it is done.

The pages call what the API calls (`api_syncs`), so a run started here is the run the API starts,
refused for the same reasons; the refusals are told in words on the sync page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gpb.handlers.course_state import CourseState
from gpb.handlers.ids import local_id_or_none
from gpb.handlers.students import Roster
from gpb.handlers.syncs import ACTIVE, RunKind, RunStatus, SyncRun
from gpb.handlers.tokens import Principal
from gpb.listener.api_assignments import course_assignments
from gpb.listener.api_auto_sync import choose_auto_sync
from gpb.listener.api_syncs import (
    pending_changes,
    pending_line_items,
    request_run,
    resume,
    run_history,
    run_json,
    undo,
    visible_run,
)
from gpb.listener.auth import context, course_access
from gpb.listener.errors import ApiError, not_found
from gpb.listener.forms import read_form
from gpb.listener.pages.courses import RECENT_RUNS, course_header, stopped_run
from gpb.listener.pages.render import page, render

# A checkbox per assignment, named by its id: the forms are read as one value per name.
PICK = "assignment-"
SHOWN_GRADES = 1000  # a run page lists this many grades; the API lists them all


@dataclass(frozen=True)
class Names:
    """What the course calls its assignments, sections and students, for pages that get only
    ids."""

    assignments: Mapping[str, str]
    sections: Mapping[str, str]
    students: Roster

    def assignment(self, assignment_id: str) -> str:
        return self.assignments.get(assignment_id) or f"Assignment {assignment_id}"

    def section(self, section_id: str) -> str:
        return self.sections.get(section_id) or f"Section {section_id}"

    def student(self, user_id: str) -> str:
        return self.students.names.get(user_id) or f"Canvas user {user_id}"

    def student_sis_id(self, user_id: str) -> str | None:
        return self.students.sis_ids.get(user_id)


def names_of(state: CourseState) -> Names:
    return Names(
        {a: r.assignment.title for a, r in state.assignments.items()},
        {s.id: s.name for s in state.sections},
        Roster.of(state.enrollments),
    )


@dataclass(frozen=True)
class Problem:
    """Why the sync page refused a request, in words, with a link when there is one to follow."""

    text: str
    link: str | None = None
    link_text: str | None = None


def problem_of(error: ApiError, course_id: str) -> Problem:
    """A refusal of the sync service (or of the form) as the teacher should read it."""
    if error.code == "SYNC_IN_PROGRESS":
        sync_id = error.extra.get("sync_id")
        return Problem(
            "A sync of this course is already queued or running; gpb runs one at a time per"
            " course. Start this one once it has finished.",
            f"/courses/{course_id}/syncs/{sync_id}" if sync_id else None,
            "Follow the run under way",
        )
    texts = {
        "NO_ASSIGNMENTS": "Choose at least one assignment to preview or sync.",
        "UNKNOWN_ASSIGNMENT": f"{error.message}: it may have been deleted in Canvas. Reload the"
        " page and choose again.",
        "ASSIGNMENTS_NOT_ALLOWED": "A remaster sends every eligible assignment; it cannot be"
        " limited to some.",
        "INVALID_BODY": "Press Preview, Sync now or Remaster to say what to do.",
        "NOT_CONFIRMED": "Tick the box to confirm the remaster, then press Remaster again.",
        "NOT_RESUMABLE": f"{error.message[:1].upper()}{error.message[1:]}.",
        "NOT_UNDOABLE": f"This run cannot be undone: {error.message}.",
        "UNDO_OF_UNDO": "An undo cannot be undone; sync the grades again instead.",
        "ALREADY_UNDONE": f"This run was undone already ({error.message}).",
        "NOT_CONFIRMED_UNDO": "Tick the box to confirm the undo, then press Undo again.",
    }
    if error.code == "UNDO_NEWER_RUNS":
        newest = error.extra.get("sync_ids", [None])[0]
        return Problem(
            "Later runs changed some of the same grades in IC. Undo them first, newest first"
            f" (runs {', '.join(error.extra.get('sync_ids', []))}), then this one.",
            f"/courses/{course_id}/syncs/{newest}" if newest else None,
            "Open the newest of them",
        )
    return Problem(texts.get(error.code, f"gpb could not start it: {error.message}."))


@dataclass(frozen=True)
class Requested:
    kind: RunKind
    dry_run: bool
    assignment_ids: tuple[str, ...] | None


def ticked(form: Mapping[str, str]) -> tuple[str, ...]:
    """The assignment ids whose checkbox was ticked, as the form sent them."""
    return tuple(name.removeprefix(PICK) for name in form if name.startswith(PICK))


def requested(form: Mapping[str, str]) -> Requested:
    """The run a sync page's form asks for: which button was pressed, and what was ticked."""
    action = form.get("action")
    if action == "remaster":
        if form.get("confirm") != "yes":
            raise ApiError(400, "NOT_CONFIRMED", "a remaster needs its confirmation")
        return Requested(RunKind.REMASTER, False, None)
    if action not in ("preview", "commit"):
        raise ApiError(400, "INVALID_BODY", "press Preview, Sync now or Remaster")
    # A value that is no Canvas id goes on as it is, for the service to call it unknown.
    ids = tuple(local_id_or_none(picked) or picked for picked in ticked(form))
    return Requested(RunKind.SYNC, action == "preview", ids)


def run_url(run: SyncRun) -> str:
    return f"/courses/{run.course_id}/syncs/{run.id}"


@page
async def pending(request: Request) -> Response:
    principal, course_id = await course_access(request)
    ctx = context(request)
    changes = await pending_changes(ctx, course_id)
    by_assignment: dict[str, list[dict[str, Any]]] = {}
    for change in changes:
        by_assignment.setdefault(change["assignment_id"], []).append(change)
    return render(
        request,
        "pending.html",
        principal,
        nav="courses",
        changes=changes,
        line_items=await pending_line_items(ctx, course_id),
        by_assignment=sorted(by_assignment.items(), key=lambda item: int(item[0])),
        names=names_of(await ctx.course_state.course_state(course_id)),
        **await course_header(request, course_id, "course_pending"),
    )


async def _sync_page(
    request: Request,
    principal: Principal,
    course_id: str,
    *,
    problem: Problem | None = None,
    status: int = 200,
    chosen: tuple[str, ...] | None = None,
) -> Response:
    """The sync page: the choice of assignments (ticked as `chosen`, or else the eligible ones
    with pending changes), the remaster, and the course's real run under way if there is one."""
    ctx = context(request)
    listed = await course_assignments(ctx, course_id)
    assignments = [a for a in listed if a["sync_enabled"]]
    if chosen is None:
        chosen = tuple(a["id"] for a in assignments if a["eligible"] and a["pending_changes"])
    recent = await ctx.sync_runs.runs(course_id, None, RECENT_RUNS)
    under_way = next((r for r in recent if r.status in ACTIVE and not r.dry_run), None)
    return render(
        request,
        "sync.html",
        principal,
        status=status,
        nav="courses",
        assignments=assignments,
        chosen=set(chosen),
        pick=PICK,
        not_syncing=len(listed) - len(assignments),
        under_way=under_way.as_json(full=False) if under_way else None,
        stopped=None if under_way else await stopped_run(ctx, course_id),
        problem=problem,
        auto_sync=(await ctx.auto_sync.choice(course_id)).as_json(ctx.auto_sync.policy),
        auto_saved="auto-saved" in request.query_params,
        names_by_id={a["id"]: a["title"] for a in listed},
        **await course_header(request, course_id, "course_sync"),
    )


@page
async def sync_form(request: Request) -> Response:
    principal, course_id = await course_access(request)
    return await _sync_page(request, principal, course_id)


@page
async def start_run(request: Request) -> Response:
    """Starts what the sync page's form asks for, then shows that run; a refusal is the sync
    page again with the reason (and the teacher's choice kept)."""
    principal, course_id = await course_access(request)
    form = await read_form(request)
    try:
        wanted = requested(form)
        run = await request_run(
            context(request),
            principal,
            course_id,
            wanted.kind,
            dry_run=wanted.dry_run,
            assignment_ids=wanted.assignment_ids,
        )
    except ApiError as refused:  # 400 for the request, 409 SYNC_IN_PROGRESS
        chosen = ticked(form) if form else None  # a form sent: keep what was ticked
        problem = problem_of(refused, course_id)
        return await _sync_page(
            request, principal, course_id, problem=problem, status=refused.status, chosen=chosen
        )
    return RedirectResponse(run_url(run), status_code=303)


@page
async def history(request: Request) -> Response:
    principal, course_id = await course_access(request)
    cursor = request.query_params.get("cursor") or None
    runs, next_cursor = await run_history(context(request), course_id, cursor)
    return render(
        request,
        "history.html",
        principal,
        nav="courses",
        runs=[run.as_json(full=False) for run in runs],
        newest_url="?" if cursor else None,
        older_url=f"?cursor={next_cursor}" if next_cursor else None,
        **await course_header(request, course_id, "course_history"),
    )


async def _course_run(request: Request) -> tuple[Principal, SyncRun]:
    """The run in the path, if it is of the course in the path and the caller may see both."""
    principal, course_id = await course_access(request)
    run = await visible_run(context(request), principal, request.path_params["sync_id"])
    if run.course_id != course_id:
        raise not_found("no such run in this course")
    return principal, run


@page
async def run_page(request: Request) -> Response:
    principal, run = await _course_run(request)
    ctx = context(request)
    shown = await run_json(ctx, run)
    grades = shown.pop("grades")
    # A preview belongs to the Sync tab (it ends with a Commit button); a real run to History.
    tab = "course_sync" if run.dry_run else "course_history"
    return render(
        request,
        "run.html",
        principal,
        nav="courses",
        run=shown,
        active=run.status in ACTIVE,
        assignment_ids=run.assignment_ids,
        grades=grades[:SHOWN_GRADES],
        more_grades=max(0, len(grades) - SHOWN_GRADES),
        committable=run.dry_run
        and run.kind is RunKind.SYNC
        and bool(run.assignment_ids)
        and run.status not in ACTIVE,
        resumable=run.status is RunStatus.INTERRUPTED,
        undoable=not run.dry_run and run.kind is not RunKind.UNDO and run.status not in ACTIVE,
        undo_confirmable=run.dry_run and run.kind is RunKind.UNDO and run.status not in ACTIVE,
        pick=PICK,
        names=names_of(await ctx.course_state.course_state(run.course_id)),
        resumed="resumed" in request.query_params,
        **await course_header(request, run.course_id, tab),
    )


@page
async def resume_run(request: Request) -> Response:
    """Resumes an interrupted run from its page; a refusal (not interrupted any more, another
    run under way) is the sync page with the reason."""
    principal, run = await _course_run(request)
    try:
        resumed = await resume(context(request), run)
    except ApiError as refused:
        problem = problem_of(refused, run.course_id)
        return await _sync_page(
            request, principal, run.course_id, problem=problem, status=refused.status
        )
    return RedirectResponse(run_url(resumed) + "?resumed=1", status_code=303)


@page
async def undo_run(request: Request) -> Response:
    """From a run's page: `preview` shows what an undo would do (a dry run), `undo` (with the
    confirmation ticked, on that preview) starts it. A refusal is the sync page with the reason."""
    principal, run = await _course_run(request)
    form = await read_form(request)
    action = form.get("action")
    try:
        if action == "undo" and form.get("confirm") != "yes":
            raise ApiError(400, "NOT_CONFIRMED_UNDO", "the undo was not confirmed")
        if action not in ("preview", "undo"):
            raise ApiError(400, "INVALID_BODY", "press Preview the undo, then Undo")
        undoing = await undo(context(request), principal, run, dry_run=action == "preview")
    except ApiError as refused:
        problem = problem_of(refused, run.course_id)
        return await _sync_page(
            request, principal, run.course_id, problem=problem, status=refused.status
        )
    return RedirectResponse(run_url(undoing), status_code=303)


@page
async def choose_auto_sync_page(request: Request) -> Response:
    """The sync page's automatic-sync form: the teacher's choice, then the sync page again."""
    principal, course_id = await course_access(request)
    form = await read_form(request)
    mode = form.get("mode") or None
    try:
        if mode not in (None, "off", "after_change", "nightly"):
            raise ApiError(400, "INVALID_BODY", "choose off, after each change or nightly")
        await choose_auto_sync(context(request), course_id, mode, form.get("nightly_at") or None)
    except ApiError as refused:
        return await _sync_page(
            request,
            principal,
            course_id,
            problem=Problem(f"The automatic syncs were not changed: {refused.message}."),
            status=refused.status,
        )
    return RedirectResponse(f"/courses/{course_id}/sync?auto-saved=1#auto-heading", status_code=303)
