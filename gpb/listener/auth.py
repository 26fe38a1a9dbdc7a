"""Who is calling: a bearer token (hashed in the store), the bootstrap admin token, or a page
session naming one of them (then a state-changing call must also carry the session's CSRF token)."""

from __future__ import annotations

import hmac

from starlette.requests import Request

from gpb.handlers.ids import local_id_or_none
from gpb.handlers.tokens import Principal, Role, token_hash
from gpb.listener import guessing, sessions
from gpb.listener.context import AppContext
from gpb.listener.errors import ApiError, not_found
from gpb.listener.forms import read_form

_BOOTSTRAP_ADMIN = Principal(Role.ADMIN, frozenset(), name="GPB_ADMIN_TOKEN")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.context
    return ctx


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def authenticate(request: Request) -> Principal:
    """The bearer token when there is one (a wrong one is never rescued by a cookie), else the
    page session."""
    ctx = context(request)
    token = _bearer(request)
    if token is not None:
        guessing.refuse_if_throttled(request)
        principal = await principal_for(ctx, token_hash(token))
        if principal is None:
            await guessing.failed(request, "failed bearer check")
            raise ApiError("UNAUTHENTICATED", "the token is unknown, revoked or expired")
        return principal
    session = await live_session(request)
    if session is None or (session.token_hash is None and session.launched is None):
        raise ApiError("UNAUTHENTICATED", "send Authorization: Bearer <token>")
    if request.method not in SAFE_METHODS:
        await require_csrf(request, session)
    if session.launched is not None:
        return session.launched.principal()
    principal = await principal_for(ctx, session.token_hash) if session.token_hash else None
    if principal is None:
        raise ApiError("UNAUTHENTICATED", "the session's token was revoked or has expired")
    return principal


async def live_session(request: Request) -> sessions.Session | None:
    """The request's page session, unless it is forged, expired or was logged out of."""
    ctx = context(request)
    session = sessions.from_request(request, ctx.config.session_secret, ctx.now())
    if session is None or await ctx.ended_sessions.has_ended(session.session_id):
        return None
    return session


async def principal_for(ctx: AppContext, digest: str) -> Principal | None:
    """Who holds the token with this hash: the bootstrap admin, a live stored token, or nobody."""
    admin_token = ctx.config.admin_token
    if admin_token and hmac.compare_digest(digest, token_hash(admin_token)):
        return _BOOTSTRAP_ADMIN
    info = await ctx.tokens.find_by_hash(digest, ctx.now())
    if info is None:
        return None
    return Principal(
        info.role, frozenset(info.course_ids), info.name, info.prefix, info.canvas_user_id
    )


async def require_csrf(request: Request, session: sessions.Session) -> None:
    """A cookie goes along on any request the browser makes, a cross-site one included; only a
    page of ours knows the session's CSRF token, sent as a header (scripts) or a form field."""
    submitted = request.headers.get(sessions.CSRF_HEADER)
    if submitted is None:
        submitted = (await read_form(request)).get(sessions.CSRF_FIELD)
    if not session.accepts(submitted):
        raise ApiError("CSRF_FAILED", "this call needs the session's CSRF token")


async def require_admin(request: Request) -> Principal:
    principal = await authenticate(request)
    if not principal.is_admin:
        raise ApiError("FORBIDDEN", "this call is for admins")
    return principal


async def course_access(request: Request) -> tuple[Principal, str]:
    """The caller and the local id of the course in the path; another course is a 404."""
    principal = await authenticate(request)
    course_id = local_id_or_none(request.path_params["course_id"])
    if course_id is None or not principal.may_see(course_id):
        raise not_found("no such course")
    return principal, course_id
