"""OAuth 2 bearer tokens issued by the OneRoster stand-in.

The lifetime is adjustable while the sandbox runs, so a test can make tokens expire in the middle of
a sync and see the client fetch a new one.
"""

from __future__ import annotations

import math
import secrets
import time


class TokenStore:
    def __init__(self, lifetime_seconds: float = 3600.0) -> None:
        self.lifetime_seconds = lifetime_seconds
        self.issued = 0
        self._expiry: dict[str, float] = {}

    def issue(self) -> tuple[str, int]:
        """A new token and its `expires_in` (whole seconds, at least 1, as OAuth 2 counts)."""
        token = secrets.token_urlsafe(32)
        self._expiry[token] = time.monotonic() + self.lifetime_seconds
        self.issued += 1
        return token, max(1, math.ceil(self.lifetime_seconds))

    def valid(self, token: str) -> bool:
        expiry = self._expiry.get(token)
        return expiry is not None and time.monotonic() < expiry

    def expire_all(self) -> None:
        self._expiry.clear()
