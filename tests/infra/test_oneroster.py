"""The OneRoster adapter against a mock IC: token, vendor key, concurrency, retries, bodies."""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from concurrency import InFlight
from fakes import Sleeps
from prometheus_client import REGISTRY

from gpb.handlers.errors import (
    SisAuthFailed,
    SisBusy,
    SisNotConfigured,
    SisRejected,
    SisUnavailable,
)
from gpb.handlers.model import IcCategory, IcTerm, LineItem, Result
from gpb.infra.http_retry import HTTP_RETRY, WITHHELD, Sleep
from gpb.infra.oneroster import OneRosterClient, line_item_body, parse_imsx, result_body
from gpb.infra.sandbox.schema import line_item_validator, problems, result_validator

BASE = "https://ic.test/campus/api/oneroster/v1p2/district/ims/oneroster"
TOKEN_URL = "https://ic.test/campus/oauth2/token?appName=district"
CLIENT_ID = "InfiniteCampus_gpb"
SECRET = "client-secret-never-shown"
VENDOR = "vendor-key:vendor-secret-never-shown"

Api = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]

LINE_ITEM = LineItem(
    sourced_id="canvas-a123-s7",
    title="Homework 3.2",
    assign_date=datetime(2024, 10, 7, 5, 0, tzinfo=UTC),
    due_date=datetime(2024, 10, 18, 4, 59, 59, tzinfo=UTC),
    class_id="SEC-7",
    school_id="SCH-1",
    category_id="CAT-3",
    result_value_max=10.0,
)
RESULT = Result(
    sourced_id="canvas-a123-s7-u1201",
    line_item_id="canvas-a123-s7",
    student_sis_id="S-102938",
    score=9.5,
    score_status="fully graded",
    score_date=date(2024, 10, 21),
    late=True,
    missing=False,
)


class Ic:
    """A mock IC: a token endpoint issuing tok-1, tok-2, ... and the API answered by `api`."""

    def __init__(self, api: Api, *, expires_in: int | None = 3600) -> None:
        self.api = api
        self.expires_in = expires_in
        self.token_answers: list[httpx.Response] = []  # answered before issuing tokens
        self.token_requests: list[httpx.Request] = []
        self.requests: list[httpx.Request] = []
        self.sleeps = Sleeps()
        self.now = 0.0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            self.token_requests.append(request)
            await asyncio.sleep(0.005)  # lets concurrent callers pile up behind the fetch
            if self.token_answers:
                return self.token_answers.pop(0)
            body: dict[str, Any] = {"access_token": f"tok-{len(self.token_requests)}"}
            if self.expires_in is not None:
                body["expires_in"] = self.expires_in
            return httpx.Response(200, json={**body, "token_type": "Bearer"})
        self.requests.append(request)
        answer = self.api(request)
        return await answer if inspect.isawaitable(answer) else answer

    def client(
        self,
        *,
        vendor: str | None = VENDOR,
        max_concurrency: int = 1,
        max_attempts: int = 3,
        sleep: Sleep | None = None,
    ) -> OneRosterClient:
        return OneRosterClient(
            BASE,
            TOKEN_URL,
            CLIENT_ID,
            SECRET,
            vendor,
            max_concurrency=max_concurrency,
            retry=replace(HTTP_RETRY, max_attempts=max_attempts, base_seconds=1.0),
            sleep=sleep or self.sleeps,
            rand=lambda: 1.0,
            transport=httpx.MockTransport(self),
            clock=lambda: self.now,
        )


def answers(*responses: httpx.Response) -> Api:
    queue = list(responses)
    return lambda request: queue.pop(0)


def always(status: int, **kwargs: Any) -> Api:
    return lambda request: httpx.Response(status, **kwargs)


def imsx(description: str | None = None, minor: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"imsx_codeMajor": "failure", "imsx_severity": "error"}
    if description is not None:
        body["imsx_description"] = description
    if minor is not None:
        field = {"imsx_codeMinorFieldName": "TargetEndSystem", "imsx_codeMinorFieldValue": minor}
        body["imsx_CodeMinor"] = {"imsx_codeMinorField": [field]}
    return body


RESULT_JSON = {
    "result": {
        "sourcedId": "canvas-a123-s7-u1201",
        "status": "active",
        "dateLastModified": "2024-10-21T13:10:00Z",
        "lineItem": {"href": "x", "sourcedId": "canvas-a123-s7", "type": "lineItem"},
        "student": {"href": "x", "sourcedId": "S-102938", "type": "user"},
        "scoreStatus": "fully graded",
        "score": 9.5,
        "scoreDate": "2024-10-21",
        "late": "true",
        "missing": "false",
    }
}


