"""The Canvas REST adapter against a mock transport: paths, paging, mapping, failures."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from concurrency import InFlight
from fakes import Sleeps

from gpb.handlers.errors import (
    CanvasAuthFailed,
    CanvasError,
    CanvasNotConfigured,
    CanvasRefused,
    CanvasUnavailable,
)
from gpb.handlers.model import AssignmentChange, OverrideTarget
from gpb.infra.canvas import CanvasClient
from gpb.infra.http_retry import HTTP_RETRY

BASE = "https://district.instructure.test"
TOKEN = "7~canvas-token-that-must-never-leak"


class Canvas:
    """A mock Canvas: records every request and answers through `handler`."""

    def __init__(
        self, handler: Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]
    ) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []
        self.sleeps = Sleeps()

    def __call__(self, request: httpx.Request) -> httpx.Response | Awaitable[httpx.Response]:
        self.requests.append(request)
        return self.handler(request)

    def client(self, *, max_attempts: int = 3) -> CanvasClient:
        return CanvasClient(
            BASE,
            TOKEN,
            retry=replace(HTTP_RETRY, max_attempts=max_attempts, base_seconds=1.0),
            sleep=self.sleeps,
            rand=lambda: 1.0,
            transport=httpx.MockTransport(self),
        )


def query(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(request.url.query.decode())


def answers(*responses: httpx.Response) -> Callable[[httpx.Request], httpx.Response]:
    """A handler answering with the given responses in turn."""
    queue = list(responses)
    return lambda request: queue.pop(0)


def ok(body: Any, **headers: str) -> httpx.Response:
    return httpx.Response(200, json=body, headers=headers)


ASSIGNMENT = {
    "id": 55,
    "course_id": 7,
    "name": "Homework 3.2",
    "workflow_state": "published",
    "assignment_group_id": 12,
    "due_at": "2024-10-18T04:59:59Z",
    "unlock_at": None,
    "created_at": "2024-10-01T12:00:00Z",
    "updated_at": "2024-10-02T12:00:00Z",
    "points_possible": 10.0,
    "grading_type": "points",
    "omit_from_final_grade": True,
    "only_visible_to_overrides": False,
    "post_to_sis": True,
    "overrides": [
        {"id": 1, "course_section_id": 301, "due_at": "2024-10-20T04:59:59Z"},
        {"id": 2, "course_section_id": 302, "unlock_at": "2024-10-05T00:00:00Z"},
        {"id": 3, "course_section_id": 303, "due_at": None},
        {"id": 4, "student_ids": [901, 902], "course_section_id": 301},
        {"id": 5, "group_id": 44, "course_section_id": 302},
        {"id": 6, "noop_id": 1, "title": "Mastery Paths"},
    ],
}


# -- configuration and auth ----------------------------------------------------------------


@pytest.mark.parametrize(("base_url", "token"), [(None, TOKEN), (BASE, None), (BASE, "")])
async def test_every_call_needs_url_and_token(base_url: str | None, token: str | None) -> None:
    canvas = Canvas(answers())
    client = CanvasClient(base_url, token, transport=httpx.MockTransport(canvas))
    calls: list[Awaitable[object]] = [
        client.get_course("7"),
        client.get_assignment("7", "55"),
        client.list_assignments("7"),
        client.list_assignment_groups("7"),
        client.list_sections("7"),
        client.list_student_enrollments("7"),
        client.list_teacher_ids("7"),
        client.get_submission("7", "55", "901"),
        client.list_submissions("7", ["55"]),
        client.send_conversation("7", ["1"], "s", "b"),
    ]
    for call in calls:
        with pytest.raises(CanvasNotConfigured):
            await call
    assert canvas.requests == []


async def test_sends_the_token_as_bearer_under_api_v1() -> None:
    canvas = Canvas(answers(ok({"id": 7, "name": "Bio", "workflow_state": "available"})))
    course = await canvas.client().get_course("7")
    (request,) = canvas.requests
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert str(request.url) == f"{BASE}/api/v1/courses/7"
    assert course is not None and course.published and course.id == "7"


async def test_401_with_www_authenticate_means_the_token_is_invalid_or_expired() -> None:
    refused = httpx.Response(
        401,
        headers={"WWW-Authenticate": 'Bearer realm="canvas-lms"'},
        json={"errors": [{"message": "Invalid access token."}]},
    )
    canvas = Canvas(answers(refused))
    with pytest.raises(CanvasAuthFailed) as caught:
        await canvas.client().get_course("7")
    assert "invalid or expired" in caught.value.message
    assert caught.value.status == 401
    assert len(canvas.requests) == 1  # refusals are not retried
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value)


@pytest.mark.parametrize("status", [401, 403])
async def test_401_or_403_without_rate_limit_means_missing_permission(status: int) -> None:
    body = {"status": "unauthorized", "errors": [{"message": "user not authorized"}]}
    canvas = Canvas(answers(httpx.Response(status, json=body)))
    with pytest.raises(CanvasAuthFailed) as caught:
        await canvas.client().list_sections("7")
    assert "lacks permission" in caught.value.message
    assert "/api/v1/courses/7/sections" in caught.value.message
    assert TOKEN not in str(caught.value)


async def test_403_rate_limit_is_retried_not_an_auth_failure() -> None:
    throttled = httpx.Response(403, text="403 Forbidden (Rate Limit Exceeded)\n")
    course = {"id": 7, "name": "Bio", "workflow_state": "unpublished"}
    canvas = Canvas(answers(throttled, throttled, ok(course)))
    got = await canvas.client().get_course("7")
    assert got is not None and not got.published
    assert len(canvas.requests) == 3
    assert canvas.sleeps.delays == [1.0, 2.0]


async def test_rate_limit_that_never_ends_is_canvas_unavailable() -> None:
    canvas = Canvas(
        lambda r: httpx.Response(429, text="429 Too Many Requests (Rate Limit Exceeded)")
    )
    with pytest.raises(CanvasUnavailable) as caught:
        await canvas.client(max_attempts=4).get_course("7")
    assert "rate-limiting" in caught.value.message
    assert len(canvas.requests) == 4


async def test_server_errors_are_retried_then_succeed() -> None:
    canvas = Canvas(answers(httpx.Response(502), httpx.Response(503), ok([])))
    assert await canvas.client().list_assignment_groups("7") == []
    assert len(canvas.requests) == 3


async def test_server_errors_that_persist_are_canvas_unavailable() -> None:
    canvas = Canvas(lambda r: httpx.Response(503))
    with pytest.raises(CanvasUnavailable) as caught:
        await canvas.client().get_course("7")
    assert caught.value.status == 503
    assert len(canvas.requests) == 3


async def test_retry_after_is_honoured() -> None:
    canvas = Canvas(answers(httpx.Response(503, headers={"Retry-After": "7"}), ok({"id": 7})))
    await canvas.client().get_course("7")
    assert canvas.sleeps.delays == [7.0]


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectTimeout("t"),
        httpx.RemoteProtocolError("Server disconnected"),
        httpx.ReadError("x"),
    ],
)
async def test_network_failures_are_retried_then_unavailable(error: Exception) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    canvas = Canvas(handler)
    with pytest.raises(CanvasUnavailable) as caught:
        await canvas.client().get_course("7")
    assert type(error).__name__ in caught.value.message
    assert len(canvas.requests) == 3


async def test_a_dropped_connection_then_success() -> None:
    outcomes: list[httpx.Response | Exception] = [
        httpx.RemoteProtocolError("dropped"),
        ok({"id": 7}),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    canvas = Canvas(handler)
    assert await canvas.client().get_course("7") is not None
    assert len(canvas.requests) == 2


async def test_slows_down_when_the_rate_limit_bucket_runs_low() -> None:
    canvas = Canvas(
        answers(
            ok({"id": 1}, **{"X-Rate-Limit-Remaining": "650.0"}),
            ok({"id": 1}, **{"X-Rate-Limit-Remaining": "40.5"}),
        )
    )
    client = canvas.client()
    await client.get_course("1")
    assert canvas.sleeps.delays == []
    await client.get_course("1")
    assert canvas.sleeps.delays == [pytest.approx((100 - 40.5) / 10)]


async def test_unexpected_client_error_is_a_canvas_error_without_the_token() -> None:
    echo = httpx.Response(400, text=f"bad request for token {TOKEN}")
    canvas = Canvas(answers(echo))
    with pytest.raises(CanvasError) as caught:
        await canvas.client().list_sections("7")
    assert type(caught.value) is CanvasError
    assert caught.value.status == 400
    assert TOKEN not in str(caught.value)


async def test_close_and_context_manager() -> None:
    canvas = Canvas(answers(ok({"id": 7})))
    async with canvas.client() as client:
        await client.get_course("7")
    with pytest.raises(RuntimeError):
        await client.get_course("7")


# -- paging --------------------------------------------------------------------------------


async def test_follows_link_next_over_three_pages() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(query(request).get("page", ["1"])[0])
        headers = {}
        if page < 3:
            nxt = f"{BASE}/api/v1/courses/7/assignment_groups?page={page + 1}&per_page=100"
            headers["Link"] = f'<{nxt}>; rel="next", <{BASE}/api/v1/x?page=1>; rel="first"'
        return ok([{"id": page * 10 + i, "name": f"G{page}.{i}"} for i in range(2)], **headers)

    canvas = Canvas(handler)
    groups = await canvas.client().list_assignment_groups("7")
    assert [g.id for g in groups] == ["10", "11", "20", "21", "30", "31"]
    assert all(g.course_id == "7" for g in groups)
    assert len(canvas.requests) == 3
    assert query(canvas.requests[0])["per_page"] == ["100"]
    assert [query(r).get("page") for r in canvas.requests] == [None, ["2"], ["3"]]
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in canvas.requests)


async def test_never_follows_a_next_link_to_another_host() -> None:
    link = '<https://elsewhere.test/api/v1/courses/7/sections?page=2>; rel="next"'
    canvas = Canvas(answers(ok([{"id": 1, "name": "A"}], Link=link)))
    with pytest.raises(CanvasError, match="another host"):
        await canvas.client().list_sections("7")
    assert len(canvas.requests) == 1


async def test_a_list_of_a_missing_course_is_an_error_not_empty() -> None:
    canvas = Canvas(answers(httpx.Response(404, json={"errors": [{"message": "not found"}]})))
    with pytest.raises(CanvasError) as caught:
        await canvas.client().list_assignments("7")
    assert caught.value.status == 404


# -- mapping -------------------------------------------------------------------------------


async def test_get_assignment_asks_for_overrides_and_base_dates() -> None:
    canvas = Canvas(answers(ok(ASSIGNMENT)))
    assignment = await canvas.client().get_assignment("7", "55")
    (request,) = canvas.requests
    assert request.url.path == "/api/v1/courses/7/assignments/55"
    assert query(request) == {
        "include[]": ["overrides", "checkpoints"],
        "override_assignment_dates": ["false"],
    }
    assert assignment is not None
    assert assignment.id == "55" and assignment.course_id == "7"
    assert assignment.title == "Homework 3.2"
    assert assignment.published and assignment.post_to_sis and not assignment.deleted
    assert assignment.assignment_group_id == "12"
    assert assignment.due_at == datetime(2024, 10, 18, 4, 59, 59, tzinfo=UTC)
    assert assignment.unlock_at is None
    assert assignment.created_at == datetime(2024, 10, 1, 12, tzinfo=UTC)
    assert assignment.points_possible == 10.0
    assert assignment.omit_from_final_grade and not assignment.only_visible_to_overrides


async def test_override_dates_and_targets() -> None:
    canvas = Canvas(answers(ok(ASSIGNMENT)))
    assignment = await canvas.client().get_assignment("7", "55")
    assert assignment is not None
    by_id = {o.id: o for o in assignment.overrides}
    assert list(by_id) == ["1", "2", "3", "4", "5", "6"]

    dated, undated, cleared = by_id["1"], by_id["2"], by_id["3"]
    assert dated.target is OverrideTarget.SECTION and dated.section_id == "301"
    assert dated.due_at == datetime(2024, 10, 20, 4, 59, 59, tzinfo=UTC) and dated.due_at_set
    assert undated.due_at is None and not undated.due_at_set  # keeps the base date
    assert undated.unlock_at == datetime(2024, 10, 5, tzinfo=UTC) and undated.unlock_at_set
    assert dated.unlock_at is None and not dated.unlock_at_set
    assert cleared.due_at is None and cleared.due_at_set  # removes the date

    students, group, noop = by_id["4"], by_id["5"], by_id["6"]
    assert students.target is OverrideTarget.STUDENTS
    assert students.student_ids == ("901", "902") and students.section_id is None
    assert group.target is OverrideTarget.GROUP
    assert group.group_id == "44" and group.section_id is None
    assert noop.target is OverrideTarget.STUDENTS


async def test_course_override_is_everyone_and_visibility_is_read() -> None:
    # The Assign To tray's "Everyone": an override of the course (lib/api/v1/assignment_override.rb
    # answers `course_id` for set_type "Course").
    data = {
        **ASSIGNMENT,
        "due_at": None,
        "only_visible_to_overrides": True,
        "visible_to_everyone": True,
        "overrides": [
            {"id": 9, "course_id": 7, "title": "Everyone", "due_at": "2024-10-18T04:59:59Z"}
        ],
    }
    assignment = await Canvas(answers(ok(data))).client().get_assignment("7", "55")
    assert assignment is not None and assignment.visible_to_everyone is True
    (everyone,) = assignment.overrides
    assert everyone.target is OverrideTarget.COURSE
    assert everyone.due_at == datetime(2024, 10, 18, 4, 59, 59, tzinfo=UTC) and everyone.due_at_set
    unsaid = await Canvas(answers(ok(ASSIGNMENT))).client().get_assignment("7", "55")
    assert unsaid is not None and unsaid.visible_to_everyone is None


async def test_checkpointed_discussion_is_due_when_its_last_checkpoint_is() -> None:
    # `include[]=checkpoints`: the discussion's own due_at is empty, each checkpoint has its own
    # date and overrides (lib/api/v1/assignment.rb, `has_sub_assignments`, `checkpoints`).
    data = {
        **ASSIGNMENT,
        "due_at": None,
        "overrides": [],
        "has_sub_assignments": True,
        "checkpoints": [
            {
                "name": "Reply to Topic",
                "tag": "reply_to_topic",
                "points_possible": 5,
                "due_at": "2024-10-10T04:59:59Z",
                "only_visible_to_overrides": False,
                "overrides": [
                    {"id": 1, "course_section_id": 301, "due_at": "2024-10-12T04:59:59Z"},
                    {"id": 2, "course_section_id": 302, "due_at": "2024-10-13T04:59:59Z"},
                ],
            },
            {
                "name": "Required Replies",
                "tag": "reply_to_entry",
                "points_possible": 5,
                "due_at": "2024-10-17T04:59:59Z",
                "only_visible_to_overrides": False,
                "overrides": [{"id": 3, "course_section_id": 302, "due_at": None}],
            },
        ],
    }
    assignment = await Canvas(answers(ok(data))).client().get_assignment("7", "55")
    assert assignment is not None
    assert assignment.due_at == datetime(2024, 10, 17, 4, 59, 59, tzinfo=UTC)
    by_section = {o.section_id: o for o in assignment.overrides}
    # 301: its first-checkpoint date, then the second checkpoint's own, later date.
    assert by_section["301"].due_at == datetime(2024, 10, 17, 4, 59, 59, tzinfo=UTC)
    # 302: the second checkpoint takes its date away.
    assert by_section["302"].due_at is None and by_section["302"].due_at_set


async def test_assignment_defaults_when_fields_are_absent() -> None:
    sparse = {"id": 56, "name": "Quiz", "workflow_state": "unpublished", "due_at": "garbage"}
    canvas = Canvas(answers(ok(sparse)))
    assignment = await canvas.client().get_assignment("7", "56")
    assert assignment is not None
    assert not assignment.published
    assert not assignment.post_to_sis  # absent when the SIS feature is off
    assert assignment.course_id == "7"
    assert assignment.due_at is None and assignment.points_possible is None
    assert assignment.grading_type == "points" and assignment.overrides == ()


async def test_published_flag_wins_over_workflow_state() -> None:
    data = {**ASSIGNMENT, "published": False, "workflow_state": "published"}
    canvas = Canvas(answers(ok(data)))
    assignment = await canvas.client().get_assignment("7", "55")
    assert assignment is not None and not assignment.published


async def test_deleted_assignment_is_none() -> None:
    canvas = Canvas(answers(httpx.Response(404, json={"errors": [{"message": "not found"}]})))
    assert await canvas.client().get_assignment("7", "55") is None


async def test_list_assignments_uses_the_same_includes() -> None:
    canvas = Canvas(answers(ok([ASSIGNMENT, {**ASSIGNMENT, "id": 57}])))
    assignments = await canvas.client().list_assignments("7")
    assert [a.id for a in assignments] == ["55", "57"]
    q = query(canvas.requests[0])
    assert q["include[]"] == ["overrides", "checkpoints"]
    assert q["override_assignment_dates"] == ["false"]


async def test_sections_with_student_counts() -> None:
    sections = [
        {"id": 301, "course_id": 7, "name": "P1", "sis_section_id": "SEC-1", "total_students": 12},
        {"id": 302, "course_id": 7, "name": "P2", "sis_section_id": None, "total_students": 0},
        {"id": 303, "course_id": 7, "name": "P3", "sis_section_id": ""},
    ]
    canvas = Canvas(answers(ok(sections)))
    got = await canvas.client().list_sections("7")
    assert query(canvas.requests[0])["include[]"] == ["total_students"]
    assert [(s.id, s.sis_section_id, s.student_count) for s in got] == [
        ("301", "SEC-1", 12),
        ("302", None, 0),
        ("303", None, 0),
    ]


async def test_student_enrollments() -> None:
    enrollments = [
        {
            "user_id": 901,
            "course_section_id": 301,
            "sis_user_id": "S-1",
            "type": "StudentEnrollment",
        },
        {
            "user_id": 901,
            "course_section_id": 302,
            "sis_user_id": "S-1",
            "type": "StudentEnrollment",
        },
        {"user_id": 902, "course_section_id": 301, "type": "StudentEnrollment"},
        # Re-added after a conclusion: the current enrollment counts.
        {"user_id": 903, "course_section_id": 301, "enrollment_state": "completed"},
        {"user_id": 903, "course_section_id": 301, "enrollment_state": "active"},
        {"user_id": 904, "course_section_id": 302, "enrollment_state": "inactive"},
    ]
    canvas = Canvas(answers(ok(enrollments)))
    got = await canvas.client().list_student_enrollments("7")
    (request,) = canvas.requests
    assert request.url.path == "/api/v1/courses/7/enrollments"
    assert query(request)["type[]"] == ["StudentEnrollment"]
    # Every state that tells a student who left from a grade removed; deleted, rejected and
    # pending enrollments are not read: such a student is no longer (or not yet) in the section.
    assert query(request)["state[]"] == ["active", "invited", "completed", "inactive"]
    assert [(e.user_id, e.section_id, e.sis_user_id, e.state) for e in got] == [
        ("901", "301", "S-1", "active"),
        ("901", "302", "S-1", "active"),
        ("902", "301", None, "active"),
        ("903", "301", None, "active"),
        ("904", "302", None, "inactive"),
    ]


async def test_teacher_ids_are_unique() -> None:
    teachers = [{"user_id": 5, "course_section_id": 301}, {"user_id": 6}, {"user_id": 5}]
    canvas = Canvas(answers(ok(teachers)))
    assert await canvas.client().list_teacher_ids("7") == ["5", "6"]
    assert query(canvas.requests[0])["type[]"] == ["TeacherEnrollment"]
    assert query(canvas.requests[0])["state[]"] == ["active"]


SUBMISSION = {
    "assignment_id": 55,
    "user_id": 901,
    "score": 9.5,
    "grade": "9.5",
    "excused": False,
    "late": True,
    "missing": False,
    "posted_at": None,
    "graded_at": "2024-10-21T13:10:00Z",
}


async def test_get_submission() -> None:
    canvas = Canvas(answers(ok(SUBMISSION)))
    submission = await canvas.client().get_submission("7", "55", "901")
    assert canvas.requests[0].url.path == "/api/v1/courses/7/assignments/55/submissions/901"
    assert submission is not None
    assert (submission.assignment_id, submission.user_id) == ("55", "901")
    assert submission.score == 9.5 and submission.grade == "9.5"
    assert submission.late and not submission.missing and not submission.excused
    assert not submission.posted  # posted_at null: hidden from the student
    assert submission.graded_at == datetime(2024, 10, 21, 13, 10, tzinfo=UTC)


async def test_excused_and_posted_submission() -> None:
    excused = {**SUBMISSION, "score": None, "grade": None, "excused": True, "late": False}
    canvas = Canvas(answers(ok({**excused, "posted_at": "2024-10-22T00:00:00Z"})))
    submission = await canvas.client().get_submission("7", "55", "901")
    assert submission is not None
    assert submission.excused and submission.score is None and submission.grade is None
    assert submission.posted


async def test_missing_submission_is_none() -> None:
    canvas = Canvas(answers(httpx.Response(404, json={"errors": [{"message": "not found"}]})))
    assert await canvas.client().get_submission("7", "55", "901") is None


async def test_list_submissions_spreads_the_assignments_over_a_few_reads_of_at_most_100() -> None:
    in_flight = InFlight()

    async def handler(request: httpx.Request) -> httpx.Response:
        await in_flight.call()
        ids = query(request)["assignment_ids[]"]
        return ok([{**SUBMISSION, "assignment_id": int(ids[0])}])

    canvas = Canvas(handler)
    few = [str(n) for n in range(1, 251)]
    submissions = await canvas.client().list_submissions("7", few)
    assert [s.assignment_id for s in submissions] == ["1", "64", "127", "190"]  # in order
    assert sorted(len(query(r)["assignment_ids[]"]) for r in canvas.requests) == [61, 63, 63, 63]
    assert sorted(a for r in canvas.requests for a in query(r)["assignment_ids[]"]) == sorted(few)
    assert in_flight.most == 4

    canvas = Canvas(handler)
    many = [str(n) for n in range(1, 651)]
    await canvas.client().list_submissions("7", many)
    assert sorted(len(query(r)["assignment_ids[]"]) for r in canvas.requests) == [50] + [100] * 6
    assert in_flight.most == 4  # never more in flight
    for request in canvas.requests:
        assert request.url.path == "/api/v1/courses/7/students/submissions"
        assert query(request)["student_ids[]"] == ["all"]
        assert query(request)["per_page"] == ["100"]


async def test_list_submissions_of_no_assignments_asks_nothing() -> None:
    canvas = Canvas(answers())
    assert await canvas.client().list_submissions("7", []) == []
    assert canvas.requests == []


# -- conversations -------------------------------------------------------------------------


async def test_send_conversation_form() -> None:
    canvas = Canvas(answers(httpx.Response(201, json=[{"id": 1}])))
    await canvas.client().send_conversation("7", ["5", "6"], "Passback alert", "Fix it")
    (request,) = canvas.requests
    assert request.method == "POST" and request.url.path == "/api/v1/conversations"
    form = parse_qs(request.content.decode())
    assert form == {
        "recipients[]": ["5", "6"],
        "subject": ["Passback alert"],
        "body": ["Fix it"],
        "context_code": ["course_7"],
        "force_new": ["true"],
        "group_conversation": ["false"],
    }


async def test_send_conversation_to_nobody_sends_nothing() -> None:
    canvas = Canvas(answers())
    await canvas.client().send_conversation("7", [], "s", "b")
    assert canvas.requests == []


async def test_a_conversation_is_not_resent_after_a_server_error() -> None:
    canvas = Canvas(lambda r: httpx.Response(502))
    with pytest.raises(CanvasUnavailable):
        await canvas.client().send_conversation("7", ["5"], "s", "b")
    assert len(canvas.requests) == 1  # Canvas may have sent it already


async def test_a_conversation_is_not_resent_after_a_read_timeout() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow")

    canvas = Canvas(handler)
    with pytest.raises(CanvasUnavailable):
        await canvas.client().send_conversation("7", ["5"], "s", "b")
    assert len(canvas.requests) == 1


async def test_a_throttled_conversation_is_retried() -> None:
    throttled = httpx.Response(403, text="403 Forbidden (Rate Limit Exceeded)")
    canvas = Canvas(answers(throttled, httpx.Response(201, json=[])))
    await canvas.client().send_conversation("7", ["5"], "s", "b")
    assert len(canvas.requests) == 2


# -- for gpb check -------------------------------------------------------------------------


async def test_whoami_names_the_tokens_user() -> None:
    canvas = Canvas(lambda request: ok({"id": 1, "name": "gpb integration", "login_id": "gpb"}))
    user = await canvas.client().whoami()
    assert user is not None and (user.id, user.name) == ("1", "gpb integration")
    (request,) = canvas.requests
    assert request.url.path == "/api/v1/users/self"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


async def test_whoami_without_a_canvas_api_is_none() -> None:
    canvas = Canvas(lambda request: httpx.Response(404, text="Not Found"))
    assert await canvas.client().whoami() is None


# -- writes: the fixes ---------------------------------------------------------------------


async def test_update_assignment_sends_canvas_form_fields_and_masquerades() -> None:
    canvas = Canvas(lambda request: ok({**ASSIGNMENT, "name": "HW 3.2"}))
    change = AssignmentChange(
        name="HW 3.2", published=True, due_at=datetime(2024, 10, 18, 4, 59, tzinfo=UTC)
    )
    updated = await canvas.client().update_assignment("7", "55", change, "789")
    assert updated.title == "HW 3.2"
    (request,) = canvas.requests
    assert (request.method, request.url.path) == ("PUT", "/api/v1/courses/7/assignments/55")
    assert parse_qs(request.content.decode()) == {
        "assignment[name]": ["HW 3.2"],
        "assignment[published]": ["true"],
        "assignment[due_at]": ["2024-10-18T04:59:00Z"],
        "as_user_id": ["789"],
    }


async def test_a_section_date_goes_to_its_override_or_makes_one() -> None:
    canvas = Canvas(lambda request: ok({"id": 9}))
    client = canvas.client()
    due = datetime(2024, 10, 20, 18, 0, tzinfo=UTC)
    await client.set_section_due_at("7", "55", "301", "1", due, None)
    await client.set_section_due_at("7", "55", "302", None, due, None)
    put, post = canvas.requests
    assert (put.method, put.url.path) == ("PUT", "/api/v1/courses/7/assignments/55/overrides/1")
    assert parse_qs(put.content.decode()) == {
        "assignment_override[due_at]": ["2024-10-20T18:00:00Z"]
    }
    assert (post.method, post.url.path) == ("POST", "/api/v1/courses/7/assignments/55/overrides")
    assert parse_qs(post.content.decode())["assignment_override[course_section_id]"] == ["302"]


async def test_rename_assignment_group() -> None:
    canvas = Canvas(lambda request: ok({"id": 12, "name": "Homework"}))
    group = await canvas.client().rename_assignment_group("7", "12", "Homework", None)
    assert (group.id, group.name) == ("12", "Homework")
    (request,) = canvas.requests
    assert request.url.path == "/api/v1/courses/7/assignment_groups/12"
    assert parse_qs(request.content.decode()) == {"name": ["Homework"]}


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (
            400,
            {
                "errors": {
                    "due_at": [
                        {"attribute": "due_at", "message": "must be between availability dates"}
                    ]
                }
            },
            "due at must be between availability dates",
        ),
        (401, {"errors": "Invalid as_user_id"}, "Invalid as_user_id"),
        (
            401,
            {
                "status": "unauthorized",
                "errors": [{"message": "user not authorized to perform that action"}],
            },
            "user not authorized to perform that action",
        ),
        (
            404,
            {"errors": [{"message": "The specified resource does not exist."}]},
            "does not exist",
        ),
    ],
)
async def test_a_refusal_carries_canvas_reason_in_words(
    status: int, body: dict[str, Any], reason: str
) -> None:
    canvas = Canvas(lambda request: httpx.Response(status, json=body))
    with pytest.raises(CanvasRefused) as refused:
        await canvas.client().update_assignment("7", "55", AssignmentChange(published=True), "789")
    assert reason in refused.value.message
    assert TOKEN not in refused.value.message
    assert len(canvas.requests) == 1


async def test_a_write_is_not_resent_after_an_ambiguous_failure() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow")

    for handler in (lambda r: httpx.Response(500), timeout):
        canvas = Canvas(handler)
        with pytest.raises(CanvasUnavailable) as failed:
            await canvas.client().update_assignment("7", "55", AssignmentChange(name="x"), None)
        assert "may or may not have made the change" in failed.value.message
        assert len(canvas.requests) == 1


async def test_a_write_that_never_left_or_was_throttled_is_sent_again() -> None:
    throttled = httpx.Response(403, text="403 Forbidden (Rate Limit Exceeded)")
    attempts = iter([httpx.ConnectError("refused"), throttled, ok(ASSIGNMENT)])

    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(attempts)
        if isinstance(answer, Exception):
            raise answer
        return answer

    canvas = Canvas(handler)
    await canvas.client().update_assignment("7", "55", AssignmentChange(name="x"), None)
    assert len(canvas.requests) == 3


async def test_an_invalid_token_is_still_an_auth_failure_on_a_write() -> None:
    invalid = httpx.Response(
        401,
        json={"errors": [{"message": "Invalid access token."}]},
        headers={"WWW-Authenticate": 'Bearer realm="canvas-lms"'},
    )
    canvas = Canvas(lambda request: invalid)
    with pytest.raises(CanvasAuthFailed):
        await canvas.client().update_assignment("7", "55", AssignmentChange(name="x"), None)
