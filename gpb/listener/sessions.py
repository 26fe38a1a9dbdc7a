"""Page sessions: a signed cookie naming a token by its hash, with the session's CSRF token.

The cookie holds no secret of its own: the token's SHA-256 (what the store keys tokens by), the
CSRF token and the expiry, signed with HMAC-SHA256 under `GPB_SESSION_SECRET`. The token is looked
up on every request, so revoking it ends its sessions at once. A visitor who has not logged in yet
gets a session without a token, so that the login form is protected against CSRF like the others.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response

COOKIE_NAME = "gpb_session"
LIFETIME = timedelta(hours=12)
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
_VERSION = b"gpb-session-1"  # signed with the payload: a future format cannot be mistaken for it


@dataclass(frozen=True)
class Session:
    csrf_token: str
    expires_at: int  # Unix seconds
    token_hash: str | None = None  # None until the visitor logs in

    def accepts(self, submitted: str | None) -> bool:
        return submitted is not None and hmac.compare_digest(
            submitted.encode(), self.csrf_token.encode()
        )


def new_session(now: datetime, token_hash: str | None = None) -> Session:
    # A fresh CSRF token at login too: one learned before logging in is worth nothing after.
    return Session(secrets.token_urlsafe(32), int((now + LIFETIME).timestamp()), token_hash)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, payload: str) -> str:
    mac = hmac.new(secret.encode(), _VERSION + b"." + payload.encode(), hashlib.sha256)
    return _b64(mac.digest())


def encode(session: Session, secret: str) -> str:
    fields = {"c": session.csrf_token, "x": session.expires_at, "h": session.token_hash}
    payload = _b64(json.dumps(fields, separators=(",", ":")).encode())
    return f"{payload}.{_signature(secret, payload)}"


def decode(value: str, secret: str, now: datetime) -> Session | None:
    """The session in a cookie value; None when it is malformed, forged or expired."""
    payload, _, signature = value.partition(".")
    if not hmac.compare_digest(signature.encode(), _signature(secret, payload).encode()):
        return None
    try:
        fields = json.loads(_unb64(payload))
        session = Session(fields["c"], int(fields["x"]), fields["h"])
    except (ValueError, binascii.Error, KeyError, TypeError):
        return None  # signed by us, so only a change of format gets here
    return session if session.expires_at > now.timestamp() else None


def from_request(request: Request, secret: str, now: datetime) -> Session | None:
    value = request.cookies.get(COOKIE_NAME)
    return decode(value, secret, now) if value else None


def store(response: Response, request: Request, session: Session, secret: str) -> None:
    response.set_cookie(
        COOKIE_NAME,
        encode(session, secret),
        max_age=int(LIFETIME.total_seconds()),
        httponly=True,
        # Lax, not Strict: a link to a course page from Canvas or an e-mail opens it logged in,
        # while cross-site posts carry no cookie (and would need the CSRF token besides).
        samesite="lax",
        # Behind a TLS proxy uvicorn reports https from the forwarded headers; plain http happens
        # only on a developer's machine, where a Secure cookie would never come back.
        secure=request.url.scheme == "https",
    )


def clear(response: Response) -> None:
    response.delete_cookie(COOKIE_NAME, httponly=True, samesite="lax")