# -- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize("missing", range(4))
async def test_every_call_needs_url_and_credentials(missing: int) -> None:
    settings: list[str | None] = [BASE, TOKEN_URL, CLIENT_ID, SECRET]
    settings[missing] = None
    ic = Ic(always(200))
    base_url, token_url, client_id, secret = settings
    client = OneRosterClient(
        base_url, token_url, client_id, secret, VENDOR, transport=httpx.MockTransport(ic)
    )
    calls: list[Awaitable[object]] = [
        client.get_class("SEC-7"),
        client.list_categories("SEC-7"),
        client.put_line_item(LINE_ITEM),
        client.put_result(RESULT),
        client.delete_result("r"),
        client.get_result("r"),
    ]
    for call in calls:
        with pytest.raises(SisNotConfigured):
            await call
    assert ic.requests == [] and ic.token_requests == []


# -- the token -----------------------------------------------------------------------------


async def test_token_by_client_credentials_with_basic_auth() -> None:
    ic = Ic(always(200, json=RESULT_JSON))
    await ic.client().get_result("canvas-a123-s7-u1201")
    (token_request,) = ic.token_requests
    assert token_request.method == "POST"
    assert parse_qs(token_request.content.decode()) == {"grant_type": ["client_credentials"]}
    basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    assert token_request.headers["Authorization"] == f"Basic {basic}"
    assert "x-vendor-authorization" not in token_request.headers
    (request,) = ic.requests
    assert request.headers["Authorization"] == "Bearer tok-1"


async def test_token_is_cached_across_calls() -> None:
    ic = Ic(always(200, json=RESULT_JSON))
    client = ic.client()
    for _ in range(3):
        await client.get_result("r")
    assert len(ic.token_requests) == 1
    assert {r.headers["Authorization"] for r in ic.requests} == {"Bearer tok-1"}


async def test_token_is_refreshed_a_minute_before_it_expires() -> None:
    ic = Ic(always(200, json=RESULT_JSON), expires_in=3600)
    client = ic.client()
    await client.get_result("r")
    ic.now = 3539.0
    await client.get_result("r")
    assert len(ic.token_requests) == 1
    ic.now = 3540.0
    await client.get_result("r")
    assert len(ic.token_requests) == 2
    assert ic.requests[-1].headers["Authorization"] == "Bearer tok-2"


async def test_token_without_expiry_is_kept_until_refused() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        if len(ic.requests) == 3:  # IC revokes it on the third call
            return httpx.Response(401, json=imsx("expired", "unauthorisedrequest"))
        return httpx.Response(200, json=RESULT_JSON)

    ic = Ic(api, expires_in=None)
    client = ic.client()
    ic.now = 1e9
    for _ in range(3):
        await client.get_result("r")
    assert len(ic.token_requests) == 2


async def test_a_401_renews_the_token_once_and_resends() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == "Bearer tok-1":
            return httpx.Response(401, json=imsx("token revoked", "unauthorisedrequest"))
        return httpx.Response(200, json=RESULT_JSON)

    ic = Ic(api)
    result = await ic.client().get_result("r")
    assert result is not None
    assert len(ic.token_requests) == 2
    assert [r.headers["Authorization"] for r in ic.requests] == ["Bearer tok-1", "Bearer tok-2"]


async def test_a_second_401_is_auth_failed_without_more_attempts() -> None:
    ic = Ic(always(401, json=imsx("Vendor not authorized", "unauthorisedrequest")))
    with pytest.raises(SisAuthFailed) as caught:
        await ic.client().put_result(RESULT)
    assert caught.value.code == "SIS_AUTH_FAILED" and caught.value.status == 401
    assert "Vendor not authorized" in caught.value.message
    assert len(ic.token_requests) == 2
    assert len(ic.requests) == 2


async def test_a_403_is_auth_failed_without_renewing_the_token() -> None:
    ic = Ic(always(403, json=imsx("scope missing", "forbidden")))
    with pytest.raises(SisAuthFailed):
        await ic.client().put_line_item(LINE_ITEM)
    assert len(ic.token_requests) == 1 and len(ic.requests) == 1


