"""The admin's pages: the district overview, the event log with its filters, and one event."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gpb.handlers.eventlog import EventPage, EventStatus, TimeBucket
from gpb.handlers.health import FinishedRun
from gpb.handlers.replay import replay, replayable, stored_event
from gpb.handlers.syncs import RunStatus
from gpb.handlers.timefmt import iso
from gpb.listener import schemas
from gpb.listener.answers import shown
from gpb.listener.api_admin import check_scope, reconciliation_answer
from gpb.listener.api_events import event_detail, event_summary, parse_query
from gpb.listener.auth import context, require_admin
from gpb.listener.context import AppContext
from gpb.listener.errors import ApiError
from gpb.listener.operations import (
    CHECK_SCOPE,
    EVENT_FILTERS,
    FORM,
    REDIRECT,
    html,
    operation,
)
from gpb.listener.pages.charts import build_chart, window_start
from gpb.listener.pages.render import page, render
from gpb.listener.pages.syncs import names_of

FILTERS = ("course_id", "event_name", "status", "since", "until")
TIME_FILTERS = ("since", "until")
_PAGE_FILTERS = tuple(p for p in EVENT_FILTERS if p.name in FILTERS)  # as the API names them
RECENT_RECONCILIATIONS = 20  # the overview's table; the API has them all
FAILED_RUNS_WINDOW = timedelta(hours=24)  # the overview's day, as its events chart
CHARTS: tuple[tuple[str, TimeBucket, int], ...] = (
    ("Events per minute, last hour", "minute", 60),
    ("Events per hour, last 24 hours", "hour", 24),
)


def _utc(value: str, zone: ZoneInfo) -> str:
    """A time typed in the district's zone (a datetime-local field) as the API takes it."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value  # parse_query says what is wrong with it
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    try:
        return iso(parsed) or value
    except OverflowError:  # 9999-12-31T23:59:59-01:00 is past the last time UTC can hold
        return value


def api_filters(form: Mapping[str, str], zone: ZoneInfo) -> dict[str, str]:
    """The filters filled in on the page, as `GET /api/events` and its export take them."""
    filters = {}
    for name in FILTERS:
        value = form.get(name, "").strip()
        if value:
            filters[name] = _utc(value, zone) if name in TIME_FILTERS else value
    return filters


def _pretty(value: Any) -> str | None:
    return None if value is None else json.dumps(value, indent=2, ensure_ascii=False)


async def latest_failed_runs(ctx: AppContext) -> list[FinishedRun]:
    """Courses' latest real runs of the last day that failed, or partly failed, newest first: a
    run that went through since clears the course, as it clears the RUNS_FAILING admin alert."""
    latest: dict[str, FinishedRun] = {}
    for run in await ctx.finished_runs.finished_runs(ctx.now() - FAILED_RUNS_WINDOW):
        latest[run.course_id] = run  # oldest first: the last one per course stays
    failed = [r for r in latest.values() if r.status in (RunStatus.FAILED, RunStatus.PARTIAL)]
    return sorted(failed, key=lambda r: r.finished_at, reverse=True)


@operation("The admin overview", "admin", {200: html(), 303: REDIRECT})
@page
async def overview(request: Request) -> Response:
    principal = await require_admin(request)
    ctx = context(request)
    now, zone = ctx.now(), ctx.config.time_zone
    charts = []
    for title, bucket, buckets in CHARTS:
        start = window_start(now, bucket, buckets)
        counts = await ctx.events.counts_by_time(start, bucket)
        charts.append(
            build_chart(title, counts, start=start, bucket=bucket, buckets=buckets, zone=zone)
        )
    courses = await ctx.courses.summaries(None)  # admins see all; no pending counts needed here
    reconciled = await ctx.reconciliations.reconciliations(None, None, RECENT_RECONCILIATIONS)
    return render(
        request,
        "admin.html",
        principal,
        nav="admin",
        courses=[c for c in courses if c.open_alerts],
        failed_runs=await latest_failed_runs(ctx),
        course_names={c.id: c.name for c in courses},
        charts=charts,
        admin_alerts=[
            shown(schemas.AdminAlert.model_validate(a))
            for a in await ctx.admin_alerts.admin_alerts("open")
        ],
        reconciliations=[shown(schemas.ReconciliationSummary.of(r)) for r in reconciled],
        auto_sync_modes=await ctx.auto_sync.courses_by_mode(),
        auto_sync_policy=ctx.auto_sync.policy,
    )


