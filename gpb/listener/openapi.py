"""`GET /openapi.json`: the API as an OpenAPI 3.1 document, assembled from what each route declares
on its endpoint (`listener.operations`) and the pydantic models of its bodies (`listener.schemas`,
the sync request, the Canvas event envelope).

The document lists every route the app has: one that declares nothing still appears, marked
undocumented, so the document never fails to build; the test suite refuses such a route
(tests/listener/test_openapi.py), and compares the document with the one clients have.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gpb.listener import schemas
from gpb.listener.operations import (
    HTML,
    Answer,
    Operation,
    Param,
    declared,
    html,
    operation,
    returns,
)

REF = "#/components/schemas/{model}"

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


def operations(routes: list[BaseRoute]) -> dict[tuple[str, str], Operation]:
    """(path, method) -> the operation its endpoint declares, for every declared method: one the
    route does not serve is listed too, so that a test can refuse it."""
    found: dict[tuple[str, str], Operation] = {}
    for route in routes:
        if not isinstance(route, Route):
            continue
        served = [method for method in sorted(route.methods or ()) if method != "HEAD"]
        for method, declaration in declared(route.endpoint).items():
            for each in served if method is None else [method]:
                found[(route.path, each)] = declaration
    return found


def document(routes: list[BaseRoute]) -> dict[str, Any]:
    declarations = operations(routes)
    paths: dict[str, dict[str, Any]] = {}
    for path, method in documented_routes(routes):
        operation = declarations.get((path, method))
        paths.setdefault(path, {})[method.lower()] = (
            _operation(path, operation) if operation else _undocumented(path)
        )
    _, definitions = models_json_schema(
        [(model, "validation") for model in _models(declarations.values())], ref_template=REF
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


def _models(declarations: Iterable[Operation]) -> list[type[BaseModel]]:
    models: dict[type[BaseModel], None] = {}
    for declaration in declarations:
        for answer in declaration.answers.values():
            if answer.model is not None:
                models[answer.model] = None
        for schema in declaration.body.values():
            if isinstance(schema, type):
                models[schema] = None
    return list(models)


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _answers(operation: Operation, path: str) -> dict[int, Answer]:
    """The operation's own answers, and those its access rules add (pages answer with pages)."""
    page = any(HTML in answer.media for answer in operation.answers.values())

    def error(description: str) -> Answer:
        return html(description) if page else returns(schemas.ErrorBody, description)

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
    return added | dict(operation.answers)


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


@operation(
    "This document",
    "public",
    {200: Answer("an OpenAPI 3.1 document", media=("application/json",))},
)
async def openapi_json(request: Request) -> Response:
    app_state = request.app.state
    if getattr(app_state, "openapi", None) is None:
        app_state.openapi = document(request.app.routes)
    return JSONResponse(app_state.openapi)