async def test_concurrent_callers_share_one_token_fetch() -> None:
    ic = Ic(always(200, json=RESULT_JSON))
    client = ic.client(max_concurrency=5)
    await asyncio.gather(*(client.get_result(str(n)) for n in range(5)))
    assert len(ic.token_requests) == 1


async def test_concurrent_401s_renew_the_token_once() -> None:
    async def api(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.005)
        if request.headers["Authorization"] == "Bearer tok-1":
            return httpx.Response(401)
        return httpx.Response(200, json=RESULT_JSON)

    ic = Ic(api)
    client = ic.client(max_concurrency=5)
    await asyncio.gather(*(client.get_result(str(n)) for n in range(5)))
    assert len(ic.token_requests) == 2


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, {"error": "invalid_client", "error_description": f"bad secret {SECRET}"}),
        (400, {"error": "invalid_grant"}),
    ],
)
async def test_token_endpoint_refusal_is_auth_failed(status: int, body: dict[str, str]) -> None:
    ic = Ic(always(200))
    ic.token_answers = [httpx.Response(status, json=body)]
    with pytest.raises(SisAuthFailed) as caught:
        await ic.client().get_class("SEC-7")
    assert caught.value.status == status
    assert "token endpoint" in caught.value.message
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value.args)
    assert ic.requests == []  # no API call without a token


async def test_token_endpoint_down_is_retried_then_unavailable() -> None:
    ic = Ic(always(200))
    ic.token_answers = [httpx.Response(503) for _ in range(3)]
    with pytest.raises(SisUnavailable):
        await ic.client().get_class("SEC-7")
    assert len(ic.token_requests) == 3
    assert ic.sleeps.delays == [1.0, 2.0]


# -- the vendor key ------------------------------------------------------------------------


async def test_vendor_key_goes_on_gradebook_calls_only() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        if "/rostering/" in request.url.path:
            return httpx.Response(200, json={"class": {"sourcedId": "SEC-7", "terms": []}})
        return httpx.Response(200, json=RESULT_JSON)

    ic = Ic(api)
    client = ic.client()
    await client.get_class("SEC-7")
    await client.get_result("r")
    rostering, gradebook = ic.requests
    assert "x-vendor-authorization" not in rostering.headers
    assert gradebook.headers["x-vendor-authorization"] == VENDOR


async def test_without_vendor_key_no_header_and_the_401_says_so() -> None:
    ic = Ic(always(401))
    with pytest.raises(SisAuthFailed) as caught:
        await ic.client(vendor=None).put_result(RESULT)
    assert all("x-vendor-authorization" not in r.headers for r in ic.requests)
    assert "GPB_SIS_VENDOR_AUTHORIZATION" in caught.value.message


# -- concurrency ---------------------------------------------------------------------------


@pytest.mark.parametrize("cap", [1, 3])
async def test_never_more_requests_in_flight_than_allowed(cap: int) -> None:
    in_flight = InFlight()

    async def api(request: httpx.Request) -> httpx.Response:
        await in_flight.call()
        return httpx.Response(201)

    ic = Ic(api)
    client = ic.client(max_concurrency=cap)
    await asyncio.gather(*(client.put_result(RESULT) for _ in range(10)))
    assert in_flight.most == cap
    assert len(ic.requests) == 10


async def test_backoff_sleep_does_not_hold_a_slot() -> None:
    first = True

    def api(request: httpx.Request) -> httpx.Response:
        nonlocal first
        if request.url.path.endswith("/slow") and first:
            first = False
            return httpx.Response(503)
        return httpx.Response(201)

    sleeping, wake = asyncio.Event(), asyncio.Event()

    async def sleep(seconds: float) -> None:
        sleeping.set()
        await wake.wait()

    ic = Ic(api)
    client = ic.client(max_concurrency=1, sleep=sleep)
    backing_off = asyncio.create_task(client.put_result(replace(RESULT, sourced_id="slow")))
    await asyncio.wait_for(sleeping.wait(), 1)
    # The one slot is free while the first call waits: another call goes through.
    await asyncio.wait_for(client.put_result(replace(RESULT, sourced_id="fast")), 1)
    wake.set()
    await backing_off
    assert [r.url.path.rsplit("/", 1)[1] for r in ic.requests] == ["slow", "fast", "slow"]


# -- retries -------------------------------------------------------------------------------


