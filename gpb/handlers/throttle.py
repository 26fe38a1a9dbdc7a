"""Counting what one client address does per window, so that a flood from one place is bounded.

One class serves two limits: how many refused deliveries per address are written to the event log
(the rest are counted and summed up in one entry), and how many failed logins and bearer checks per
address are answered before the address must wait. It lives in memory, per process: a flood is
bounded per replica, and a restart forgets it, which is harmless for either use.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

# Addresses tracked at once: beyond this, windows that have ended are dropped, and if all are
# live the newcomers share one bucket, so a flood from many addresses cannot grow memory.
MAX_ADDRESSES = 10_000
_OVERFLOW = "(other addresses)"


@dataclass
class _Window:
    started: float
    count: int = 0


@dataclass(frozen=True)
class Ended:
    """A window that ended with more than the limit: how many went over, and from where."""

    address: str
    over: int
    started: float


class PerAddressLimit:
    def __init__(
        self,
        limit: int,
        window_seconds: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_addresses: int = MAX_ADDRESSES,
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._max = max_addresses
        self._windows: dict[str, _Window] = {}

    def hit(self, address: str | None) -> tuple[bool, Ended | None]:
        """Counts one occurrence: whether it is within the limit, and the address's previous
        window when it ended over the limit (for the caller to report once)."""
        key = self._key(address or "(unknown)")
        now = self._clock()
        window = self._windows.get(key)
        ended = None
        if window is None or now - window.started >= self.window_seconds:
            if window is not None and window.count > self.limit:
                ended = Ended(key, window.count - self.limit, window.started)
            window = self._windows[key] = _Window(now)
        window.count += 1
        return window.count <= self.limit, ended

    def blocked_for(self, address: str | None) -> int:
        """Whole seconds the address must wait (0: it may try now)."""
        window = self._windows.get(self._key(address or "(unknown)"))
        if window is None or window.count < self.limit:
            return 0
        left = window.started + self.window_seconds - self._clock()
        return max(0, math.ceil(left))

    def _key(self, address: str) -> str:
        if address in self._windows or len(self._windows) < self._max:
            return address
        now = self._clock()
        for key in [k for k, w in self._windows.items() if now - w.started >= self.window_seconds]:
            del self._windows[key]
        return address if len(self._windows) < self._max else _OVERFLOW
