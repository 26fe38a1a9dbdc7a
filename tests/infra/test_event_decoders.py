import asyncio
import base64
import hashlib
import hmac
import json
import time

import httpx
import pytest
from canvas_events import jwks_document, make_key, sample, sign
from joserfc import jws

from gpb.handlers.ingest import Refusal
from gpb.infra.event_decoders import JwksCache, JwtDecoder, PlainJsonDecoder, fetch_jwks
from gpb.listener.errors import status_of

KEY = make_key("k-current")


def b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


EVENT = sample("grade_change_8_to_9_5")


class Jwks:
    """A JWKS host that counts its fetches and can be switched off."""

    def __init__(self, *keys: object) -> None:
        self.keys = list(keys)
        self.fetches = 0
        self.down = False

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        if self.down:
            return httpx.Response(502)
        return httpx.Response(200, json=jwks_document(*self.keys))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def decoder_for(host: Jwks, clock: Clock | None = None) -> JwtDecoder:
    cache = JwksCache(
        "https://keys.example/jwks",
        min_refetch_seconds=10,
        transport=httpx.MockTransport(host.handler),
        clock=clock or Clock(),
    )
    return JwtDecoder(cache, leeway_seconds=1800)


async def refused(decoder: JwtDecoder, raw: bytes) -> Refusal:
    with pytest.raises(Refusal) as caught:
        await decoder.decode(raw)
    return caught.value


async def test_a_signed_event_decodes_to_its_claims() -> None:
    assert await decoder_for(Jwks(KEY)).decode(sign(EVENT, KEY)) == EVENT


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b"not a token", 400, "INVALID_BODY"),
        (b"a.b", 400, "INVALID_BODY"),
        (b"!!!.###.$$$", 400, "INVALID_BODY"),
        (b"{not json", 400, "INVALID_BODY"),
        (json.dumps(EVENT).encode(), 401, "BAD_SIGNATURE"),
    ],
)
async def test_bodies_that_are_not_signed_events(raw: bytes, status: int, code: str) -> None:
    refusal = await refused(decoder_for(Jwks(KEY)), raw)
    assert (status_of(refusal.code), refusal.code) == (status, code)


async def test_a_forged_signature_is_refused() -> None:
    forger = make_key("k-current")  # same kid, different key
    refusal = await refused(decoder_for(Jwks(KEY)), sign(EVENT, forger))
    assert (status_of(refusal.code), refusal.code) == (401, "BAD_SIGNATURE")


async def test_a_tampered_payload_is_refused() -> None:
    header, _, signature = sign(EVENT, KEY).split(b".")
    forged = b64(json.dumps({**EVENT, "body": {}}).encode())
    refusal = await refused(decoder_for(Jwks(KEY)), b".".join([header, forged, signature]))
    assert refusal.code == "BAD_SIGNATURE"


async def test_alg_none_is_refused() -> None:
    unsigned = b64(b'{"alg":"none","kid":"k-current"}') + b"." + b64(json.dumps(EVENT).encode())
    refusal = await refused(decoder_for(Jwks(KEY)), unsigned + b".")
    assert refusal.code == "BAD_SIGNATURE"


async def test_hs256_signed_with_the_public_key_is_refused() -> None:
    # The classic confusion attack: HMAC keyed with the RSA public key a verifier already holds.
    signing_input = (
        b64(b'{"alg":"HS256","kid":"k-current"}') + b"." + b64(json.dumps(EVENT).encode())
    )
    mac = hmac.new(KEY.as_pem(private=False), signing_input, hashlib.sha256).digest()
    refusal = await refused(decoder_for(Jwks(KEY)), signing_input + b"." + b64(mac))
    assert refusal.code == "BAD_SIGNATURE"