async def test_429_honours_retry_after_then_succeeds() -> None:
    busy = httpx.Response(429, headers={"Retry-After": "3"}, json=imsx("slow down", "server_busy"))
    ic = Ic(answers(busy, httpx.Response(201)))
    await ic.client().put_result(RESULT)
    assert ic.sleeps.delays == [3.0]
    assert len(ic.requests) == 2


async def test_429_after_every_attempt_is_sis_busy() -> None:
    ic = Ic(always(429, json=imsx("Too many requests", "server_busy")))
    with pytest.raises(SisBusy) as caught:
        await ic.client(max_attempts=4).put_line_item(LINE_ITEM)
    assert caught.value.code == "SIS_BUSY" and caught.value.status == 429
    assert "Too many requests" in caught.value.message
    assert len(ic.requests) == 4


async def test_5xx_after_every_attempt_is_sis_unavailable() -> None:
    ic = Ic(always(500, text="Internal Server Error"))
    with pytest.raises(SisUnavailable) as caught:
        await ic.client().get_class("SEC-7")
    assert type(caught.value) is SisUnavailable and caught.value.status == 500
    assert "Internal Server Error" in caught.value.message
    assert len(ic.requests) == 3


async def test_network_failures_are_retried() -> None:
    outcomes: list[Exception | httpx.Response] = [
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.Response(204),
    ]

    def api(request: httpx.Request) -> httpx.Response:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    ic = Ic(api)
    await ic.client().delete_result("r")
    assert len(ic.requests) == 3


async def test_unreachable_ic_is_sis_unavailable() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    ic = Ic(api)
    with pytest.raises(SisUnavailable, match="ConnectError"):
        await ic.client().put_result(RESULT)
    assert len(ic.requests) == 3


def sis_calls(status: str) -> float:
    return REGISTRY.get_sample_value("gpb_sis_calls_total", {"status": status}) or 0.0


async def test_every_exchange_with_ic_is_counted_by_its_outcome() -> None:
    outcomes: list[Exception | httpx.Response] = [
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("connection refused"),
        httpx.Response(503),
        httpx.Response(201),
        httpx.Response(422, json=imsx("Unknown lineItem", "unknownobject")),
    ]

    def api(request: httpx.Request) -> httpx.Response:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    before = {status: sis_calls(status) for status in ("2xx", "4xx", "5xx", "timeout", "error")}
    client = Ic(api).client(max_attempts=4)
    await client.put_result(RESULT)
    with pytest.raises(SisRejected):
        await client.put_result(RESULT)
    counted = {status: sis_calls(status) - count for status, count in before.items()}
    # the 2xx: the token request and the write IC took
    assert counted == {"2xx": 2, "4xx": 1, "5xx": 1, "timeout": 1, "error": 1}


# -- writes --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 204])
async def test_put_line_item(status: int) -> None:
    ic = Ic(always(status))
    await ic.client().put_line_item(LINE_ITEM)
    (request,) = ic.requests
    assert request.method == "PUT"
    assert str(request.url) == f"{BASE}/gradebook/v1p2/lineItems/canvas-a123-s7"
    body = json.loads(request.content)["lineItem"]
    assert body["sourcedId"] == "canvas-a123-s7" and body["status"] == "active"
    assert body["title"] == "Homework 3.2"
    assert body["assignDate"] == "2024-10-07T05:00:00Z"
    assert body["dueDate"] == "2024-10-18T04:59:59Z"
    assert body["class"] == {
        "href": f"{BASE}/rostering/v1p2/classes/SEC-7",
        "sourcedId": "SEC-7",
        "type": "class",
    }
    assert body["school"]["type"] == "org" and body["school"]["sourcedId"] == "SCH-1"
    assert body["category"] == {
        "href": f"{BASE}/gradebook/v1p2/categories/CAT-3",
        "sourcedId": "CAT-3",
        "type": "category",
    }
    assert (body["resultValueMin"], body["resultValueMax"]) == (0, 10.0)


