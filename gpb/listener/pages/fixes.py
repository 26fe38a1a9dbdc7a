"""Fixing problems in Canvas from the pages: the fix forms beside each problem, the course's
category alignment, and the form posts, which make the fix the API makes (`FixService`).

A form posted by the page's script (it asks for JSON) gets the outcome as JSON, shown in the live
region while the alert stream resolves the alert; a form posted without script is answered by
the page again with the outcome in words.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from gpb.handlers.fixes import Fixer, FixOutcome, FixRefused
from gpb.handlers.ids import local_id_or_none
from gpb.handlers.tokens import Principal
from gpb.listener import schemas
from gpb.listener.answers import json_answer, shown
from gpb.listener.api_fixes import fix_result, outcome_error
from gpb.listener.auth import context, course_access
from gpb.listener.errors import refused_response
from gpb.listener.forms import read_form
from gpb.listener.operations import FORM, REDIRECT, Answer, Param, html, operation, returns
from gpb.listener.pages.courses import course_header
from gpb.listener.pages.fix_forms import fixed_notice
from gpb.listener.pages.render import page, render

# A fix posted from a page: the API's fields as form fields (`section_ids` comma-separated).
_FIX_FORM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "csrf_token": {"type": "string"},
        "code": {"type": "string"},
        "title": {"type": "string"},
        "due_at": {"type": "string"},
        "section_ids": {"type": "string"},
        "action": {"enum": ["rename_group", "move"]},
        "group_name": {"type": "string"},
        "group_id": {"type": "string"},
    },
    "required": ["csrf_token", "code"],
}
_FIX_PAGE_OR_JSON = ("text/html", "application/json")
_FIX_REFUSALS = {
    status: Answer(words, media=_FIX_PAGE_OR_JSON)
    for status, words in {
        400: "INVALID_FIX or INVALID_BODY",
        403: "the form expired, or ACT_AS_UNAVAILABLE",
        404: "NOT_FOUND",
        409: "FIX_NOT_NEEDED, CANVAS_CHANGED or GROUP_NAME_TAKEN",
        422: "CANVAS_REFUSED with Canvas's reason, or NO_AUTOMATIC_FIX",
        502: "CANVAS_UNAVAILABLE: Canvas may or may not have made the change",
    }.items()
}


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _answer(request: Request, outcome: FixOutcome, back: str) -> Response:
    error = outcome_error(outcome)
    if _wants_json(request):
        if error is not None:
            return JSONResponse(
                {"error": {"code": error.code, "message": error.message}, **error.extra},
                error.status,
            )
        return json_answer(fix_result(outcome))
    if error is not None:
        raise error
    return RedirectResponse(f"{back}?fixed={outcome.event_id}", status_code=303)


def _refused(request: Request, refused: FixRefused) -> Response:
    if _wants_json(request):
        return refused_response(refused)
    raise refused


@operation(
    "Fix a problem in Canvas from the Assignments tab (the API's fix). With Accept:"
    " application/json the outcome is JSON, as the API answers it; else a page",
    "token",
    {
        200: returns(schemas.FixResult, "Canvas made the change (Accept: application/json)"),
        303: REDIRECT,
        **_FIX_REFUSALS,
    },
    body={FORM: _FIX_FORM},
)
@page
async def post_fix(request: Request) -> Response:
    principal, course_id = await course_access(request)
    form = await read_form(request)
    assignment_id = local_id_or_none(request.path_params["assignment_id"]) or ""
    data: dict[str, Any] = {k: v for k, v in form.items() if k != "csrf_token" and v != ""}
    if "section_ids" in form:
        data["section_ids"] = [s for s in form["section_ids"].split(",") if s]
    try:
        outcome = await context(request).fixes.make(
            course_id, assignment_id, data, Fixer.of(principal)
        )
    except FixRefused as refused:
        return _refused(request, refused)
    return _answer(request, outcome, f"/courses/{course_id}")


@operation(
    "Rename a Canvas group from the category view",
    "token",
    {
        200: returns(schemas.FixResult, "Canvas made the change (Accept: application/json)"),
        303: REDIRECT,
        **_FIX_REFUSALS,
    },
    body={
        FORM: {
            "type": "object",
            "properties": {"csrf_token": {"type": "string"}, "group_name": {"type": "string"}},
            "required": ["csrf_token", "group_name"],
        }
    },
)
@page
async def post_group_name(request: Request) -> Response:
    principal, course_id = await course_access(request)
    form = await read_form(request)
    group_id = local_id_or_none(request.path_params["group_id"]) or ""
    try:
        outcome = await context(request).fixes.rename_group(
            course_id, group_id, form.get("group_name", ""), Fixer.of(principal)
        )
    except FixRefused as refused:
        return _refused(request, refused)
    return _answer(request, outcome, f"/courses/{course_id}/categories")


@operation(
    "A course's Canvas groups beside each section's IC categories",
    "token",
    {200: html(), 303: REDIRECT, 404: html("gpb has not read the course yet")},
    query=(Param("fixed", "shown after a rename: its gpb_fix event"),),
)
@page
async def categories(request: Request) -> Response:
    principal, course_id = await course_access(request)
    return await _categories_page(request, principal, course_id)


async def _categories_page(request: Request, principal: Principal, course_id: str) -> Response:
    ctx = context(request)
    groups = shown(schemas.CategoryAlignment.of(await ctx.fixes.alignment(course_id)))["groups"]
    return render(
        request,
        "categories.html",
        principal,
        nav="courses",
        groups=groups,
        taken={g["name"].strip().casefold() for g in groups},
        fixed=await fixed_notice(ctx, course_id, request.query_params.get("fixed")),
        **await course_header(request, course_id, "course_categories"),
    )
