"""The Canvas stand-in over real HTTP: auth, pagination, shapes, and the traps Canvas sets."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from gpb.infra.sandbox.faults import FaultConfig
from gpb.infra.sandbox.server import RunningSandbox
from gpb.infra.sandbox.state import Checkpoint, Enrollment, Override, User

STRING_IDS = {"Accept": "application/json+canvas-string-ids"}


def links(answer: httpx.Response) -> dict[str, str]:
    return {str(rel): str(link["url"]) for rel, link in answer.links.items()}


async def test_a_missing_or_wrong_token_is_refused_with_www_authenticate(
    sandbox: RunningSandbox,
) -> None:
    async with httpx.AsyncClient(base_url=sandbox.canvas_url) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            answer = await client.get("/courses/456", headers=headers)
            assert answer.status_code == 401
            assert answer.headers["WWW-Authenticate"].startswith("Bearer")
            assert answer.json()["errors"][0]["message"]
        token = sandbox.settings.canvas_token
        assert (await client.get("/courses/456", params={"access_token": token})).is_success


async def test_lists_are_paginated_with_absolute_link_urls(
    canvas: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    url: str | None = "/courses/456/enrollments?type[]=StudentEnrollment&per_page=5"
    seen: list[int] = []
    pages = 0
    while url:
        answer = await canvas.get(url)
        assert answer.status_code == 200
        rels = links(answer)
        assert {"current", "first", "last"} <= rels.keys()
        assert all(link.startswith(sandbox.canvas_url) for link in rels.values())
        seen += [e["user_id"] for e in answer.json()]
        url = rels.get("next")
        pages += 1
    assert pages == 3
    # 1208 is in both sections; 1214 was concluded, so not listed without state[].
    assert sorted(seen) == sorted([*range(1201, 1214), 1208])


async def test_ten_per_page_by_default_and_at_most_a_hundred(
    canvas: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    world = sandbox.state.canvas
    for n in range(2000, 2110):
        world.users[str(n)] = User(id=str(n), name=f"Student {n}", sis_user_id=f"S-{n}")
        world.enroll(str(n), world.sections["8"], "StudentEnrollment")
    first = await canvas.get("/courses/456/enrollments")
    assert len(first.json()) == 10
    capped = await canvas.get("/courses/456/enrollments", params={"per_page": 1000})
    assert len(capped.json()) == 100
    assert "per_page=100" in links(capped)["next"]


async def test_the_access_token_is_not_carried_into_links(sandbox: RunningSandbox) -> None:
    params = {"access_token": sandbox.settings.canvas_token, "per_page": "2"}
    async with httpx.AsyncClient(base_url=sandbox.canvas_url) as client:
        answer = await client.get("/courses/456/sections", params=params)
    assert "access_token" not in answer.headers["Link"]


async def test_ids_are_numbers_unless_strings_are_asked_for(canvas: httpx.AsyncClient) -> None:
    numbers = (await canvas.get("/courses/456/assignments/123")).json()
    assert numbers["id"] == 123 and numbers["assignment_group_id"] == 311
    strings = (await canvas.get("/courses/456/assignments/123", headers=STRING_IDS)).json()
    assert strings["id"] == "123" and strings["course_id"] == "456"


async def test_global_and_sis_ids_name_the_same_records(canvas: httpx.AsyncClient) -> None:
    by_global = await canvas.get(
        "/courses/10000000000456/assignments/10000000000123/submissions/10000000001201"
    )
    by_sis = await canvas.get(
        "/courses/sis_course_id:2024FA-MATH-101-01/assignments/123/submissions/sis_user_id:S-102938"
    )
    assert by_global.json() == by_sis.json()
    assert by_global.json()["score"] == 8.0


async def test_a_deleted_assignment_is_404_and_no_longer_listed(
    canvas: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    assert (await control.delete("/canvas/assignments/123")).status_code == 204
    assert (await canvas.get("/courses/456/assignments/123")).status_code == 404
    listed = await canvas.get("/courses/456/assignments", params={"per_page": 100})
    assert 123 not in [a["id"] for a in listed.json()]


async def test_overrides_show_only_the_dates_they_set(canvas: httpx.AsyncClient) -> None:
    answer = await canvas.get("/courses/456/assignments/125", params={"include[]": "overrides"})
    overrides = answer.json()["overrides"]
    assert [(o["id"], o["course_section_id"]) for o in overrides] == [(46, 7), (47, 8)]
    assert all("due_at" in o and "unlock_at" not in o for o in overrides)
    student = (
        await canvas.get("/courses/456/assignments/128", params={"include[]": "overrides"})
    ).json()["overrides"][0]
    assert student["student_ids"] == [1203] and "course_section_id" not in student


async def test_dates_are_collapsed_for_the_caller_unless_asked_for_the_base_ones(
    canvas: httpx.AsyncClient,
) -> None:
    collapsed = (await canvas.get("/courses/456/assignments/128")).json()
    assert collapsed["due_at"] == "2026-11-20T05:59:59Z"  # the student override, most lenient
    base = await canvas.get(
        "/courses/456/assignments/128", params={"override_assignment_dates": "false"}
    )
    assert base.json()["due_at"] == "2026-11-13T05:59:59Z"


async def test_all_dates_lists_each_override_and_everyone_else(canvas: httpx.AsyncClient) -> None:
    answer = await canvas.get("/courses/456/assignments/125", params={"include[]": "all_dates"})
    dates = answer.json()["all_dates"]
    assert [d.get("id", "base") for d in dates] == [46, 47, "base"]
    assert dates[2]["title"] == "Everyone else" and dates[2]["due_at"] is None


async def test_assignments_can_be_chosen_by_id_up_to_a_hundred(canvas: httpx.AsyncClient) -> None:
    chosen = await canvas.get("/courses/456/assignments?assignment_ids[]=124&assignment_ids[]=127")
    assert [a["id"] for a in chosen.json()] == [124, 127]
    too_many = "&".join(f"assignment_ids[]={n}" for n in range(101))
    assert (await canvas.get(f"/courses/456/assignments?{too_many}")).status_code == 400


async def test_sections_carry_sis_ids_and_student_counts(canvas: httpx.AsyncClient) -> None:
    answer = await canvas.get("/courses/456/sections", params={"include[]": "total_students"})
    found = {(s["id"], s["sis_section_id"], s["total_students"]) for s in answer.json()}
    assert found == {(7, "SEC-7", 7), (8, "SEC-8", 7)}  # active students: 1208 in both


async def test_enrollments_filter_by_type_and_state(
    canvas: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    teachers = await canvas.get("/courses/456/enrollments", params={"type[]": "TeacherEnrollment"})
    assert {(e["user_id"], e["course_section_id"]) for e in teachers.json()} == {(789, 7), (789, 8)}
    first = sandbox.state.canvas.enrollments["1"]
    sandbox.state.canvas.enrollments["1"] = Enrollment.model_validate(
        first.model_dump() | {"enrollment_state": "completed"}
    )
    active = await canvas.get(
        "/courses/456/enrollments",
        params={"type[]": "StudentEnrollment", "state[]": "active", "per_page": 100},
    )
    assert len(active.json()) == 13
    concluded = await canvas.get(
        "/courses/456/enrollments",
        params={"type[]": "StudentEnrollment", "state[]": ["completed", "inactive"]},
    )
    assert {e["user_id"] for e in concluded.json()} == {1201, 1214}
    assert {e["enrollment_state"] for e in concluded.json()} == {"completed"}
    assert 1201 not in {e["user_id"] for e in active.json()}
    assert {e["type"] for e in active.json()} == {"StudentEnrollment"}


async def test_bulk_submissions_know_only_published_assignments(canvas: httpx.AsyncClient) -> None:
    refused = await canvas.get(
        "/courses/456/students/submissions",
        params={"student_ids[]": "all", "assignment_ids[]": "126"},
    )
    assert refused.status_code == 403
    assert refused.json() == {"error": "invalid assignment ids requested"}
    everything = await canvas.get(
        "/courses/456/students/submissions", params={"student_ids[]": "all", "per_page": 100}
    )
    assert 126 not in {s["assignment_id"] for s in everything.json()}


async def test_bulk_submissions_cover_every_assigned_student(canvas: httpx.AsyncClient) -> None:
    answer = await canvas.get(
        "/courses/456/students/submissions",
        params={"student_ids[]": "all", "assignment_ids[]": "123", "per_page": 100},
    )
    by_user = {s["user_id"]: s for s in answer.json()}
    assert len(by_user) == 14  # 1214, concluded, too: Canvas lists all but deleted enrollments
    assert by_user[1201]["score"] == 8.0 and by_user[1201]["workflow_state"] == "graded"
    assert by_user[1203]["excused"] is True and by_user[1203]["score"] is None
    assert by_user[1204]["missing"] is True
    assert by_user[1208]["posted_at"] is None
    assert by_user[1212]["workflow_state"] == "unsubmitted"


async def test_bulk_submissions_built_page_by_page_are_the_whole_list_cut(
    canvas: httpx.AsyncClient,
) -> None:
    """Without a filter only the page asked is built; `order_direction=ascending` builds the whole
    list first and changes nothing else, so both ways must give the same pages and links."""

    async def pages(**extra: str) -> tuple[list[tuple[int, int]], list[str]]:
        found: list[tuple[int, int]] = []
        lasts: list[str] = []
        for number in range(1, 30):
            params = {"student_ids[]": "all", "per_page": "7", "page": str(number), **extra}
            answer = await canvas.get("/courses/456/students/submissions", params=params)
            found += [(s["assignment_id"], s["user_id"]) for s in answer.json()]
            lasts.append(links(answer)["last"].replace("&order_direction=ascending", ""))
            if "next" not in links(answer):
                break
        return found, lasts

    lazily, lazy_lasts = await pages()
    whole, whole_lasts = await pages(order_direction="ascending")
    assert len(lazily) > 7 * 3  # several pages, one cut inside an assignment's students
    assert lazily == whole and len(set(lazily)) == len(lazily)
    assert lazy_lasts == whole_lasts


async def test_all_grades_of_one_assignment(canvas: httpx.AsyncClient) -> None:
    answer = await canvas.get(
        "/courses/456/assignments/124/submissions", params={"include[]": "user", "per_page": 50}
    )
    graded = {s["user"]["sis_user_id"]: s["score"] for s in answer.json() if s["score"]}
    assert graded == {"S-102938": 9.0, "S-102944": 6.0}


async def test_a_submission_of_someone_not_in_the_course_is_404(canvas: httpx.AsyncClient) -> None:
    assert (await canvas.get("/courses/456/assignments/123/submissions/789")).status_code == 404


async def test_conversations_are_recorded(
    canvas: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    sent = await canvas.post(
        "/conversations",
        json={
            "recipients": ["789"],
            "subject": "Homework 3.2 will not sync",
            "body": "The title is 5 characters too long.",
            "context_code": "course_456",
        },
    )
    assert sent.status_code == 201
    assert sent.json()[0]["audience"] == [789]
    form = await canvas.post(
        "/conversations",
        data={"recipients[]": "course_456_teachers", "body": "Another notice", "subject": "x"},
    )
    assert form.status_code == 201
    recorded = (await control.get("/canvas/conversations")).json()
    assert [(c["recipients"], c["context_code"]) for c in recorded] == [
        (["789"], "course_456"),
        (["789"], None),
    ]
    assert (await canvas.post("/conversations", json={"recipients": ["789"]})).status_code == 400


async def test_rate_limiting_answers_403_with_the_remaining_budget(
    canvas: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    sandbox.state.canvas_faults.configure(FaultConfig(script=["rate_limit", "server_error"]))
    limited = await canvas.get("/courses/456")
    assert limited.status_code == 403
    assert "Rate Limit Exceeded" in limited.text
    assert limited.headers["X-Rate-Limit-Remaining"] == "0.0"
    assert (await canvas.get("/courses/456")).status_code == 500
    ok = await canvas.get("/courses/456")
    assert ok.status_code == 200 and "X-Request-Cost" in ok.headers


@pytest.mark.parametrize(
    "path",
    ["/courses/999", "/courses/456/assignments/999", "/courses/456/nothing", "/nothing"],
)
async def test_unknown_things_are_404_with_canvas_errors(
    canvas: httpx.AsyncClient, path: str
) -> None:
    answer = await canvas.get(path)
    assert answer.status_code == 404
    assert answer.json()["errors"][0]["message"]


async def test_a_course_override_is_everyone_as_canvas_answers_it(
    canvas: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    # The Assign To tray's "Everyone": Canvas answers an override naming the course.
    assignment = sandbox.state.canvas.assignments["126"]
    assignment.only_visible_to_overrides = True
    assignment.overrides = [Override(id="60", course_id="456", due_at=assignment.due_at)]
    answer = await canvas.get("/courses/456/assignments/126", params={"include[]": "overrides"})
    data = answer.json()
    (everyone,) = data["overrides"]
    assert everyone["course_id"] == 456 and everyone["title"] == "Everyone"
    assert not {"course_section_id", "student_ids", "group_id"} & everyone.keys()
    assert data["visible_to_everyone"] is True
    world = sandbox.state.canvas
    everyone_in_course = world.students_of_course("456", world.roster("456"))
    assert world.assigned_students(assignment) == everyone_in_course


async def test_a_module_restricted_assignment_is_not_visible_to_everyone(
    canvas: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    sandbox.state.canvas.assignments["124"].module_restricted = True
    data = (await canvas.get("/courses/456/assignments/124")).json()
    assert data["visible_to_everyone"] is False and data["only_visible_to_overrides"] is False
    assert (await canvas.get("/courses/456/assignments/123")).json()["visible_to_everyone"] is True
    # Canvas: a course-level override makes it visible to everyone whatever its module says.
    restricted = sandbox.state.canvas.assignments["124"]
    restricted.overrides = [Override(id="62", course_id="456", due_at=restricted.due_at)]
    data = (await canvas.get("/courses/456/assignments/124")).json()
    assert data["visible_to_everyone"] is True


async def test_checkpoints_are_answered_only_when_asked_for(
    canvas: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    assignment = sandbox.state.canvas.assignments["127"]
    assignment.due_at = None
    assignment.checkpoints = [
        Checkpoint(
            tag="reply_to_topic", name="Reply to Topic", due_at=datetime(2026, 11, 2, tzinfo=UTC)
        ),
        Checkpoint(
            tag="reply_to_entry",
            name="Required Replies",
            due_at=datetime(2026, 11, 6, tzinfo=UTC),
            overrides=[Override(id="61", course_section_id="8", due_at=None)],
        ),
    ]
    plain = (await canvas.get("/courses/456/assignments/127")).json()
    assert "checkpoints" not in plain and "has_sub_assignments" not in plain
    answer = await canvas.get("/courses/456/assignments/127", params={"include[]": "checkpoints"})
    data = answer.json()
    assert data["has_sub_assignments"] is True and data["due_at"] is None
    first, second = data["checkpoints"]
    assert (first["tag"], first["due_at"]) == ("reply_to_topic", "2026-11-02T00:00:00Z")
    assert second["overrides"] == [
        {
            "id": 61,
            "assignment_id": 127,
            "title": "Algebra I - Period 2",
            "course_section_id": 8,
            "due_at": None,
            "all_day": False,
            "all_day_date": None,
        }
    ]
