"""The sandbox's signing key: it plays Canvas's live-events key.

gpb verifies event JWTs against a JWKS; the sandbox serves its own public key there, and
`sign_event` signs with the private half, so a newcomer can post events to gpb that pass the same
check a district's Canvas events do. `gpb sandbox` and `gpb sandbox post` run as separate processes,
so the key lives in a file both read; it is made on first use.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from joserfc import jws
from joserfc.jwk import KeySetSerialization, RSAKey


def new_signing_key() -> RSAKey:
    """A fresh RS256 key whose `kid` is its thumbprint."""
    return RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)


def load_or_create_key(path: str | Path) -> RSAKey:
    """The key stored at `path`; a new one is written there (mode 0600) when there is none."""
    path = Path(path)
    if path.exists():
        return RSAKey.import_key(json.loads(path.read_text("utf-8")))
    key = new_signing_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump(key.as_dict(private=True), file)
    return key


def public_jwks(key: RSAKey) -> KeySetSerialization:
    return {"keys": [key.as_dict(private=False)]}


def sign_event(event: Mapping[str, Any], key: RSAKey) -> str:
    """A compact RS256 JWS whose claims are the event, `kid` in the header, as Canvas sends it."""
    header = {"alg": "RS256", "typ": "JWT", "kid": key.kid}
    text = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    try:
        payload = text.encode("utf-8")
    except UnicodeEncodeError:  # half a surrogate pair: JSON carries it only as an escape
        payload = json.dumps(event, separators=(",", ":")).encode("ascii")
    return jws.serialize_compact(header, payload, key)
