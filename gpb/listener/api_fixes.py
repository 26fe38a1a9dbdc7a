"""Fixes made in Canvas from gpb, and the category-mapping assistant, over the API.

The pages call the same functions (`make_fix`, `rename_group`), so a fix made from a page is the
fix the API makes, refused for the same reasons with the same words.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gpb.handlers.fix_offers import GroupAlignment
from gpb.handlers.fixes import Fixer, FixOutcome, FixRefused, parse_fix_request
from gpb.handlers.ids import local_id_or_none
from gpb.handlers.tokens import Principal
from gpb.listener.auth import context, course_access
from gpb.listener.bodies import read_json
from gpb.listener.context import AppContext
from gpb.listener.errors import ApiError
from gpb.listener.schemas import FixBody, GroupRenameBody

# How gpb's own refusals (nothing sent to Canvas) answer over HTTP.
REFUSAL_STATUS = {
    "NOT_FOUND": 404,
    "INVALID_FIX": 400,
    "FIX_NOT_NEEDED": 409,
    "CANVAS_CHANGED": 409,
    "GROUP_NAME_TAKEN": 409,
    "NO_AUTOMATIC_FIX": 422,
    "ACT_AS_UNAVAILABLE": 403,
}


def fixer_of(principal: Principal) -> Fixer:
    return Fixer(
        name=principal.name or principal.token_prefix or principal.role.value,
        canvas_user_id=principal.canvas_user_id,
    )


def refusal_error(refused: FixRefused) -> ApiError:
    return ApiError(REFUSAL_STATUS.get(refused.code, 400), refused.code, refused.message)


def outcome_error(outcome: FixOutcome) -> ApiError | None:
    """Canvas's refusal (422 CANVAS_REFUSED) or an unknown outcome (502 CANVAS_UNAVAILABLE)."""
    if outcome.applied:
        return None
    refused = outcome.outcome == "refused"
    return ApiError(
        422 if refused else 502,
        "CANVAS_REFUSED" if refused else "CANVAS_UNAVAILABLE",
        outcome.canvas_answer,
        fix=outcome.as_json(),
    )


def local_time_parser(ctx: AppContext) -> Any:
    """Parses a date-time; one without an offset is read in the district's zone."""

    def parse(text: str) -> datetime:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=ctx.config.time_zone)

    return parse


async def make_fix(
    ctx: AppContext, principal: Principal, course_id: str, assignment_id: str, data: dict[str, Any]
) -> FixOutcome:
    """Makes the fix `data` asks for; gpb's refusals leave as ApiError, Canvas's in the outcome."""
    try:
        request = parse_fix_request(data, local_time_parser(ctx))
        return await ctx.fixes.apply(course_id, assignment_id, request, fixer_of(principal))
    except FixRefused as refused:
        raise refusal_error(refused) from None


async def rename_group(
    ctx: AppContext, principal: Principal, course_id: str, group_id: str, name: str
) -> FixOutcome:
    try:
        return await ctx.fixes.rename_group(course_id, group_id, name, fixer_of(principal))
    except FixRefused as refused:
        raise refusal_error(refused) from None


def alignment_json(groups: list[GroupAlignment]) -> dict[str, Any]:
    return {
        "groups": [
            {
                "id": g.group.id,
                "name": g.group.name,
                "assignments": list(g.assignments),
                "aligned": g.aligned,
                "classes": [
                    {
                        "section": c.section_name,
                        "ic_class": c.class_title,
                        "matched": c.matched,
                        "candidates": [
                            {"title": m.title, "rank": m.rank, "reason": m.reason, "close": m.close}
                            for m in c.candidates
                        ],
                    }
                    for c in g.classes
                ],
            }
            for g in groups
        ]
    }


async def _json_body(request: Request, model: type[FixBody] | type[GroupRenameBody]) -> Any:
    body = await read_json(request, "a fix")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        detail = exc.errors()[0]["msg"]
        raise ApiError(400, "INVALID_BODY", f"the body is not a fix: {detail}") from None


def _assignment_id(request: Request) -> str:
    local = local_id_or_none(request.path_params["assignment_id"])
    if local is None:
        raise ApiError(404, "NOT_FOUND", "no such assignment in this course")
    return local


async def list_fixes(request: Request) -> Response:
    _, course_id = await course_access(request)
    try:
        offers = await context(request).fixes.offers(course_id, _assignment_id(request))
    except FixRefused as refused:
        raise refusal_error(refused) from None
    return JSONResponse({"fixes": [o.as_json() for o in offers]})


async def post_fix(request: Request) -> Response:
    principal, course_id = await course_access(request)
    body = await _json_body(request, FixBody)
    data = body.model_dump(exclude_none=True)
    outcome = await make_fix(context(request), principal, course_id, _assignment_id(request), data)
    error = outcome_error(outcome)
    if error is not None:
        raise error
    return JSONResponse(outcome.as_json())


async def categories(request: Request) -> Response:
    _, course_id = await course_access(request)
    try:
        groups = await context(request).fixes.alignment(course_id)
    except FixRefused as refused:
        raise refusal_error(refused) from None
    return JSONResponse(alignment_json(groups))


async def post_group_name(request: Request) -> Response:
    principal, course_id = await course_access(request)
    body = await _json_body(request, GroupRenameBody)
    group_id = local_id_or_none(request.path_params["group_id"]) or ""
    outcome = await rename_group(context(request), principal, course_id, group_id, body.name)
    error = outcome_error(outcome)
    if error is not None:
        raise error
    return JSONResponse(outcome.as_json())
