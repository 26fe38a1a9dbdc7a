"""The OpenAPI document is assembled from what each route declares on its endpoint: every route
declares its operations, no declaration names a method its route does not serve, and the document
is the one clients have (`tests/fixtures/openapi/document.json`, what `/openapi.json` served
before the declarations moved onto the endpoints). A deliberate change to the API changes the
fixture in the same commit (written as `json.dumps(document(ROUTES), indent=1, sort_keys=True)`).
"""

from __future__ import annotations

import json
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gpb.listener import schemas
from gpb.listener.app import ROUTES
from gpb.listener.openapi import document, documented_routes, operations
from gpb.listener.operations import operation, returns

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "openapi" / "document.json"


def test_the_document_is_the_one_clients_have() -> None:
    expected = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert json.loads(json.dumps(document(ROUTES))) == expected


def test_every_route_declares_its_operations() -> None:
    assert sorted(set(documented_routes(ROUTES)) ^ set(operations(ROUTES))) == []


@operation("Say hello", "token", {200: returns(schemas.Health)}, method="GET")
@operation("Hear hello", "admin", {200: returns(schemas.Health)}, method="PUT")
async def _hello(request: Request) -> Response:
    return Response()


async def _silent(request: Request) -> Response:
    return Response()


def test_a_route_is_documented_from_its_endpoint_alone() -> None:
    routes = [
        Route("/hello/{course_id}", _hello, methods=["GET"]),
        Route("/silent", _silent, methods=["POST"]),
    ]
    found = operations(routes)
    assert set(found) == {("/hello/{course_id}", "GET"), ("/hello/{course_id}", "PUT")}
    paths = document(routes)["paths"]
    assert paths["/hello/{course_id}"]["get"]["summary"] == "Say hello"
    assert "put" not in paths["/hello/{course_id}"]  # declared, not served: the test above fails
    assert paths["/silent"]["post"]["summary"] == "undocumented"
    responses = paths["/hello/{course_id}"]["get"]["responses"]
    assert responses["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Health"
    }
    assert {"401", "404", "429"} <= set(responses)  # what a token route and a path id add