@operation(
    "The event log page",
    "admin",
    {200: html(), 303: REDIRECT, 400: html("a filter is wrong")},
    query=_PAGE_FILTERS,
)
@page
async def event_log(request: Request) -> Response:
    principal = await require_admin(request)
    ctx = context(request)
    form = {name: request.query_params.get(name, "").strip() for name in FILTERS}
    filters = api_filters(form, ctx.config.time_zone)
    cursor = request.query_params.get("cursor", "")
    problem = None
    found = EventPage([], None)
    try:
        query = parse_query(filters | ({"cursor": cursor} if cursor else {}))
    except ApiError as error:
        problem = f"Check the filters: {error.message}."
    else:
        found = await ctx.events.search(query)
    chosen = {name: value for name, value in form.items() if value}
    return render(
        request,
        "events.html",
        principal,
        status=400 if problem else 200,
        nav="events",
        form=form,
        statuses=[s.value for s in EventStatus],
        problem=problem,
        events=[event_summary(e) for e in found.events],
        newest_url="?" + urlencode(chosen) if cursor else None,
        older_url="?" + urlencode(chosen | {"cursor": found.next_cursor})
        if found.next_cursor
        else None,
        export_urls={
            fmt: "/api/events/export?" + urlencode(filters | {"format": fmt})
            for fmt in ("csv", "ndjson")
        },
    )


@operation("One event's page", "admin", {200: html(), 303: REDIRECT})
@page
async def event_page(request: Request) -> Response:
    principal = await require_admin(request)
    event = await stored_event(context(request).events, request.path_params["event_id"])
    detail = event_detail(event)
    return render(
        request,
        "event.html",
        principal,
        nav="events",
        event=detail,
        payload=_pretty(detail["payload"]),
        outcome=_pretty(detail["outcome"]),
        replayable=replayable(event),
        replayed="replayed" in request.query_params,
    )


@operation(
    "Replay an event from its page",
    "admin",
    {303: REDIRECT, 403: html("the form expired"), 409: html("a refused delivery")},
    body={FORM: schemas.CsrfForm},
)
@page
async def replay_event(request: Request) -> Response:
    await require_admin(request)  # from a page: the form carries the session's CSRF token
    ctx = context(request)
    requeued = await replay(ctx.events, request.path_params["event_id"], ctx.worker.notify)
    return RedirectResponse(f"/admin/events/{requeued.id}?replayed=1", status_code=303)


@operation(
    "The connection checks page (gpb check)",
    "admin",
    {200: html(), 303: REDIRECT, 400: html("the course id is no Canvas id")},
    query=CHECK_SCOPE,
)
@page
async def check_page(request: Request) -> Response:
    """The checks of `gpb check` (and `GET /api/admin/check`), each passed or failed with its fix;
    a course or an IC class may be named to check it too."""
    principal = await require_admin(request)
    form = {name: request.query_params.get(name, "").strip() for name in ("course_id", "class_id")}
    problem: str | None = None
    report: dict[str, Any] | None = None
    try:
        course_id, class_id = check_scope(form)
    except ApiError as error:
        problem = f"Check the form: {error.message}."
    else:
        report = await context(request).connection_checks.report(course_id, class_id)
    return render(
        request,
        "check.html",
        principal,
        status=400 if problem else 200,
        nav="check",
        form=form,
        problem=problem,
        report=report,
    )


@operation("One reconciliation's report", "admin", {200: html(), 303: REDIRECT})
@page
async def reconciliation_page(request: Request) -> Response:
    principal = await require_admin(request)
    ctx = context(request)
    found = shown(await reconciliation_answer(ctx, request.path_params["reconciliation_id"]))
    return render(
        request,
        "reconciliation.html",
        principal,
        nav="admin",
        reconciliation=found,
        names=names_of(await ctx.course_state.course_state(found["course_id"])),
    )
