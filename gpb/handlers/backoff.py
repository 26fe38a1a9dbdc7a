"""How often to try a piece of work and how long to wait between tries: gpb's one retry policy.

Two kinds of work use it. Stored work (an event's handler, a notice) is tried again minutes or
hours later, at a time written to the database; an HTTP exchange with Canvas or IC is tried again
within the call, after a short sleep (gpb/infra/http_retry.py).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class Jitter(StrEnum):
    """How much of the wait is random."""

    # Half fixed, half random: the work waits at least half the backoff, giving the outside
    # system that long to recover, and retries spread out.
    EQUAL = "equal"
    # Uniform over the whole wait: clients that failed together do not come back together.
    FULL = "full"


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_seconds: float = 5.0
    max_seconds: float = 3600.0
    jitter: Jitter = Jitter.EQUAL

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_seconds < 0 or self.max_seconds < 0:
            raise ValueError("delays must not be negative")

    def delay(self, attempts: int, rand: Callable[[], float] = random.random) -> float:
        """The wait after `attempts` failed tries: exponential backoff, capped, with jitter."""
        ceiling = min(self.max_seconds, self.base_seconds * 2.0 ** (attempts - 1))
        if self.jitter is Jitter.FULL:
            return rand() * ceiling
        return ceiling / 2 + rand() * ceiling / 2
