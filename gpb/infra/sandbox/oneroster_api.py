"""The Infinite Campus stand-in: OneRoster 1.2 under `/ims/oneroster` (oneroster-ic.md).

Strict where IC is, and where a client most easily slips: an OAuth 2 client-credentials token
(HTTP Basic at the token endpoint, expiring), the `x-vendor-authorization` header on every gradebook
call, bodies checked against the official schema, imsx error bodies. Every gradebook PUT and DELETE
is logged in `state.ic.writes`, so a test can count what a client really wrote.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import parse_qs, unquote_plus

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from gpb.infra.sandbox import gradebook
from gpb.infra.sandbox.faults import FAULT_SCOPE_KEY, FaultInjector
from gpb.infra.sandbox.gradebook import Kind, Outcome, imsx_failure
from gpb.infra.sandbox.settings import ONEROSTER_PREFIX, SandboxSettings
from gpb.infra.sandbox.state import Category, IcClass, SandboxState, Term

VENDOR_HEADER = "x-vendor-authorization"
# IC does not tell when rostering records changed; the sandbox shows one fixed time.
ROSTER_MODIFIED = "2026-07-01T00:00:00Z"


def imsx(status: int, description: str, code_minor: str, **headers: str) -> Response:
    return JSONResponse(imsx_failure(description, code_minor), status, headers=headers or None)


def rate_limited(retry_after: int | None, status: int | None) -> Response:
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    return imsx(status or 429, "Too many requests; retry later", "server_busy", **headers)


def server_error() -> Response:
    return imsx(500, "Internal server error", "internal_server_error")


def _unknown(what: str, sourced_id: str) -> Response:
    return imsx(404, f"Unknown {what} {sourced_id}", "unknownobject")


class OneRosterEdge:
    """Refuses calls without a live token, and gradebook calls without the vendor key (401)."""

    def __init__(self, app: ASGIApp, state: SandboxState, vendor_authorization: str) -> None:
        self.app = app
        self.state = state
        self.vendor_authorization = vendor_authorization

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        scheme, _, token = headers.get("authorization", "").partition(" ")
        refusal = None
        if scheme.lower() != "bearer" or not self.state.sis_tokens.valid(token.strip()):
            refusal = imsx(
                401,
                "Missing, unknown or expired access token",
                "unauthorisedrequest",
                **{"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        elif "/gradebook/" in scope["path"] and (
            headers.get(VENDOR_HEADER) != self.vendor_authorization
        ):
            refusal = imsx(401, f"Missing or wrong {VENDOR_HEADER} header", "unauthorisedrequest")
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _basic_credentials(request: Request) -> list[tuple[str, str]]:
    """The client id and secret of an HTTP Basic header, as sent and form-decoded.

    RFC 6749 (2.3.1) has both parts form-urlencoded before the Basic encoding; many clients skip
    that, so either reading is accepted.
    """
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return []
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return []
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return []
    return [(client_id, secret), (unquote_plus(client_id), unquote_plus(secret))]


class TokenEndpoint:
    """`POST /ims/oneroster/token`: OAuth 2 client credentials, client authenticated by Basic."""

    def __init__(self, state: SandboxState, settings: SandboxSettings) -> None:
        self.state = state
        self.client = (settings.sis_client_id, settings.sis_client_secret)

    async def handle(self, request: Request) -> Response:
        no_store = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        if self.client not in _basic_credentials(request):
            return JSONResponse(
                {"error": "invalid_client"},
                401,
                headers={"WWW-Authenticate": 'Basic realm="oneroster"', **no_store},
            )
        if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return JSONResponse({"error": "invalid_request"}, 400, headers=no_store)
        form = parse_qs((await request.body()).decode("utf-8"))
        if form.get("grant_type") != ["client_credentials"]:
            return JSONResponse({"error": "unsupported_grant_type"}, 400, headers=no_store)
        token, expires_in = self.state.sis_tokens.issue()
        answer: dict[str, Any] = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": expires_in,
        }
        if "scope" in form:
            answer["scope"] = form["scope"][0]
        return JSONResponse(answer, headers=no_store)


def _ref(root: str, path: str, sourced_id: str, kind: str) -> dict[str, str]:
    """A OneRoster GUIDRef."""
    return {"href": f"{root}/{path}/{sourced_id}", "sourcedId": sourced_id, "type": kind}


def _collection(request: Request, key: str, items: list[dict[str, Any]]) -> Response:
    """A OneRoster collection page: `limit` (default 100) and `offset`, with `X-Total-Count`."""
    try:
        limit = max(1, int(request.query_params.get("limit", "100")))
        offset = max(0, int(request.query_params.get("offset", "0")))
    except ValueError:
        return imsx(400, "limit and offset are integers", "invalid_selection_field")
    page = items[offset : offset + limit]
    headers = {"X-Total-Count": str(len(items))}
    if offset + limit < len(items):
        url = request.url.include_query_params(limit=limit, offset=offset + limit)
        headers["Link"] = f'<{url}>; rel="next"'
    return JSONResponse({key: page}, headers=headers)


class OneRosterApi:
    """Rostering reads and gradebook reads and writes, over `state.ic`."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def router(self) -> Router:
        roster = "/rostering/v1p2"
        book = "/gradebook/v1p2"
        routes = [
            Route(roster + "/classes/{sourced_id}", self.get_class),
            Route(roster + "/classes/{sourced_id}/students", self.class_students),
            Route(roster + "/academicSessions/{sourced_id}", self.get_session),
            Route(roster + "/terms/{sourced_id}", self.get_session),
            Route(roster + "/terms/{sourced_id}/gradingPeriods", self.term_grading_periods),
            Route(roster + "/schools/{sourced_id}", self.get_school),
            Route(book + "/categories", self.all_categories),
            Route(book + "/classes/{sourced_id}/categories", self.class_categories),
            Route(book + "/classes/{sourced_id}/lineItems", self.class_line_items),
            Route(book + "/classes/{sourced_id}/results", self.class_results),
            Route(
                book + "/classes/{sourced_id}/lineItems/{line_item_id}/results",
                self.class_results,
            ),
            Route(
                book + "/lineItems/{sourced_id}",
                self.line_item,
                methods=["GET", "PUT", "DELETE"],
            ),
            Route(
                book + "/results/{sourced_id}",
                self.result,
                methods=["GET", "PUT", "DELETE"],
            ),
        ]
        return Router(routes, default=_unknown_path)

    def _root(self, request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}{ONEROSTER_PREFIX}"

    def _class(self, request: Request) -> IcClass | None:
        return self.state.ic.classes.get(request.path_params["sourced_id"])

    # ------------------------------------------------------------ rostering

    async def get_class(self, request: Request) -> Response:
        ic_class = self._class(request)
        if ic_class is None:
            return _unknown("class", request.path_params["sourced_id"])
        root = self._root(request)
        data = {
            "sourcedId": ic_class.sourced_id,
            "status": "active",
            "dateLastModified": ROSTER_MODIFIED,
            "title": ic_class.title,
            "classCode": ic_class.sourced_id,
            "classType": "scheduled",
            "course": _ref(root, "rostering/v1p2/courses", ic_class.course_sourced_id, "course"),
            "school": _ref(root, "rostering/v1p2/schools", ic_class.school_id, "org"),
            "terms": [
                _ref(root, "rostering/v1p2/academicSessions", term_id, "academicSession")
                for term_id in ic_class.term_ids
            ],
        }
        return JSONResponse({"class": data})

    async def class_students(self, request: Request) -> Response:
        ic_class = self._class(request)
        if ic_class is None:
            return _unknown("class", request.path_params["sourced_id"])
        root = self._root(request)
        names = {u.sis_user_id: u.name for u in self.state.canvas.users.values() if u.sis_user_id}
        users = []
        for student_id in self.state.class_students(ic_class):
            given, _, family = names.get(student_id, student_id).partition(" ")
            users.append(
                {
                    "sourcedId": student_id,
                    "status": "active",
                    "dateLastModified": ROSTER_MODIFIED,
                    "enabledUser": "true",
                    "givenName": given,
                    "familyName": family,
                    "roles": [
                        {
                            "roleType": "primary",
                            "role": "student",
                            "org": _ref(root, "rostering/v1p2/schools", ic_class.school_id, "org"),
                        }
                    ],
                }
            )
        return _collection(request, "users", users)

    async def get_session(self, request: Request) -> Response:
        term = self.state.ic.terms.get(request.path_params["sourced_id"])
        if term is None:
            return _unknown("academicSession", request.path_params["sourced_id"])
        return JSONResponse({"academicSession": _session_json(term, self._root(request))})

    async def term_grading_periods(self, request: Request) -> Response:
        term_id = request.path_params["sourced_id"]
        if term_id not in self.state.ic.terms:
            return _unknown("academicSession", term_id)
        root = self._root(request)
        periods = [_session_json(p, root) for p in self.state.ic.grading_periods_of(term_id)]
        return _collection(request, "academicSessions", periods)

    async def get_school(self, request: Request) -> Response:
        school = self.state.ic.schools.get(request.path_params["sourced_id"])
        if school is None:
            return _unknown("org", request.path_params["sourced_id"])
        data = {
            "sourcedId": school.sourced_id,
            "status": "active",
            "dateLastModified": ROSTER_MODIFIED,
            "name": school.name,
            "type": "school",
        }
        return JSONResponse({"org": data})

    # ------------------------------------------------------------ gradebook reads

    async def all_categories(self, request: Request) -> Response:
        categories = [_category_json(c) for c in self.state.ic.categories.values()]
        return _collection(request, "categories", categories)

    async def class_categories(self, request: Request) -> Response:
        ic_class = self._class(request)
        if ic_class is None:
            return _unknown("class", request.path_params["sourced_id"])
        categories = [_category_json(c) for c in self.state.ic.categories_of(ic_class.sourced_id)]
        return _collection(request, "categories", categories)

    async def class_line_items(self, request: Request) -> Response:
        ic_class = self._class(request)
        if ic_class is None:
            return _unknown("class", request.path_params["sourced_id"])
        items = [
            item
            for item in self.state.ic.line_items.values()
            if item["class"]["sourcedId"] == ic_class.sourced_id
        ]
        return _collection(request, "lineItems", items)

    async def class_results(self, request: Request) -> Response:
        ic = self.state.ic
        ic_class = self._class(request)
        if ic_class is None:
            return _unknown("class", request.path_params["sourced_id"])
        line_item_id = request.path_params.get("line_item_id")
        results = []
        for result in ic.results.values():
            line_item = ic.line_items.get(result["lineItem"]["sourcedId"])
            if line_item is None or line_item["class"]["sourcedId"] != ic_class.sourced_id:
                continue
            if line_item_id is None or result["lineItem"]["sourcedId"] == line_item_id:
                results.append(result)
        return _collection(request, "results", results)

    # ------------------------------------------------------------ single records

    async def line_item(self, request: Request) -> Response:
        return await self._record(request, "lineItem")

    async def result(self, request: Request) -> Response:
        return await self._record(request, "result")

    async def _record(self, request: Request, kind: Kind) -> Response:
        sourced_id = request.path_params["sourced_id"]
        records = self.state.ic.line_items if kind == "lineItem" else self.state.ic.results
        if request.method == "GET":
            if sourced_id not in records:
                return _unknown(kind, sourced_id)
            return JSONResponse({kind: records[sourced_id]})
        payload: Any = None
        if request.method == "DELETE":
            outcome = gradebook.delete(self.state, kind, sourced_id)
        else:
            try:
                payload = json.loads(await request.body())
            except ValueError:
                outcome = Outcome(400, imsx_failure("The body is not JSON", "invaliddata"))
            else:
                put = gradebook.put_line_item if kind == "lineItem" else gradebook.put_result
                outcome = put(self.state, sourced_id, payload)
        self.state.ic.record_write(
            "DELETE" if request.method == "DELETE" else "PUT",
            kind,
            sourced_id,
            payload if isinstance(payload, dict) else None,
            outcome.status,
            outcome.applied,
            request.scope.get(FAULT_SCOPE_KEY),
        )
        if outcome.body is None:
            return Response(status_code=outcome.status)
        return JSONResponse(outcome.body, outcome.status)


