"""What the HTTP edge is given by the bootstrap: ports and a few plain settings, no adapters."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from gpb.handlers.auto_sync import AutoSyncScheduler
from gpb.handlers.fixes import FixService
from gpb.handlers.health import FinishedRun
from gpb.handlers.ingest import IngestPolicy
from gpb.handlers.lti import LtiPolicy
from gpb.handlers.ports import (
    AdminAlertStore,
    AlertStore,
    CourseDirectory,
    CourseStateStore,
    EventDecoder,
    EventLog,
    FailedAttempts,
    NonceLedger,
    ReconcileStore,
    SyncStore,
    TokenStore,
    TokenVerifier,
)
from gpb.handlers.signals import Broadcast
from gpb.handlers.sync_service import Pending, SyncService
from gpb.handlers.throttle import PerAddressLimit
from gpb.listener.read_deadlines import ReadDeadlines
from gpb.listener.streams import StreamSlots


class DatabasePing(Protocol):
    async def ping(self) -> bool:
        """Whether the database answers (`/healthz`)."""
        ...


class WorkerHandle(Protocol):
    def notify(self) -> None: ...

    def delivery_begun(self) -> None: ...


class EventLag(Protocol):
    async def oldest_waiting(self) -> datetime | None: ...


class SyncRuns(SyncStore, Protocol):
    async def counts_by_status(self) -> dict[str, int]:
        """How many runs are in each status (`/metrics` reads it at each scrape)."""
        ...


class ConnectionChecks(Protocol):
    async def report(self, course_id: str | None, class_id: str | None) -> dict[str, Any]:
        """`gpb check` as JSON: `{"checks": [{"name", "ok", "detail", "fix"}], "ok"}`."""
        ...


class FinishedRuns(Protocol):
    async def finished_runs(self, since: datetime) -> list[FinishedRun]:
        """Real (not dry) runs that finished since `since`, oldest first."""
        ...


@dataclass(frozen=True)
class LtiSetup:
    """Launch from Canvas (LTI 1.3), on when GPB_LTI_CLIENT_ID is set."""

    policy: LtiPolicy
    auth_url: str  # the platform's OIDC authorization endpoint


class EndedSessions(Protocol):
    """Page sessions ended by logging out, shared by every replica through the database."""

    async def end(self, session_id: str, expires_at: datetime) -> None: ...

    async def has_ended(self, session_id: str) -> bool: ...


@dataclass
class ListenerConfig:
    max_event_bytes: int = 1_048_576
    admin_token: str | None = None
    # Signs page session cookies; a random one unless GPB_SESSION_SECRET sets it (the bootstrap
    # warns), so sessions end with the process.
    session_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    time_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))  # for dates on pages
    lti: LtiSetup | None = None
    # The URL browsers and Canvas reach gpb at (GPB_PUBLIC_BASE_URL); None: the request's own.
    public_base_url: str | None = None
    # Origins whose pages may show gpb's in a frame: the Canvas sites (none: no framing at all).
    frame_origins: tuple[str, ...] = ()


@dataclass
class AppContext:
    config: ListenerConfig
    read_deadlines: ReadDeadlines  # a request body slower than its time is dropped (408)
    # receiving events
    event_decoder: EventDecoder
    ingest_policy: IngestPolicy
    events: EventLog
    event_lag: EventLag  # how long the oldest event has waited for the worker (`/metrics`)
    worker: WorkerHandle
    # who is asking
    tokens: TokenStore
    auth_throttle: PerAddressLimit  # failed logins and bearer checks per client address
    auth_failures: FailedAttempts
    ended_sessions: EndedSessions
    # courses, their alerts and their grades
    courses: CourseDirectory
    course_state: CourseStateStore
    alerts: AlertStore
    alert_signal: Broadcast
    stream_slots: StreamSlots
    pending: Pending
    syncs: SyncService
    sync_runs: SyncRuns
    auto_sync: AutoSyncScheduler
    reconciliations: ReconcileStore
    fixes: FixService  # fixes made in Canvas, and the category-mapping assistant
    # gpb's own health: the database answering, the admin alerts, the connections
    database: DatabasePing
    admin_alerts: AdminAlertStore
    finished_runs: FinishedRuns  # the district overview's courses whose latest run failed
    connection_checks: ConnectionChecks
    # launch from Canvas
    lti_tokens: TokenVerifier | None = None  # None while launch from Canvas is off
    lti_nonces: NonceLedger | None = None

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)
