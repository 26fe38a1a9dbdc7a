"""A course's automatic syncs: what is in effect, and the teacher's choice."""

from __future__ import annotations

from datetime import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gpb.handlers.auto_sync import AutoMode, InvalidChoice
from gpb.listener.api_syncs import parsed_body
from gpb.listener.auth import context, course_access
from gpb.listener.context import AppContext
from gpb.listener.errors import ApiError


class AutoSyncBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["off", "after_change", "nightly"] | None = Field(
        description="null: the district's default"
    )
    nightly_at: str | None = Field(
        default=None, pattern=r"^\d{2}:\d{2}$", description="HH:MM in the district's zone"
    )


async def choose_auto_sync(
    ctx: AppContext, course_id: str, mode: str | None, nightly_at: str | None
) -> dict[str, Any]:
    """The teacher's choice, from the API or the course page; refusals are 400."""
    try:
        at = time.fromisoformat(nightly_at) if nightly_at else None
    except ValueError:
        raise ApiError(400, "INVALID_BODY", "nightly_at is a time of day, HH:MM") from None
    try:
        choice = await ctx.auto_sync.choose(course_id, AutoMode(mode) if mode else None, at)
    except InvalidChoice as refused:
        raise ApiError(400, refused.code, refused.message) from None
    return choice.as_json(ctx.auto_sync.policy)


async def get_auto_sync(request: Request) -> Response:
    _, course_id = await course_access(request)
    ctx = context(request)
    choice = await ctx.auto_sync.choice(course_id)
    return JSONResponse(choice.as_json(ctx.auto_sync.policy))


async def put_auto_sync(request: Request) -> Response:
    _, course_id = await course_access(request)
    body = await parsed_body(request, AutoSyncBody, "an automatic-sync choice")
    return JSONResponse(
        await choose_auto_sync(context(request), course_id, body.mode, body.nightly_at)
    )
