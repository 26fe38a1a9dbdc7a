"""Page sessions: a signed cookie naming a token by its hash, with the session's CSRF token.

The cookie holds no secret of its own: the token's SHA-256 (what the store keys tokens by), the
CSRF token, the session's id and the expiry, signed with HMAC-SHA256 under `GPB_SESSION_SECRET`.
The token is looked up on every request, so revoking it ends its sessions at once; logging out
records the session's id as ended in the database, so a copy of the cookie dies on every replica.
A visitor who has not logged in yet gets a session without a token, so that the login form is
protected against CSRF like the others.
A launch from Canvas (LTI) makes a session without a token too: the cookie then says what the
launches gave (the role and the courses), and lives inside Canvas's iframe (`set_embedded_cookie`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response

from gpb.handlers.tokens import Principal, Role

COOKIE_NAME = "gpb_session"
# Over https the cookie is `__Host-gpb_session`: browsers then take it only when Secure, for the
# whole site and from this host alone, so a sibling subdomain cannot plant or shadow it.
SECURE_COOKIE_NAME = "__Host-" + COOKIE_NAME
LIFETIME = timedelta(hours=12)
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
_VERSION = b"gpb-session-1"  # signed with the payload: a future format cannot be mistaken for it
MAX_LAUNCHED_COURSES = 50  # the oldest launch's course is dropped past this: cookies stay small


@dataclass(frozen=True)
class Launched:
    """What launches from Canvas gave this browser; no token stands behind it."""

    role: Role
    course_ids: tuple[str, ...]
    canvas_user_id: str

    def principal(self) -> Principal:
        # The launch says who the user is in Canvas: fixes made in Canvas act as them.
        return Principal(
            self.role,
            frozenset(self.course_ids),
            name=f"Canvas user {self.canvas_user_id}",
            canvas_user_id=self.canvas_user_id,
        )

    def adding(self, role: Role, course_id: str | None, canvas_user_id: str) -> Launched:
        """This session after one more launch: its course joins the others of the same Canvas
        user, and an admin's launch makes it an admin's; another user's launch starts over."""
        if canvas_user_id != self.canvas_user_id:
            return launched(role, course_id, canvas_user_id)
        courses = self.course_ids + (
            (course_id,) if course_id and course_id not in self.course_ids else ()
        )
        best = Role.ADMIN if Role.ADMIN in (role, self.role) else Role.INSTRUCTOR
        return Launched(best, courses[-MAX_LAUNCHED_COURSES:], canvas_user_id)


def launched(role: Role, course_id: str | None, canvas_user_id: str) -> Launched:
    return Launched(role, (course_id,) if course_id else (), canvas_user_id)


def _new_id() -> str:
    return secrets.token_urlsafe(16)


@dataclass(frozen=True)
class Session:
    csrf_token: str
    expires_at: int  # Unix seconds
    token_hash: str | None = None  # None until the visitor logs in
    launched: Launched | None = None  # a session made by launches from Canvas
    session_id: str = field(default_factory=_new_id)  # what logging out ends

    def accepts(self, submitted: str | None) -> bool:
        return submitted is not None and hmac.compare_digest(
            submitted.encode(), self.csrf_token.encode()
        )


def new_session(
    now: datetime, token_hash: str | None = None, launched: Launched | None = None
) -> Session:
    # A fresh CSRF token at login too: one learned before logging in is worth nothing after.
    expires_at = int((now + LIFETIME).timestamp())
    return Session(secrets.token_urlsafe(32), expires_at, token_hash, launched)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, payload: str) -> str:
    mac = hmac.new(secret.encode(), _VERSION + b"." + payload.encode(), hashlib.sha256)
    return _b64(mac.digest())


def encode(session: Session, secret: str) -> str:
    fields: dict[str, object] = {
        "c": session.csrf_token,
        "x": session.expires_at,
        "h": session.token_hash,
        "s": session.session_id,
    }
    if session.launched is not None:
        grant = session.launched
        fields["l"] = [grant.role.value, list(grant.course_ids), grant.canvas_user_id]
    payload = _b64(json.dumps(fields, separators=(",", ":")).encode())
    return f"{payload}.{_signature(secret, payload)}"


def decode(value: str, secret: str, now: datetime) -> Session | None:
    """The session in a cookie value; None when it is malformed, forged or expired."""
    payload, _, signature = value.partition(".")
    if not hmac.compare_digest(signature.encode(), _signature(secret, payload).encode()):
        return None
    try:
        fields = json.loads(_unb64(payload))
        session = Session(
            fields["c"], int(fields["x"]), fields["h"], _launched(fields.get("l")), str(fields["s"])
        )
    except (ValueError, binascii.Error, KeyError, TypeError):
        return None  # signed by us, so only a change of format gets here
    return session if session.expires_at > now.timestamp() else None


def _launched(value: object) -> Launched | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 3 or not isinstance(value[1], list):
        raise ValueError("not a launched session")
    return Launched(Role(value[0]), tuple(str(c) for c in value[1]), str(value[2]))


def _is_https(request: Request) -> bool:
    # Behind a TLS proxy uvicorn reports https from the forwarded headers; plain http happens
    # only on a developer's machine, where a Secure cookie would never come back.
    return request.url.scheme == "https"


def cookie_name(request: Request) -> str:
    return SECURE_COOKIE_NAME if _is_https(request) else COOKIE_NAME


def from_request(request: Request, secret: str, now: datetime) -> Session | None:
    value = request.cookies.get(cookie_name(request))
    return decode(value, secret, now) if value else None


def set_embedded_cookie(
    response: Response, name: str, value: str, *, max_age: int | None = None, path: str = "/"
) -> None:
    """A cookie that works inside Canvas's iframe, on the district's Canvas site, where gpb is a
    third party: only `SameSite=None; Secure` cookies go along there, and `Partitioned` keeps them
    (per Canvas site) in browsers that block other third-party cookies. Browsers keep Secure
    cookies from plain http on loopback addresses, so the sandbox works as production does.
    Written out by hand: Python's cookie module knows `Partitioned` only from 3.14. `value` is
    cookie-safe (base64url, dots)."""
    parts = [f"{name}={value}", f"Path={path}", "HttpOnly", "Secure", "SameSite=None"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    response.headers.append("set-cookie", "; ".join([*parts, "Partitioned"]))


def store(response: Response, request: Request, session: Session, secret: str) -> None:
    value = encode(session, secret)
    if session.launched is not None:
        # A launch's session lives in Canvas's iframe, for the browser session (12 hours at
        # most: the signed expiry).
        set_embedded_cookie(response, cookie_name(request), value)
        return
    response.set_cookie(
        cookie_name(request),
        value,
        max_age=int(LIFETIME.total_seconds()),
        httponly=True,
        # Lax, not Strict: a link to a course page from Canvas or an e-mail opens it logged in,
        # while cross-site posts carry no cookie (and would need the CSRF token besides).
        samesite="lax",
        secure=_is_https(request),
    )


def clear(response: Response) -> None:
    response.delete_cookie(COOKIE_NAME, httponly=True, samesite="lax")
    # A partitioned cookie is a cookie of its own: only a partitioned deletion reaches it.
    set_embedded_cookie(response, COOKIE_NAME, '""', max_age=0)
    response.delete_cookie(SECURE_COOKIE_NAME, httponly=True, samesite="lax", secure=True)
    set_embedded_cookie(response, SECURE_COOKIE_NAME, '""', max_age=0)
