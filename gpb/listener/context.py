"""What the HTTP edge is given by the bootstrap: ports and a few plain settings, no adapters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from gpb.handlers.alerts import AlertStore
from gpb.handlers.course_state import CourseStateStore
from gpb.handlers.courses import CourseDirectory
from gpb.handlers.eventlog import EventLog
from gpb.handlers.ingest import EventDecoder, IngestPolicy
from gpb.handlers.signals import Broadcast
from gpb.handlers.tokens import TokenStore


class Health(Protocol):
    async def ping(self) -> bool: ...


class WorkerHandle(Protocol):
    def notify(self) -> None: ...


class Lag(Protocol):
    async def oldest_waiting(self) -> datetime | None: ...


@dataclass
class ListenerConfig:
    max_event_bytes: int = 1_048_576
    admin_token: str | None = None


@dataclass
class AppContext:
    config: ListenerConfig
    decoder: EventDecoder
    ingest_policy: IngestPolicy
    events: EventLog
    lag: Lag
    tokens: TokenStore
    courses: CourseDirectory
    health: Health
    worker: WorkerHandle
    course_state: CourseStateStore
    alerts: AlertStore
    alert_signal: Broadcast

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)