def _session_json(term: Term, root: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "sourcedId": term.sourced_id,
        "status": "active",
        "dateLastModified": ROSTER_MODIFIED,
        "title": term.title,
        "type": term.type,
        "startDate": term.start_date.isoformat(),
        "endDate": term.end_date.isoformat(),
        "schoolYear": term.school_year,
    }
    if term.parent_id is not None:
        data["parent"] = _ref(
            root, "rostering/v1p2/academicSessions", term.parent_id, "academicSession"
        )
    return data


def _category_json(category: Category) -> dict[str, Any]:
    data: dict[str, Any] = {
        "sourcedId": category.sourced_id,
        "status": "active",
        "dateLastModified": ROSTER_MODIFIED,
        "title": category.title,
        "metadata": {"classId": category.class_id},
    }
    if category.weight is not None:
        data["weight"] = category.weight
    return data


async def _unknown_path(scope: Scope, receive: Receive, send: Send) -> None:
    await imsx(404, "Unknown endpoint", "unknownobject")(scope, receive, send)


def oneroster_app(state: SandboxState, settings: SandboxSettings) -> ASGIApp:
    """Rostering and gradebook, mounted at `/ims/oneroster`: faults first, then the credentials."""
    edge = OneRosterEdge(OneRosterApi(state).router(), state, settings.sis_vendor_authorization)
    return FaultInjector(edge, state.sis_faults, rate_limited, server_error)
