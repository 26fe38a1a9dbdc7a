"""Events over time as stacked bars, one colour per outcome, laid out here and drawn as SVG by
`_chart.html`. Every count is also given in words (legend, bar titles, a table), so no status is
told by colour alone."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from gpb.handlers.eventlog import BUCKET_STEP, BucketCount, EventStatus, TimeBucket, bucket_start

# Bottom to top: the usual outcome first, the ones that need a look on top, where they show.
STACK_ORDER = (
    EventStatus.PROCESSED,
    EventStatus.IGNORED,
    EventStatus.DUPLICATE,
    EventStatus.ACCEPTED,
    EventStatus.FAILED,
    EventStatus.REJECTED,
)
HEIGHT = 100.0  # the SVG's own units; CSS sizes it
BAR_GAP = 0.15  # of a bar's slot


@dataclass(frozen=True)
class Segment:
    status: str
    count: int
    y: float
    height: float


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    label: str  # the bucket's start in the district's zone
    total: int
    segments: tuple[Segment, ...]

    @property
    def description(self) -> str:
        parts = ", ".join(f"{s.count} {s.status}" for s in self.segments)
        return f"{self.label}: {self.total} events" + (f" ({parts})" if parts else "")


@dataclass(frozen=True)
class Chart:
    title: str
    bars: tuple[Bar, ...]
    totals: tuple[tuple[str, int], ...]  # (status, count) of the whole window, in stack order
    peak: int
    width: float
    height: float = HEIGHT

    @property
    def total(self) -> int:
        return sum(count for _, count in self.totals)

    @property
    def summary(self) -> str:
        parts = ", ".join(f"{count} {status}" for status, count in self.totals)
        return f"{self.title}: {self.total} events" + (f" ({parts})" if parts else "")


def window_start(now: datetime, bucket: TimeBucket, buckets: int) -> datetime:
    """The first bucket of the `buckets` that end with the one `now` falls in."""
    return bucket_start(now, bucket) - BUCKET_STEP[bucket] * (buckets - 1)


def build_chart(
    title: str,
    counts: Iterable[BucketCount],
    *,
    start: datetime,
    bucket: TimeBucket,
    buckets: int,
    zone: ZoneInfo,
) -> Chart:
    step = BUCKET_STEP[bucket]
    grid: list[dict[EventStatus, int]] = [{} for _ in range(buckets)]
    for count in counts:
        index = int((count.start - start) / step)
        if 0 <= index < buckets:
            grid[index][count.status] = grid[index].get(count.status, 0) + count.count
    peak = max((sum(cell.values()) for cell in grid), default=0)
    scale = HEIGHT / peak if peak else 0.0
    label_format = "%H:%M" if bucket == "minute" else "%a %H:%M"  # zones off by half hours too
    bars = []
    for index, cell in enumerate(grid):
        segments = []
        top = HEIGHT
        for status in STACK_ORDER:
            if cell.get(status):
                height = cell[status] * scale
                top -= height
                segments.append(Segment(status.value, cell[status], top, height))
        bars.append(
            Bar(
                x=index + BAR_GAP / 2,
                width=1 - BAR_GAP,
                label=(start + step * index).astimezone(zone).strftime(label_format),
                total=sum(cell.values()),
                segments=tuple(segments),
            )
        )
    totals = tuple(
        (status.value, n)
        for status in STACK_ORDER
        if (n := sum(cell.get(status, 0) for cell in grid))
    )
    return Chart(title, tuple(bars), totals, peak, width=float(buckets))
