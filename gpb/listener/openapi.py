"""`GET /openapi.json`: the API as an OpenAPI 3.1 document, built from the app's routes and the
pydantic models of its bodies (`listener.schemas`, the sync request, the Canvas event envelope).

`OPERATIONS` says what each route takes and answers. The document lists every route the app has:
one without an entry still appears, marked undocumented, so the document never fails to build;
the test suite refuses such a route (tests/reliability/test_fuzz.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gpb.handlers.envelope import Envelope
from gpb.listener import lti_schemas, schemas
from gpb.listener.api_auto_sync import AutoSyncBody
from gpb.listener.api_syncs import SyncBody, UndoBody

Access = Literal["public", "token", "admin"]
HTML = "text/html"
FORM = "application/x-www-form-urlencoded"
REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Answer:
    description: str
    model: type[BaseModel] | None = None  # JSON of this shape
    media: tuple[str, ...] = ()  # with model None: a body of one of these types (or none)


@dataclass(frozen=True)
class Param:
    name: str
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True)
class Operation:
    summary: str
    access: Access
    answers: dict[int, Answer]
    body: dict[str, type[BaseModel] | dict[str, Any]] = field(default_factory=dict)  # by media
    query: tuple[Param, ...] = ()


def _json(model: type[BaseModel], description: str = "OK") -> Answer:
    return Answer(description, model)


def _page(description: str = "the page") -> Answer:
    return Answer(description, media=(HTML,))


_REDIRECT = Answer("to the login page, or on after the form")
_JSON = Answer("OK", media=("application/json",))
_ISO_TIME = {"type": "string", "format": "date-time"}
_EVENT_FILTERS = (
    Param("course_id", "a Canvas course id (local or global)"),
    Param("event_name", "e.g. grade_change"),
    Param(
        "status",
        "what became of the delivery",
        {"enum": ["accepted", "processed", "ignored", "failed", "rejected", "duplicate"]},
    ),
    Param("since", "received at or after (ISO-8601)", _ISO_TIME),
    Param("until", "received before (ISO-8601)", _ISO_TIME),
    Param("cursor", "the next_cursor of the previous page"),
    Param("limit", "events per page, 1 to 500", {"type": "integer", "minimum": 1, "maximum": 500}),
)
_PAGE_FILTERS = tuple(p for p in _EVENT_FILTERS if p.name not in ("cursor", "limit"))
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

# Launch from Canvas: pages for a browser Canvas sends (every refusal a page with its code).
_LTI_REFUSED = {
    400: _page("refused: the page names the code"),
    401: _page("refused: the page names the code"),
    403: _page("refused: a deployment or role gpb does not take"),
    404: _page("LTI_OFF: launch from Canvas is not configured"),
    411: _page("LENGTH_REQUIRED"),
    413: _page("PAYLOAD_TOO_LARGE"),
}
_LTI_LOGIN_ANSWERS = {
    302: Answer("to the platform's authorization endpoint"),
    303: Answer("back to the login, to see the browser kept its cookie"),
    200: _page("the browser kept no cookie: open gpb in a new tab"),
    **_LTI_REFUSED,
}
_LTI_OPERATIONS = {
    ("/lti/login", "GET"): Operation(
        "OIDC third-party initiated login from Canvas",
        "public",
        _LTI_LOGIN_ANSWERS,
        query=tuple(
            Param(name, "OIDC login parameter")
            for name in (*lti_schemas.LtiLoginForm.model_fields, "gpb_state")
        ),
    ),
    ("/lti/login", "POST"): Operation(
        "OIDC third-party initiated login from Canvas",
        "public",
        _LTI_LOGIN_ANSWERS,
        body={FORM: lti_schemas.LtiLoginForm},
    ),
    ("/lti/launch", "POST"): Operation(
        "The launch: Canvas's form_post of the signed id_token",
        "public",
        {
            303: Answer("signed in: to the course page, or the admin overview"),
            503: _page("KEYS_UNAVAILABLE: Canvas's keys could not be fetched"),
            **_LTI_REFUSED,
        },
        body={FORM: lti_schemas.LtiLaunchForm},
    ),
    ("/lti/config.json", "GET"): Operation(
        "The developer key's JSON configuration for Canvas",
        "public",
        {200: _json(lti_schemas.DeveloperKey)},
    ),
    ("/lti/jwks.json", "GET"): Operation(
        "gpb's own public keys (none yet)", "public", {200: _json(lti_schemas.Jwks)}
    ),
}

# A fix posted from a page: the API's fields as form fields (`section_ids` comma-separated).
_FIX_FORM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "csrf_token": {"type": "string"},
        "code": {"type": "string"},
        "title": {"type": "string"},
        "due_at": {"type": "string"},
        "section_ids": {"type": "string"},
        "action": {"enum": ["rename_group", "move"]},
        "group_name": {"type": "string"},
        "group_id": {"type": "string"},
    },
    "required": ["csrf_token", "code"],
}
_FIX_PAGE_OR_JSON = ("text/html", "application/json")
_FIX_REFUSALS = {
    status: Answer(words, media=_FIX_PAGE_OR_JSON)
    for status, words in {
        400: "INVALID_FIX or INVALID_BODY",
        403: "the form expired, or ACT_AS_UNAVAILABLE",
        404: "NOT_FOUND",
        409: "FIX_NOT_NEEDED, CANVAS_CHANGED or GROUP_NAME_TAKEN",
        422: "CANVAS_REFUSED with Canvas's reason, or NO_AUTOMATIC_FIX",
        502: "CANVAS_UNAVAILABLE: Canvas may or may not have made the change",
    }.items()
}

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("/events/canvas", "POST"): Operation(
        "Receive one Canvas Live Event: a compact RS256 JWS (or, with GPB_EVENTS_AUTH=none, the"
        " event JSON). The Content-Type header is not trusted.",
        "public",
        {
            202: _json(schemas.Stored, "stored durably; handled in the background"),
            200: _json(schemas.Stored, "the same event is stored already (duplicate)"),
            400: _json(schemas.ErrorBody, "INVALID_BODY or INVALID_ENVELOPE"),
            401: _json(schemas.ErrorBody, "BAD_SIGNATURE or UNKNOWN_KEY"),
            403: _json(schemas.ErrorBody, "WRONG_ROOT_ACCOUNT or ROOT_ACCOUNT_NOT_CONFIGURED"),
            413: _json(schemas.ErrorBody, "PAYLOAD_TOO_LARGE"),
            503: _json(schemas.ErrorBody, "KEYS_UNAVAILABLE: retry after Retry-After seconds"),
        },
        body={"application/jwt": {"type": "string"}, "application/json": Envelope},
    ),
    ("/healthz", "GET"): Operation(
        "Whether the database answers",
        "public",
        {200: _json(schemas.Health), 503: _json(schemas.ErrorBody, "UNHEALTHY")},
    ),
    ("/metrics", "GET"): Operation(
        "Prometheus metrics", "public", {200: Answer("metrics", media=("text/plain",))}
    ),
    ("/openapi.json", "GET"): Operation(
        "This document",
        "public",
        {200: Answer("an OpenAPI 3.1 document", media=("application/json",))},
    ),
    ("/api/courses", "GET"): Operation(
        "The courses the token may see that gpb knows of", "token", {200: _json(schemas.CourseList)}
    ),
    ("/api/courses/{course_id}/assignments", "GET"): Operation(
        "A course's assignments with their sync verdicts",
        "token",
        {200: _json(schemas.AssignmentList)},
    ),
    ("/api/courses/{course_id}/assignments/{assignment_id}/fixes", "GET"): Operation(
        "What gpb can fix in Canvas for each open problem of an assignment (suggested title,"
        " sections without a date, IC categories ranked by closeness to the group's name), and"
        " why the others have no automatic fix",
        "token",
        {200: _json(schemas.FixOfferList), 404: _json(schemas.ErrorBody, "NOT_FOUND")},
    ),
    ("/api/courses/{course_id}/assignments/{assignment_id}/fixes", "POST"): Operation(
        "Fix one open problem in Canvas (rename, publish, set the due date, rename the group or"
        " move the assignment). The alert resolves when gpb re-reads Canvas; the fix is in the"
        " event log as a gpb_fix event. A change is sent once, never retried blindly.",
        "token",
        {
            200: _json(schemas.FixResult, "Canvas made the change"),
            400: _json(schemas.ErrorBody, "INVALID_BODY or INVALID_FIX"),
            403: _json(schemas.ErrorBody, "ACT_AS_UNAVAILABLE: the caller names no Canvas user"),
            404: _json(schemas.ErrorBody, "NOT_FOUND"),
            409: _json(
                schemas.ErrorBody, "FIX_NOT_NEEDED, CANVAS_CHANGED (meanwhile) or GROUP_NAME_TAKEN"
            ),
            422: _json(
                schemas.FixRefusedBody, "CANVAS_REFUSED with Canvas's reason, or NO_AUTOMATIC_FIX"
            ),
            502: _json(
                schemas.FixRefusedBody,
                "CANVAS_UNAVAILABLE: Canvas may or may not have made the change",
            ),
        },
        body={"application/json": schemas.FixBody},
    ),
    ("/api/courses/{course_id}/categories", "GET"): Operation(
        "Every Canvas assignment group beside the IC categories of each section's class,"
        " matched or ranked by closeness",
        "token",
        {200: _json(schemas.CategoryAlignment), 404: _json(schemas.ErrorBody, "NOT_FOUND")},
    ),
    ("/api/courses/{course_id}/categories/groups/{group_id}", "POST"): Operation(
        "Rename an assignment group in Canvas (refused when another group has that name)",
        "token",
        {
            200: _json(schemas.FixResult, "Canvas made the change"),
            400: _json(schemas.ErrorBody, "INVALID_BODY or INVALID_FIX"),
            404: _json(schemas.ErrorBody, "NOT_FOUND"),
            409: _json(schemas.ErrorBody, "GROUP_NAME_TAKEN or CANVAS_CHANGED"),
            422: _json(schemas.FixRefusedBody, "CANVAS_REFUSED with Canvas's reason"),
            502: _json(schemas.FixRefusedBody, "CANVAS_UNAVAILABLE"),
        },
        body={"application/json": schemas.GroupRenameBody},
    ),
    ("/api/courses/{course_id}/alerts", "GET"): Operation(
        "A course's alerts",
        "token",
        {200: _json(schemas.AlertList), 400: _json(schemas.ErrorBody, "INVALID_QUERY")},
        query=(Param("state", "only open or resolved alerts", {"enum": ["open", "resolved"]}),),
    ),
    ("/api/courses/{course_id}/alerts/stream", "GET"): Operation(
        "Alerts as they open, change and resolve (server-sent events; Last-Event-ID resumes)",
        "token",
        {200: Answer("an endless event stream", media=("text/event-stream",))},
    ),
    ("/api/courses/{course_id}/pending", "GET"): Operation(
        "The pending delta: grades whose value differs from what IC last confirmed",
        "token",
        {200: _json(schemas.PendingList)},
    ),
    ("/api/courses/{course_id}/syncs", "POST"): Operation(
        "Start a sync or a remaster (or a dry run of one)",
        "token",
        {
            202: _json(schemas.Queued, "queued"),
            400: _json(schemas.ErrorBody, "INVALID_BODY, NO_ASSIGNMENTS, UNKNOWN_ASSIGNMENT, ..."),
            409: _json(schemas.ErrorBody, "SYNC_IN_PROGRESS, with the running run's sync_id"),
        },
        body={"application/json": SyncBody},
    ),
    ("/api/courses/{course_id}/syncs", "GET"): Operation(
        "A course's runs, newest first",
        "token",
        {200: _json(schemas.SyncList), 400: _json(schemas.ErrorBody, "INVALID_QUERY")},
        query=(Param("cursor", "the next_cursor of the previous page"),),
    ),
    ("/api/syncs/{sync_id}", "GET"): Operation(
        "One run, grade by grade", "token", {200: _json(schemas.SyncRun)}
    ),
    ("/api/syncs/{sync_id}/resume", "POST"): Operation(
        "Continue an interrupted run",
        "token",
        {
            202: _json(schemas.Queued, "queued again"),
            409: _json(schemas.ErrorBody, "NOT_RESUMABLE or SYNC_IN_PROGRESS"),
        },
    ),
    ("/api/syncs/{sync_id}/undo", "POST"): Operation(
        "Take a run back: IC's earlier values put back where IC still holds what the run wrote",
        "token",
        {
            202: _json(schemas.Queued, "queued"),
            400: _json(schemas.ErrorBody, "INVALID_BODY"),
            409: _json(
                schemas.ErrorBody,
                "NOT_UNDOABLE, UNDO_OF_UNDO, ALREADY_UNDONE, SYNC_IN_PROGRESS, or UNDO_NEWER_RUNS"
                " with the sync_ids of the later runs to undo first",
            ),
        },
        body={"application/json": UndoBody},
    ),
    ("/api/courses/{course_id}/auto-sync", "GET"): Operation(
        "The course's automatic syncs: the mode in effect, the teacher's choice, the district's"
        " rules, and the assignments left out after failing",
        "token",
        {200: _json(schemas.AutoSync)},
    ),
    ("/api/courses/{course_id}/auto-sync", "PUT"): Operation(
        "Choose the course's automatic syncs: off, after each change, or nightly",
        "token",
        {
            200: _json(schemas.AutoSync),
            400: _json(
                schemas.ErrorBody,
                "INVALID_BODY, AUTO_SYNC_MODE_NOT_ALLOWED, NIGHTLY_OUTSIDE_WINDOW",
            ),
        },
        body={"application/json": AutoSyncBody},
    ),
    ("/api/errors", "GET"): Operation(
        "The error dictionary", "token", {200: _json(schemas.Dictionary)}
    ),
    ("/api/events", "GET"): Operation(
        "The event log, newest first",
        "admin",
        {200: _json(schemas.EventList), 400: _json(schemas.ErrorBody, "INVALID_QUERY")},
        query=_EVENT_FILTERS,
    ),
    ("/api/events/export", "GET"): Operation(
        "The event log, streamed",
        "admin",
        {
            200: Answer(
                "NDJSON, or CSV with format=csv", media=("application/x-ndjson", "text/csv")
            ),
            400: _json(schemas.ErrorBody, "INVALID_QUERY"),
        },
        query=(*_EVENT_FILTERS, Param("format", "ndjson or csv", {"enum": ["ndjson", "csv"]})),
    ),
    ("/api/events/{event_id}", "GET"): Operation(
        "One delivery with its payload and what its handling changed",
        "admin",
        {200: _json(schemas.EventDetail)},
    ),
    ("/api/events/{event_id}/replay", "POST"): Operation(
        "Handle a stored event again",
        "admin",
        {
            202: _json(schemas.EventSummary, "queued"),
            409: _json(schemas.ErrorBody, "NOT_REPLAYABLE"),
        },
    ),
    ("/api/admin/check", "GET"): Operation(
        "Try every outside connection (gpb check)",
        "admin",
        {200: _json(schemas.CheckReport), 400: _json(schemas.ErrorBody, "INVALID_QUERY")},
        query=(
            Param("course_id", "a course to read assignments and SIS ids of"),
            Param("class_id", "an IC class to read"),
        ),
    ),
    ("/api/admin/alerts", "GET"): Operation(
        "Alerts about gpb itself, newest first",
        "admin",
        {200: _JSON, 400: _json(schemas.ErrorBody, "INVALID_QUERY")},
        query=(Param("state", "only open or resolved alerts", {"enum": ["open", "resolved"]}),),
    ),
    ("/api/admin/reconciliations", "GET"): Operation(
        "Nightly reconciliations, newest first",
        "admin",
        {200: _JSON, 400: _json(schemas.ErrorBody, "INVALID_QUERY")},
        query=(Param("course_id", "one course's only"), Param("cursor", "the next_cursor")),
    ),
    ("/api/admin/reconciliations/{reconciliation_id}", "GET"): Operation(
        "One reconciliation with its repaired grades and drift", "admin", {200: _JSON}
    ),
    ("/api/admin/courses/{course_id}/reconciliation", "GET"): Operation(
        "A course's nightly-remaster opt-in and latest reconciliation", "admin", {200: _JSON}
    ),
    ("/api/admin/courses/{course_id}/reconciliation", "PUT"): Operation(
        "Opt a course in or out of the nightly remaster",
        "admin",
        {200: _JSON, 400: _json(schemas.ErrorBody, "INVALID_BODY")},
        body={
            "application/json": {
                "type": "object",
                "properties": {"nightly_remaster": {"type": "boolean"}},
                "required": ["nightly_remaster"],
            }
        },
    ),
    ("/favicon.ico", "GET"): Operation(
        "gpb's icon (SVG), for browsers that ask for it by this name",
        "public",
        {200: Answer("the icon", media=("image/svg+xml",))},
    ),
    ("/login", "GET"): Operation(
        "The login page", "public", {200: _page(), 303: _REDIRECT}, query=(Param("next", "path"),)
    ),
    ("/login", "POST"): Operation(
        "Log in with a token",
        "public",
        {
            303: _REDIRECT,
            401: _page("the form again"),
            403: _page("the form expired"),
            429: _page("too many failed logins from this address"),
        },
        body={FORM: schemas.LoginForm},
    ),
    ("/logout", "POST"): Operation(
        "Log out",
        "token",
        {303: _REDIRECT, 403: _page("the form expired")},
        body={FORM: schemas.CsrfForm},
    ),
    **_LTI_OPERATIONS,
    ("/", "GET"): Operation("The courses page", "token", {200: _page(), 303: _REDIRECT}),
    ("/courses/{course_id}", "GET"): Operation(
        "A course's page",
        "token",
        {200: _page(), 303: _REDIRECT},
        query=(Param("fixed", "shown after a fix: its gpb_fix event"),),
    ),
    ("/courses/{course_id}/assignments/{assignment_id}/fixes", "POST"): Operation(
        "Fix a problem in Canvas from the Assignments tab (the API's fix). With Accept:"
        " application/json the outcome is JSON, as the API answers it; else a page",
        "token",
        {
            200: _json(schemas.FixResult, "Canvas made the change (Accept: application/json)"),
            303: _REDIRECT,
            **_FIX_REFUSALS,
        },
        body={FORM: _FIX_FORM},
    ),
    ("/courses/{course_id}/categories", "GET"): Operation(
        "A course's Canvas groups beside each section's IC categories",
        "token",
        {200: _page(), 303: _REDIRECT, 404: _page("gpb has not read the course yet")},
        query=(Param("fixed", "shown after a rename: its gpb_fix event"),),
    ),
    ("/courses/{course_id}/categories/groups/{group_id}", "POST"): Operation(
        "Rename a Canvas group from the category view",
        "token",
        {
            200: _json(schemas.FixResult, "Canvas made the change (Accept: application/json)"),
            303: _REDIRECT,
            **_FIX_REFUSALS,
        },
        body={
            FORM: {
                "type": "object",
                "properties": {"csrf_token": {"type": "string"}, "group_name": {"type": "string"}},
                "required": ["csrf_token", "group_name"],
            }
        },
    ),
    ("/courses/{course_id}/assignment-rows", "GET"): Operation(
        "A course page's assignment rows", "token", {200: _page(), 303: _REDIRECT}
    ),
    ("/courses/{course_id}/pending", "GET"): Operation(
        "A course's pending grades, Canvas beside IC", "token", {200: _page(), 303: _REDIRECT}
    ),
    ("/courses/{course_id}/sync", "GET"): Operation(
        "Choosing assignments to preview or sync, and the remaster",
        "token",
        {200: _page(), 303: _REDIRECT},
    ),
    ("/courses/{course_id}/syncs", "POST"): Operation(
        "Start a preview, a sync or a remaster from the sync page, then show the run",
        "token",
        {
            303: _REDIRECT,
            400: _page("the sync page, with NO_ASSIGNMENTS, UNKNOWN_ASSIGNMENT, ... in words"),
            403: _page("the form expired"),
            409: _page("the sync page: SYNC_IN_PROGRESS, with a link to the run"),
        },
        body={FORM: _SYNC_FORM},
    ),
    ("/courses/{course_id}/auto-sync", "POST"): Operation(
        "Choose the course's automatic syncs from the sync page",
        "token",
        {
            303: _REDIRECT,
            400: _page("the sync page: the choice is not allowed, in words"),
            403: _page("the form expired"),
        },
        body={FORM: schemas.AutoSyncForm},
    ),
    ("/courses/{course_id}/history", "GET"): Operation(
        "A course's runs, newest first",
        "token",
        {200: _page(), 303: _REDIRECT, 400: _page("the cursor is not one gpb gave")},
        query=(Param("cursor", "the older runs' link"),),
    ),
    ("/courses/{course_id}/syncs/{sync_id}", "GET"): Operation(
        "One run: its progress, then what it did grade by grade",
        "token",
        {200: _page(), 303: _REDIRECT},
        query=(Param("resumed", "shown after a resume"),),
    ),
    ("/courses/{course_id}/syncs/{sync_id}/resume", "POST"): Operation(
        "Resume an interrupted run from its page",
        "token",
        {
            303: _REDIRECT,
            403: _page("the form expired"),
            409: _page("the sync page: NOT_RESUMABLE or SYNC_IN_PROGRESS in words"),
        },
        body={FORM: schemas.CsrfForm},
    ),
    ("/courses/{course_id}/syncs/{sync_id}/undo", "POST"): Operation(
        "From a run's page: preview its undo, or (confirmed, from the preview) undo it",
        "token",
        {
            303: _REDIRECT,
            400: _page("the sync page: the undo was not confirmed"),
            403: _page("the form expired"),
            409: _page("the sync page: why the run cannot be undone, in words"),
        },
        body={FORM: schemas.UndoForm},
    ),
    ("/errors", "GET"): Operation(
        "The error dictionary page", "token", {200: _page(), 303: _REDIRECT}
    ),
    ("/admin", "GET"): Operation("The admin overview", "admin", {200: _page(), 303: _REDIRECT}),
    ("/admin/check", "GET"): Operation(
        "The connection checks page (gpb check)",
        "admin",
        {200: _page(), 303: _REDIRECT, 400: _page("the course id is no Canvas id")},
        query=(
            Param("course_id", "a course to read assignments and SIS ids of"),
            Param("class_id", "an IC class to read"),
        ),
    ),
    ("/admin/reconciliations/{reconciliation_id}", "GET"): Operation(
        "One reconciliation's report", "admin", {200: _page(), 303: _REDIRECT}
    ),
    ("/admin/events", "GET"): Operation(
        "The event log page",
        "admin",
        {200: _page(), 303: _REDIRECT, 400: _page("a filter is wrong")},
        query=_PAGE_FILTERS,
    ),
    ("/admin/events/{event_id}", "GET"): Operation(
        "One event's page", "admin", {200: _page(), 303: _REDIRECT}
    ),
    ("/admin/events/{event_id}/replay", "POST"): Operation(
        "Replay an event from its page",
        "admin",
        {303: _REDIRECT, 403: _page("the form expired"), 409: _page("a refused delivery")},
        body={FORM: schemas.CsrfForm},
    ),
}

_PATH_PARAMS = {
    "course_id": Param("course_id", "a Canvas course id, local (456) or global"),
    "sync_id": Param("sync_id", "a run's id"),
    "event_id": Param("event_id", "an event's id"),
    "reconciliation_id": Param("reconciliation_id", "a reconciliation's id"),
    "assignment_id": Param("assignment_id", "a Canvas assignment id, local (123) or global"),
    "group_id": Param("group_id", "a Canvas assignment group id"),
}
_PATH_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


def documented_routes(routes: list[BaseRoute]) -> list[tuple[str, str]]:
    """(path, method) of every endpoint among `routes`; mounts (static files) are left out."""
    found = []
    for route in routes:
        if isinstance(route, Route):
            for method in sorted(route.methods or ()):
                if method != "HEAD":  # Starlette adds HEAD to every GET
                    found.append((route.path, method))
    return found


def document(routes: list[BaseRoute]) -> dict[str, Any]:
    models = _models()
    paths: dict[str, dict[str, Any]] = {}
    for path, method in documented_routes(routes):
        operation = OPERATIONS.get((path, method))
        paths.setdefault(path, {})[method.lower()] = (
            _operation(path, operation) if operation else _undocumented(path)
        )
    _, definitions = models_json_schema(
        [(model, "validation") for model in models], ref_template=REF
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "gpb: Canvas to Infinite Campus grade passback",
            "version": "1",
            "description": 'Errors answer {"error": {"code", "message"}} (docs/api.md).',
        },
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "gpb_session"},
            },
        },
    }


def _models() -> list[type[BaseModel]]:
    models: dict[type[BaseModel], None] = {}
    for operation in OPERATIONS.values():
        for answer in operation.answers.values():
            if answer.model is not None:
                models[answer.model] = None
        for schema in operation.body.values():
            if isinstance(schema, type):
                models[schema] = None
    return list(models)


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _answers(operation: Operation, path: str) -> dict[int, Answer]:
    """The operation's own answers, and those its access rules add (pages answer with pages)."""
    page = any(HTML in answer.media for answer in operation.answers.values())

    def error(description: str) -> Answer:
        return _page(description) if page else _json(schemas.ErrorBody, description)

    added: dict[int, Answer] = {}
    if operation.body:
        added[408] = error("REQUEST_TIMEOUT: the body did not arrive in time")
        added[413] = error("PAYLOAD_TOO_LARGE: the body is larger than this call takes")
    if operation.access != "public":
        added[401] = error("UNAUTHENTICATED: no token, or an unknown or revoked one")
        added[429] = error(
            "TOO_MANY_ATTEMPTS: too many failed tokens from this address (or TOO_MANY_STREAMS);"
            " retry after Retry-After seconds"
        )
    if operation.access == "admin":
        added[403] = error("FORBIDDEN: an admin's call")
    if _PATH_PARAM.search(path):
        added[404] = error("NOT_FOUND, or a course this token may not see")
    return added | operation.answers


