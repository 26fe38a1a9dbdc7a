"""The control API under `/_sandbox/`: set up a situation, switch faults, see what gpb wrote.

Tests and demos change the world here instead of clicking through Canvas: rename an assignment,
grade a student, move a section to another IC class, make IC answer 429s. All JSON:

    GET    /_sandbox/state                             summary of the world
    POST   /_sandbox/reset                             reload the seed ({"seed": {...}} for another)
    GET    /_sandbox/canvas/{kind}                     records: courses, users, sections,
    GET    /_sandbox/canvas/{kind}/{id}                  enrollments, assignment_groups, assignments
    POST   /_sandbox/canvas/{kind}/{id}                create, or change the given fields
    DELETE /_sandbox/canvas/{kind}/{id}                delete (soft where Canvas deletes softly)
    GET    /_sandbox/canvas/submissions/{aid}/{uid}    a submission
    POST   /_sandbox/canvas/submissions/{aid}/{uid}    grade: {"score": 9.5}, {"excused": true}
    GET    /_sandbox/canvas/conversations              inbox messages sent through the API
    GET    /_sandbox/ic/{kind}[/{id}]                  schools, terms, classes, categories
    POST   /_sandbox/ic/{kind}/{id}                    create, or change the given fields
    DELETE /_sandbox/ic/{kind}/{id}
    GET    /_sandbox/ic/line_items | /ic/results       what IC stores
    GET    /_sandbox/ic/writes?kind=&sourced_id=&applied=   every gradebook PUT/DELETE
    GET    /_sandbox/ic/tokens                         token lifetime and count issued
    POST   /_sandbox/ic/tokens                         {"lifetime_seconds": 2, "expire_all": true}
    GET    /_sandbox/faults                            both systems' fault switches and counters
    GET    /_sandbox/faults/{canvas|sis}
    POST   /_sandbox/faults/{canvas|sis}               a FaultConfig; {} switches faults off
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router

from gpb.infra.sandbox.faults import FaultConfig, Faults
from gpb.infra.sandbox.grading import apply_grade
from gpb.infra.sandbox.state import (
    Assignment,
    AssignmentGroup,
    Category,
    Course,
    Enrollment,
    IcClass,
    Record,
    SandboxState,
    School,
    Section,
    Seed,
    Term,
    User,
    utc_now,
)

CANVAS_KINDS: dict[str, type[Record]] = {
    "courses": Course,
    "users": User,
    "sections": Section,
    "enrollments": Enrollment,
    "assignment_groups": AssignmentGroup,
    "assignments": Assignment,
}
IC_KINDS: dict[str, type[Record]] = {
    "schools": School,
    "terms": Term,
    "classes": IcClass,
    "categories": Category,
}
# Canvas deletes these by changing a state field; the others are removed.
SOFT_DELETES = {
    "courses": ("workflow_state", "deleted"),
    "assignment_groups": ("workflow_state", "deleted"),
    "assignments": ("workflow_state", "deleted"),
    "enrollments": ("enrollment_state", "deleted"),
}


def _error(status: int, code: str, message: str, **extra: Any) -> Response:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status)


def _invalid(error: ValidationError) -> Response:
    details = json.loads(error.json(include_url=False))
    return _error(422, "INVALID_BODY", "the change does not make a valid record", details=details)


def _dump(record: Record) -> dict[str, Any]:
    return record.model_dump(mode="json")


async def _object(request: Request) -> dict[str, Any] | None:
    raw = await request.body()
    if not raw:
        return {}
    try:
        loaded = json.loads(raw)
    except ValueError:
        return None
    return loaded if isinstance(loaded, dict) else None


class ControlApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def router(self) -> Router:
        return Router(
            [
                Route("/state", self.summary),
                Route("/reset", self.reset, methods=["POST"]),
                Route("/canvas/conversations", self.conversations),
                Route(
                    "/canvas/submissions/{assignment_id}/{user_id}",
                    self.submission,
                    methods=["GET", "POST"],
                ),
                Route("/ic/line_items", self.line_items),
                Route("/ic/results", self.results),
                Route("/ic/writes", self.writes),
                Route("/ic/tokens", self.tokens, methods=["GET", "POST"]),
                Route("/faults", self.all_faults),
                Route("/faults/{system}", self.faults, methods=["GET", "POST"]),
                Route("/{system}/{kind}", self.list_records),
                Route("/{system}/{kind}/{key}", self.record, methods=["GET", "POST", "DELETE"]),
            ]
        )

    async def summary(self, request: Request) -> Response:
        return JSONResponse(self.state.summary())

    async def reset(self, request: Request) -> Response:
        body = await _object(request)
        if body is None:
            return _error(400, "INVALID_BODY", "send a JSON object")
        try:
            seed = Seed.model_validate(body["seed"]) if "seed" in body else None
        except ValidationError as error:
            return _invalid(error)
        self.state.reset(seed)
        return JSONResponse(self.state.summary())

    # ------------------------------------------------------------ records

    def _collection(self, request: Request) -> tuple[dict[str, Any], type[Record], str] | None:
        """The record dict, model and key field a path names, or None for an unknown kind."""
        system, kind = request.path_params["system"], request.path_params["kind"]
        if system == "canvas" and kind in CANVAS_KINDS:
            return getattr(self.state.canvas, kind), CANVAS_KINDS[kind], "id"
        if system == "ic" and kind in IC_KINDS:
            return getattr(self.state.ic, kind), IC_KINDS[kind], "sourced_id"
        return None

    async def list_records(self, request: Request) -> Response:
        found = self._collection(request)
        if found is None:
            return _error(404, "NOT_FOUND", f"no such kind: {request.path_params['kind']}")
        records, _, _ = found
        return JSONResponse([_dump(record) for record in records.values()])

    async def record(self, request: Request) -> Response:
        found = self._collection(request)
        if found is None:
            return _error(404, "NOT_FOUND", f"no such kind: {request.path_params['kind']}")
        records, model, key_field = found
        kind, key = request.path_params["kind"], request.path_params["key"]
        if request.method == "GET":
            if key not in records:
                return _error(404, "NOT_FOUND", f"no {kind} {key}")
            return JSONResponse(_dump(records[key]))
        if request.method == "DELETE":
            if key not in records:
                return _error(404, "NOT_FOUND", f"no {kind} {key}")
            if key_field == "id" and kind in SOFT_DELETES:
                field, value = SOFT_DELETES[kind]
                setattr(records[key], field, value)
            else:
                del records[key]
            return Response(status_code=204)
        change = await _object(request)
        if change is None:
            return _error(400, "INVALID_BODY", "send a JSON object of fields")
        existing = records.get(key)
        data = existing.model_dump(exclude_unset=True) if existing else {}
        if model is Assignment and existing is not None and "updated_at" not in change:
            change["updated_at"] = utc_now()
        try:
            updated = model.model_validate(data | change | {key_field: key})
        except ValidationError as error:
            return _invalid(error)
        records[key] = updated
        return JSONResponse(_dump(updated), 200 if existing else 201)

    async def submission(self, request: Request) -> Response:
        canvas = self.state.canvas
        assignment_id = request.path_params["assignment_id"]
        user_id = request.path_params["user_id"]
        assignment = canvas.assignments.get(assignment_id)
        if assignment is None or user_id not in canvas.users:
            return _error(404, "NOT_FOUND", "no such assignment or user")
        current = canvas.submission(assignment_id, user_id)
        if request.method == "GET":
            return JSONResponse(_dump(current))
        change = await _object(request)
        if change is None:
            return _error(400, "INVALID_BODY", "send a JSON object of fields")
        try:
            updated = apply_grade(current, assignment, change)
        except ValidationError as error:
            return _invalid(error)
        canvas.submissions[(assignment_id, user_id)] = updated
        return JSONResponse(_dump(updated))

    async def conversations(self, request: Request) -> Response:
        return JSONResponse([_dump(c) for c in self.state.canvas.conversations])

    # ------------------------------------------------------------ IC

    async def line_items(self, request: Request) -> Response:
        return JSONResponse(self.state.ic.line_items)

    async def results(self, request: Request) -> Response:
        return JSONResponse(self.state.ic.results)

    async def writes(self, request: Request) -> Response:
        query = request.query_params
        writes = [
            w
            for w in self.state.ic.writes
            if query.get("kind") in (None, w.kind)
            and query.get("sourced_id") in (None, w.sourced_id)
            and query.get("applied") in (None, str(w.applied).lower())
        ]
        return JSONResponse({"writes": [w.model_dump(mode="json") for w in writes]})

    async def tokens(self, request: Request) -> Response:
        tokens = self.state.sis_tokens
        if request.method == "POST":
            body = await _object(request)
            if body is None:
                return _error(400, "INVALID_BODY", "send a JSON object")
            if "lifetime_seconds" in body:
                tokens.lifetime_seconds = float(body["lifetime_seconds"])
            if body.get("expire_all"):
                tokens.expire_all()
        return JSONResponse({"lifetime_seconds": tokens.lifetime_seconds, "issued": tokens.issued})

    # ------------------------------------------------------------ faults

    def _faults(self, system: str) -> Faults | None:
        return {"canvas": self.state.canvas_faults, "sis": self.state.sis_faults}.get(system)

    async def all_faults(self, request: Request) -> Response:
        return JSONResponse(
            {"canvas": self.state.canvas_faults.report(), "sis": self.state.sis_faults.report()}
        )

    async def faults(self, request: Request) -> Response:
        faults = self._faults(request.path_params["system"])
        if faults is None:
            return _error(404, "NOT_FOUND", "the systems are canvas and sis")
        if request.method == "POST":
            body = await _object(request)
            if body is None:
                return _error(400, "INVALID_BODY", "send a JSON object")
            try:
                faults.configure(FaultConfig.model_validate(body))
            except ValidationError as error:
                return _invalid(error)
        return JSONResponse(faults.report())
