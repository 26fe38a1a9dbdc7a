"""The url-encoded forms the pages post: a token, a CSRF token, a return path, and the sync form,
which names each chosen assignment (a big course has hundreds)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

from gpb.listener.bodies import read_deadlines, slow_body
from gpb.listener.errors import ApiError

MAX_FORM_BYTES = 65_536
MAX_FORM_FIELDS = 2_000
URLENCODED = "application/x-www-form-urlencoded"


def is_form(request: Request) -> bool:
    content_type = request.headers.get("content-type", "")
    return content_type.split(";")[0].strip().lower() == URLENCODED


async def read_form(request: Request) -> dict[str, str]:
    """The fields of a url-encoded body (empty for any other body); the body is read once and
    kept by Starlette, so auth and the page can both read it. Browsers always send a length."""
    if not is_form(request):
        return {}
    declared = request.headers.get("content-length", "")
    if not (declared.isascii() and declared.isdigit()):
        raise ApiError("LENGTH_REQUIRED", "send a form with a Content-Length")
    if len(declared) > len(str(MAX_FORM_BYTES)) or int(declared) > MAX_FORM_BYTES:
        raise ApiError("PAYLOAD_TOO_LARGE", f"a form is at most {MAX_FORM_BYTES} bytes")
    deadlines = read_deadlines(request)
    try:
        with deadlines.within():
            body = (await request.body())[:MAX_FORM_BYTES]
    except TimeoutError:
        raise slow_body(deadlines.seconds) from None
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise ApiError("INVALID_BODY", "the form could not be read") from None
    return dict(pairs)
