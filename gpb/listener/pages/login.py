"""Logging in with a token, which becomes a session cookie, and logging out."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gpb.handlers.tokens import token_hash
from gpb.listener import guessing, schemas, sessions
from gpb.listener.auth import authenticate, context, live_session, principal_for
from gpb.listener.errors import ApiError
from gpb.listener.forms import read_form
from gpb.listener.operations import FORM, REDIRECT, Param, html, operation
from gpb.listener.pages.render import page, render


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a path of this site only (`//host` would leave it)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    return value


def _form(
    request: Request,
    session: sessions.Session,
    next_path: str,
    *,
    status: int = 200,
    problem: str | None = None,
    notice: str | None = None,
) -> Response:
    response = render(
        request,
        "login.html",
        None,
        status=status,
        csrf_token=session.csrf_token,  # the request may not have carried this session yet
        next_path=next_path,
        problem=problem,
        notice=notice,
    )
    sessions.store(response, request, session, context(request).config.session_secret)
    return response


@operation("The login page", "public", {200: html(), 303: REDIRECT}, query=(Param("next", "path"),))
@page
async def login_form(request: Request) -> Response:
    """The login form, under a session without a token whose CSRF token the form carries."""
    ctx = context(request)
    next_path = safe_next(request.query_params.get("next"))
    session = await live_session(request)
    if session is not None and session.token_hash is not None:
        if await principal_for(ctx, session.token_hash) is not None:
            return RedirectResponse(next_path, status_code=303)
        session = None  # its token was revoked: log in anew
    if session is None:
        session = sessions.new_session(ctx.now())
    notice = "You are logged out." if "logged_out" in request.query_params else None
    return _form(request, session, next_path, notice=notice)


@operation(
    "Log in with a token",
    "public",
    {
        303: REDIRECT,
        401: html("the form again"),
        403: html("the form expired"),
        429: html("too many failed logins from this address"),
    },
    body={FORM: schemas.LoginForm},
)
@page
async def log_in(request: Request) -> Response:
    ctx = context(request)
    form = await read_form(request)
    session = await live_session(request)
    if session is None or not session.accepts(form.get(sessions.CSRF_FIELD)):
        raise ApiError("CSRF_FAILED", "the login form needs its CSRF token")
    next_path = safe_next(form.get("next"))
    wait = guessing.wait_seconds(request)
    if wait:
        problem = f"Too many failed logins from your address. Try again in {wait} seconds."
        response = _form(request, session, next_path, status=429, problem=problem)
        response.headers["Retry-After"] = str(wait)
        return response
    token = form.get("token", "").strip()
    if not token or await principal_for(ctx, token_hash(token)) is None:
        await guessing.failed(request, "failed login")
        problem = "That token is unknown, revoked or expired. Check it and try again."
        return _form(request, session, next_path, status=401, problem=problem)
    response = RedirectResponse(next_path, status_code=303)
    session = sessions.new_session(ctx.now(), token_hash(token))
    sessions.store(response, request, session, ctx.config.session_secret)
    return response


@operation(
    "Log out",
    "token",
    {303: REDIRECT, 403: html("the form expired")},
    body={FORM: schemas.CsrfForm},
)
@page
async def log_out(request: Request) -> Response:
    await authenticate(request)  # a logged-in session, and the form's CSRF token
    session = await live_session(request)
    if session is not None:  # ended on the server: a copy of the cookie no longer works
        expires = datetime.fromtimestamp(session.expires_at, UTC)
        await context(request).ended_sessions.end(session.session_id, expires)
    response = RedirectResponse("/login?logged_out=1", status_code=303)
    sessions.clear(response)
    return response
