"""The instructor's pages: the courses one may see, and a course's assignments with live alerts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import NoMatchFound

from gpb.handlers.syncs import RunStatus
from gpb.listener import schemas
from gpb.listener.answers import shown
from gpb.listener.api_assignments import course_assignments
from gpb.listener.api_courses import courses_json
from gpb.listener.auth import authenticate, context, course_access
from gpb.listener.context import AppContext
from gpb.listener.operations import REDIRECT, Param, html, operation
from gpb.listener.pages.fix_forms import fix_offers, fixed_notice, title_units
from gpb.listener.pages.render import page, render

# A course's tabs, by route name. Pending, Sync and History belong to the sync feature: a tab shows
# once a page route of its name is registered (taking `course_id`), so that feature adds its pages
# without editing this list; they render `_course_header.html` with `course_header()` on top.
COURSE_TABS = (
    ("Assignments", "course"),
    ("Categories", "course_categories"),
    ("Pending", "course_pending"),
    ("Sync", "course_sync"),
    ("History", "course_history"),
)
RECENT_RUNS = 5  # how far back a course's pages look for a run under way or interrupted


@dataclass(frozen=True)
class Tab:
    label: str
    url: str
    current: bool


def course_tabs(request: Request, course_id: str, current: str) -> list[Tab]:
    tabs = []
    for label, name in COURSE_TABS:
        try:
            url = request.app.url_path_for(name, course_id=course_id)
        except NoMatchFound:
            continue
        tabs.append(Tab(label, str(url), name == current))
    return tabs


@operation("The courses page", "token", {200: html(), 303: REDIRECT})
@page
async def home(request: Request) -> Response:
    principal = await authenticate(request)
    courses = await courses_json(context(request), principal)
    return render(request, "home.html", principal, nav="courses", courses=courses)


async def course_header(request: Request, course_id: str, current: str) -> dict[str, Any]:
    """What `_course_header.html` shows above every page of a course: its name and its tabs,
    with `current` (a route name) marked."""
    state = await context(request).course_state.course_state(course_id)
    return {
        "course_id": course_id,
        "course_name": state.course.name if state.course else None,
        "tabs": course_tabs(request, course_id, current),
    }


async def stopped_run(ctx: AppContext, course_id: str) -> dict[str, Any] | None:
    """The course's latest real run when it was interrupted (a later run supersedes it): the
    course page and the Sync tab offer to resume it."""
    for run in await ctx.sync_runs.runs(course_id, None, RECENT_RUNS):
        if not run.dry_run:
            if run.status is not RunStatus.INTERRUPTED:
                return None
            return shown(schemas.SyncSummary.of(run))
    return None


@operation(
    "A course's page",
    "token",
    {200: html(), 303: REDIRECT},
    query=(Param("fixed", "shown after a fix: its gpb_fix event"),),
)
@page
async def course(request: Request) -> Response:
    principal, course_id = await course_access(request)
    ctx = context(request)
    assignments = await course_assignments(ctx, course_id)
    return render(
        request,
        "course.html",
        principal,
        nav="courses",
        assignments=assignments,
        fixes=await fix_offers(ctx, course_id),
        title_units=title_units(),
        fixed=await fixed_notice(ctx, course_id, request.query_params.get("fixed")),
        stopped=await stopped_run(ctx, course_id),
        **await course_header(request, course_id, "course"),
    )


@operation("A course page's assignment rows", "token", {200: html(), 303: REDIRECT})
@page
async def assignment_rows(request: Request) -> Response:
    """The rows of the course page alone: its script fetches them again when an alert arrives,
    so rows are rendered by one template whether the page is loaded or updated live."""
    principal, course_id = await course_access(request)
    ctx = context(request)
    assignments = await course_assignments(ctx, course_id)
    return render(
        request,
        "_assignment_rows.html",
        principal,
        assignments=assignments,
        course_id=course_id,
        fixes=await fix_offers(ctx, course_id),
        title_units=title_units(),
    )
