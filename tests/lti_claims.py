"""Times in id_token claims for parametrized tests: written as offsets, resolved when the token is
made, so that a test collected minutes before it runs still means what it says."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FromNow:
    seconds: int


def resolved(claims: dict[str, Any]) -> dict[str, Any]:
    now = int(time.time())
    return {k: now + v.seconds if isinstance(v, FromNow) else v for k, v in claims.items()}
