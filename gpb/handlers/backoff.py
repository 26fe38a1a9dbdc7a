"""How long to wait before trying a failed piece of work again."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_seconds: float = 5.0
    max_seconds: float = 3600.0

    def delay(self, attempts: int, rand: Callable[[], float] = random.random) -> float:
        """Exponential backoff with jitter: half fixed, half random, so retries spread out."""
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** (attempts - 1))
        return ceiling / 2 + rand() * ceiling / 2