async def test_put_result() -> None:
    ic = Ic(always(201))
    await ic.client().put_result(RESULT)
    (request,) = ic.requests
    assert request.method == "PUT"
    assert str(request.url) == f"{BASE}/gradebook/v1p2/results/canvas-a123-s7-u1201"
    body = json.loads(request.content)["result"]
    assert body["lineItem"] == {
        "href": f"{BASE}/gradebook/v1p2/lineItems/canvas-a123-s7",
        "sourcedId": "canvas-a123-s7",
        "type": "lineItem",
    }
    assert body["student"] == {
        "href": f"{BASE}/rostering/v1p2/users/S-102938",
        "sourcedId": "S-102938",
        "type": "user",
    }
    assert body["score"] == 9.5 and body["scoreStatus"] == "fully graded"
    assert body["scoreDate"] == "2024-10-21"
    assert (body["late"], body["missing"]) == ("true", "false")


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (404, imsx("Class SEC-9 was not found", "unknownobject"), "SIS_CLASS_NOT_FOUND"),
        (422, imsx("Unknown class sourcedId SEC-9"), "SIS_CLASS_NOT_FOUND"),
        (
            422,
            imsx("Category CAT-9 does not exist in class SEC-7", "invaliddata"),
            "SIS_CATEGORY_NOT_FOUND",
        ),
        (
            404,
            imsx(minor="unknownobject") | {"imsx_description": "category"},
            "SIS_CATEGORY_NOT_FOUND",
        ),
        (
            422,
            imsx("Title exceeds 50 characters for the class", "invaliddata"),
            "SIS_LINEITEM_REJECTED",
        ),
        (400, {"statusInfoSet": [{"imsx_codeMajor": "failure"}]}, "SIS_LINEITEM_REJECTED"),
        (409, imsx("conflict"), "SIS_LINEITEM_REJECTED"),
        # The sandbox's own wording.
        (
            422,
            imsx("Category CAT-6 is not a category of class SEC-7", "unknownobject"),
            "SIS_CATEGORY_NOT_FOUND",
        ),
        (
            422,
            imsx("Class SEC-7 belongs to school SCH-1, not SCH-2", "invaliddata"),
            "SIS_LINEITEM_REJECTED",
        ),
    ],
)
async def test_refused_line_item_codes(status: int, body: dict[str, Any], code: str) -> None:
    ic = Ic(always(status, json=body))
    with pytest.raises(SisRejected) as caught:
        await ic.client().put_line_item(LINE_ITEM)
    assert caught.value.code == code and caught.value.status == status
    assert "canvas-a123-s7" in caught.value.message
    assert len(ic.requests) == 1  # a refusal is not retried


async def test_refused_result_carries_ic_description() -> None:
    refusal = imsx("Score 12 is outside 0..10", "invaliddata")
    ic = Ic(always(422, json=refusal))
    with pytest.raises(SisRejected) as caught:
        await ic.client().put_result(RESULT)
    assert caught.value.code == "SIS_RESULT_REJECTED" and caught.value.status == 422
    assert "Score 12 is outside 0..10" in caught.value.message


async def test_credentials_echoed_by_ic_never_reach_the_message() -> None:
    echo = f"bad call with Bearer tok-1, key {VENDOR}, secret {SECRET}"
    ic = Ic(always(422, json=imsx(echo)))
    with pytest.raises(SisRejected) as caught:
        await ic.client().put_result(RESULT)
    text = str(caught.value)
    assert "tok-1" not in text and VENDOR not in text and SECRET not in text
    # The stand-in's access token is too short to cut out without showing it: all is withheld.
    assert text.endswith(WITHHELD)


async def test_unconfirmed_write_is_unavailable() -> None:
    ic = Ic(always(202))
    with pytest.raises(SisUnavailable):
        await ic.client().put_result(RESULT)


@pytest.mark.parametrize("status", [200, 204, 404])
async def test_delete_result_is_done_when_gone(status: int) -> None:
    ic = Ic(always(status))
    await ic.client().delete_result("canvas-a1-s2-u3")
    (request,) = ic.requests
    assert request.method == "DELETE"
    assert request.url.path.endswith("/gradebook/v1p2/results/canvas-a1-s2-u3")
    assert request.headers["x-vendor-authorization"] == VENDOR


async def test_refused_delete_is_rejected() -> None:
    ic = Ic(always(422, json=imsx("grading window closed")))
    with pytest.raises(SisRejected) as caught:
        await ic.client().delete_result("r")
    assert caught.value.code == "SIS_RESULT_REJECTED"


# -- reads ---------------------------------------------------------------------------------


async def test_get_result_maps_back() -> None:
    ic = Ic(always(200, json=RESULT_JSON))
    result = await ic.client().get_result("canvas-a123-s7-u1201")
    assert ic.requests[0].url.path.endswith("/gradebook/v1p2/results/canvas-a123-s7-u1201")
    assert result == RESULT