def signed_with_header(header: dict[str, object], payload: bytes, key: object = KEY) -> bytes:
    """A compact JWS with exactly `header`, signed with RS256 by hand (joserfc would refuse to
    sign some of these headers)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signing_input = b64(json.dumps(header).encode()) + b"." + payload
    private = KEY.get_op_key("sign")
    signature = private.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return signing_input + b"." + b64(signature)


@pytest.mark.parametrize(
    "extra",
    [
        {"crit": ["exp"]},  # a critical extension gpb does not understand
        {"crit": "b64"},  # not a list
        {"jku": 42},  # a registered parameter of the wrong type
        {"b64": False},  # an unencoded payload without saying it is critical
    ],
)
async def test_a_well_signed_token_with_a_header_to_refuse_is_refused(
    extra: dict[str, object],
) -> None:
    header = {"alg": "RS256", "kid": "k-current", **extra}
    token = signed_with_header(header, b64(json.dumps(EVENT).encode()))
    refusal = await refused(decoder_for(Jwks(KEY)), token)
    assert (status_of(refusal.code), refusal.code) == (401, "BAD_SIGNATURE")


async def test_a_header_with_more_than_it_needs_still_verifies() -> None:
    token = sign(EVENT, KEY, typ="JWT", cty="json")
    assert await decoder_for(Jwks(KEY)).decode(token) == EVENT


async def test_an_unencoded_payload_is_verified_as_sent() -> None:
    # RFC 7797: with b64 false (and critical) the payload is signed as it is, not base64url.
    # Canvas does not send these; such a token verifies over its raw segment, as joserfc reads it.
    payload = b"eyJub3QiOiJiYXNlNjQgb2YgdGhlIGV2ZW50In0"  # also valid base64url, of another JSON
    header = {"alg": "RS256", "kid": "k-current", "b64": False, "crit": ["b64"]}
    refusal = await refused(decoder_for(Jwks(KEY)), signed_with_header(header, payload))
    # The raw segment is what was signed, and it is not a JSON object: refused as such.
    assert (status_of(refusal.code), refusal.code) == (400, "INVALID_BODY")


async def test_a_signed_payload_that_is_not_json_is_an_invalid_body() -> None:
    token = jws.serialize_compact({"alg": "RS256", "kid": "k-current"}, b"\xff\xfe", KEY)
    refusal = await refused(decoder_for(Jwks(KEY)), token.encode())
    assert (status_of(refusal.code), refusal.code) == (400, "INVALID_BODY")


@pytest.mark.parametrize(
    ("claims", "accepted"),
    [
        ({"exp": time.time() - 600}, True),  # Canvas retried for a while: within the leeway
        ({"exp": time.time() - 7200}, False),
        ({"nbf": time.time() + 7200}, False),
        ({"iat": time.time() + 7200}, False),
        ({"iat": time.time() - 86400}, True),
        ({"exp": "tomorrow"}, False),
        ({}, True),
    ],
)
async def test_time_claims_are_checked_with_a_leeway(
    claims: dict[str, object], accepted: bool
) -> None:
    raw = sign({**EVENT, **claims}, KEY)
    decoder = decoder_for(Jwks(KEY))
    if accepted:
        assert await decoder.decode(raw)
    else:
        assert (await refused(decoder, raw)).code == "BAD_SIGNATURE"


async def test_an_unknown_kid_refetches_the_keys_at_most_once_per_interval() -> None:
    host = Jwks(KEY)
    clock = Clock()
    decoder = decoder_for(host, clock)
    assert await decoder.decode(sign(EVENT, KEY))
    assert host.fetches == 1
    stranger = make_key("k-unknown")
    clock.now += 11
    # The first unknown kid fetches, and a fetch made after it arrived lacks it: 401.
    assert (await refused(decoder, sign(EVENT, stranger))).code == "UNKNOWN_KEY"
    for _ in range(50):
        refusal = await refused(decoder, sign(EVENT, stranger))
        assert (status_of(refusal.code), refusal.code, refusal.retry_after) == (
            503,
            "KEYS_UNAVAILABLE",
            10,
        )
    assert host.fetches == 2  # the flood did not fetch

    rotated = make_key("k-next")
    host.keys.append(rotated)
    clock.now += 3.5
    refusal = await refused(decoder, sign(EVENT, rotated))
    assert (status_of(refusal.code), refusal.retry_after) == (
        503,
        7,
    )  # the seconds left, rounded up
    clock.now += 7
    assert await decoder.decode(sign(EVENT, rotated)) == EVENT
    assert host.fetches == 3


async def test_a_key_rotated_in_just_after_start_up_is_503_then_accepted() -> None:
    host = Jwks(KEY)
    clock = Clock()
    cache = JwksCache(
        "https://keys.example/jwks",
        min_refetch_seconds=10,
        transport=httpx.MockTransport(host.handler),
        clock=clock,
    )
    await cache.refresh()  # start-up's fetch
    rotated = make_key("k-rotated")
    host.keys.append(rotated)
    clock.now += 2
    decoder = JwtDecoder(cache, leeway_seconds=1800)
    refusal = await refused(decoder, sign(EVENT, rotated))
    assert (status_of(refusal.code), refusal.code, refusal.retry_after) == (
        503,
        "KEYS_UNAVAILABLE",
        8,
    )
    clock.now += 8  # Canvas retries after Retry-After
    assert await decoder.decode(sign(EVENT, rotated)) == EVENT


async def test_unknown_only_after_a_fetch_begun_after_the_token_arrived() -> None:
    """A token that waited on a fetch begun before it arrived is not refused for good by it."""
    host = Jwks(KEY)
    clock = Clock()
    gate = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        await gate.wait()
        return host.handler(request)

    cache = JwksCache(
        "https://keys.example/jwks",
        min_refetch_seconds=10,
        transport=httpx.MockTransport(slow),
        clock=clock,
    )
    stranger = make_key("k-unknown")
    first = asyncio.create_task(cache.key("k-unknown"))  # starts a fetch at t=1000
    await asyncio.sleep(0)
    clock.now += 1
    second = asyncio.create_task(cache.key("k-unknown"))  # arrives during that fetch
    await asyncio.sleep(0)
    gate.set()
    with pytest.raises(Refusal) as early:
        await first
    with pytest.raises(Refusal) as late:
        await second
    assert early.value.code == "UNKNOWN_KEY"
    assert (late.value.code, late.value.retry_after) == ("KEYS_UNAVAILABLE", 9)
    assert stranger.kid == "k-unknown"


async def test_keys_unreachable_for_an_unknown_kid_is_a_503_with_retry_after() -> None:
    host = Jwks(KEY)
    host.down = True
    refusal = await refused(decoder_for(host), sign(EVENT, KEY))
    assert (status_of(refusal.code), refusal.code) == (503, "KEYS_UNAVAILABLE")
    assert refusal.retry_after and refusal.retry_after > 0


async def test_known_keys_keep_working_while_the_jwks_host_is_down() -> None:
    host = Jwks(KEY)
    clock = Clock()
    decoder = decoder_for(host, clock)
    assert await decoder.decode(sign(EVENT, KEY))
    host.down = True
    clock.now += 100
    assert await decoder.decode(sign(EVENT, KEY)) == EVENT


async def test_a_genuine_event_larger_than_joserfcs_default_limit_verifies() -> None:
    big = sample("assignment_created")
    big["body"]["description"] = "<p>" + "long lesson plan " * 20_000 + "</p>"  # ~340 KB
    raw = sign(big, KEY)
    assert len(raw) > 400_000
    assert await decoder_for(Jwks(KEY)).decode(raw) == big


async def test_plain_json_mode() -> None:
    assert await PlainJsonDecoder().decode(json.dumps(EVENT).encode()) == EVENT
    with pytest.raises(Refusal) as caught:
        await PlainJsonDecoder().decode(b"[1]")
    assert caught.value.code == "INVALID_BODY"


async def test_fetch_jwks_keeps_rsa_keys_with_a_kid() -> None:
    document = jwks_document(KEY)
    document["keys"] += [{"kty": "EC", "kid": "ec-1"}, {"kty": "RSA", "n": "x", "e": "AQAB"}]
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=document))
    async with httpx.AsyncClient(transport=transport) as client:
        keys = await fetch_jwks(client, "https://keys.example/jwks")
    assert list(keys) == ["k-current"]


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (httpx.Response(502), httpx.HTTPStatusError),
        (httpx.Response(200, json={"no": "keys"}), ValueError),
        (httpx.Response(200, text="<html>"), ValueError),
    ],
)
async def test_fetch_jwks_raises_what_went_wrong(
    answer: httpx.Response, error: type[Exception]
) -> None:
    transport = httpx.MockTransport(lambda request: answer)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(error):
            await fetch_jwks(client, "https://keys.example/jwks")
