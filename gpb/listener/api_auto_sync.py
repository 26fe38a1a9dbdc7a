"""A course's automatic syncs: what is in effect, and the teacher's choice."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from gpb.listener import schemas
from gpb.listener.answers import json_answer
from gpb.listener.api_syncs import parsed_body
from gpb.listener.auth import context, course_access
from gpb.listener.operations import operation, returns


class AutoSyncBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["off", "after_change", "nightly"] | None = Field(
        description="null: the district's default"
    )
    nightly_at: str | None = Field(
        default=None, pattern=r"^\d{2}:\d{2}$", description="HH:MM in the district's zone"
    )


@operation(
    "The course's automatic syncs: the mode in effect, the teacher's choice, the district's"
    " rules, and the assignments left out after failing",
    "token",
    {200: returns(schemas.AutoSync)},
)
async def get_auto_sync(request: Request) -> Response:
    _, course_id = await course_access(request)
    ctx = context(request)
    choice = await ctx.auto_sync.choice(course_id)
    return json_answer(schemas.AutoSync.of(choice, ctx.auto_sync.policy))


@operation(
    "Choose the course's automatic syncs: off, after each change, or nightly",
    "token",
    {
        200: returns(schemas.AutoSync),
        400: returns(
            schemas.ErrorBody,
            "INVALID_BODY, AUTO_SYNC_MODE_NOT_ALLOWED, NIGHTLY_OUTSIDE_WINDOW",
        ),
    },
    body={"application/json": AutoSyncBody},
)
async def put_auto_sync(request: Request) -> Response:
    _, course_id = await course_access(request)
    body = await parsed_body(request, AutoSyncBody, "an automatic-sync choice")
    ctx = context(request)
    choice = await ctx.auto_sync.choose_as_written(course_id, body.mode, body.nightly_at)
    return json_answer(schemas.AutoSync.of(choice, ctx.auto_sync.policy))