async def test_get_result_reads_booleans_and_a_missing_score() -> None:
    data = {**RESULT_JSON["result"], "late": False, "missing": True, "scoreStatus": "not submitted"}
    del data["score"]
    ic = Ic(always(200, json={"result": data}))
    result = await ic.client().get_result("r")
    assert result is not None
    assert result.score is None and not result.late and result.missing


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(404, json=imsx("Unknown Object", "unknownobject")),
        httpx.Response(200, json={"result": {**RESULT_JSON["result"], "status": "tobedeleted"}}),
    ],
)
async def test_get_result_of_a_gone_result_is_none(answer: httpx.Response) -> None:
    ic = Ic(answers(answer))
    assert await ic.client().get_result("r") is None


def _session(sourced_id: str, start: str, end: str, kind: str = "term") -> dict[str, Any]:
    return {
        "sourcedId": sourced_id,
        "status": "active",
        "title": f"Term {sourced_id}",
        "startDate": start,
        "endDate": end,
        "type": kind,
        "schoolYear": "2025",
    }


def _academic_session(sourced_id: str, start: str, end: str) -> dict[str, Any]:
    return {"academicSession": _session(sourced_id, start, end)}


# T1's grading periods (getGradingPeriodsForTerm answers an AcademicSessionSet); T2 has none.
Q1 = _session("Q1", "2024-08-20", "2024-10-20", "gradingPeriod")
Q2 = _session("Q2", "2024-10-21", "2025-01-10", "gradingPeriod")


def _class(sourced_id: str, *term_ids: str) -> dict[str, Any]:
    terms = [{"href": "x", "sourcedId": t, "type": "academicSession"} for t in term_ids]
    school = {"href": "x", "sourcedId": "SCH-1", "type": "org"}
    return {
        "class": {
            "sourcedId": sourced_id,
            "title": f"Bio {sourced_id}",
            "school": school,
            "terms": terms,
        }
    }


