"""The listener's one table from error code to HTTP status: every code the domain may refuse with,
and every code the listener raises of its own, has its status there, and keeps the one it had."""

from __future__ import annotations

from typing import get_args

import pytest

import gpb.bootstrap  # noqa: F401  (imports every module whose refusals reach the listener)
from gpb.handlers.refusals import Refused
from gpb.handlers.syncs import RunInProgress
from gpb.listener.errors import STATUS_BY_CODE, ListenerCode, refused_response, status_of


def kinds_of_refusal() -> list[type[Refused]]:
    """Every kind of refusal defined in the modules imported."""
    found: list[type[Refused]] = []
    pending = list(Refused.__subclasses__())
    while pending:
        kind = pending.pop()
        found.append(kind)
        pending.extend(kind.__subclasses__())
    return found


def _domain_codes() -> dict[str, str]:
    """Each code of every kind of refusal, with the kind that carries it."""
    return {code: kind.__name__ for kind in kinds_of_refusal() for code in kind.codes}


def test_every_kind_of_refusal_lists_its_codes() -> None:
    kinds = kinds_of_refusal()
    names = {kind.__name__ for kind in kinds}
    # the refusals of the ingress, a launch, runs, undo, fixes, automatic syncs and the event log
    assert {"Refusal", "InvalidRequest", "NewerRuns", "RunInProgress", "FixRefused"} <= names
    assert {"InvalidChoice", "ReplayRefused", "RunsRefused"} <= names
    assert [kind.__name__ for kind in kinds if not kind.codes] == []


def test_every_domain_code_has_a_status() -> None:
    missing = {code: kind for code, kind in _domain_codes().items() if code not in STATUS_BY_CODE}
    assert missing == {}


def test_every_code_of_the_listener_has_a_status() -> None:
    assert [code for code in get_args(ListenerCode) if code not in STATUS_BY_CODE] == []


def test_the_table_holds_no_code_nobody_raises() -> None:
    raised = set(_domain_codes()) | set(get_args(ListenerCode))
    assert sorted(set(STATUS_BY_CODE) - raised) == []


# The statuses these codes had when each raiser named its own, before the table.
@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("INVALID_BODY", 400),
        ("INVALID_ENVELOPE", 400),
        ("BAD_SIGNATURE", 401),
        ("UNKNOWN_KEY", 401),
        ("KEYS_UNAVAILABLE", 503),
        ("ROOT_ACCOUNT_NOT_CONFIGURED", 403),
        ("WRONG_ROOT_ACCOUNT", 403),
        ("PAYLOAD_TOO_LARGE", 413),
        ("REQUEST_TIMEOUT", 408),
        ("LENGTH_REQUIRED", 411),
        ("LTI_OFF", 404),
        ("LTI_UNKNOWN_ISSUER", 400),
        ("LTI_UNKNOWN_CLIENT", 400),
        ("LTI_MISSING_PARAMETER", 400),
        ("LTI_WRONG_TARGET", 400),
        ("LTI_PLATFORM_ERROR", 401),
        ("LTI_STATE_MISMATCH", 401),
        ("LTI_NO_STATE_COOKIE", 401),
        ("LTI_WRONG_ISSUER", 401),
        ("LTI_WRONG_AUDIENCE", 401),
        ("LTI_EXPIRED", 401),
        ("LTI_ISSUED_IN_FUTURE", 401),
        ("LTI_NONCE_MISMATCH", 401),
        ("LTI_NONCE_REUSED", 401),
        ("LTI_MISSING_CLAIM", 401),  # also for a missing deployment_id, once a 400
        ("LTI_UNKNOWN_DEPLOYMENT", 403),
        ("LTI_WRONG_MESSAGE_TYPE", 400),
        ("LTI_WRONG_VERSION", 400),
        ("LTI_MISSING_CUSTOM_FIELD", 400),
        ("LTI_ROLE_NOT_ALLOWED", 403),
        ("UNAUTHENTICATED", 401),
        ("TOO_MANY_ATTEMPTS", 429),
        ("CSRF_FAILED", 403),
        ("FORBIDDEN", 403),
        ("NOT_FOUND", 404),
        ("INVALID_QUERY", 400),
        ("TOO_MANY_STREAMS", 429),
        ("NOT_REPLAYABLE", 409),
        ("NO_ASSIGNMENTS", 400),
        ("UNKNOWN_ASSIGNMENT", 400),
        ("ASSIGNMENTS_NOT_ALLOWED", 400),
        ("SYNC_IN_PROGRESS", 409),
        ("NOT_RESUMABLE", 409),
        ("UNDO_OF_UNDO", 409),
        ("NOT_UNDOABLE", 409),
        ("ALREADY_UNDONE", 409),
        ("UNDO_NEWER_RUNS", 409),
        ("AUTO_SYNC_MODE_NOT_ALLOWED", 400),
        ("NIGHTLY_OUTSIDE_WINDOW", 400),
        ("INVALID_FIX", 400),
        ("FIX_NOT_NEEDED", 409),
        ("CANVAS_CHANGED", 409),
        ("GROUP_NAME_TAKEN", 409),
        ("NO_AUTOMATIC_FIX", 422),
        ("ACT_AS_UNAVAILABLE", 403),
        ("CANVAS_REFUSED", 422),
        ("CANVAS_UNAVAILABLE", 502),
    ],
)
def test_each_code_keeps_its_status(code: str, status: int) -> None:
    assert status_of(code) == status


def test_a_refusal_answers_with_its_data_and_when_to_ask_again() -> None:
    busy = refused_response(RunInProgress("77"))
    assert busy.status_code == 409
    assert busy.body.startswith(b'{"error":{"code":"SYNC_IN_PROGRESS","message":"a run is')
    assert b'"sync_id":"77"' in busy.body
    later = refused_response(Refused("KEYS_UNAVAILABLE", "no keys yet", retry_after=30))
    assert (later.status_code, later.headers["Retry-After"]) == (503, "30")
