"""How many alert streams one token holds open at once, in this process.

A teacher keeps a few tabs open; a script that opens streams in a loop would otherwise hold a
connection, a task and a database read per stream for as long as it likes.
"""

from __future__ import annotations

from collections import Counter

from gpb.handlers.tokens import Principal


class Slot:
    """One open stream's place; releasing twice is harmless (the stream's end and the response's
    background task both release it, whichever runs)."""

    def __init__(self, slots: StreamSlots, key: str) -> None:
        self._slots = slots
        self._key = key
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._slots.release(self._key)


class StreamSlots:
    def __init__(self, per_token: int) -> None:
        self.per_token = per_token
        self._open: Counter[str] = Counter()

    def take(self, principal: Principal) -> Slot | None:
        """A slot for one more stream of this token, or None when it holds all it may."""
        key = principal.token_prefix or principal.name or principal.role.value
        if self._open[key] >= self.per_token:
            return None
        self._open[key] += 1
        return Slot(self, key)

    def release(self, key: str) -> None:
        self._open[key] -= 1
        if self._open[key] <= 0:
            del self._open[key]
