"""The control API and the seed: set up situations through HTTP, and see them in the stand-ins."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from gpb.infra.sandbox.server import RunningSandbox
from gpb.infra.sandbox.state import Seed, load_seed

Body = Callable[..., dict[str, Any]]


def test_the_seed_has_an_assignment_for_each_rule_it_shows() -> None:
    seed = load_seed()
    assignments = {a.id: a for a in seed.canvas.assignments}
    groups = {g.id: g.name for g in seed.canvas.assignment_groups}
    categories = {c.title for c in seed.ic.categories}
    assert len(html.unescape(assignments["123"].name)) == 35
    assert assignments["126"].workflow_state == "unpublished"
    assert groups[assignments["127"].assignment_group_id] not in categories
    assert assignments["128"].overrides[0].student_ids == ["1203"]
    assert assignments["129"].post_to_sis is False
    tests_dates = [o.course_section_id for o in assignments["125"].overrides]
    assert tests_dates == ["7", "8"] and assignments["125"].due_at is None
    synced = [a for a in assignments.values() if a.post_to_sis]
    assert all(groups[a.assignment_group_id] in categories for a in synced if a.id != "127")


def test_a_seed_with_a_typo_is_refused() -> None:
    data = load_seed().model_dump(mode="json")
    data["canvas"]["assignments"][0]["post_to_SIS"] = True
    with pytest.raises(ValidationError, match="post_to_SIS"):
        Seed.model_validate(data)


async def test_the_summary_counts_the_world(control: httpx.AsyncClient) -> None:
    summary = (await control.get("/state")).json()
    assert summary["canvas"]["courses"] == [
        {"id": "456", "name": "Algebra I", "workflow_state": "available"}
    ]
    assert summary["canvas"]["students"] == 14 and summary["canvas"]["sections"] == 2
    assert summary["ic"]["classes"] == ["SEC-7", "SEC-8"]


async def test_an_assignment_change_shows_in_canvas_with_a_new_updated_at(
    canvas: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    before = (await canvas.get("/courses/456/assignments/123")).json()
    changed = await control.post(
        "/canvas/assignments/123",
        json={
            "name": "Homework 3.2",
            "overrides": [{"id": "45", "course_section_id": "7", "due_at": None}],
        },
    )
    assert changed.status_code == 200
    after = (
        await canvas.get("/courses/456/assignments/123", params={"include[]": "overrides"})
    ).json()
    assert after["name"] == "Homework 3.2" and after["updated_at"] > before["updated_at"]
    assert after["overrides"] == [
        {
            "id": 45,
            "assignment_id": 123,
            "title": "Algebra I - Period 1",
            "course_section_id": 7,
            "due_at": None,
            "all_day": False,
            "all_day_date": None,
        }
    ]


async def test_a_new_assignment_can_be_made(
    canvas: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    made = await control.post(
        "/canvas/assignments/130",
        json={"course_id": "456", "name": "Quiz 1", "assignment_group_id": "311"},
    )
    assert made.status_code == 201
    assert (await canvas.get("/courses/456/assignments/130")).json()["name"] == "Quiz 1"


@pytest.mark.parametrize(
    ("path", "change", "status"),
    [
        ("/canvas/assignments/123", {"workflow_state": "archived"}, 422),
        ("/canvas/assignments/123", {"overrides": [{"id": "1"}]}, 422),
        ("/canvas/assignments/999", {"name": "no course"}, 422),
        ("/canvas/quizzes/1", {}, 404),
        ("/ic/classes/SEC-7", {"term_ids": "TERM-2026-27"}, 422),
    ],
)
async def test_invalid_changes_are_refused(
    control: httpx.AsyncClient, path: str, change: dict[str, Any], status: int
) -> None:
    assert (await control.post(path, json=change)).status_code == status


async def test_grading_through_the_control_api_derives_what_canvas_would(
    canvas: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    path = "/courses/456/assignments/123/submissions/1201"
    await control.post("/canvas/submissions/123/1201", json={"score": 9.5})
    graded = (await canvas.get(path)).json()
    assert (graded["score"], graded["grade"], graded["workflow_state"]) == (9.5, "9.5", "graded")
    await control.post("/canvas/submissions/123/1201", json={"excused": True})
    excused = (await canvas.get(path)).json()
    assert (excused["score"], excused["grade"], excused["excused"]) == (None, None, True)
    await control.post("/canvas/submissions/123/1201", json={"score": None})
    removed = (await canvas.get(path)).json()
    assert (removed["score"], removed["excused"]) == (None, False)
    await control.post("/canvas/submissions/123/1210", json={"score": 7, "posted": False})
    hidden = (await canvas.get("/courses/456/assignments/123/submissions/1210")).json()
    assert (hidden["grade"], hidden["posted_at"]) == ("7", None)


async def test_percent_and_letter_grades_follow_the_grading_type(
    canvas: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    await control.post("/canvas/assignments/124", json={"grading_type": "percent"})
    await control.post("/canvas/submissions/124/1202", json={"score": 8.5})
    await control.post("/canvas/assignments/125", json={"grading_type": "letter_grade"})
    await control.post("/canvas/submissions/125/1202", json={"score": 45})
    percent = (await canvas.get("/courses/456/assignments/124/submissions/1202")).json()
    letter = (await canvas.get("/courses/456/assignments/125/submissions/1202")).json()
    assert (percent["grade"], letter["grade"]) == ("85%", "A-")


async def test_the_ic_roster_follows_a_student_moved_in_canvas(
    sandbox: RunningSandbox,
    sis: httpx.AsyncClient,
    control: httpx.AsyncClient,
    line_item: Body,
    result: Body,
) -> None:
    enrollment = next(e for e in sandbox.state.canvas.enrollments.values() if e.user_id == "1201")
    moved = await control.post(
        f"/canvas/enrollments/{enrollment.id}", json={"course_section_id": "8"}
    )
    assert moved.status_code == 200
    students = (await sis.get("/rostering/v1p2/classes/SEC-8/students")).json()["users"]
    assert "S-102938" in [s["sourcedId"] for s in students]
    await sis.put("/gradebook/v1p2/lineItems/canvas-a123-s7", json=line_item())
    refused = await sis.put("/gradebook/v1p2/results/canvas-a123-s7-u1201", json=result())
    assert refused.status_code == 422


async def test_an_ic_class_can_lose_its_categories_and_a_section_its_class(
    sis: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    for category in ("CAT-3", "CAT-4", "CAT-5"):
        assert (await control.delete(f"/ic/categories/{category}")).status_code == 204
    empty = await sis.get("/gradebook/v1p2/classes/SEC-7/categories")
    assert empty.json() == {"categories": []}
    assert (await control.delete("/ic/classes/SEC-8")).status_code == 204
    assert (await sis.get("/rostering/v1p2/classes/SEC-8")).status_code == 404


async def test_the_write_log_and_stored_records_are_readable(
    sis: httpx.AsyncClient, control: httpx.AsyncClient, line_item: Body, result: Body
) -> None:
    await sis.put("/gradebook/v1p2/lineItems/canvas-a123-s7", json=line_item())
    await sis.put("/gradebook/v1p2/results/canvas-a123-s7-u1201", json=result())
    await sis.put("/gradebook/v1p2/results/canvas-a123-s7-u1201", json=result(late=True))
    applied = (await control.get("/ic/writes", params={"kind": "result", "applied": "true"})).json()
    assert [w["status"] for w in applied["writes"]] == [201]
    refused = (await control.get("/ic/writes", params={"applied": "false"})).json()["writes"]
    assert [(w["sourced_id"], w["status"]) for w in refused] == [("canvas-a123-s7-u1201", 422)]
    stored = (await control.get("/ic/results")).json()
    assert stored["canvas-a123-s7-u1201"]["score"] == 9.5
    assert list((await control.get("/ic/line_items")).json()) == ["canvas-a123-s7"]


async def test_tokens_can_be_shortened_and_expired(
    sandbox: RunningSandbox, sis: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    answer = await control.post("/ic/tokens", json={"lifetime_seconds": 5, "expire_all": True})
    assert answer.json() == {"lifetime_seconds": 5.0, "issued": 1}
    assert (await sis.get("/rostering/v1p2/classes/SEC-7")).status_code == 401


async def test_reset_restores_the_seed_and_keeps_tokens(
    sandbox: RunningSandbox,
    canvas: httpx.AsyncClient,
    sis: httpx.AsyncClient,
    control: httpx.AsyncClient,
    line_item: Body,
) -> None:
    await control.delete("/canvas/assignments/123")
    await sis.put("/gradebook/v1p2/lineItems/canvas-a123-s7", json=line_item())
    await control.post("/faults/canvas", json={"script": ["server_error"]})
    summary = (await control.post("/reset")).json()
    assert summary["ic"]["line_items"] == 0 and summary["ic"]["writes"] == 0
    assert summary["faults"]["canvas"]["config"]["script"] == []
    assert (await canvas.get("/courses/456/assignments/123")).status_code == 200
    assert (await sis.get("/rostering/v1p2/classes/SEC-7")).status_code == 200


async def test_reset_takes_another_seed(control: httpx.AsyncClient) -> None:
    seed = load_seed().model_dump(mode="json")
    seed["canvas"]["courses"][0]["workflow_state"] = "unpublished"
    summary = (await control.post("/reset", json={"seed": seed})).json()
    assert summary["canvas"]["courses"][0]["workflow_state"] == "unpublished"
    bad = await control.post("/reset", json={"seed": {"canvas": {}}})
    assert bad.status_code == 422
