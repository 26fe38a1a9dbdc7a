"""The IC gradebook's rules for writes: what it stores and what it refuses (oneroster-ic.md).

Kept apart from HTTP so the rules read as a list: a PUT body must match the official schema, carry
the sourcedId of its path, and refer to things IC has (the class, a category of that class, the
school of that class; a stored line item, a student enrolled in its class). A PUT inserts (201) or
replaces (200); a DELETE of an unknown record is 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from gpb.infra.sandbox import schema
from gpb.infra.sandbox.state import IcClass, SandboxState

Kind = Literal["lineItem", "result"]


def imsx_failure(description: str, code_minor: str) -> dict[str, Any]:
    """OneRoster's error body (`imsx_StatusInfoDType`)."""
    return {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": description,
        "imsx_CodeMinor": {
            "imsx_codeMinorField": [
                {
                    "imsx_codeMinorFieldName": "TargetEndSystem",
                    "imsx_codeMinorFieldValue": code_minor,
                }
            ]
        },
    }


@dataclass(frozen=True)
class Outcome:
    """What the gradebook answers to one call, and whether it changed what IC stores."""

    status: int
    body: dict[str, Any] | None = None
    applied: bool = False


def _refused(status: int, description: str, code_minor: str) -> Outcome:
    return Outcome(status, imsx_failure(description, code_minor))


def _checked(kind: Kind, sourced_id: str, payload: Any) -> Outcome | None:
    """A refusal when the body breaks the schema or names another record than the path."""
    checker = schema.line_item_validator() if kind == "lineItem" else schema.result_validator()
    problems = schema.problems(checker, payload)
    if problems:
        return _refused(422, f"Invalid {kind}: " + "; ".join(problems[:10]), "invaliddata")
    body_id = payload[kind]["sourcedId"]
    if body_id != sourced_id:
        return _refused(
            422,
            f"The sourcedId in the path ({sourced_id}) differs from the body's ({body_id})",
            "invaliddata",
        )
    return None


def _store(records: dict[str, dict[str, Any]], sourced_id: str, record: dict[str, Any]) -> Outcome:
    inserted = sourced_id not in records
    records[sourced_id] = record
    return Outcome(201 if inserted else 200, applied=True)


def put_line_item(state: SandboxState, sourced_id: str, payload: Any) -> Outcome:
    refusal = _checked("lineItem", sourced_id, payload)
    if refusal:
        return refusal
    item = payload["lineItem"]
    ic = state.ic
    class_id = item["class"]["sourcedId"]
    ic_class = ic.classes.get(class_id)
    if ic_class is None:
        return _refused(422, f"Unknown class {class_id}", "unknownobject")
    school_id = item["school"]["sourcedId"]
    if school_id != ic_class.school_id:
        return _refused(
            422,
            f"Class {class_id} belongs to school {ic_class.school_id}, not {school_id}",
            "invaliddata",
        )
    category_id = item["category"]["sourcedId"]
    category = ic.categories.get(category_id)
    if category is None or category.class_id != class_id:
        return _refused(
            422, f"Category {category_id} is not a category of class {class_id}", "unknownobject"
        )
    session = item.get("academicSession")
    if session and session["sourcedId"] not in ic_class.term_ids:
        description = f"academicSession {session['sourcedId']} is no term of class {class_id}"
        return _refused(422, description, "unknownobject")
    return _dates_refusal(state, item, ic_class) or _store(ic.line_items, sourced_id, item)


def _moment(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _dates_refusal(state: SandboxState, item: dict[str, Any], ic_class: IcClass) -> Outcome | None:
    """IC's date rules: assigned no later than due, filed in a grading period of the class that
    holds the due date (read as written: its date part, in the offset the sender gave)."""
    assign, due = item["assignDate"], item["dueDate"]
    if _moment(assign) > _moment(due):
        return _refused(422, f"assignDate {assign} is after dueDate {due}", "invaliddata")
    period_ref = item.get("gradingPeriod")
    if not period_ref:
        return None
    periods = {p.sourced_id: p for p in state.ic.class_grading_periods(ic_class)}
    period = periods.get(period_ref["sourcedId"])
    if period is None:
        description = (
            f"gradingPeriod {period_ref['sourcedId']} is no grading period of class "
            f"{ic_class.sourced_id}"
        )
        return _refused(422, description, "unknownobject")
    day = date.fromisoformat(due[:10])
    if not period.start_date <= day < period.end_date:
        return _refused(
            422, f"dueDate {due} is outside grading period {period.sourced_id}", "invaliddata"
        )
    return None


def put_result(state: SandboxState, sourced_id: str, payload: Any) -> Outcome:
    refusal = _checked("result", sourced_id, payload)
    if refusal:
        return refusal
    result = payload["result"]
    ic = state.ic
    line_item_id = result["lineItem"]["sourcedId"]
    line_item = ic.line_items.get(line_item_id)
    if line_item is None:
        return _refused(422, f"Unknown lineItem {line_item_id}", "unknownobject")
    class_id = line_item["class"]["sourcedId"]
    ic_class = ic.classes.get(class_id)
    if ic_class is None:
        return _refused(422, f"Unknown class {class_id}", "unknownobject")
    if "class" in result and result["class"]["sourcedId"] != class_id:
        return _refused(422, f"lineItem {line_item_id} belongs to class {class_id}", "invaliddata")
    student_id = result["student"]["sourcedId"]
    if student_id not in state.class_students(ic_class):
        return _refused(
            422, f"Student {student_id} is not enrolled in class {class_id}", "invaliddata"
        )
    return _store(ic.results, sourced_id, result)


def delete(state: SandboxState, kind: Kind, sourced_id: str) -> Outcome:
    records = state.ic.line_items if kind == "lineItem" else state.ic.results
    if records.pop(sourced_id, None) is None:
        return _refused(404, f"Unknown {kind} {sourced_id}", "unknownobject")
    return Outcome(204, applied=True)
