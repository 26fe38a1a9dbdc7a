"""Claims on shared work: with several gpb processes on one database, each event, sync run and
notice is taken by one holder at a time, until a time after which, if the holder died, another
may take it over. Holders renew their claims while the work goes on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from gpb.handlers.ports import JobSlots


@dataclass(frozen=True)
class Claim:
    """Who takes work, when, and until when the others keep off it."""

    holder: str
    now: datetime
    until: datetime

    @classmethod
    def starting(cls, holder: str, now: datetime, lease: timedelta) -> Claim:
        return cls(holder, now, now + lease)


@dataclass(frozen=True)
class Turns:
    """Whose turn a scheduled job's round is: with several processes on one database, the one
    that takes the round's slot first (a day, a minute); the others skip it. Without slots (a
    process alone on its database) every round is this process's."""

    slots: JobSlots | None = None
    holder: str = "gpb"

    async def mine(self, job: str, slot: str, now: datetime) -> bool:
        if self.slots is None:
            return True
        return await self.slots.take(job, slot, self.holder, now)


ALONE = Turns()  # a process alone on its database: every round is its own