def _operation(path: str, operation: Operation) -> dict[str, Any]:
    parameters = [
        {"name": name, "in": "path", "required": True, **_param(_PATH_PARAMS[name])}
        for name in _PATH_PARAM.findall(path)
    ] + [{"name": p.name, "in": "query", **_param(p)} for p in operation.query]
    spec: dict[str, Any] = {
        "summary": operation.summary,
        "responses": {
            str(status): _response(answer)
            for status, answer in sorted(_answers(operation, path).items())
        },
    }
    if parameters:
        spec["parameters"] = parameters
    if operation.body:
        spec["requestBody"] = {
            "required": True,
            "content": {
                media: {"schema": _ref(schema) if isinstance(schema, type) else schema}
                for media, schema in operation.body.items()
            },
        }
    if operation.access != "public":
        spec["security"] = [{"bearer": []}, {"session": []}]
    return spec


def _param(param: Param) -> dict[str, Any]:
    return {"description": param.description, "schema": param.schema}


def _response(answer: Answer) -> dict[str, Any]:
    if answer.model is not None:
        return {
            "description": answer.description,
            "content": {"application/json": {"schema": _ref(answer.model)}},
        }
    if not answer.media:
        return {"description": answer.description}
    return {"description": answer.description, "content": {media: {} for media in answer.media}}


def _undocumented(path: str) -> dict[str, Any]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(path)
    ]
    return {
        "summary": "undocumented",
        "parameters": parameters,
        "responses": {"default": {"description": "not described yet"}},
    }


async def openapi_json(request: Request) -> Response:
    app_state = request.app.state
    if getattr(app_state, "openapi", None) is None:
        app_state.openapi = document(request.app.routes)
    return JSONResponse(app_state.openapi)
