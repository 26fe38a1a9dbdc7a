"""Who is calling: a bearer token (hashed in the store), or the bootstrap admin token."""

from __future__ import annotations

import hmac

from starlette.requests import Request

from gpb.handlers.ids import local_id_or_none
from gpb.handlers.tokens import Principal, Role
from gpb.listener.context import AppContext
from gpb.listener.errors import ApiError, not_found

_BOOTSTRAP_ADMIN = Principal(Role.ADMIN, frozenset(), name="GPB_ADMIN_TOKEN")


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
    token = _bearer(request)
    if token is None:
        raise ApiError(401, "UNAUTHENTICATED", "send Authorization: Bearer <token>")
    ctx = context(request)
    admin_token = ctx.config.admin_token
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return _BOOTSTRAP_ADMIN
    info = await ctx.tokens.find(token, ctx.now())
    if info is None:
        raise ApiError(401, "UNAUTHENTICATED", "the token is unknown, revoked or expired")
    return Principal(info.role, frozenset(info.course_ids), info.name, info.prefix)


async def require_admin(request: Request) -> Principal:
    principal = await authenticate(request)
    if not principal.is_admin:
        raise ApiError(403, "FORBIDDEN", "this call is for admins")
    return principal


async def course_access(request: Request) -> tuple[Principal, str]:
    """The caller and the local id of the course in the path; another course is a 404."""
    principal = await authenticate(request)
    course_id = local_id_or_none(request.path_params["course_id"])
    if course_id is None or not principal.may_see(course_id):
        raise not_found("no such course")
    return principal, course_id
