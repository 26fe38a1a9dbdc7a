"""Hostile and broken deliveries to `POST /events/canvas`: each gets a clear 4xx and a `rejected`
entry in the event log naming the same code, never a 5xx.

Forged tokens in every known shape (alg none, HS256 keyed with the public key, another key's
signature, a tampered payload, an unknown kid), signed tokens whose exp/nbf/iat lie far outside the
leeway, and, by hypothesis: bytes, text, JSON of every type, JSON nested deeper than a parser goes,
lone surrogates and other unicode edges, bodies over the size limit, and envelopes with fields of
the wrong type, as plain JSON and inside validly signed tokens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from canvas_events import make_key, sample
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc.jwk import RSAKey
from running_gpb import ADMIN_TOKEN, SandboxedGpb, auth

from gpb.infra.sandbox.keys import sign_event

pytestmark = pytest.mark.reliability

LEEWAY = 3600  # GPB_JWT_LEEWAY_SECONDS's default
FAR = 3 * 3600  # well beyond it, whatever the clocks say


@pytest.fixture(scope="module")
def client(served_gpb: SandboxedGpb) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=str(served_gpb.client.base_url), timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def key(served_gpb: SandboxedGpb) -> RSAKey:
    return served_gpb.sandbox.settings.signing_key


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(header: dict[str, Any], claims: Any, signature: bytes = b"") -> str:
    head = b64(json.dumps(header).encode())
    body = b64(json.dumps(claims).encode())
    return f"{head}.{body}.{b64(signature)}"


def deliver(client: httpx.Client, body: bytes | str) -> httpx.Response:
    """Posts a delivery; checks it was stored or refused as docs/api.md says, and logged either
    way."""
    answer = client.post("/events/canvas", content=body)
    assert answer.status_code < 500, answer.text
    (newest,) = client.get("/api/events", params={"limit": 1}, headers=auth(ADMIN_TOKEN)).json()[
        "events"
    ]
    if answer.status_code in (200, 202):
        assert answer.json()["id"] == newest["id"] or newest["status"] == "duplicate"
    else:
        code = answer.json()["error"]["code"]
        assert (newest["status"], newest["error"]["code"]) == ("rejected", code)
    return answer


def refused(client: httpx.Client, body: bytes | str, status: int, code: str) -> None:
    answer = deliver(client, body)
    assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), answer.text


# -- forged and expired tokens ------------------------------------------------------------


def test_alg_none_is_refused(client: httpx.Client, key: RSAKey) -> None:
    token = compact({"alg": "none", "kid": key.kid}, sample("grade_change_8_to_9_5"))
    refused(client, token, 401, "BAD_SIGNATURE")
    refused(client, token.rstrip("."), 400, "INVALID_BODY")  # two segments: no JWS at all


def test_hs256_keyed_with_the_public_key_is_refused(client: httpx.Client, key: RSAKey) -> None:
    header = {"alg": "HS256", "kid": key.kid}
    claims = sample("grade_change_8_to_9_5")
    public = key.as_pem(private=False)
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    mac = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    refused(client, f"{signing_input}.{b64(mac)}", 401, "BAD_SIGNATURE")


def test_another_keys_signature_is_refused(client: httpx.Client, key: RSAKey) -> None:
    impostor = make_key(str(key.kid))  # the same kid, another key
    refused(client, sign_event(sample("grade_change_8_to_9_5"), impostor), 401, "BAD_SIGNATURE")


def test_a_tampered_payload_is_refused(client: httpx.Client, key: RSAKey) -> None:
    head, _, signature = sign_event(sample("grade_change_8_to_9_5"), key).split(".")
    forged = sample("grade_change_8_to_9_5")
    forged["body"]["score"] = 10.0
    refused(client, f"{head}.{b64(json.dumps(forged).encode())}.{signature}", 401, "BAD_SIGNATURE")


def test_an_unknown_kid_is_refused(client: httpx.Client) -> None:
    stranger = make_key("a-kid-canvas-never-had")
    refused(client, sign_event(sample("grade_change_8_to_9_5"), stranger), 401, "UNKNOWN_KEY")


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": -FAR},
        {"nbf": FAR},
        {"iat": FAR},
        {"exp": "tomorrow"},
        {"exp": -(10**12)},
        {"nbf": 10**12},
    ],
)
def test_signed_tokens_with_times_far_outside_the_leeway_are_refused(
    client: httpx.Client, key: RSAKey, claims: dict[str, Any]
) -> None:
    now = int(time.time())
    event = sample("grade_change_8_to_9_5")
    event["body"]["score"] = 1.5  # a new event, not a duplicate of one stored
    event.update({k: now + v if isinstance(v, int) else v for k, v in claims.items()})
    refused(client, sign_event(event, key), 401, "BAD_SIGNATURE")


def test_times_within_the_leeway_are_accepted(client: httpx.Client, key: RSAKey) -> None:
    now = int(time.time())
    event = sample("grade_change_8_to_9_5")
    event["body"]["score"] = 2.5
    event.update(exp=now - LEEWAY // 2, nbf=now + LEEWAY // 2, iat=now + LEEWAY // 2)
    assert deliver(client, sign_event(event, key)).status_code == 202


def test_a_body_over_the_limit_is_refused_before_it_is_read(
    client: httpx.Client, served_gpb: SandboxedGpb
) -> None:
    limit = served_gpb.settings.max_event_bytes
    refused(client, b"x" * (limit + 1), 413, "PAYLOAD_TOO_LARGE")


# -- anything at all ----------------------------------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text(st.characters(codec=None)),  # lone surrogates too: JSON escapes them
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
FIELDS = {
    "event_name": st.sampled_from(["grade_change", "submission_updated", "assignment_updated"]),
    "event_time": st.sampled_from(
        ["2026-11-02T14:00:00Z", "2019-11-05 07:38:00 -0800", "0001-01-01T00:00:00+01:00"]
    ),
    "context_id": st.sampled_from(["10000000000456", 456, 10**30, "²", "-1"]),
}


@st.composite
def envelopes(draw: st.DrawFn) -> Any:
    """Envelopes near enough to a real event to reach the deeper checks, each field sometimes of
    a wrong type."""
    event = sample(draw(st.sampled_from(["grade_change_8_to_9_5", "submission_updated"])))
    meta = event["metadata"]
    for name, right in FIELDS.items():
        meta[name] = draw(right | JSON)
    body = event["body"]
    for name in draw(st.lists(st.sampled_from(sorted(body)), max_size=4)):
        body[name] = draw(JSON)
    return draw(st.sampled_from([event, {"metadata": meta}, {"body": body}, [event], meta]))


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


PLAIN = (
    st.binary(max_size=400)
    | st.text(st.characters(codec=None), max_size=200).map(lambda t: t.encode("utf-8", "replace"))
    | JSON.map(json.dumps)
    | envelopes().map(json.dumps)
    | st.integers(200, 20_000).map(deep)
)


@st.composite
def tokens(draw: st.DrawFn, key: RSAKey) -> str:
    """Compact JWS-shaped bodies: random segments, or the sandbox's valid signature over junk."""
    if draw(st.booleans()):
        return sign_event(draw(envelopes()), key)
    header = draw(st.fixed_dictionaries({"alg": st.sampled_from(["RS256", "none", "HS256"])}))
    header["kid"] = draw(st.sampled_from([str(key.kid), "other"]) | JSON)
    # Text that can go over HTTP: a lone surrogate has no UTF-8 bytes to send.
    sendable = st.characters(codec="utf-8")
    segments = [
        b64(json.dumps(header).encode()),
        draw(st.text(sendable, max_size=60)),
        draw(st.text(sendable)),
    ]
    return ".".join(segments[: draw(st.integers(1, 4))])


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_delivery_gets_a_5xx_and_every_refusal_is_logged(
    client: httpx.Client, key: RSAKey, data: st.DataObject
) -> None:
    body = data.draw(PLAIN | tokens(key))
    deliver(client, body)
