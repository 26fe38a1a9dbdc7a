"""Bearer tokens: who may call the API, and over which courses."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from gpb.handlers.ports import TokenStore

TOKEN_PREFIX = "gpb_"
PREFIX_LENGTH = 12  # "gpb_" and 8 characters: enough to name a token, useless to use one


class Role(StrEnum):
    ADMIN = "admin"
    INSTRUCTOR = "instructor"


@dataclass(frozen=True)
class Principal:
    """The caller of an API request."""

    role: Role
    course_ids: frozenset[str]
    name: str | None = None
    token_prefix: str | None = None
    canvas_user_id: str | None = None  # who fixes made in Canvas act as (GPB_CANVAS_ACT_AS_USER)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def may_see(self, course_id: str) -> bool:
        return self.is_admin or course_id in self.course_ids


@dataclass(frozen=True)
class TokenInfo:
    prefix: str
    role: Role
    name: str | None
    course_ids: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    canvas_user_id: str | None = None

    def live(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    # Tokens carry 256 random bits, so a plain hash is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def token_prefix(token: str) -> str:
    return token[:PREFIX_LENGTH]


FIRST_ADMIN_NAME = "first admin (made by gpb serve)"


async def first_admin_token(tokens: TokenStore, now: datetime) -> str | None:
    """A new admin token when the database holds no live one (a fresh install without
    GPB_ADMIN_TOKEN), for `gpb serve` to print once; None when an admin token exists."""
    if any(info.role is Role.ADMIN and info.live(now) for info in await tokens.list()):
        return None
    token = new_token()
    await tokens.add(token, Role.ADMIN, (), FIRST_ADMIN_NAME, None)
    return token
