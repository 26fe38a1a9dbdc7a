"""Every error answer is `{"error": {"code", "message"}}` (docs/api.md), whatever raised it, with
the status STATUS_BY_CODE gives its code: the one place a code becomes an HTTP status, for the
ingress, the API and the pages alike."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gpb.handlers.refusals import Refused

log = logging.getLogger("gpb.listener")

# The codes the listener raises of its own, besides those of the domain's refusals.
ListenerCode = Literal[
    "INVALID_BODY",
    "INVALID_QUERY",
    "LENGTH_REQUIRED",
    "PAYLOAD_TOO_LARGE",
    "REQUEST_TIMEOUT",
    "UNAUTHENTICATED",
    "TOO_MANY_ATTEMPTS",
    "CSRF_FAILED",
    "FORBIDDEN",
    "NOT_FOUND",
    "TOO_MANY_STREAMS",
    "LTI_OFF",
    "CANVAS_REFUSED",  # a fix Canvas declined
    "CANVAS_UNAVAILABLE",  # a fix whose outcome Canvas left unknown
]

STATUS_BY_CODE: Mapping[str, int] = {
    # the request itself
    "INVALID_BODY": 400,
    "INVALID_QUERY": 400,
    "INVALID_ENVELOPE": 400,
    "LENGTH_REQUIRED": 411,
    "PAYLOAD_TOO_LARGE": 413,
    "REQUEST_TIMEOUT": 408,
    # who is asking
    "UNAUTHENTICATED": 401,
    "TOO_MANY_ATTEMPTS": 429,
    "CSRF_FAILED": 403,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "TOO_MANY_STREAMS": 429,
    # a delivery's signature and sender
    "BAD_SIGNATURE": 401,
    "UNKNOWN_KEY": 401,
    "KEYS_UNAVAILABLE": 503,
    "ROOT_ACCOUNT_NOT_CONFIGURED": 403,
    "WRONG_ROOT_ACCOUNT": 403,
    # a launch from Canvas
    "LTI_OFF": 404,
    "LTI_UNKNOWN_ISSUER": 400,
    "LTI_UNKNOWN_CLIENT": 400,
    "LTI_MISSING_PARAMETER": 400,
    "LTI_WRONG_TARGET": 400,
    "LTI_PLATFORM_ERROR": 401,
    "LTI_STATE_MISMATCH": 401,
    "LTI_NO_STATE_COOKIE": 401,
    "LTI_WRONG_ISSUER": 401,
    "LTI_WRONG_AUDIENCE": 401,
    "LTI_EXPIRED": 401,
    "LTI_ISSUED_IN_FUTURE": 401,
    "LTI_NONCE_MISMATCH": 401,
    "LTI_NONCE_REUSED": 401,
    "LTI_MISSING_CLAIM": 401,
    "LTI_UNKNOWN_DEPLOYMENT": 403,
    "LTI_WRONG_MESSAGE_TYPE": 400,
    "LTI_WRONG_VERSION": 400,
    "LTI_MISSING_CUSTOM_FIELD": 400,
    "LTI_ROLE_NOT_ALLOWED": 403,
    # the event log
    "NOT_REPLAYABLE": 409,
    # asking for a run
    "NO_ASSIGNMENTS": 400,
    "UNKNOWN_ASSIGNMENT": 400,
    "ASSIGNMENTS_NOT_ALLOWED": 400,
    "SYNC_IN_PROGRESS": 409,
    "NOT_RESUMABLE": 409,
    # undoing one
    "UNDO_OF_UNDO": 409,
    "NOT_UNDOABLE": 409,
    "ALREADY_UNDONE": 409,
    "UNDO_NEWER_RUNS": 409,
    # automatic syncs
    "AUTO_SYNC_MODE_NOT_ALLOWED": 400,
    "NIGHTLY_OUTSIDE_WINDOW": 400,
    # fixes made in Canvas
    "INVALID_FIX": 400,
    "FIX_NOT_NEEDED": 409,
    "CANVAS_CHANGED": 409,
    "GROUP_NAME_TAKEN": 409,
    "NO_AUTOMATIC_FIX": 422,
    "ACT_AS_UNAVAILABLE": 403,
    "CANVAS_REFUSED": 422,
    "CANVAS_UNAVAILABLE": 502,
}

_CODES_BY_STATUS = {
    400: "INVALID_BODY",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
}


def status_of(code: str) -> int:
    return STATUS_BY_CODE[code]


class ApiError(Exception):
    """An error the listener finds in the request itself (its body, its query, who sends it)."""

    def __init__(
        self,
        code: ListenerCode,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers
        self.extra = extra

    @property
    def status(self) -> int:
        return status_of(self.code)


def error_response(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}, **extra}, status_code=status, headers=headers
    )


def not_found(what: str = "no such resource") -> ApiError:
    return ApiError("NOT_FOUND", what)


def refused_response(refused: Refused) -> JSONResponse:
    """A domain refusal: its code and message, its data beside them, and when to ask again."""
    retry = {"Retry-After": str(refused.retry_after)} if refused.retry_after else None
    return error_response(
        status_of(refused.code), refused.code, refused.message, retry, **refused.data
    )


async def on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.headers, **exc.extra)


async def on_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    return refused_response(exc)


async def on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _CODES_BY_STATUS.get(exc.status_code, "ERROR")
    return error_response(exc.status_code, code, str(exc.detail), dict(exc.headers or {}))


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "INTERNAL_ERROR", "gpb failed to answer; the error is logged")


EXCEPTION_HANDLERS = {
    ApiError: on_api_error,
    Refused: on_refused,
    HTTPException: on_http_exception,
    Exception: on_unexpected,
}
