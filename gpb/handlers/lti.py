"""Launch from Canvas (LTI 1.3): what a verified id_token must claim, and who the launch makes.

The signature is checked before these claims are read (infra); everything here is the IMS Security
Framework's and LTI Core's list of checks on the claims, and gpb's own rule for roles. Each refusal
has a code of its own, so the page and the event log say exactly what was wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gpb.handlers.ids import local_id_or_none
from gpb.handlers.ingest import Refusal
from gpb.handlers.ports import NonceLedger
from gpb.handlers.tokens import Role

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
MESSAGE_TYPE = CLAIM + "message_type"
VERSION = CLAIM + "version"
DEPLOYMENT_ID = CLAIM + "deployment_id"
ROLES = CLAIM + "roles"
CUSTOM = CLAIM + "custom"
RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
LTI_VERSION = "1.3.0"
LEEWAY_SECONDS = 300  # clocks of Canvas and gpb may differ by this much

_LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
CONTEXT_ROLE = _LIS + "membership#"
CONTEXT_SUB_ROLE = _LIS + "membership/"
# Canvas sends account admins the institution role Administrator, and site admins the system roles.
ADMIN_ROLES = frozenset(
    {
        _LIS + "institution/person#Administrator",
        _LIS + "system/person#Administrator",
        _LIS + "system/person#SysAdmin",
    }
)
COURSE_FIELD = "canvas_course_id"
USER_FIELD = "canvas_user_id"


@dataclass(frozen=True)
class LtiPolicy:
    issuer: str
    client_id: str
    deployment_ids: frozenset[str]  # empty: any deployment of the client
    instructor_roles: frozenset[str]  # LIS short names: Instructor, TeachingAssistant, ...


@dataclass(frozen=True)
class Grant:
    """What a launch gave: an instructor session for one course, or an admin session."""

    role: Role
    course_id: str | None  # None for an admin's launch from account navigation
    canvas_user_id: str


@dataclass(frozen=True)
class Launcher:
    """Who a verified token says is launching, for the event log (refusals included)."""

    course_id: str | None
    canvas_user_id: str | None


def check_claims(claims: Mapping[str, Any], policy: LtiPolicy, nonce: str, now: float) -> None:
    """Raises Refusal unless the claims are those of a resource link launch meant for this tool,
    from its platform, fresh, and answering the login this browser started."""
    if claims.get("iss") != policy.issuer:
        raise Refusal("LTI_WRONG_ISSUER", f"the token is not from {policy.issuer}")
    _check_audience(claims, policy.client_id)
    _check_times(claims, now)
    if claims.get("nonce") != nonce:
        raise Refusal("LTI_NONCE_MISMATCH", "the token answers another login than this one")
    deployment = claims.get(DEPLOYMENT_ID)
    if not isinstance(deployment, str) or not deployment:
        raise Refusal("LTI_MISSING_CLAIM", "the token names no deployment_id")
    if policy.deployment_ids and deployment not in policy.deployment_ids:
        raise Refusal("LTI_UNKNOWN_DEPLOYMENT", f"deployment {deployment} is not accepted by gpb")
    message_type = claims.get(MESSAGE_TYPE)
    if message_type != RESOURCE_LINK_REQUEST:
        raise Refusal(
            "LTI_WRONG_MESSAGE_TYPE",
            f"gpb takes {RESOURCE_LINK_REQUEST} launches, not {message_type!r}",
        )
    if claims.get(VERSION) != LTI_VERSION:
        raise Refusal(
            "LTI_WRONG_VERSION", f"gpb takes LTI {LTI_VERSION}, not {claims.get(VERSION)!r}"
        )


def _check_audience(claims: Mapping[str, Any], client_id: str) -> None:
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if client_id not in audiences:
        raise Refusal("LTI_WRONG_AUDIENCE", "the token is meant for another tool")
    # Several audiences: the authorized party must be gpb (OIDC Core 3.1.3.7).
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise Refusal("LTI_WRONG_AUDIENCE", "the token's azp is not gpb's client id")


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Refusal("LTI_MISSING_CLAIM", f"the token's {name} is missing or not a number")
    return float(value)


def _check_times(claims: Mapping[str, Any], now: float) -> None:
    if _number(claims, "exp") < now - LEEWAY_SECONDS:
        raise Refusal("LTI_EXPIRED", "the token has expired")
    if _number(claims, "iat") > now + LEEWAY_SECONDS:
        raise Refusal("LTI_ISSUED_IN_FUTURE", "the token was issued in the future")


def _custom(claims: Mapping[str, Any], name: str) -> str | None:
    """A custom field Canvas filled in; an unexpanded `$Canvas...` means it had no value."""
    custom = claims.get(CUSTOM)
    value = custom.get(name) if isinstance(custom, dict) else None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or value.startswith("$"):
        return None
    return local_id_or_none(value.strip())


def launcher(claims: Mapping[str, Any]) -> Launcher:
    return Launcher(_custom(claims, COURSE_FIELD), _custom(claims, USER_FIELD))


def context_roles(claims: Mapping[str, Any]) -> set[str]:
    """The LIS short names of the context roles, the sub-role deciding: Canvas sends a TA both
    `membership#Instructor` and `membership/Instructor#TeachingAssistant`, and is a TA."""
    roles = claims.get(ROLES)
    uris = [r for r in roles if isinstance(r, str)] if isinstance(roles, list) else []
    names: set[str] = set()
    with_sub_roles: set[str] = set()
    for uri in uris:
        if uri.startswith(CONTEXT_SUB_ROLE):
            parent, _, sub = uri.removeprefix(CONTEXT_SUB_ROLE).partition("#")
            if sub:
                names.add(sub)
                with_sub_roles.add(parent)
        elif uri.startswith(CONTEXT_ROLE):
            names.add(uri.removeprefix(CONTEXT_ROLE))
        elif "/" not in uri and "#" not in uri:
            names.add(uri)  # a simple name, which LTI 1.3 deprecates but allows
    return names - with_sub_roles


def is_admin(claims: Mapping[str, Any]) -> bool:
    roles = claims.get(ROLES)
    return isinstance(roles, list) and any(role in ADMIN_ROLES for role in roles)


def grant_for(claims: Mapping[str, Any], policy: LtiPolicy) -> Grant:
    """The session a checked launch makes; raises Refusal for a missing custom field or a role
    that gets nothing (students, observers)."""
    who = launcher(claims)
    if who.canvas_user_id is None:
        raise _missing_field(USER_FIELD, "$Canvas.user.id")
    if is_admin(claims):
        return Grant(Role.ADMIN, who.course_id, who.canvas_user_id)
    if who.course_id is None:
        raise _missing_field(COURSE_FIELD, "$Canvas.course.id")
    if context_roles(claims) & policy.instructor_roles:
        return Grant(Role.INSTRUCTOR, who.course_id, who.canvas_user_id)
    raise Refusal(
        "LTI_ROLE_NOT_ALLOWED",
        "only the course's teachers and admins use grade passback; your role in this course"
        " does not give access to it",
    )


def _missing_field(name: str, variable: str) -> Refusal:
    return Refusal(
        "LTI_MISSING_CUSTOM_FIELD",
        f"the launch lacks the custom field {name}; add {name}={variable} to the developer key",
    )


async def accept_launch(
    claims: Mapping[str, Any],
    policy: LtiPolicy,
    nonce: str,
    nonces: NonceLedger,
    now: datetime,
) -> Grant:
    """Every check on a verified token, its nonce spent last so that only a launch that passed
    the other checks uses it up; raises Refusal."""
    check_claims(claims, policy, nonce, now.timestamp())
    if not await nonces.use(nonce, now):
        raise Refusal("LTI_NONCE_REUSED", "this launch was used already; launch again")
    return grant_for(claims, policy)
