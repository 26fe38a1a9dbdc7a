"""A course's grades on their way to IC: the pending delta, starting a sync or a remaster (or a
preview of one), the history of runs, and one run as it goes and once it is done.

The pages call what the API calls (`handlers.course_runs`, the sync service), so a run started
here is the run the API starts, refused for the same reasons; the sync page tells the refusal's
message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gpb.handlers import course_runs
from gpb.handlers.auto_sync import InvalidChoice
from gpb.handlers.course_runs import request_run, run_history, visible_run
from gpb.handlers.course_state import CourseState
from gpb.handlers.ids import local_id_or_none
from gpb.handlers.refusals import Refused
from gpb.handlers.students import Roster
from gpb.handlers.sync_service import InvalidRequest, NewerRuns
from gpb.handlers.syncs import ACTIVE, RunInProgress, RunKind, RunStatus, SyncRun
from gpb.handlers.tokens import Principal
from gpb.listener import schemas
from gpb.listener.answers import shown
from gpb.listener.api_assignments import course_assignments
from gpb.listener.api_syncs import pending_list
from gpb.listener.auth import context, course_access
from gpb.listener.errors import not_found, status_of
from gpb.listener.forms import read_form
from gpb.listener.operations import FORM, REDIRECT, Param, html, operation
from gpb.listener.pages.courses import RECENT_RUNS, course_header, stopped_run
from gpb.listener.pages.render import page, render

# A checkbox per assignment, named by its id: the forms are read as one value per name.
PICK = "assignment-"
SHOWN_GRADES = 1000  # a run page lists this many grades; the API lists them all
# The sync page's form: the button pressed, the remaster's confirmation, and one field per
# ticked assignment, named `assignment-{id}`.
_SYNC_FORM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "csrf_token": {"type": "string"},
        "action": {"enum": ["preview", "commit", "remaster"]},
        "confirm": {"enum": ["yes"]},
    },
    "patternProperties": {"^assignment-": {"type": "string"}},
    "required": ["csrf_token", "action"],
}


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


class Unclear(Exception):
    """The sync page's form asks for nothing that can be done; `problem` says what to do."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.problem = Problem(text)


def sentence(message: str) -> str:
    """A refusal's message as a sentence on a page (gpb's name stays lower case)."""
    if not message.startswith("gpb "):
        message = message[:1].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


def problem_of(refused: Refused, course_id: str) -> Problem:
    """A refusal of the sync service told on the sync page: its message, and a link to the run
    it names when it names one."""
    text = sentence(refused.message)
    if isinstance(refused, RunInProgress):
        link = f"/courses/{course_id}/syncs/{refused.sync_id}"
        return Problem(text, link, "Follow the run under way")
    if isinstance(refused, NewerRuns) and refused.sync_ids:
        link = f"/courses/{course_id}/syncs/{refused.sync_ids[0]}"
        return Problem(text, link, "Open the newest of them")
    return Problem(text)


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
            raise Unclear("Tick the box to confirm the remaster, then press Remaster again.")
        return Requested(RunKind.REMASTER, False, None)
    if action not in ("preview", "commit"):
        raise Unclear("Press Preview, Sync now or Remaster to say what to do.")
    # A value that is no Canvas id goes on as it is, for the service to call it unknown.
    ids = tuple(local_id_or_none(picked) or picked for picked in ticked(form))
    return Requested(RunKind.SYNC, action == "preview", ids)


def run_url(run: SyncRun) -> str:
    return f"/courses/{run.course_id}/syncs/{run.id}"


