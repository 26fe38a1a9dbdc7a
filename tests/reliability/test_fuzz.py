"""Every route, fuzzed from gpb's own OpenAPI document (`GET /openapi.json`) by schemathesis, as
an admin (the token that reaches furthest): no answer is a 5xx, each status and body is one the
document declares, and every refused delivery to `POST /events/canvas` is in the event log.
The document must describe every route the app serves."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import schemathesis
from canvas_events import sample
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from running_gpb import ADMIN_TOKEN, SandboxedGpb, auth
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gpb.infra.sandbox.keys import sign_event
from gpb.listener.app import ROUTES
from gpb.listener.openapi import documented_routes, operations

pytestmark = pytest.mark.reliability
OPERATIONS = operations(ROUTES)

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


# -- input classes found by hand, drawn here so that none comes back --------------------------

# Ids: ordinary, past 64 bits, past the 4,300 digits int() takes, zero-padded, not digits at all.
ODD_IDS = st.one_of(
    st.integers(0, 2**70).map(str),
    st.integers(4_000, 6_000).map(lambda n: "9" * n),
    st.integers(1, 30).map(lambda n: "0" * n + "456"),
    st.from_regex(r"\A[!-~]{1,12}\Z").filter(lambda text: not set(text) & set("/?#%.")),
)
# Times in any offset, the calendar's first and last instants included (a -01:00 offset on
# 9999-12-31 lies past the last time UTC can hold).
ODD_TIMES = st.one_of(
    st.builds(
        lambda moment, minutes: moment.replace(
            tzinfo=timezone(timedelta(minutes=minutes))
        ).isoformat(),
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
        st.integers(-23 * 60, 23 * 60),
    ),
    st.sampled_from(["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"]),
    st.text(max_size=30),
)
# JSON nested past what the parser goes, in arrays and objects, within and past the body bound.
NESTED = st.builds(
    lambda depth, arrays: (
        "[" * depth + "]" * depth if arrays else '{"a":' * depth + "1" + "}" * depth
    ),
    st.integers(1, 120_000),
    st.booleans(),
)
TIME_CLAIMS = ["exp", "nbf", "iat"]
NON_FINITE = st.sampled_from([float("nan"), float("inf"), float("-inf")])


@st.composite
def odd_requests(draw: st.DrawFn) -> tuple[str, str, dict[str, Any]]:
    """One request of a class that once answered 5xx: (method, path, httpx keyword arguments)."""
    some_id = draw(ODD_IDS)
    return draw(
        st.sampled_from(
            [
                ("GET", f"/api/events/{some_id}", {}),
                ("GET", f"/api/syncs/{some_id}", {}),
                ("GET", f"/api/courses/{some_id}/assignments", {}),
                ("GET", "/api/courses/456/syncs", {"params": {"cursor": some_id}}),
                ("GET", "/api/events", {"params": {"cursor": some_id, "limit": draw(ODD_IDS)}}),
                ("GET", "/api/events", {"params": {"since": draw(ODD_TIMES)}}),
                ("GET", "/admin/events", {"params": {"since": draw(ODD_TIMES)}}),
                ("GET", "/admin/events", {"params": {"until": draw(ODD_TIMES)}}),
                ("PUT", "/api/admin/courses/456/reconciliation", {"content": draw(NESTED)}),
                ("POST", "/api/courses/456/syncs", {"content": draw(NESTED)}),
                (
                    "POST",
                    "/events/canvas",
                    {"claims": {draw(st.sampled_from(TIME_CLAIMS)): draw(NON_FINITE)}},
                ),
                (
                    "GET",
                    "/api/courses/456/alerts/stream",
                    {"headers": {"Last-Event-ID": f"{some_id}.{draw(ODD_IDS)}"}},
                ),
            ]
        )
    )


def test_odd_input_classes_never_answer_a_5xx(served_gpb: SandboxedGpb) -> None:
    key = served_gpb.sandbox.settings.signing_key
    with httpx.Client(
        base_url=str(served_gpb.client.base_url), headers=auth(ADMIN_TOKEN), timeout=60
    ) as client:

        @given(request=odd_requests())
        @settings(suppress_health_check=list(HealthCheck))
        def fuzz(request: tuple[str, str, dict[str, Any]]) -> None:
            method, path, extra = request
            if "claims" in extra:
                claims = {**sample("grade_change_8_to_9_5"), **extra["claims"]}
                extra = {"content": sign_event(claims, key)}
            if path.endswith("/stream"):
                with client.stream(method, path, **extra) as answer:
                    assert answer.status_code == 200, answer.read()[:300]
                return
            answer = client.request(method, path, **extra)
            assert answer.status_code < 500, (method, path, answer.text[:300])

        fuzz()
