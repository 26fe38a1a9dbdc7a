"""The error dictionary as a page: one anchor per code, so any page can link to `/errors#CODE`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gpb.handlers.dictionary import CANVAS_TITLES, ENTRIES, Entry, Kind
from gpb.listener.auth import authenticate
from gpb.listener.operations import REDIRECT, html, operation
from gpb.listener.pages.render import page, render

# The dictionary's kinds, as the page heads them, in the order a teacher meets them.
SECTIONS: tuple[tuple[Kind, str], ...] = (
    ("rule", "Rules an assignment must meet"),
    ("sync", "Errors a sync can meet in Infinite Campus"),
    ("canvas", "Errors reading Canvas"),
    ("filter", "Why grades are left out of a run"),
    ("warning", "Warnings of a run"),
)


def by_kind() -> list[tuple[str, list[Entry]]]:
    return [(heading, [e for e in ENTRIES if e.kind == kind]) for kind, heading in SECTIONS]


@operation("The error dictionary page", "token", {200: html(), 303: REDIRECT})
@page
async def errors_page(request: Request) -> Response:
    principal = await authenticate(request)
    return render(
        request,
        "errors.html",
        principal,
        nav="errors",
        sections=by_kind(),
        canvas_titles=CANVAS_TITLES,
    )