def _rostering(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/gradingPeriods"):
        term_id = request.url.path.split("/")[-2]
        if term_id not in ("T1", "T2"):
            return httpx.Response(404, json=imsx("Unknown Object", "unknownobject"))
        periods = [Q2, {**Q1, "status": "tobedeleted"}, Q1] if term_id == "T1" else []
        return httpx.Response(200, json={"academicSessions": periods})
    kind, sourced_id = request.url.path.split("/")[-2:]
    if kind == "classes" and sourced_id.startswith("SEC-"):
        return httpx.Response(200, json=_class(sourced_id, "T1", "T2", "T-GONE"))
    if kind == "academicSessions" and sourced_id in ("T1", "T2"):
        start, end = (
            ("2024-08-20", "2025-01-10") if sourced_id == "T1" else ("2025-01-10", "2025-06-01")
        )
        return httpx.Response(200, json=_academic_session(sourced_id, start, end))
    return httpx.Response(404, json=imsx("Unknown Object", "unknownobject"))


async def test_get_class_with_its_school_and_terms() -> None:
    ic = Ic(_rostering)
    ic_class = await ic.client().get_class("SEC-7")
    assert ic_class is not None
    assert (ic_class.sourced_id, ic_class.title, ic_class.school_id) == (
        "SEC-7",
        "Bio SEC-7",
        "SCH-1",
    )
    assert ic_class.terms == (
        IcTerm("T1", "Term T1", date(2024, 8, 20), date(2025, 1, 10)),
        IcTerm("T2", "Term T2", date(2025, 1, 10), date(2025, 6, 1)),
    )  # the term IC no longer has is left out
    # The terms' active grading periods, in date order.
    assert ic_class.grading_periods == (
        IcTerm("Q1", "Term Q1", date(2024, 8, 20), date(2024, 10, 20), "gradingPeriod"),
        IcTerm("Q2", "Term Q2", date(2024, 10, 21), date(2025, 1, 10), "gradingPeriod"),
    )
    paths = [
        r.url.path.removeprefix("/campus/api/oneroster/v1p2/district/ims/oneroster")
        for r in ic.requests
    ]
    assert paths == [
        "/rostering/v1p2/classes/SEC-7",
        "/rostering/v1p2/academicSessions/T1",
        "/rostering/v1p2/terms/T1/gradingPeriods",
        "/rostering/v1p2/academicSessions/T2",
        "/rostering/v1p2/terms/T2/gradingPeriods",
        "/rostering/v1p2/academicSessions/T-GONE",
    ]


async def test_a_class_term_that_is_a_grading_period_is_its_own() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/classes/SEC-7"):
            return httpx.Response(200, json=_class("SEC-7", "Q1"))
        return httpx.Response(200, json={"academicSession": Q1})

    ic = Ic(api)
    ic_class = await ic.client().get_class("SEC-7")
    assert ic_class is not None and [p.sourced_id for p in ic_class.grading_periods] == ["Q1"]
    assert not any(r.url.path.endswith("/gradingPeriods") for r in ic.requests)


async def test_terms_are_cached_across_classes() -> None:
    ic = Ic(_rostering)
    client = ic.client()
    await client.get_class("SEC-7")
    before = len(ic.requests)
    other = await client.get_class("SEC-8")
    assert other is not None and len(other.terms) == 2
    fetched = [r.url.path.rsplit("/", 2)[-2] for r in ic.requests[before:]]
    assert fetched == ["classes", "academicSessions"]  # only the term IC did not have


async def test_unknown_class_is_none() -> None:
    ic = Ic(_rostering)
    assert await ic.client().get_class("NOPE") is None


async def test_list_categories_pages_until_a_short_page() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        q = parse_qs(request.url.query.decode())
        offset, limit = int(q["offset"][0]), int(q["limit"][0])
        count = min(limit, 230 - offset)
        page = [
            {
                "sourcedId": f"CAT-{n}",
                "status": "tobedeleted" if n == 5 else "active",
                "title": f"C{n}",
            }
            for n in range(offset, offset + count)
        ]
        return httpx.Response(200, json={"categories": page})

    ic = Ic(api)
    categories = await ic.client().list_categories("SEC-7")
    assert len(categories) == 229
    assert IcCategory("CAT-4", "C4") in categories and all(
        c.sourced_id != "CAT-5" for c in categories
    )
    assert [parse_qs(r.url.query.decode())["offset"] for r in ic.requests] == [
        ["0"],
        ["100"],
        ["200"],
    ]
    assert all(r.url.path.endswith("/gradebook/v1p2/classes/SEC-7/categories") for r in ic.requests)
    assert all(r.headers["x-vendor-authorization"] == VENDOR for r in ic.requests)


async def test_list_categories_stops_when_the_server_ignores_offset() -> None:
    page = [{"sourcedId": f"CAT-{n}", "status": "active", "title": f"C{n}"} for n in range(100)]

    def api(request: httpx.Request) -> httpx.Response:
        assert len(ic.requests) <= 3, "paging never stops"
        return httpx.Response(200, json={"categories": page})

    ic = Ic(api)
    assert len(await ic.client().list_categories("SEC-7")) == 100
    assert len(ic.requests) == 2


async def test_list_categories_of_an_unknown_class_is_empty() -> None:
    ic = Ic(always(404, json=imsx("Unknown Object", "unknownobject")))
    assert await ic.client().list_categories("NOPE") == []


async def test_unreadable_answer_is_unavailable() -> None:
    ic = Ic(always(200, text="<html>maintenance</html>"))
    with pytest.raises(SisUnavailable):
        await ic.client().get_class("SEC-7")


# -- error bodies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "descriptions", "minors"),
    [
        (imsx("Unknown Object", "unknownobject"), ("Unknown Object",), ("unknownobject",)),
        (
            {
                "imsx_codeMajor": "failure",
                "imsx_codeMinor": {
                    "imsx_codeMinorField": {"imsx_codeMinorFieldValue": "invaliddata"}
                },
            },
            (),
            ("invaliddata",),
        ),
        (
            {"statusInfoSet": [imsx("IC: score too high", "invaliddata"), imsx("IC: late flag")]},
            ("IC: score too high", "IC: late flag"),
            ("invaliddata",),
        ),
        ([imsx("first"), imsx("second", "server_busy")], ("first", "second"), ("server_busy",)),
        ({"statusInfoSet": [{"imsx_codeMajor": "failure", "imsx_severity": "error"}]}, (), ()),
    ],
)
def test_imsx_variants(body: Any, descriptions: tuple[str, ...], minors: tuple[str, ...]) -> None:
    status = parse_imsx(httpx.Response(422, json=body))
    assert status.descriptions == descriptions
    assert status.code_minors == minors


