"""The OneRoster stand-in over real HTTP: tokens, vendor key, rostering, strict writes."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from gpb.infra.sandbox.server import RunningSandbox

CREDENTIALS = {"grant_type": "client_credentials"}


def code_minor(answer: httpx.Response) -> str:
    body = answer.json()
    assert body["imsx_codeMajor"] == "failure" and body["imsx_severity"] == "error"
    return str(body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"])


Body = Callable[..., dict[str, Any]]


async def put_line_item(sis: httpx.AsyncClient, line_item: Body) -> None:
    answer = await sis.put("/gradebook/v1p2/lineItems/canvas-a123-s7", json=line_item())
    assert answer.status_code == 201, answer.text


# ---------------------------------------------------------------- tokens and keys


async def test_the_token_endpoint_wants_basic_client_credentials(sandbox: RunningSandbox) -> None:
    settings = sandbox.settings
    good = (settings.sis_client_id, settings.sis_client_secret)
    async with httpx.AsyncClient() as client:
        wrong = await client.post(sandbox.token_url, auth=(good[0], "nope"), data=CREDENTIALS)
        assert wrong.status_code == 401 and wrong.json() == {"error": "invalid_client"}
        in_body = await client.post(
            sandbox.token_url,
            data={**CREDENTIALS, "client_id": good[0], "client_secret": good[1]},
        )
        assert in_body.status_code == 401
        grant = await client.post(sandbox.token_url, auth=good, data={"grant_type": "password"})
        assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"
        issued = await client.post(sandbox.token_url, auth=good, data=CREDENTIALS)
    assert issued.status_code == 200
    assert issued.headers["Cache-Control"] == "no-store"
    token = issued.json()
    assert token["token_type"] == "bearer" and token["expires_in"] == 3600
    assert token["access_token"]


async def test_calls_need_a_live_token(sandbox: RunningSandbox, sis: httpx.AsyncClient) -> None:
    path = "/rostering/v1p2/classes/SEC-7"
    assert (await sis.get(path)).status_code == 200
    async with httpx.AsyncClient(base_url=sandbox.sis_url) as anonymous:
        for headers in ({}, {"Authorization": "Bearer made-up"}):
            refused = await anonymous.get(path, headers=headers)
            assert refused.status_code == 401
            assert code_minor(refused) == "unauthorisedrequest"


async def test_tokens_expire_and_a_new_one_works(
    sandbox: RunningSandbox, sis: httpx.AsyncClient
) -> None:
    sandbox.state.sis_tokens.lifetime_seconds = 0.2
    settings = sandbox.settings
    answer = await sis.post(
        sandbox.token_url,
        auth=(settings.sis_client_id, settings.sis_client_secret),
        data=CREDENTIALS,
    )
    assert answer.json()["expires_in"] == 1
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    path = "/rostering/v1p2/classes/SEC-7"
    assert (await sis.get(path, headers=headers)).status_code == 200
    await asyncio.sleep(0.3)
    expired = await sis.get(path, headers=headers)
    assert expired.status_code == 401
    assert "invalid_token" in expired.headers["WWW-Authenticate"]


async def test_gradebook_calls_need_the_vendor_key_and_rostering_calls_do_not(
    sis: httpx.AsyncClient,
) -> None:
    path = "/gradebook/v1p2/classes/SEC-7/categories"
    for value in (None, "someone-else:secret"):
        headers = {"x-vendor-authorization": value} if value else {}
        request = sis.build_request("GET", path, headers=headers)
        if value is None:
            del request.headers["x-vendor-authorization"]
        refused = await sis.send(request)
        assert refused.status_code == 401 and code_minor(refused) == "unauthorisedrequest"
    rostering = sis.build_request("GET", "/rostering/v1p2/classes/SEC-7")
    del rostering.headers["x-vendor-authorization"]
    assert (await sis.send(rostering)).status_code == 200


# ---------------------------------------------------------------- rostering and reads


async def test_a_class_names_its_school_and_terms(sis: httpx.AsyncClient) -> None:
    found = (await sis.get("/rostering/v1p2/classes/SEC-7")).json()["class"]
    assert found["school"]["sourcedId"] == "SCH-1" and found["school"]["type"] == "org"
    assert [t["sourcedId"] for t in found["terms"]] == ["TERM-2026-27"]
    for path in ("academicSessions", "terms"):
        term = (await sis.get(f"/rostering/v1p2/{path}/TERM-2026-27")).json()["academicSession"]
        assert (term["startDate"], term["endDate"]) == ("2026-08-01", "2027-06-30")
    unknown = await sis.get("/rostering/v1p2/classes/SEC-99")
    assert unknown.status_code == 404 and code_minor(unknown) == "unknownobject"


async def test_class_students_are_the_sis_ids_of_the_canvas_section(
    sis: httpx.AsyncClient,
) -> None:
    answer = await sis.get("/rostering/v1p2/classes/SEC-7/students")
    # Its six, 1208 of Period 2 also in Period 1, and 1214, concluded: IC keeps withdrawn students.
    assert answer.headers["X-Total-Count"] == "8"
    assert answer.json()["users"][0]["sourcedId"] == "S-102938"


async def test_categories_are_per_class(sis: httpx.AsyncClient) -> None:
    answer = await sis.get("/gradebook/v1p2/classes/SEC-8/categories")
    titles = {c["sourcedId"]: c["title"] for c in answer.json()["categories"]}
    assert titles == {"CAT-6": "Homework", "CAT-7": "Tests", "CAT-8": "Quizzes"}


# ---------------------------------------------------------------- writes


async def test_the_design_examples_insert_then_replace(
    sandbox: RunningSandbox, sis: httpx.AsyncClient, line_item: Body, result: Body
) -> None:
    item_path = "/gradebook/v1p2/lineItems/canvas-a123-s7"
    result_path = "/gradebook/v1p2/results/canvas-a123-s7-u1201"
    assert (await sis.put(item_path, json=line_item())).status_code == 201
    assert (await sis.put(item_path, json=line_item(title="Renamed"))).status_code == 200
    assert (await sis.put(result_path, json=result())).status_code == 201
    assert (await sis.put(result_path, json=result(score=10.0))).status_code == 200
    assert (await sis.get(item_path)).json()["lineItem"]["title"] == "Renamed"
    assert (await sis.get(result_path)).json()["result"]["score"] == 10.0
    listed = await sis.get("/gradebook/v1p2/classes/SEC-7/results")
    assert [r["sourcedId"] for r in listed.json()["results"]] == ["canvas-a123-s7-u1201"]
    writes = sandbox.state.ic.writes
    assert [(w.kind, w.status, w.applied) for w in writes] == [
        ("lineItem", 201, True),
        ("lineItem", 200, True),
        ("result", 201, True),
        ("result", 200, True),
    ]
    assert writes[3].body == result(score=10.0)


def _without(body: dict[str, Any], kind: str, field: str) -> dict[str, Any]:
    trimmed = copy.deepcopy(body)
    del trimmed[kind][field]
    return trimmed


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"late": False}, "late"),
        ({"missing": True}, "missing"),
        ({"scoreDate": "2024-10-21T13:10:00Z"}, "scoreDate"),
        ({"dateLastModified": "2024-10-21 13:10"}, "dateLastModified"),
        ({"scoreStatus": "graded"}, "scoreStatus"),
        ({"score": "9.5"}, "score"),
        ({"status": "inactive"}, "status"),
        ({"grade": "A"}, "grade"),
        ({"student": {"sourcedId": "S-102938", "type": "user"}}, "href"),
        ({"student": {"href": "S-102938", "sourcedId": "S-102938", "type": "user"}}, "uri"),
    ],
)
async def test_results_off_the_schema_are_refused(
    sandbox: RunningSandbox,
    sis: httpx.AsyncClient,
    line_item: Body,
    result: Body,
    change: dict[str, Any],
    complaint: str,
) -> None:
    await put_line_item(sis, line_item)
    answer = await sis.put("/gradebook/v1p2/results/canvas-a123-s7-u1201", json=result(**change))
    assert answer.status_code == 422
    assert code_minor(answer) == "invaliddata"
    assert complaint in answer.json()["imsx_description"]
    assert sandbox.state.ic.results == {}
    assert sandbox.state.ic.writes[-1].applied is False


async def test_a_line_item_without_a_required_field_is_refused(
    sis: httpx.AsyncClient, line_item: Body
) -> None:
    body = _without(line_item(), "lineItem", "category")
    answer = await sis.put("/gradebook/v1p2/lineItems/canvas-a123-s7", json=body)
    assert answer.status_code == 422 and "category" in answer.json()["imsx_description"]


async def test_the_path_and_body_name_the_same_record(
    sis: httpx.AsyncClient, line_item: Body
) -> None:
    answer = await sis.put("/gradebook/v1p2/lineItems/canvas-a999-s7", json=line_item())
    assert answer.status_code == 422 and code_minor(answer) == "invaliddata"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        (
            {"class": {"href": "http://x/classes/SEC-9", "sourcedId": "SEC-9", "type": "class"}},
            "unknownobject",
        ),
        (
            {"school": {"href": "http://x/schools/SCH-2", "sourcedId": "SCH-2", "type": "org"}},
            "invaliddata",
        ),
        (
            {"category": {"href": "http://x/c/CAT-6", "sourcedId": "CAT-6", "type": "category"}},
            "unknownobject",
        ),
        (
            {"category": {"href": "http://x/c/CAT-99", "sourcedId": "CAT-99", "type": "category"}},
            "unknownobject",
        ),
        (
            {
                "gradingPeriod": {
                    "href": "http://x/t/T-9",
                    "sourcedId": "T-9",
                    "type": "academicSession",
                }
            },
            "unknownobject",
        ),
    ],
)
async def test_a_line_item_refers_to_what_ic_has(
    sandbox: RunningSandbox,
    sis: httpx.AsyncClient,
    line_item: Body,
    changes: dict[str, Any],
    code: str,
) -> None:
    body = line_item(**changes)
    answer = await sis.put("/gradebook/v1p2/lineItems/canvas-a123-s7", json=body)
    assert answer.status_code == 422 and code_minor(answer) == code
    assert sandbox.state.ic.line_items == {}


async def test_a_result_needs_a_stored_line_item_and_a_student_of_its_class(
    sandbox: RunningSandbox, sis: httpx.AsyncClient, line_item: Body, result: Body
) -> None:
    root = sandbox.sis_url
    path = "/gradebook/v1p2/results/canvas-a123-s7-u1201"
    orphan = await sis.put(path, json=result())
    assert orphan.status_code == 422 and code_minor(orphan) == "unknownobject"
    await put_line_item(sis, line_item)
    other_section = {
        "href": f"{root}/rostering/v1p2/users/S-102944",
        "sourcedId": "S-102944",
        "type": "user",
    }
    stranger = await sis.put(path, json=result(student=other_section))
    assert stranger.status_code == 422 and "not enrolled" in stranger.json()["imsx_description"]


async def test_a_body_that_is_not_json_is_refused(sis: httpx.AsyncClient) -> None:
    answer = await sis.put("/gradebook/v1p2/results/x", content=b"{not json")
    assert answer.status_code == 400 and code_minor(answer) == "invaliddata"


async def test_delete_answers_204_then_404(
    sandbox: RunningSandbox, sis: httpx.AsyncClient, line_item: Body, result: Body
) -> None:
    await put_line_item(sis, line_item)
    path = "/gradebook/v1p2/results/canvas-a123-s7-u1201"
    await sis.put(path, json=result())
    assert (await sis.delete(path)).status_code == 204
    gone = await sis.delete(path)
    assert gone.status_code == 404 and code_minor(gone) == "unknownobject"
    assert (await sis.get(path)).status_code == 404
    assert (await sis.delete("/gradebook/v1p2/lineItems/never")).status_code == 404
    assert [(w.method, w.status) for w in sandbox.state.ic.writes[-3:]] == [
        ("DELETE", 204),
        ("DELETE", 404),
        ("DELETE", 404),
    ]


async def test_a_term_lists_its_grading_periods(sis: httpx.AsyncClient) -> None:
    answer = await sis.get("/rostering/v1p2/terms/TERM-2026-27/gradingPeriods")
    periods = answer.json()["academicSessions"]
    assert [(p["sourcedId"], p["type"]) for p in periods] == [
        ("GP-2026-S1", "gradingPeriod"),
        ("GP-2026-S2", "gradingPeriod"),
    ]
    assert periods[0]["parent"]["sourcedId"] == "TERM-2026-27"
    assert answer.headers["X-Total-Count"] == "2"
    unknown = await sis.get("/rostering/v1p2/terms/T-9/gradingPeriods")
    assert unknown.status_code == 404 and code_minor(unknown) == "unknownobject"


def _period(sourced_id: str) -> dict[str, str]:
    href = f"http://x/rostering/v1p2/academicSessions/{sourced_id}"
    return {"href": href, "sourcedId": sourced_id, "type": "academicSession"}


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        # Due 2026-10-15 in Chicago's offset: inside semester 1.
        (
            {
                "assignDate": "2026-10-05T00:00:00-05:00",
                "dueDate": "2026-10-15T23:59:59-05:00",
                "gradingPeriod": _period("GP-2026-S1"),
            },
            201,
        ),
        (
            {
                "assignDate": "2026-10-05T00:00:00-05:00",
                "dueDate": "2026-10-15T23:59:59-05:00",
                "gradingPeriod": _period("GP-2026-S2"),
            },
            422,
        ),
        ({"assignDate": "2024-10-19T00:00:00Z", "dueDate": "2024-10-18T04:59:59Z"}, 422),
        ({"gradingPeriod": _period("TERM-2026-27")}, 422),
    ],
    ids=["due in its period", "due outside its period", "assigned after due", "not a period"],
)
async def test_line_item_dates_must_suit_ic(
    sis: httpx.AsyncClient, line_item: Body, changes: dict[str, Any], status: int
) -> None:
    answer = await sis.put("/gradebook/v1p2/lineItems/canvas-a123-s7", json=line_item(**changes))
    assert answer.status_code == status, answer.text
