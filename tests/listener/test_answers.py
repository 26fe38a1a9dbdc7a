"""The API's answers are the models of listener/schemas.py, built from the domain's dataclasses:
the bytes a client gets, the keys left out unless given, and what the old hand-built JSON held."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from gpb.handlers.category_match import CategoryMatch
from gpb.handlers.delta import PendingEntry
from gpb.handlers.fix_offers import FixOffer
from gpb.handlers.grades import GradeValue, SentValue
from gpb.handlers.line_items import FieldChange, LineItemChange, LineItemDetails
from gpb.handlers.model import AssignmentGroup
from gpb.handlers.reconcile import ReconcileStatus, Reconciliation
from gpb.handlers.syncs import GradeOutcome, Outcome, RunKind, RunReport, RunStatus, SyncRun
from gpb.listener import schemas
from gpb.listener.answers import json_answer, shown
from gpb.listener.ingress import _stored

AT = datetime(2024, 10, 22, 9, 31, 18, 7000, tzinfo=UTC)
LATER = datetime(2024, 10, 29, 23, 59, tzinfo=UTC)


def test_a_pending_list_is_sent_as_clients_read_it() -> None:
    excused = PendingEntry(
        assignment_id="123",
        student_id="9",
        student_sis_id=None,
        section_id="7",
        section_sis_id="S7",
        canvas=GradeValue(None, None, excused=True, missing=True),  # excused: never missing
        wanted=SentValue(None, True, False, False),
        synced=None,
        changed_at=AT,
        blocked_by=("STUDENT_WITHOUT_SIS_ID",),
        student_name="Doe, Jane",
    )
    graded = PendingEntry(
        "124", "10", "S10", "7", "S7", GradeValue(9.5, "9.5", late=True), None,
        SentValue(8.0, False, False, False), None, (),
    )  # fmt: skip
    moved = LineItemChange(
        "123",
        "7",
        (FieldChange("points", 10.0, 12.0), FieldChange("due_at", AT, LATER)),
        LineItemDetails("Quiz", 12.0, LATER, None, None),
    )
    answer = json_answer(schemas.PendingList.of([excused, graded], [moved]))
    assert answer.headers["content-type"] == "application/json"
    assert answer.body == (
        b'{"changes":[{"assignment_id":"123","student_id":"9","student_sis_id":null,'
        b'"student_name":"Doe, Jane","section_id":"7","canvas":{"score":null,"grade":null,'
        b'"excused":true,"missing":false,"late":false,"posted":true},"synced":null,'
        b'"changed_at":"2024-10-22T09:31:18.007Z","blocked_by":["STUDENT_WITHOUT_SIS_ID"]},'
        b'{"assignment_id":"124","student_id":"10","student_sis_id":"S10","student_name":null,'
        b'"section_id":"7","canvas":{"score":9.5,"grade":"9.5","excused":false,"missing":false,'
        b'"late":true,"posted":true},"synced":{"score":8.0,"excused":false,"missing":false,'
        b'"late":false},"changed_at":null,"blocked_by":[]}],'
        b'"line_items":[{"assignment_id":"123","section_id":"7","message":"details changed: '
        b'points 10 -> 12, due date 2024-10-22T09:31:18.007Z -> 2024-10-29T23:59:00.000Z",'
        b'"blocked_by":[],"changes":[{"field":"points","before":10.0,"after":12.0},'
        b'{"field":"due_at","before":"2024-10-22T09:31:18.007Z",'
        b'"after":"2024-10-29T23:59:00.000Z"}]}]}'
    )


def test_a_fix_offer_has_only_the_keys_of_its_problem() -> None:
    rename = FixOffer(
        "NAME_TOO_LONG", True, "shorten it", "Quiz 1", 6, 50, title_cut_mid_word=False
    )
    assert shown(schemas.FixOffer.of(rename)) == {
        "code": "NAME_TOO_LONG",
        "automatic": True,
        "explanation": "shorten it",
        "title": {"suggestion": "Quiz 1", "length": 6, "limit": 50, "cut_mid_word": False},
    }
    named = AssignmentGroup("30", "456", "homework ")
    category = FixOffer(
        "CATEGORY_NOT_FOUND",
        True,
        "rename or move",
        group=None,
        candidates=(CategoryMatch("Homework", 0, "same name"), CategoryMatch("Tests", 9, "far")),
        matching_groups=(named,),
    )
    offer = shown(schemas.FixOffer.of(category))
    assert offer["group"] is None and offer["group_assignments"] == []
    assert offer["candidates"] == [
        {
            "title": "Homework",
            "rank": 0,
            "reason": "same name",
            "close": True,
            "group": {"id": "30", "name": "homework "},
        },
        {"title": "Tests", "rank": 9, "reason": "far", "close": False, "group": None},
    ]
    assert "title" not in offer and "sections_without_date" not in offer


def _run(report: dict[str, object] | None, **changes: object) -> SyncRun:
    run = SyncRun("9", "456", RunKind.SYNC, False, RunStatus.SUCCEEDED, "t", None, AT, AT, LATER)
    return SyncRun(**(vars(run) | {"report": report} | changes))


def test_a_run_is_answered_with_its_stored_report_and_the_students_names() -> None:
    report = RunReport(
        grades=[GradeOutcome("123", "9", "7", Outcome.SENT, None, {"score": 9.5}, {"score": 9.5})]
    ).as_json()
    answer = shown(schemas.SyncRun.full(_run(report), {"9": "Doe, Jane"}))
    assert answer["grades"] == [
        {
            "assignment_id": "123",
            "student_id": "9",
            "student_name": "Doe, Jane",
            "section_id": "7",
            "outcome": "sent",
            "code": None,
            "canvas": {"score": 9.5},
            "sis": {"score": 9.5},
        }
    ]
    assert answer["started_at"] == "2024-10-22T09:31:18.007Z"
    assert answer["counts"]["sent"] == 1 and answer["line_items"] == []
    # A report stored before runs sent line items has none: the answer has no such key.
    older = {key: value for key, value in report.items() if key != "line_items"}
    assert "line_items" not in shown(schemas.SyncRun.full(_run(older), {}))
    assert list(shown(schemas.SyncSummary.of(_run(report)))) == [
        "id", "course_id", "kind", "dry_run", "status", "requested_by", "created_at",
        "started_at", "finished_at", "progress", "counts", "undo_of",
    ]  # fmt: skip


def test_an_interrupted_run_counts_what_ic_confirmed() -> None:
    stopped = _run(None, status=RunStatus.INTERRUPTED, progress_done=3, progress_total=10)
    summary = shown(schemas.SyncSummary.of(SyncRun(**(vars(stopped) | {"confirmed_sent": 5}))))
    assert summary["progress"] == {"done": 5, "total": 10, "confirmed": 5}
    assert summary["counts"]["sent"] == 5 and summary["counts"]["extracted"] == 5


def test_a_reconciliation_is_answered_with_its_report_as_stored() -> None:
    found = Reconciliation(
        course_id="456",
        trigger="nightly",
        status=ReconcileStatus.SUCCEEDED,
        started_at=AT,
        finished_at=LATER,
        repaired_grades=0,
        drift_count=0,
        report={"repaired": [], "drift": [], "ic_checked": 4, "errors": [], "remaster": None},
        id="3",
    )
    summary = [
        "id", "course_id", "trigger", "status", "started_at", "finished_at", "repaired_grades",
        "drift_count", "remaster",
    ]  # fmt: skip
    assert list(shown(schemas.ReconciliationSummary.of(found))) == summary
    full = json.loads(json_answer(schemas.Reconciliation.full(found)).body)
    assert list(full) == [*summary, "repaired", "drift", "ic_checked", "errors"]
    assert full["ic_checked"] == 4 and full["finished_at"] == "2024-10-29T23:59:00.000Z"


def test_the_ingest_answer_written_by_hand_is_the_model_s() -> None:
    for duplicate in (False, True):
        assert _stored("42", duplicate=duplicate).body == (
            schemas.Stored(id="42", duplicate=duplicate).model_dump_json().encode()
        )
