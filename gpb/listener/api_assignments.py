"""A course's assignments with their verdicts, its alerts, and the live alert stream (SSE)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gpb.handlers import course_assignments as assignment_list
from gpb.handlers.alerts import FeedEntry
from gpb.handlers.course_state import AssignmentRecord, CourseState
from gpb.handlers.ic_dates import section_due_at
from gpb.handlers.ic_names import sent_title
from gpb.handlers.model import OverrideTarget
from gpb.handlers.timefmt import iso
from gpb.listener import schemas
from gpb.listener.answers import json_answer, shown
from gpb.listener.auth import context, course_access
from gpb.listener.context import AppContext
from gpb.listener.errors import ApiError
from gpb.listener.operations import Answer, Param, operation, returns

KEEP_ALIVE_SECONDS = 15.0


def assignment_json(
    record: AssignmentRecord,
    state: CourseState,
    pending: Mapping[str, int],
    last_synced: Mapping[str, datetime],
) -> dict[str, Any]:
    assignment = record.assignment
    groups = {g.id: g.name for g in state.groups}
    sections = {s.id: s.name for s in state.sections}
    overridden = [
        o.section_id
        for o in assignment.overrides
        if o.target is OverrideTarget.SECTION and o.section_id is not None
    ]
    return {
        "id": assignment.id,
        "title": sent_title(assignment.title),  # what IC gets, as the pages show it
        "due_at": iso(assignment.due_at),
        "section_due_dates": [
            {
                "section_id": section_id,
                "section_name": sections.get(section_id),
                "due_at": iso(section_due_at(assignment, section_id)),
            }
            for section_id in dict.fromkeys(overridden)
        ],
        "assignment_group": groups.get(assignment.assignment_group_id or ""),
        "sync_enabled": record.sync_enabled,
        "eligible": record.eligible,
        "violations": [asdict(v) for v in record.violations],
        "pending_changes": pending.get(assignment.id, 0),
        "last_synced_at": iso(last_synced.get(assignment.id)),
    }


async def assignments_answer(ctx: AppContext, course_id: str) -> schemas.AssignmentList:
    """The course's assignments as the API lists them (and the pages show them)."""
    listed = await assignment_list.course_assignments(
        ctx.course_state, ctx.pending, ctx.sync_runs, course_id
    )
    return schemas.AssignmentList.model_validate(
        {
            "assignments": [
                assignment_json(r, listed.state, listed.pending, listed.last_synced)
                for r in listed.records
            ]
        }
    )


async def course_assignments(ctx: AppContext, course_id: str) -> list[dict[str, Any]]:
    """The course's assignments as the API lists them, for the pages."""
    return shown(await assignments_answer(ctx, course_id))["assignments"]


@operation(
    "A course's assignments with their sync verdicts",
    "token",
    {200: returns(schemas.AssignmentList)},
)
async def list_assignments(request: Request) -> Response:
    _, course_id = await course_access(request)
    return json_answer(await assignments_answer(context(request), course_id))


@operation(
    "A course's alerts",
    "token",
    {200: returns(schemas.AlertList), 400: returns(schemas.ErrorBody, "INVALID_QUERY")},
    query=(Param("state", "only open or resolved alerts", {"enum": ["open", "resolved"]}),),
)
async def list_alerts(request: Request) -> Response:
    _, course_id = await course_access(request)
    state = request.query_params.get("state") or None
    if state not in (None, "open", "resolved"):
        raise ApiError("INVALID_QUERY", "state must be open or resolved")
    alerts = await context(request).alerts.alerts(course_id, state)
    return json_answer(schemas.AlertList.model_validate({"alerts": alerts}))


def _sse(entry: FeedEntry) -> str:
    alert = shown(schemas.Alert.model_validate(entry.alert))
    data = json.dumps(alert, separators=(",", ":"))
    return f"event: alert\nid: {entry.event_id}\ndata: {data}\n\n"


@operation(
    "Alerts as they open, change and resolve (server-sent events; Last-Event-ID resumes)",
    "token",
    {200: Answer("an endless event stream", media=("text/event-stream",))},
)
async def alert_stream(request: Request) -> Response:
    principal, course_id = await course_access(request)
    ctx = context(request)
    position = await ctx.alerts.feed_position(course_id, request.headers.get("last-event-id"))
    slot = ctx.stream_slots.take(principal)
    if slot is None:
        raise ApiError(
            "TOO_MANY_STREAMS",
            f"this token already holds {ctx.stream_slots.per_token} alert streams open; close one",
            headers={"Retry-After": str(int(KEEP_ALIVE_SECONDS))},
        )

    async def messages() -> AsyncIterator[str]:
        after = position
        try:
            yield ": connected\n\n"
            while True:
                ticket = ctx.alert_signal.ticket()
                entries = await ctx.alerts.feed_after(course_id, after)
                for entry in entries:
                    yield _sse(entry)
                    after = entry.seq
                if entries:
                    continue
                if not await ctx.alert_signal.wait(ticket, KEEP_ALIVE_SECONDS):
                    yield ": keep-alive\n\n"
        finally:
            slot.release()

    return StreamingResponse(
        messages(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        background=BackgroundTask(slot.release),  # also when the stream never started
    )