def test_imsx_summary_falls_back_to_code_minors_then_text() -> None:
    assert (
        parse_imsx(httpx.Response(422, json=imsx("Bad score", "invaliddata"))).summary()
        == "Bad score"
    )
    assert (
        parse_imsx(httpx.Response(422, json=imsx(minor="invaliddata"))).summary() == "invaliddata"
    )
    assert parse_imsx(httpx.Response(500, text="Proxy Error\n")).summary() == "Proxy Error"
    assert parse_imsx(httpx.Response(500, text="x" * 1000)).summary() == "x" * 300
    assert parse_imsx(httpx.Response(502)).summary() == "no details"


# -- the bodies against the official schema ------------------------------------------------

_UTC_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def test_line_item_body_is_valid() -> None:
    body = line_item_body(LINE_ITEM, BASE + "/")
    assert problems(line_item_validator(), body) == []
    assert _UTC_Z.match(body["lineItem"]["dateLastModified"])
    assert body["lineItem"]["class"]["href"] == f"{BASE}/rostering/v1p2/classes/SEC-7"


def test_line_item_body_without_points_is_valid_and_dates_keep_their_offset() -> None:
    eastern = timezone(timedelta(hours=-4))
    item = replace(
        LINE_ITEM,
        result_value_max=None,
        due_date=datetime(2024, 10, 17, 23, 59, 59, tzinfo=eastern),
        class_id="SEC 7/A",
    )
    body = line_item_body(item, BASE)
    assert problems(line_item_validator(), body) == []
    assert "resultValueMax" not in body["lineItem"]
    # The plan gives dates the district's offset: a reader keeping the date part gets the 17th.
    assert body["lineItem"]["dueDate"] == "2024-10-17T23:59:59-04:00"
    assert body["lineItem"]["class"]["href"].endswith("/classes/SEC%207%2FA")
    utc = line_item_body(replace(item, due_date=datetime(2024, 10, 18, 3, tzinfo=UTC)), BASE)
    assert utc["lineItem"]["dueDate"] == "2024-10-18T03:00:00Z"


@pytest.mark.parametrize(
    "result",
    [
        RESULT,
        replace(RESULT, score=None, score_status="exempt", late=False),
        replace(RESULT, score=None, score_status="not submitted", missing=True),
        replace(RESULT, score=0.0),
    ],
)
def test_result_body_is_valid(result: Result) -> None:
    body = result_body(result, BASE)
    assert problems(result_validator(), body) == []
    sent = body["result"]
    assert ("score" in sent) == (result.score is not None)
    assert sent["late"] in ("true", "false") and sent["missing"] in ("true", "false")
    assert _UTC_Z.match(sent["dateLastModified"])


def test_the_schema_check_has_teeth() -> None:
    body = result_body(RESULT, BASE)
    body["result"]["late"] = True  # what the YAML's unquoted enum would suggest
    assert problems(result_validator(), body)
    line_item = line_item_body(LINE_ITEM, BASE)
    del line_item["lineItem"]["category"]
    assert problems(line_item_validator(), line_item)
    line_item = line_item_body(LINE_ITEM, BASE)
    line_item["lineItem"]["dueDate"] = "2024-10-18 04:59"
    assert problems(line_item_validator(), line_item)


# -- for gpb check -------------------------------------------------------------------------


async def test_authenticate_fetches_a_token_and_calls_nothing_else() -> None:
    ic = Ic(always(500))
    await ic.client().authenticate()
    assert len(ic.token_requests) == 1 and ic.requests == []


async def test_authenticate_with_wrong_credentials_is_auth_failed() -> None:
    ic = Ic(always(200))
    ic.token_answers.append(httpx.Response(401, json={"error": "invalid_client"}))
    with pytest.raises(SisAuthFailed, match="refused the client credentials"):
        await ic.client().authenticate()


async def test_read_gradebook_reads_one_category_with_the_vendor_key() -> None:
    ic = Ic(always(200, json={"categories": []}))
    await ic.client().read_gradebook()
    (request,) = ic.requests
    assert request.url.path.endswith("/gradebook/v1p2/categories")
    assert request.url.params["limit"] == "1"
    assert request.headers["x-vendor-authorization"] == VENDOR


@pytest.mark.parametrize(
    ("status", "error"), [(401, SisAuthFailed), (403, SisAuthFailed), (404, SisUnavailable)]
)
async def test_read_gradebook_refused(status: int, error: type[Exception]) -> None:
    ic = Ic(always(status, json=imsx("Missing or wrong x-vendor-authorization header")))
    with pytest.raises(error) as caught:
        await ic.client().read_gradebook()
    assert VENDOR not in str(caught.value) and SECRET not in str(caught.value)
