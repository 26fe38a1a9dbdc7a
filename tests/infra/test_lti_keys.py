"""The id_token of a launch is verified by the event ingress's own JWT code and key cache: its
signature only, the times being the launch's to check with its own leeway."""

from __future__ import annotations

import time

import httpx
import pytest
from canvas_events import jwks_document, make_key, sign

from gpb.bootstrap import KeySets
from gpb.handlers.ingest import Refusal
from gpb.infra.event_decoders import JwksCache, JwtDecoder
from gpb.infra.settings import Settings

KEY = make_key("lti-key")


def decoder() -> JwtDecoder:
    transport = httpx.MockTransport(lambda _: httpx.Response(200, json=jwks_document(KEY)))
    return JwtDecoder(JwksCache("https://sso.example/jwks", transport=transport))


async def test_verify_checks_the_signature_and_leaves_the_times_to_the_launch() -> None:
    expired = {"iss": "https://canvas.instructure.com", "exp": int(time.time()) - 7200}
    claims = await decoder().verify(sign(expired, KEY))
    assert claims == expired
    with pytest.raises(Refusal) as raised:
        await decoder().decode(sign(expired, KEY))
    assert raised.value.code == "BAD_SIGNATURE"


async def test_verify_refuses_another_key() -> None:
    with pytest.raises(Refusal) as raised:
        await decoder().verify(sign({"iss": "x"}, make_key("lti-key")))
    assert raised.value.code == "BAD_SIGNATURE"


async def test_one_cache_per_jwks_url() -> None:
    keys = KeySets(Settings(_env_file=None))  # type: ignore[call-arg]
    try:
        shared = keys.at("http://127.0.0.1:9/jwks.json")
        assert keys.at("http://127.0.0.1:9/jwks.json") is shared
        assert keys.at("http://127.0.0.1:9/lti-jwks.json") is not shared
    finally:
        await keys.close()
