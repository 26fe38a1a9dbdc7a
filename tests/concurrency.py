"""Watching how many calls a piece of code keeps under way at once."""

from __future__ import annotations

import asyncio


class InFlight:
    """Calls under way now, and the most there were at once."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0

    async def call(self, seconds: float = 0.01) -> None:
        """One call, under way for `seconds` (a request on the wire, a read)."""
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            await asyncio.sleep(seconds)
        finally:
            self.now -= 1
