"""The admin audit API over the event log (docs/api.md, "The event log")."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gpb.handlers import replay as replays
from gpb.handlers.envelope import parse_canvas_time
from gpb.handlers.eventlog import EventQuery, EventStatus, StoredEvent
from gpb.handlers.ids import local_id_or_none, record_id
from gpb.listener import schemas
from gpb.listener.answers import json_answer, shown
from gpb.listener.auth import context, require_admin
from gpb.listener.errors import ApiError
from gpb.listener.operations import EVENT_FILTERS, Answer, Param, operation, returns

MAX_LIMIT = 500
CSV_COLUMNS = (
    "id",
    "received_at",
    "event_name",
    "event_time",
    "course_id",
    "user_id",
    "status",
    "error_code",
    "error_message",
    "attempts",
    "duplicate_of",
)


def event_summary(event: StoredEvent) -> dict[str, Any]:
    """The event as the API lists it, for the pages and the CSV export."""
    return shown(schemas.EventSummary.of(event))


def event_detail(event: StoredEvent) -> dict[str, Any]:
    """The event with its payload as the API answers it, for the pages and the NDJSON export."""
    return shown(schemas.EventDetail.of(event))


def _bad_query(message: str) -> ApiError:
    return ApiError("INVALID_QUERY", message)


def _time_param(params: Mapping[str, str], name: str) -> datetime | None:
    value = params.get(name)
    if not value:
        return None
    try:
        return parse_canvas_time(value)
    except ValueError:
        raise _bad_query(f"{name} must be an ISO-8601 time") from None


def parse_query(params: Mapping[str, str], *, default_limit: int = 50) -> EventQuery:
    status = params.get("status") or None
    if status is not None and status not in EventStatus._value2member_map_:
        allowed = ", ".join(s.value for s in EventStatus)
        raise _bad_query(f"status must be one of {allowed}")
    course = params.get("course_id") or None
    course_id = local_id_or_none(course) if course else None
    if course is not None and course_id is None:
        raise _bad_query("course_id must be a Canvas course id")
    cursor = params.get("cursor") or None
    if cursor is not None and record_id(cursor) is None:
        raise _bad_query("cursor is not one this API gave")
    limit = record_id(params.get("limit") or str(default_limit))
    if limit is None or not 1 <= limit <= MAX_LIMIT:
        raise _bad_query(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return EventQuery(
        course_id=course_id,
        event_name=params.get("event_name") or None,
        status=EventStatus(status) if status else None,
        since=_time_param(params, "since"),
        until=_time_param(params, "until"),
        before_id=cursor,
        limit=limit,
    )


@operation(
    "The event log, newest first",
    "admin",
    {200: returns(schemas.EventList), 400: returns(schemas.ErrorBody, "INVALID_QUERY")},
    query=EVENT_FILTERS,
)
async def list_events(request: Request) -> Response:
    await require_admin(request)
    page = await context(request).events.search(parse_query(request.query_params))
    events = [schemas.EventSummary.of(e) for e in page.events]
    return json_answer(schemas.EventList(events=events, next_cursor=page.next_cursor))


@operation(
    "One delivery with its payload and what its handling changed",
    "admin",
    {200: returns(schemas.EventDetail)},
)
async def get_event(request: Request) -> Response:
    await require_admin(request)
    event = await replays.stored_event(context(request).events, request.path_params["event_id"])
    return json_answer(schemas.EventDetail.of(event))


@operation(
    "Handle a stored event again",
    "admin",
    {
        202: returns(schemas.EventSummary, "queued"),
        409: returns(schemas.ErrorBody, "NOT_REPLAYABLE"),
    },
)
async def replay_event(request: Request) -> Response:
    await require_admin(request)
    ctx = context(request)
    requeued = await replays.replay(ctx.events, request.path_params["event_id"], ctx.worker.notify)
    return json_answer(schemas.EventSummary.of(requeued), 202)


@operation(
    "The event log, streamed",
    "admin",
    {
        200: Answer("NDJSON, or CSV with format=csv", media=("application/x-ndjson", "text/csv")),
        400: returns(schemas.ErrorBody, "INVALID_QUERY"),
    },
    query=(*EVENT_FILTERS, Param("format", "ndjson or csv", {"enum": ["ndjson", "csv"]})),
)
async def export_events(request: Request) -> Response:
    await require_admin(request)
    fmt = request.query_params.get("format", "ndjson")
    if fmt not in ("ndjson", "csv"):
        raise _bad_query("format must be ndjson or csv")
    query = parse_query(request.query_params, default_limit=MAX_LIMIT)
    events = context(request).events.export(query)
    if fmt == "csv":
        return StreamingResponse(
            _csv_lines(events),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="gpb-events.csv"'},
        )
    return StreamingResponse(
        _ndjson_lines(events),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="gpb-events.ndjson"'},
    )


async def _ndjson_lines(events: AsyncIterator[StoredEvent]) -> AsyncIterator[str]:
    async for event in events:
        yield json.dumps(event_detail(event), ensure_ascii=False) + "\n"


# A cell starting with one of these is a formula to a spreadsheet (OWASP, "CSV Injection"): an
# event name or an error message is the sender's text, so each such cell gets a leading quote.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_row(event: StoredEvent) -> list[object]:
    """One event as a row under CSV_COLUMNS, safe to open in a spreadsheet."""
    summary = event_summary(event)
    error = event.error or {}
    summary["error_code"] = error.get("code")
    summary["error_message"] = error.get("message")
    return [_cell(summary.get(column)) for column in CSV_COLUMNS]


async def _csv_lines(events: AsyncIterator[StoredEvent]) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    async for event in events:
        writer.writerow(csv_row(event))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
