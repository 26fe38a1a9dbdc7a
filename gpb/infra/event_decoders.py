"""Turning a delivery's raw body into the claimed event: RS256 JWS against Canvas's JWKS, or JSON.

joserfc checks the header and verifies the signature (it is the cheapest maintained JOSE library
over `cryptography`); gpb splits the token and decodes its parts once, picks the key by the
header's kid, and checks the optional time claims. (joserfc's own `deserialize_compact` would
decode the header and payload a second time: a fifth of a signed delivery's cost in the server.)
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from gpb.handlers.ingest import Refusal

log = logging.getLogger("gpb.jwks")

ACCEPTED_ALGORITHMS = ["RS256"]
KEYS_RETRY_AFTER_SECONDS = 30


def _invalid_body(message: str) -> Refusal:
    return Refusal("INVALID_BODY", message)


def _bad_signature(message: str) -> Refusal:
    return Refusal("BAD_SIGNATURE", message)


def _b64decode(segment: bytes) -> bytes:
    return base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise _invalid_body(f"the {what} is not JSON") from None
    except RecursionError:  # "[[[[...": within the size limit, deeper than the parser goes
        raise _invalid_body(f"the {what} nests too deeply") from None
    if not isinstance(value, dict):
        raise _invalid_body(f"the {what} is not a JSON object")
    return value


class PlainJsonDecoder:
    """GPB_EVENTS_AUTH=none: the body is the event itself (development only)."""

    async def decode(self, raw: bytes) -> object:
        return _json_object(raw, "body")


class JwksCache:
    """The signing keys at one JWKS URL (Canvas's event keys; the same class serves any other
    issuer's), fetched again only for an unknown `kid`, and at most once per
    `min_refetch_seconds`, so a flood of made-up kids cannot hammer the JWKS host.

    A genuine token is never refused for good because of timing: an unknown `kid` is 401 only once
    a fetch begun after the token arrived still lacks it. Within the interval after a fetch
    (start-up's included) the answer is 503 with the seconds left, so a key rotated in just then
    costs the sender one retry, not the token.
    """

    def __init__(
        self,
        url: str,
        *,
        min_refetch_seconds: float = 10.0,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._min_refetch = min_refetch_seconds
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport)
        self._clock = clock
        self._keys: dict[str, RSAKey] = {}
        self._last_fetch: float | None = None
        self._last_fetch_ok = False
        self._fetches = 0  # fetches begun so far: tells a fetch begun after a token arrived
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        await self._client.aclose()

    async def key(self, kid: str) -> RSAKey:
        """The key for `kid`; raises Refusal UNKNOWN_KEY (401) or KEYS_UNAVAILABLE (503)."""
        found = self._keys.get(kid)
        if found is not None:
            return found
        fetches_before = self._fetches
        async with self._lock:
            found = self._keys.get(kid)
            if found is None and self._may_fetch():
                await self._fetch()
                found = self._keys.get(kid)
        if found is not None:
            return found
        if not self._last_fetch_ok:
            raise _keys_unavailable(
                "the signing keys could not be fetched; retry later",
                max(KEYS_RETRY_AFTER_SECONDS, self._seconds_left()),
            )
        if self._fetches > fetches_before:
            raise Refusal("UNKNOWN_KEY", "the token's kid is not among the signing keys")
        raise _keys_unavailable(
            "the token's kid is not among the signing keys fetched moments ago; retry later",
            self._seconds_left(),
        )

    def _may_fetch(self) -> bool:
        return self._seconds_left() == 0

    def _seconds_left(self) -> int:
        """Whole seconds until the next fetch is allowed (0: now)."""
        if self._last_fetch is None:
            return 0
        left = self._last_fetch + self._min_refetch - self._clock()
        return max(0, math.ceil(left))

    async def refresh(self) -> None:
        """Fetches the keys now (at start-up); callers asking for a key meanwhile wait for it."""
        async with self._lock:
            await self._fetch()

    async def _fetch(self) -> None:
        self._last_fetch = self._clock()
        self._fetches += 1
        try:
            keys = await fetch_jwks(self._client, self._url)
        except (httpx.HTTPError, ValueError) as exc:
            self._last_fetch_ok = False
            log.error("fetching the JWKS from %s failed: %s", self._url, exc)
            return
        self._keys = keys
        self._last_fetch_ok = True
        log.info("loaded %d signing keys from %s", len(keys), self._url)


def _keys_unavailable(message: str, retry_after: int) -> Refusal:
    return Refusal("KEYS_UNAVAILABLE", message, retry_after=max(1, retry_after))


async def fetch_jwks(client: httpx.AsyncClient, url: str) -> dict[str, RSAKey]:
    """The RSA keys with a `kid` that the JWKS at `url` holds, by kid.

    Raises httpx.HTTPError when the JWKS cannot be fetched, ValueError when it is no JWKS.
    """
    response = await client.get(url)
    response.raise_for_status()
    return _parse_jwks(response.json())


def _parse_jwks(document: object) -> dict[str, RSAKey]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("the JWKS has no keys list")
    keys: dict[str, RSAKey] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA" or "kid" not in entry:
            continue
        try:
            keys[str(entry["kid"])] = RSAKey.import_key(entry)
        except (JoseError, ValueError) as exc:
            log.warning("skipping JWKS key %s: %s", entry.get("kid"), exc)
    return keys


def _registry(max_bytes: int) -> jws.JWSRegistry:
    """Built once per decoder (joserfc would build one per token from `algorithms=`), taking
    payloads up to the body limit: joserfc's own default (128,000 bytes) would refuse a genuine
    event with a long description as a bad signature."""
    registry = jws.JWSRegistry(algorithms=ACCEPTED_ALGORITHMS)
    registry.max_payload_length = max_bytes
    return registry


@dataclass(frozen=True)
class _Token:
    """A compact JWS split at its dots, its header and payload decoded."""

    header_segment: bytes
    payload_segment: bytes
    signature_segment: bytes
    header: bytes
    payload: bytes

    @property
    def signing_input(self) -> bytes:
        return self.header_segment + b"." + self.payload_segment


def _split(body: bytes) -> _Token:
    parts = body.split(b".")
    if len(parts) != 3:
        raise _invalid_body("the body is neither a compact JWS nor JSON")
    try:
        header, payload = _b64decode(parts[0]), _b64decode(parts[1])
    except (binascii.Error, ValueError):
        raise _invalid_body("the token is not base64url") from None
    return _Token(parts[0], parts[1], parts[2], header, payload)


class JwtDecoder:
    def __init__(
        self, keys: JwksCache, *, leeway_seconds: int = 3600, max_bytes: int = 1_048_576
    ) -> None:
        self._keys = keys
        self._leeway = leeway_seconds
        self._registry = _registry(max_bytes)

    async def decode(self, raw: bytes) -> object:
        claims = await self.verify(raw)
        self._check_times(claims)
        return claims

    async def verify(self, raw: bytes) -> dict[str, Any]:
        """The claims of a token whose signature verifies, times not looked at; an LTI launch
        checks them with its own leeway and codes."""
        body = raw.strip()
        if body[:1] in (b"{", b"["):
            _json_object(body, "body")
            raise _bad_signature("the body is plain JSON; signed events are required")
        token = _split(body)
        header = _json_object(token.header, "token's header")
        if header.get("alg") not in ACCEPTED_ALGORITHMS:
            raise _bad_signature(f"alg {header.get('alg')!r} is not accepted; RS256 is required")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Refusal("UNKNOWN_KEY", "the token's header names no kid")
        key = await self._keys.key(kid)
        try:
            payload = self._verified_payload(body, token, header, key)
        except (JoseError, binascii.Error, ValueError):
            raise _bad_signature("the signature does not verify") from None
        return _json_object(payload, "token's payload")

    def _verified_payload(
        self, body: bytes, token: _Token, header: dict[str, Any], key: RSAKey
    ) -> bytes:
        """What joserfc's `deserialize_compact` checks, on the parts decoded once: the sizes, the
        header (`crit` and the registered parameters), the key's type and use, the signature.
        A token with an unencoded payload (RFC 7797's `b64`), which Canvas does not send, goes
        through joserfc whole."""
        if "b64" in header:
            return jws.deserialize_compact(body, key, registry=self._registry).payload
        registry = self._registry
        registry.validate_compact_value_size(body)
        registry.validate_header_size(token.header_segment)
        registry.validate_signature_size(token.signature_segment)
        registry.validate_payload_size(token.payload_segment)
        registry.check_header(header)
        algorithm = registry.get_alg(header["alg"])
        algorithm.check_key(key)
        signature = _b64decode(token.signature_segment)
        if not algorithm.verify(token.signing_input, signature, key):
            raise ValueError("the signature does not verify")
        return token.payload

    def _check_times(self, claims: dict[str, Any]) -> None:
        """Canvas does not promise exp/iat/nbf; when present they must be sane, within a leeway
        wider than Canvas's retry window."""
        now = time.time()
        for name in ("exp", "nbf", "iat"):
            value = claims.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _bad_signature(f"the {name} claim is not a number")
            if not math.isfinite(value):  # JSON parsers take NaN and Infinity; no time is either
                raise _bad_signature(f"the {name} claim is not a finite number")
            if name == "exp" and value < now - self._leeway:
                raise _bad_signature("the token has expired")
            if name in ("nbf", "iat") and value > now + self._leeway:
                raise _bad_signature(f"the token's {name} lies in the future")
