"""Every route, fuzzed from gpb's own OpenAPI document (`GET /openapi.json`) by schemathesis, as
an admin (the token that reaches furthest): no answer is a 5xx, each status and body is one the
document declares, and every refused delivery to `POST /events/canvas` is in the event log.
The document must describe every route the app serves."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from running_gpb import ADMIN_TOKEN, SandboxedGpb, auth
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gpb.listener.app import ROUTES
from gpb.listener.openapi import OPERATIONS, documented_routes

pytestmark = pytest.mark.reliability

# What a Canvas subscription may post: JWS-looking text, and text that only looks like one.
schemathesis.openapi.media_type(
    "application/jwt",
    st.from_regex(r"\A[A-Za-z0-9_=-]{0,80}(\.[A-Za-z0-9_=-]{0,200}){0,3}\Z").map(str.encode)
    | st.binary(max_size=200),
)


@pytest.fixture(scope="module")
def api_schema(served_gpb: SandboxedGpb) -> Any:
    return schemathesis.openapi.from_url(f"{served_gpb.client.base_url}/openapi.json")


def test_the_document_describes_every_route() -> None:
    served = documented_routes(ROUTES)
    assert sorted(set(served) - set(OPERATIONS)) == [], "routes missing from the OpenAPI document"
    assert sorted(set(OPERATIONS) - set(served)) == [], "operations no route serves"


def refusals_are_logged(ctx: Any, response: Any, case: Any) -> bool | None:
    """A refused delivery is the newest entry of the event log, with the refusal's code."""
    if case.path != "/events/canvas" or response.status_code < 400:
        return None
    log = httpx.URL(str(response.request.url)).copy_with(path="/api/events", query=b"limit=1")
    answer = httpx.get(log, headers=auth(ADMIN_TOKEN))
    assert answer.status_code == 200, answer.text
    newest = answer.json()["events"][0]
    code = response.json()["error"]["code"]
    assert (newest["status"], newest["error"]["code"]) == ("rejected", code), newest
    return True


# The alert stream never ends by design; its access is checked in test_access.py.
FUZZED = sorted(key for key in OPERATIONS if not key[0].endswith("/alerts/stream"))


@pytest.mark.parametrize(("path", "method"), FUZZED, ids=[f"{m} {p}" for p, m in FUZZED])
def test_no_route_answers_a_5xx_or_off_its_document(
    api_schema: Any, long_run: bool, path: str, method: str
) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=500 if long_run else 12, suppress_health_check=list(HealthCheck))
    def fuzz(case: Any) -> None:
        case.call_and_validate(
            headers=auth(ADMIN_TOKEN),
            timeout=30,
            checks=[
                not_a_server_error,
                status_code_conformance,
                content_type_conformance,
                response_schema_conformance,
                refusals_are_logged,
            ],
        )

    fuzz()
