"""The district's school hours: when Canvas should be sending events, so that silence means
something (`GPB_SCHOOL_DAYS`, `GPB_SCHOOL_HOURS`, in `GPB_TIME_ZONE`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Silence is measured in school time; past two weeks of it every threshold is long crossed, so
# older history need not be walked day by day.
LOOKBACK = timedelta(days=14)


@dataclass(frozen=True)
class SchoolHours:
    days: frozenset[int]  # weekday numbers, Monday 0
    start: time
    end: time
    zone: tzinfo

    @classmethod
    def parse(cls, days: str, hours: str, zone: tzinfo) -> SchoolHours:
        """`"mon,tue,wed,thu,fri"` (or `"mon-fri"`) and `"07:00-17:00"`; raises ValueError."""
        start_text, dash, end_text = hours.partition("-")
        if not dash:
            raise ValueError(f"school hours are HH:MM-HH:MM, not {hours!r}")
        start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
        if start >= end:
            raise ValueError(f"school hours must start before they end: {hours!r}")
        return cls(_weekdays(days), start, end, zone)

    def contains(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        return local.weekday() in self.days and self.start <= local.time() < self.end

    def elapsed(self, since: datetime, until: datetime) -> timedelta:
        """How much school time lies between the two moments."""
        since = max(since, until - LOOKBACK)
        total = timedelta()
        day = since.astimezone(self.zone).date()
        last = until.astimezone(self.zone).date()
        while day <= last:
            if day.weekday() in self.days:
                # In UTC: subtracting two times of one zone would ignore a DST change between them.
                opens = datetime.combine(day, self.start, self.zone).astimezone(UTC)
                closes = datetime.combine(day, self.end, self.zone).astimezone(UTC)
                overlap = min(closes, until) - max(opens, since)
                total += max(overlap, timedelta())
            day += timedelta(days=1)
        return total


def _weekdays(text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in text.lower().replace(" ", "").split(","):
        first, dash, last = part.partition("-")
        if first not in DAY_NAMES or (dash and last not in DAY_NAMES):
            raise ValueError(f"school days are names like mon,tue or mon-fri, not {text!r}")
        low, high = DAY_NAMES.index(first), DAY_NAMES.index(last if dash else first)
        if low > high:
            raise ValueError(f"a range of school days runs forward in the week: {part!r}")
        days.update(range(low, high + 1))
    return frozenset(days)
