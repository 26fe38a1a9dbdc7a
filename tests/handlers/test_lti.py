"""The checks on a launch's claims, one by one, and who a launch makes."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from lti_claims import FromNow, resolved

from gpb.handlers.ingest import Refusal
from gpb.handlers.lti import (
    CLAIM,
    Grant,
    LtiPolicy,
    accept_launch,
    check_claims,
    context_roles,
    grant_for,
)
from gpb.handlers.tokens import Role

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
INSTRUCTOR = LIS + "membership#Instructor"
TA = LIS + "membership/Instructor#TeachingAssistant"
LEARNER = LIS + "membership#Learner"
MENTOR = LIS + "membership#Mentor"
ADMIN = LIS + "institution/person#Administrator"
POLICY = LtiPolicy(
    issuer="https://canvas.instructure.com",
    client_id="10000000000042",
    deployment_ids=frozenset({"42:abc"}),
    instructor_roles=frozenset({"Instructor"}),
)
NONCE = "n-123"
LTI_CLAIMS = ("message_type", "version", "deployment_id", "roles", "custom")


def claims(**changes: Any) -> dict[str, Any]:
    """A resource link launch of the teacher of course 456; `changes` replace claims (None
    removes one). Keys name LTI claims by their short name (`roles`, `custom`, ...)."""
    now = int(time.time())
    values: dict[str, Any] = {
        "iss": POLICY.issuer,
        "aud": POLICY.client_id,
        "azp": POLICY.client_id,
        "sub": "abc",
        "iat": now,
        "exp": now + 3600,
        "nonce": NONCE,
        CLAIM + "message_type": "LtiResourceLinkRequest",
        CLAIM + "version": "1.3.0",
        CLAIM + "deployment_id": "42:abc",
        CLAIM + "roles": [INSTRUCTOR],
        CLAIM + "custom": {"canvas_course_id": "456", "canvas_user_id": "789"},
    }
    for name, value in changes.items():
        key = CLAIM + name if name in LTI_CLAIMS else name
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
    return values


def refused(claims_: dict[str, Any], policy: LtiPolicy = POLICY) -> str:
    with pytest.raises(Refusal) as raised:
        check_claims(claims_, policy, NONCE, time.time())
    return raised.value.code


def test_a_good_launch_passes_every_check() -> None:
    check_claims(claims(), POLICY, NONCE, time.time())


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"iss": "https://evil.example"}, "LTI_WRONG_ISSUER"),
        ({"iss": None}, "LTI_WRONG_ISSUER"),
        ({"aud": "another-tool"}, "LTI_WRONG_AUDIENCE"),
        ({"aud": ["another-tool"]}, "LTI_WRONG_AUDIENCE"),
        ({"aud": [POLICY.client_id, "another"], "azp": "another"}, "LTI_WRONG_AUDIENCE"),
        ({"aud": [POLICY.client_id, "another"], "azp": None}, "LTI_WRONG_AUDIENCE"),
        ({"exp": FromNow(-600)}, "LTI_EXPIRED"),
        ({"exp": None}, "LTI_MISSING_CLAIM"),
        ({"exp": "tomorrow"}, "LTI_MISSING_CLAIM"),
        ({"iat": FromNow(3600)}, "LTI_ISSUED_IN_FUTURE"),
        ({"iat": None}, "LTI_MISSING_CLAIM"),
        ({"iat": True}, "LTI_MISSING_CLAIM"),
        ({"nonce": "another"}, "LTI_NONCE_MISMATCH"),
        ({"nonce": None}, "LTI_NONCE_MISMATCH"),
        ({"deployment_id": "9:elsewhere"}, "LTI_UNKNOWN_DEPLOYMENT"),
        ({"deployment_id": None}, "LTI_MISSING_CLAIM"),
        ({"message_type": "LtiDeepLinkingRequest"}, "LTI_WRONG_MESSAGE_TYPE"),
        ({"message_type": None}, "LTI_WRONG_MESSAGE_TYPE"),
        ({"version": "1.1.0"}, "LTI_WRONG_VERSION"),
        ({"version": None}, "LTI_WRONG_VERSION"),
    ],
)
def test_each_bad_claim_is_refused_with_its_code(changes: dict[str, Any], code: str) -> None:
    assert refused(claims(**resolved(changes))) == code


def test_times_within_five_minutes_of_leeway_pass_and_beyond_do_not() -> None:
    now = int(time.time())
    check_claims(claims(exp=now - 299, iat=now + 299), POLICY, NONCE, float(now))
    with pytest.raises(Refusal):
        check_claims(claims(exp=now - 301), POLICY, NONCE, float(now))
    with pytest.raises(Refusal):
        check_claims(claims(iat=now + 301), POLICY, NONCE, float(now))


def test_several_audiences_pass_when_gpb_is_the_authorized_party() -> None:
    check_claims(claims(aud=["other", POLICY.client_id]), POLICY, NONCE, time.time())


def test_any_deployment_passes_when_none_is_listed() -> None:
    anywhere = LtiPolicy(POLICY.issuer, POLICY.client_id, frozenset(), POLICY.instructor_roles)
    check_claims(claims(deployment_id="7:new"), anywhere, NONCE, time.time())
    assert refused(claims(deployment_id="7:new")) == "LTI_UNKNOWN_DEPLOYMENT"


# -- roles ---------------------------------------------------------------------------------------


def grant(policy: LtiPolicy = POLICY, **changes: Any) -> Grant:
    return grant_for(claims(**changes), policy)


def refusal_code(policy: LtiPolicy = POLICY, **changes: Any) -> str:
    with pytest.raises(Refusal) as raised:
        grant(policy, **changes)
    return raised.value.code


TAS_TOO = LtiPolicy(
    POLICY.issuer,
    POLICY.client_id,
    POLICY.deployment_ids,
    frozenset({"Instructor", "TeachingAssistant"}),
)


def test_the_course_instructor_gets_the_course() -> None:
    assert grant() == Grant(Role.INSTRUCTOR, "456", "789")


def test_a_ta_gets_the_course_only_when_teaching_assistants_are_listed() -> None:
    assert refusal_code(roles=[INSTRUCTOR, TA]) == "LTI_ROLE_NOT_ALLOWED"
    assert grant(TAS_TOO, roles=[INSTRUCTOR, TA]).role is Role.INSTRUCTOR
    assert context_roles(claims(roles=[INSTRUCTOR, TA])) == {"TeachingAssistant"}


@pytest.mark.parametrize("roles", [[LEARNER], [MENTOR], [], "Instructor", [LIS + "x#Instructor"]])
def test_students_observers_and_strangers_get_nothing(roles: Any) -> None:
    assert refusal_code(roles=roles) == "LTI_ROLE_NOT_ALLOWED"


def test_an_admin_gets_an_admin_session_with_or_without_a_course() -> None:
    assert grant(roles=[ADMIN]) == Grant(Role.ADMIN, "456", "789")
    account = grant(
        roles=[ADMIN], custom={"canvas_course_id": "$Canvas.course.id", "canvas_user_id": "1"}
    )
    assert account == Grant(Role.ADMIN, None, "1")
    site_admin = grant(roles=[LIS + "system/person#SysAdmin", LEARNER])
    assert site_admin.role is Role.ADMIN


def test_a_missing_custom_field_is_named() -> None:
    for custom in ({"canvas_user_id": "789"}, {"canvas_course_id": "", "canvas_user_id": "789"}):
        with pytest.raises(Refusal) as raised:
            grant(custom=custom)
        assert raised.value.code == "LTI_MISSING_CUSTOM_FIELD"
        assert "canvas_course_id" in raised.value.message
    with pytest.raises(Refusal) as raised:
        grant(custom={"canvas_course_id": "456", "canvas_user_id": "$Canvas.user.id"})
    assert "canvas_user_id" in raised.value.message
    assert refusal_code(custom=None) == "LTI_MISSING_CUSTOM_FIELD"


def test_a_global_course_id_is_kept_in_local_form() -> None:
    assert grant(custom={"canvas_course_id": "10000000000456", "canvas_user_id": 789}) == Grant(
        Role.INSTRUCTOR, "456", "789"
    )


# -- the nonce -----------------------------------------------------------------------------------


class Ledger:
    def __init__(self) -> None:
        self.used: set[str] = set()

    async def use(self, nonce: str, now: datetime) -> bool:
        fresh = nonce not in self.used
        self.used.add(nonce)
        return fresh


async def test_a_nonce_is_used_once() -> None:
    ledger = Ledger()
    now = datetime.now(UTC)
    assert await accept_launch(claims(), POLICY, NONCE, ledger, now) == Grant(
        Role.INSTRUCTOR, "456", "789"
    )
    with pytest.raises(Refusal) as raised:
        await accept_launch(claims(), POLICY, NONCE, ledger, now)
    assert raised.value.code == "LTI_NONCE_REUSED"


async def test_a_token_failing_a_check_does_not_spend_its_nonce() -> None:
    ledger = Ledger()
    with pytest.raises(Refusal):
        await accept_launch(claims(iss="x"), POLICY, NONCE, ledger, datetime.now(UTC))
    assert ledger.used == set()
