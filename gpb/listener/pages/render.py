"""Rendering pages: the templates, what every page is given, and errors answered as pages."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import pass_context
from jinja2.runtime import Context
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from gpb.handlers.dictionary import BY_CODE
from gpb.handlers.envelope import parse_canvas_time
from gpb.handlers.refusals import Refused
from gpb.handlers.timefmt import iso
from gpb.handlers.tokens import Principal
from gpb.listener import sessions
from gpb.listener.auth import authenticate, context
from gpb.listener.errors import ApiError, status_of
from gpb.listener.pages.icons import icon

LISTENER_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = LISTENER_DIR / "static"
TEMPLATES = Jinja2Templates(directory=LISTENER_DIR / "templates")

# Pages load only their own scripts and styles and can be framed only by the district's Canvas
# (launch from Canvas shows them in its iframe): an injected <script> would not run, and no other
# site can overlay them to steal clicks.
_POLICY = "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"
SECURITY_HEADERS = {
    "Content-Security-Policy": _POLICY + "; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # pages show grades and tokens' names: no shared caches
}


def security_headers(frame_origins: tuple[str, ...]) -> dict[str, str]:
    if not frame_origins:
        return SECURITY_HEADERS
    policy = f"{_POLICY}; frame-ancestors {' '.join(frame_origins)}"
    return SECURITY_HEADERS | {"Content-Security-Policy": policy}


PageHandler = Callable[[Request], Awaitable[Response]]


def _as_datetime(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else parse_canvas_time(value)


@pass_context
def local_time(jinja: Context, value: datetime | str | None) -> str:
    """A time in the district's zone (GPB_TIME_ZONE), to the minute."""
    if value is None:
        return "—"
    zone = context(jinja["request"]).config.time_zone
    return _as_datetime(value).astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def iso_time(value: datetime | str) -> str | None:
    return iso(_as_datetime(value))


def error_title(code: str) -> str | None:
    found = BY_CODE.get(code)
    return found.title if found else None


def number(value: float) -> str:
    """A score as a teacher writes it: 10, not 10.0; 9.5 as it is."""
    return str(int(value)) if float(value).is_integer() else str(value)


TEMPLATES.env.filters["local_time"] = local_time
TEMPLATES.env.filters["number"] = number
TEMPLATES.env.filters["iso_time"] = iso_time
TEMPLATES.env.globals["error_title"] = error_title
TEMPLATES.env.globals["icon"] = icon


def csrf_token(request: Request) -> str | None:
    """The CSRF token the page's forms carry; None when the caller came with a bearer token."""
    ctx = context(request)
    session = sessions.from_request(request, ctx.config.session_secret, ctx.now())
    return session.csrf_token if session else None


def render(
    request: Request,
    template: str,
    principal: Principal | None,
    *,
    status: int = 200,
    **values: Any,
) -> Response:
    shared = {
        "principal": principal,
        "csrf_token": csrf_token(request),
        "time_zone": context(request).config.time_zone.key,
        "events_refused": context(request).ingest_policy.refuses_every_event,
    }
    return TEMPLATES.TemplateResponse(request, template, shared | values, status_code=status)


def login_url(next_path: str) -> str:
    return f"/login?next={quote(next_path, safe='/')}"


_ERROR_TITLES = {
    403: "Not allowed",
    404: "Not found",
    409: "That cannot be done",
    413: "Too much sent",
}


async def error_page(request: Request, error: ApiError | Refused) -> Response:
    status = status_of(error.code)
    if status == 401:
        # Back to this page after logging in; a form post cannot be replayed, so its page instead.
        target = request.url.path if request.method == "GET" else "/"
        if request.method == "GET" and request.url.query:
            target += "?" + request.url.query
        return RedirectResponse(login_url(target), status_code=303)
    if error.code == "CSRF_FAILED":
        title = "This form has expired"
        message = (
            "The form was older than your session, or it was sent from another site. "
            "Go back, reload the page and send it again."
        )
    elif error.code == "FORBIDDEN":
        title, message = _ERROR_TITLES[403], "This page is for admins."
    else:
        title = _ERROR_TITLES.get(status, "Something went wrong")
        message = error.message[:1].upper() + error.message[1:] + "."
    # The caller may be logged in (a course not theirs, an admin page): keep the header, Log out.
    return render(
        request,
        "error.html",
        await _who(request),
        status=status,
        title=title,
        message=message,
    )


async def _who(request: Request) -> Principal | None:
    try:
        return await authenticate(request)
    except ApiError:
        return None


def page(handler: PageHandler) -> PageHandler:
    """A page route: the request's errors and the domain's refusals become pages (401 goes to
    the login), with the page headers."""

    @functools.wraps(handler)
    async def answer(request: Request) -> Response:
        try:
            response = await handler(request)
        except (ApiError, Refused) as error:
            response = await error_page(request, error)
        response.headers.update(security_headers(context(request).config.frame_origins))
        return response

    return answer
