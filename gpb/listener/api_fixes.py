"""Fixes made in Canvas from gpb, and the category-mapping assistant, over the API.

The pages call the same service (`FixService.make`, `rename_group`), so a fix made from a page is
the fix the API makes, refused for the same reasons with the same words.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from gpb.handlers.fixes import Fixer, FixOutcome
from gpb.handlers.ids import local_id_or_none
from gpb.listener import schemas
from gpb.listener.answers import json_answer, shown
from gpb.listener.auth import context, course_access
from gpb.listener.bodies import read_json
from gpb.listener.errors import ApiError
from gpb.listener.operations import operation, returns
from gpb.listener.schemas import FixBody, GroupRenameBody


def fix_result(outcome: FixOutcome) -> schemas.FixResult:
    return schemas.FixResult.model_validate(outcome)


def outcome_error(outcome: FixOutcome) -> ApiError | None:
    """Canvas's refusal (422 CANVAS_REFUSED) or an unknown outcome (502 CANVAS_UNAVAILABLE)."""
    if outcome.applied:
        return None
    refused = outcome.outcome == "refused"
    return ApiError(
        "CANVAS_REFUSED" if refused else "CANVAS_UNAVAILABLE",
        outcome.canvas_answer,
        fix=shown(fix_result(outcome)),
    )


async def _json_body(request: Request, model: type[FixBody] | type[GroupRenameBody]) -> Any:
    body = await read_json(request, "a fix")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        detail = exc.errors()[0]["msg"]
        raise ApiError("INVALID_BODY", f"the body is not a fix: {detail}") from None


def _assignment_id(request: Request) -> str:
    local = local_id_or_none(request.path_params["assignment_id"])
    if local is None:
        raise ApiError("NOT_FOUND", "no such assignment in this course")
    return local


@operation(
    "What gpb can fix in Canvas for each open problem of an assignment (suggested title,"
    " sections without a date, IC categories ranked by closeness to the group's name), and"
    " why the others have no automatic fix",
    "token",
    {200: returns(schemas.FixOfferList), 404: returns(schemas.ErrorBody, "NOT_FOUND")},
)
async def list_fixes(request: Request) -> Response:
    _, course_id = await course_access(request)
    offers = await context(request).fixes.offers(course_id, _assignment_id(request))
    return json_answer(schemas.FixOfferList(fixes=[schemas.FixOffer.of(o) for o in offers]))


@operation(
    "Fix one open problem in Canvas (rename, publish, set the due date, rename the group or"
    " move the assignment). The alert resolves when gpb re-reads Canvas; the fix is in the"
    " event log as a gpb_fix event. A change is sent once, never retried blindly.",
    "token",
    {
        200: returns(schemas.FixResult, "Canvas made the change"),
        400: returns(schemas.ErrorBody, "INVALID_BODY or INVALID_FIX"),
        403: returns(schemas.ErrorBody, "ACT_AS_UNAVAILABLE: the caller names no Canvas user"),
        404: returns(schemas.ErrorBody, "NOT_FOUND"),
        409: returns(
            schemas.ErrorBody, "FIX_NOT_NEEDED, CANVAS_CHANGED (meanwhile) or GROUP_NAME_TAKEN"
        ),
        422: returns(
            schemas.FixRefusedBody, "CANVAS_REFUSED with Canvas's reason, or NO_AUTOMATIC_FIX"
        ),
        502: returns(
            schemas.FixRefusedBody,
            "CANVAS_UNAVAILABLE: Canvas may or may not have made the change",
        ),
    },
    body={"application/json": schemas.FixBody},
)
async def post_fix(request: Request) -> Response:
    principal, course_id = await course_access(request)
    body = await _json_body(request, FixBody)
    data = body.model_dump(exclude_none=True)
    fixes = context(request).fixes
    outcome = await fixes.make(course_id, _assignment_id(request), data, Fixer.of(principal))
    error = outcome_error(outcome)
    if error is not None:
        raise error
    return json_answer(fix_result(outcome))


@operation(
    "Every Canvas assignment group beside the IC categories of each section's class,"
    " matched or ranked by closeness",
    "token",
    {200: returns(schemas.CategoryAlignment), 404: returns(schemas.ErrorBody, "NOT_FOUND")},
)
async def categories(request: Request) -> Response:
    _, course_id = await course_access(request)
    groups = await context(request).fixes.alignment(course_id)
    return json_answer(schemas.CategoryAlignment.of(groups))


@operation(
    "Rename an assignment group in Canvas (refused when another group has that name)",
    "token",
    {
        200: returns(schemas.FixResult, "Canvas made the change"),
        400: returns(schemas.ErrorBody, "INVALID_BODY or INVALID_FIX"),
        404: returns(schemas.ErrorBody, "NOT_FOUND"),
        409: returns(schemas.ErrorBody, "GROUP_NAME_TAKEN or CANVAS_CHANGED"),
        422: returns(schemas.FixRefusedBody, "CANVAS_REFUSED with Canvas's reason"),
        502: returns(schemas.FixRefusedBody, "CANVAS_UNAVAILABLE"),
    },
    body={"application/json": schemas.GroupRenameBody},
)
async def post_group_name(request: Request) -> Response:
    principal, course_id = await course_access(request)
    body = await _json_body(request, GroupRenameBody)
    group_id = local_id_or_none(request.path_params["group_id"]) or ""
    fixes = context(request).fixes
    outcome = await fixes.rename_group(course_id, group_id, body.name, Fixer.of(principal))
    error = outcome_error(outcome)
    if error is not None:
        raise error
    return json_answer(fix_result(outcome))
