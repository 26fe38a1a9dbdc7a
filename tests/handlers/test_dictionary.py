"""The error dictionary served at GET /api/errors."""

from __future__ import annotations

import pytest

from gpb.handlers import errors
from gpb.handlers.dictionary import BY_CODE, CANVAS_TITLES, ENTRIES, Entry, entry

# docs/design.md's rules table, in its order.
RULES = {
    "NAME_TOO_LONG": "error",
    "ASSIGNMENT_UNPUBLISHED": "error",
    "COURSE_UNPUBLISHED": "error",
    "DIFFERENTIATED": "error",
    "DUE_DATE_MISSING": "error",
    "CATEGORY_NOT_FOUND": "error",
    "NOT_GRADED": "error",
    "NAME_NOT_UNIQUE": "error",
    "SECTION_WITHOUT_SIS_ID": "warning",
    "SECTION_CLASS_NOT_FOUND": "warning",
    "CATEGORY_UNVERIFIED": "warning",
    "POINTS_MISSING": "warning",
    "OMITTED_FROM_FINAL_GRADE": "warning",
    "DUE_DATE_OUTSIDE_TERM": "warning",
}

# docs/design.md's errors table: code -> the Canvas dictionary title it corresponds to.
SYNC_AND_CANVAS = {
    "SIS_AUTH_FAILED": "Exchange Error",
    "SIS_CLASS_NOT_FOUND": "Could Not Determine Class or Grading Period",
    "SIS_CATEGORY_NOT_FOUND": "Assignment Cannot Be Created",
    "SIS_LINEITEM_REJECTED": "Assignment Cannot Be Created / Assignment Dates Error",
    "SIS_RESULT_REJECTED": "Unable to Process Score / PUT for OneRoster Error",
    "SIS_BUSY": "Assignment Scores Export Error",
    "SIS_UNAVAILABLE": "Exchange Error",
    "SYNC_TIMED_OUT": "Data Sync Job Timed Out",
    "CANVAS_NOT_CONFIGURED": None,
    "CANVAS_AUTH_FAILED": None,
    "CANVAS_UNAVAILABLE": None,
    # Beyond the design's table: a fix made from gpb that Canvas declined.
    "CANVAS_REFUSED": None,
}

FILTER_REASONS = (
    "ASSIGNMENT_INELIGIBLE",
    "STUDENT_WITHOUT_SIS_ID",
    "SECTION_WITHOUT_SIS_ID",
    "UNPOSTED_HELD",
)


def test_codes_are_unique() -> None:
    codes = [e.code for e in ENTRIES]
    assert len(codes) == len(set(codes))
    assert set(BY_CODE) == set(codes)


def test_rules_in_table_order_with_their_severity() -> None:
    rules = [(e.code, e.severity) for e in ENTRIES if e.kind == "rule"]
    assert rules == list(RULES.items())


# Canvas's SIS Error Code Dictionary, its Infinite Campus section, in its order
# (community.canvaslms.com/t5/SIS-Error-Codes/SIS-Error-Code-Dictionary/ta-p/535897).
CANVAS_IC_TITLES = (
    "Assignment Cannot Be Created",
    "Assignment Dates Error",
    "Assignment Scores Export Error",
    "Assignment Scores Export-PUT for OneRoster Error",
    "Cannot Export Canvas Submission in Section",
    "Could Not Determine Class or Grading Period",
    "Exchange Error",
    "Data Sync Job Timed Out",
    "PUT for OneRoster Error",
    "Unable to Process Score",
)


@pytest.mark.parametrize(("code", "canvas_title"), SYNC_AND_CANVAS.items())
def test_canvas_titles_as_design_says(code: str, canvas_title: str | None) -> None:
    # The title docs/design.md names is among those the code meets.
    titles = (entry(code).canvas_title or "").split(" / ")
    assert set((canvas_title or "").split(" / ")) <= set(titles)
    assert entry(code).kind == ("canvas" if code.startswith("CANVAS_") else "sync")


def test_every_canvas_ic_title_is_covered_with_codes_and_a_fix() -> None:
    assert tuple(t.title for t in CANVAS_TITLES) == CANVAS_IC_TITLES
    for t in CANVAS_TITLES:
        assert t.codes and all(code in BY_CODE for code in t.codes), t.title
        assert len(set(t.codes)) == len(t.codes)
        assert t.meaning.endswith(".") and t.fix.endswith("."), t.title


@pytest.mark.parametrize(
    ("title", "code"),
    [
        ("Cannot Export Canvas Submission in Section", "STUDENT_WITHOUT_SIS_ID"),
        ("Cannot Export Canvas Submission in Section", "SECTION_WITHOUT_SIS_ID"),
        ("Assignment Scores Export-PUT for OneRoster Error", "SIS_RESULT_REJECTED"),
        ("Assignment Dates Error", "DUE_DATE_OUTSIDE_TERM"),
        ("Assignment Cannot Be Created", "CATEGORY_NOT_FOUND"),
    ],
)
def test_an_entry_names_the_canvas_titles_it_meets(title: str, code: str) -> None:
    assert title in (entry(code).canvas_title or "").split(" / ")


def test_codes_meeting_no_canvas_title_have_none() -> None:
    named = {code for t in CANVAS_TITLES for code in t.codes}
    for e in ENTRIES:
        assert (e.canvas_title is None) == (e.code not in named), e.code


@pytest.mark.parametrize("code", FILTER_REASONS)
def test_filter_reasons_are_known(code: str) -> None:
    assert entry(code).kind in ("filter", "rule")


RUN_WARNINGS = ("ORPHANED_IN_IC", "KEPT_ENROLLMENT_ENDED", "UNPOSTED_SENT")


@pytest.mark.parametrize("code", RUN_WARNINGS)
def test_run_warnings(code: str) -> None:
    assert entry(code).kind == "warning"
    assert entry(code).severity == "warning"


def test_nothing_beyond_design() -> None:
    # and what an undo reports for a grade it leaves as IC holds it
    known = {*RULES, *SYNC_AND_CANVAS, *FILTER_REASONS, *RUN_WARNINGS, "CHANGED_IN_IC_SINCE"}
    assert set(BY_CODE) == known


@pytest.mark.parametrize("e", ENTRIES, ids=lambda e: e.code)
def test_every_entry_explains_itself(e: Entry) -> None:
    assert e.title and e.meaning and e.fix
    assert e.meaning.endswith(".") and e.fix.endswith(".")


def test_severity_only_where_it_means_something() -> None:
    for e in ENTRIES:
        assert (e.severity is None) == (e.kind == "filter"), e.code


@pytest.mark.parametrize(
    "error",
    [
        errors.CanvasNotConfigured("x"),
        errors.CanvasAuthFailed("x"),
        errors.CanvasUnavailable("x"),
        errors.CanvasRefused("x"),
        errors.SisNotConfigured("x"),
        errors.SisAuthFailed("x"),
        errors.SisUnavailable("x"),
        errors.SisBusy("x"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_every_external_error_code_is_in_the_dictionary(error: errors.ExternalError) -> None:
    assert error.code in BY_CODE


def test_unknown_code_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        entry("NO_SUCH_CODE")