@operation("A course's pending grades, Canvas beside IC", "token", {200: html(), 303: REDIRECT})
@page
async def pending(request: Request) -> Response:
    principal, course_id = await course_access(request)
    ctx = context(request)
    listed = shown(await pending_list(ctx, course_id))
    changes = listed["changes"]
    by_assignment: dict[str, list[dict[str, Any]]] = {}
    for change in changes:
        by_assignment.setdefault(change["assignment_id"], []).append(change)
    return render(
        request,
        "pending.html",
        principal,
        nav="courses",
        changes=changes,
        line_items=listed["line_items"],
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
        under_way=shown(schemas.SyncSummary.of(under_way)) if under_way else None,
        stopped=None if under_way else await stopped_run(ctx, course_id),
        problem=problem,
        auto_sync=shown(
            schemas.AutoSync.of(await ctx.auto_sync.choice(course_id), ctx.auto_sync.policy)
        ),
        auto_saved="auto-saved" in request.query_params,
        names_by_id={a["id"]: a["title"] for a in listed},
        **await course_header(request, course_id, "course_sync"),
    )


@operation(
    "Choosing assignments to preview or sync, and the remaster",
    "token",
    {200: html(), 303: REDIRECT},
)
@page
async def sync_form(request: Request) -> Response:
    principal, course_id = await course_access(request)
    return await _sync_page(request, principal, course_id)


@operation(
    "Start a preview, a sync or a remaster from the sync page, then show the run",
    "token",
    {
        303: REDIRECT,
        400: html("the sync page, with NO_ASSIGNMENTS, UNKNOWN_ASSIGNMENT, ... in words"),
        403: html("the form expired"),
        409: html("the sync page: SYNC_IN_PROGRESS, with a link to the run"),
    },
    body={FORM: _SYNC_FORM},
)
@page
async def start_run(request: Request) -> Response:
    """Starts what the sync page's form asks for, then shows that run; a refusal is the sync
    page again with the reason (and the teacher's choice kept)."""
    principal, course_id = await course_access(request)
    form = await read_form(request)
    chosen = ticked(form) if form else None  # a form sent: keep what was ticked
    try:
        wanted = requested(form)
        run = await request_run(
            context(request).syncs,
            principal,
            course_id,
            wanted.kind,
            dry_run=wanted.dry_run,
            assignment_ids=wanted.assignment_ids,
        )
    except Unclear as unclear:
        return await _sync_page(
            request, principal, course_id, problem=unclear.problem, status=400, chosen=chosen
        )
    except (InvalidRequest, RunInProgress) as refused:
        return await _refused(request, principal, course_id, refused, chosen=chosen)
    return RedirectResponse(run_url(run), status_code=303)


async def _refused(
    request: Request,
    principal: Principal,
    course_id: str,
    refused: Refused,
    *,
    chosen: tuple[str, ...] | None = None,
) -> Response:
    """The sync page again, telling why the service refused, with the refusal's status."""
    problem = problem_of(refused, course_id)
    status = status_of(refused.code)
    return await _sync_page(
        request, principal, course_id, problem=problem, status=status, chosen=chosen
    )


@operation(
    "A course's runs, newest first",
    "token",
    {200: html(), 303: REDIRECT, 400: html("the cursor is not one gpb gave")},
    query=(Param("cursor", "the older runs' link"),),
)
@page
async def history(request: Request) -> Response:
    principal, course_id = await course_access(request)
    cursor = request.query_params.get("cursor") or None
    found = await run_history(context(request).sync_runs, course_id, cursor)
    return render(
        request,
        "history.html",
        principal,
        nav="courses",
        runs=[shown(schemas.SyncSummary.of(run)) for run in found.runs],
        newest_url="?" if cursor else None,
        older_url=f"?cursor={found.next_cursor}" if found.next_cursor else None,
        **await course_header(request, course_id, "course_history"),
    )


async def _course_run(request: Request) -> tuple[Principal, SyncRun]:
    """The run in the path, if it is of the course in the path and the caller may see both."""
    principal, course_id = await course_access(request)
    run = await visible_run(context(request).sync_runs, principal, request.path_params["sync_id"])
    if run.course_id != course_id:
        raise not_found("no such run in this course")
    return principal, run


