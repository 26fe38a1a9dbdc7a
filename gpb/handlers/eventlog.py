"""The event log: what every delivery became (its port, `EventLog`, is in `ports`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # the changes are defined by modules that import this one
    from gpb.handlers.changes import Change


class EventStatus(StrEnum):
    ACCEPTED = "accepted"  # stored, waiting for its handler
    PROCESSED = "processed"
    IGNORED = "ignored"  # unknown event name, or a body its handler cannot use
    FAILED = "failed"  # the handler failed; retried with backoff until attempts run out
    REJECTED = "rejected"  # refused at the door (4xx)
    DUPLICATE = "duplicate"  # the same event is stored already


@dataclass(frozen=True)
class StoredEvent:
    id: str
    received_at: datetime
    status: EventStatus
    event_name: str | None = None
    event_time: datetime | None = None
    course_id: str | None = None
    user_id: str | None = None
    shard: int | None = None
    error: dict[str, Any] | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    duplicate_of: str | None = None
    payload: dict[str, Any] | None = None
    outcome: dict[str, Any] | None = None
    raw: str | None = None
    source_ip: str | None = None

    @property
    def body(self) -> dict[str, Any]:
        body = (self.payload or {}).get("body")
        return body if isinstance(body, dict) else {}

    @property
    def metadata(self) -> dict[str, Any]:
        meta = (self.payload or {}).get("metadata")
        return meta if isinstance(meta, dict) else {}


@dataclass(frozen=True)
class Appended:
    id: str
    duplicate_of: str | None


@dataclass(frozen=True)
class Rejection:
    code: str
    message: str
    raw: bytes
    source_ip: str | None
    event_name: str | None = None


@dataclass(frozen=True)
class LaunchEntry:
    """A launch from Canvas (LTI), accepted or refused: who, which course, the role given or the
    refusal. Never the id_token: it would let whoever reads the log replay it."""

    course_id: str | None
    user_id: str | None
    role: str | None  # None when refused
    error: dict[str, str] | None  # {"code", "message"} when refused
    source_ip: str | None


LAUNCH_EVENT = "lti_launch"


@dataclass(frozen=True)
class EventQuery:
    course_id: str | None = None
    event_name: str | None = None
    status: EventStatus | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_id: str | None = None  # the cursor: newest first, strictly older than this id
    limit: int = 50


@dataclass(frozen=True)
class EventPage:
    events: list[StoredEvent]
    next_cursor: str | None


# How finely `EventLog.counts_by_time` buckets: by minute for the last hour, by hour for the day.
TimeBucket = Literal["minute", "hour"]
BUCKET_STEP: dict[TimeBucket, timedelta] = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
}


def bucket_start(value: datetime, bucket: TimeBucket) -> datetime:
    """The start of the calendar minute or hour (UTC) that `value` falls in."""
    start = value.astimezone(UTC).replace(second=0, microsecond=0)
    return start.replace(minute=0) if bucket == "hour" else start


@dataclass(frozen=True)
class BucketCount:
    start: datetime  # the bucket's first instant (UTC)
    status: EventStatus  # what became of the events so far
    count: int


@dataclass(frozen=True)
class Finish:
    """How handling one event ended, and the state changes to apply with it in one transaction."""

    status: EventStatus
    attempts: int
    outcome: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    next_attempt_at: datetime | None = None
    changes: Sequence[Change] = field(default=())