@operation(
    "One run: its progress, then what it did grade by grade",
    "token",
    {200: html(), 303: REDIRECT},
    query=(Param("resumed", "shown after a resume"),),
)
@page
async def run_page(request: Request) -> Response:
    principal, run = await _course_run(request)
    ctx = context(request)
    # One read of the course names the grades, assignments and sections alike.
    names = names_of(await ctx.course_state.course_state(run.course_id))
    answer = shown(schemas.SyncRun.full(run, names.students.names))
    grades = answer.pop("grades")
    # A preview belongs to the Sync tab (it ends with a Commit button); a real run to History.
    tab = "course_sync" if run.dry_run else "course_history"
    return render(
        request,
        "run.html",
        principal,
        nav="courses",
        run=answer,
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
        names=names,
        resumed="resumed" in request.query_params,
        **await course_header(request, run.course_id, tab),
    )


@operation(
    "Resume an interrupted run from its page",
    "token",
    {
        303: REDIRECT,
        403: html("the form expired"),
        409: html("the sync page: NOT_RESUMABLE or SYNC_IN_PROGRESS in words"),
    },
    body={FORM: schemas.CsrfForm},
)
@page
async def resume_run(request: Request) -> Response:
    """Resumes an interrupted run from its page; a refusal (not interrupted any more, another
    run under way) is the sync page with the reason."""
    principal, run = await _course_run(request)
    try:
        resumed = await context(request).syncs.resume(run)
    except (InvalidRequest, RunInProgress) as refused:
        return await _refused(request, principal, run.course_id, refused)
    return RedirectResponse(run_url(resumed) + "?resumed=1", status_code=303)


@operation(
    "From a run's page: preview its undo, or (confirmed, from the preview) undo it",
    "token",
    {
        303: REDIRECT,
        400: html("the sync page: the undo was not confirmed"),
        403: html("the form expired"),
        409: html("the sync page: why the run cannot be undone, in words"),
    },
    body={FORM: schemas.UndoForm},
)
@page
async def undo_run(request: Request) -> Response:
    """From a run's page: `preview` shows what an undo would do (a dry run), `undo` (with the
    confirmation ticked, on that preview) starts it. A refusal is the sync page with the reason."""
    principal, run = await _course_run(request)
    form = await read_form(request)
    action = form.get("action")
    try:
        if action == "undo" and form.get("confirm") != "yes":
            raise Unclear("Tick the box to confirm the undo, then press Undo again.")
        if action not in ("preview", "undo"):
            raise Unclear("Press Preview, Sync now or Remaster to say what to do.")
        undoing = await course_runs.undo_run(
            context(request).syncs, principal, run, dry_run=action == "preview"
        )
    except Unclear as unclear:
        return await _sync_page(
            request, principal, run.course_id, problem=unclear.problem, status=400
        )
    except (InvalidRequest, NewerRuns, RunInProgress) as refused:
        return await _refused(request, principal, run.course_id, refused)
    return RedirectResponse(run_url(undoing), status_code=303)


@operation(
    "Choose the course's automatic syncs from the sync page",
    "token",
    {
        303: REDIRECT,
        400: html("the sync page: the choice is not allowed, in words"),
        403: html("the form expired"),
    },
    body={FORM: schemas.AutoSyncForm},
)
@page
async def choose_auto_sync_page(request: Request) -> Response:
    """The sync page's automatic-sync form: the teacher's choice, then the sync page again."""
    principal, course_id = await course_access(request)
    form = await read_form(request)
    mode, nightly_at = form.get("mode") or None, form.get("nightly_at") or None
    try:
        await context(request).auto_sync.choose_as_written(course_id, mode, nightly_at)
    except InvalidChoice as refused:
        return await _sync_page(
            request,
            principal,
            course_id,
            problem=Problem(f"The automatic syncs were not changed: {refused.message}."),
            status=status_of(refused.code),
        )
    return RedirectResponse(f"/courses/{course_id}/sync?auto-saved=1#auto-heading", status_code=303)
