"""The composition root: settings in, adapters built, handlers registered, the app wired."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable, Collection, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import time, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from starlette.applications import Starlette

from gpb.handlers.alerts import ALERT_CHANGES
from gpb.handlers.auto_sync import AutoMode, AutoSyncPolicy, AutoSyncScheduler, NightlyWindow
from gpb.handlers.backoff import RetryPolicy
from gpb.handlers.claims import Turns
from gpb.handlers.eventlog import Finish
from gpb.handlers.events import EventHandlers, event_handlers
from gpb.handlers.fixes import FixService, FixSettings
from gpb.handlers.grades import GradeEvents
from gpb.handlers.health import DiskProbe, HealthJob, HealthSettings
from gpb.handlers.ic_directory import IcDirectory
from gpb.handlers.ids import local_id_or_none
from gpb.handlers.ingest import ROOT_ACCOUNT_FORMS, IngestPolicy, root_account
from gpb.handlers.lti import LtiPolicy
from gpb.handlers.messagebus import MessageBus
from gpb.handlers.notices import CANVAS_INBOX, WEBHOOK, NoticeDispatcher, NoticesQueued
from gpb.handlers.ports import EventDecoder, Sis
from gpb.handlers.rechecks import Rechecks, RecheckSettings
from gpb.handlers.reconcile import ReconcileJob, Reconciler, ReconcileSettings
from gpb.handlers.retention import RetentionJob
from gpb.handlers.school_hours import SchoolHours
from gpb.handlers.signals import Broadcast
from gpb.handlers.students import StudentNames
from gpb.handlers.sync_runner import SyncRunner, SyncSettings
from gpb.handlers.sync_service import Pending, SyncService
from gpb.handlers.throttle import PerAddressLimit
from gpb.handlers.undo import UndoRunner
from gpb.handlers.worker import WORKER_LANES, Worker
from gpb.infra.canvas import CanvasClient
from gpb.infra.checks import ConnectionChecks
from gpb.infra.event_decoders import JwksCache, JwtDecoder, PlainJsonDecoder
from gpb.infra.garbage_collector import tuned_for_serving
from gpb.infra.notifiers import CanvasInboxNotifier, Channel, WebhookNotifier
from gpb.infra.oneroster import OneRosterClient
from gpb.infra.settings import Settings
from gpb.infra.store.database import ALERTS_CHANNEL
from gpb.infra.store.health import disk_space
from gpb.infra.store.postgres import listen_forever
from gpb.infra.store.sqlite_lock import serving_lock
from gpb.infra.store.store import PoolSettings, SqlStore, open_database
from gpb.listener.app import create_app as create_listener_app
from gpb.listener.context import AppContext, ListenerConfig, LtiSetup
from gpb.listener.read_deadlines import ReadDeadlines
from gpb.listener.streams import StreamSlots

log = logging.getLogger("gpb")


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def _listed(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def lti_setup(settings: Settings) -> LtiSetup | None:
    if not settings.lti_client_id:
        return None
    policy = LtiPolicy(
        issuer=settings.lti_issuer,
        client_id=settings.lti_client_id,
        deployment_ids=frozenset(_listed(settings.lti_deployment_ids)),
        instructor_roles=frozenset(_listed(settings.lti_instructor_roles)),
    )
    return LtiSetup(policy, settings.lti_auth_url)


def _origin(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}"


def frame_origins(settings: Settings) -> tuple[str, ...]:
    """The Canvas sites whose pages may frame gpb's: only when launch from Canvas is on."""
    if not settings.lti_client_id:
        return ()
    urls = [settings.canvas_base_url or "", *_listed(settings.lti_frame_origins)]
    return tuple(dict.fromkeys(_origin(url) for url in urls if url.strip()))


def listener_config(settings: Settings) -> ListenerConfig:
    config = ListenerConfig(
        max_event_bytes=settings.max_event_bytes,
        admin_token=_secret(settings.admin_token),
        time_zone=ZoneInfo(settings.time_zone),
        lti=lti_setup(settings),
        public_base_url=settings.public_base_url,
        frame_origins=frame_origins(settings),
    )
    session_secret = _secret(settings.session_secret)
    if session_secret:
        config.session_secret = session_secret
    else:
        log.warning(
            "GPB_SESSION_SECRET is not set: page sessions are signed with a random secret and end"
            " when gpb restarts; set it when several replicas serve pages"
        )
    return config


def canvas_client(settings: Settings) -> CanvasClient:
    return CanvasClient(settings.canvas_base_url, _secret(settings.canvas_token))


def sis_client(settings: Settings) -> OneRosterClient:
    return OneRosterClient(
        settings.sis_base_url,
        settings.sis_token_url,
        settings.sis_client_id,
        _secret(settings.sis_client_secret),
        _secret(settings.sis_vendor_authorization),
        max_concurrency=settings.sis_max_concurrency,
        timeout=settings.sis_timeout_seconds,
    )


def connection_checks(settings: Settings) -> ConnectionChecks:
    return ConnectionChecks(
        settings, partial(canvas_client, settings), partial(sis_client, settings)
    )


def notifiers(settings: Settings, canvas: CanvasClient) -> dict[str, Channel]:
    channels: dict[str, Channel] = {}
    if settings.alert_webhook_url:
        channels[WEBHOOK] = WebhookNotifier(
            settings.alert_webhook_url, _secret(settings.alert_webhook_secret)
        )
    if settings.alert_canvas_inbox:
        channels[CANVAS_INBOX] = CanvasInboxNotifier(canvas)
    return channels


def _notifiers_closed_with(
    stack: AsyncExitStack, settings: Settings, canvas: CanvasClient
) -> dict[str, Channel]:
    channels = notifiers(settings, canvas)
    for notifier in channels.values():
        if isinstance(notifier, WebhookNotifier):
            stack.push_async_callback(notifier.close)
    return channels


def admin_canvas_user_ids(settings: Settings) -> tuple[str, ...]:
    ids = []
    for value in settings.admin_canvas_user_ids.split(","):
        if value.strip():
            local = local_id_or_none(value.strip())
            if local is None:
                raise ValueError(f"GPB_ADMIN_CANVAS_USER_IDS holds {value.strip()!r}, not an id")
            ids.append(local)
    return tuple(ids)


def admin_notifiers(
    settings: Settings, canvas: CanvasClient, channels: dict[str, Channel]
) -> dict[str, Channel]:
    """Admin alerts go to the teachers' webhook (with their own payload type) and to the admins'
    Canvas inboxes."""
    admin = {WEBHOOK: channels[WEBHOOK]} if WEBHOOK in channels else {}
    admin_ids = admin_canvas_user_ids(settings)
    if admin_ids:
        admin[CANVAS_INBOX] = CanvasInboxNotifier(canvas, admin_ids)
    return admin


def health_job(
    settings: Settings,
    store: SqlStore,
    channels: Collection[str],
    on_change: Callable[[], None],
) -> HealthJob:
    return HealthJob(
        store.health,
        store.health,
        store,
        disk_probe(settings),
        HealthSettings(
            school=SchoolHours.parse(
                settings.school_days, settings.school_hours, ZoneInfo(settings.time_zone)
            ),
            silence=timedelta(minutes=settings.events_silence_minutes),
            failures_threshold=settings.event_failures_alert_count,
            failures_window=timedelta(minutes=settings.event_failures_window_minutes),
            auth_window=timedelta(minutes=settings.auth_failures_window_minutes),
            failed_run_courses=settings.failed_run_courses_alert,
            failed_runs_window=timedelta(hours=settings.failed_runs_window_hours),
            disk_min_free_percent=settings.disk_min_free_percent,
            disk_min_free_bytes=settings.disk_min_free_mb * 1024 * 1024,
            channels=tuple(channels),
            auth_failures_threshold=settings.auth_failures_alert_count,
        ),
        on_change=on_change,
        every_seconds=settings.health_check_seconds,
        turns=job_turns(settings, store),
    )


def rechecks_for(
    settings: Settings,
    store: SqlStore,
    canvas: CanvasClient,
    ic: IcDirectory,
    channels: Collection[str],
) -> Rechecks:
    return Rechecks(
        canvas=canvas,
        ic=ic,
        state=store.course_state,
        alerts=store.alerts,
        settings=RecheckSettings(
            name_max_length=settings.name_max_length,
            time_zone=ZoneInfo(settings.time_zone),
            notice_channels=tuple(channels),
            coalesce_seconds=settings.alert_coalesce_seconds,
        ),
    )


def auto_sync_policy(settings: Settings) -> AutoSyncPolicy:
    zone = ZoneInfo(settings.time_zone)
    return AutoSyncPolicy(
        allowed=frozenset(AutoMode(m.strip()) for m in settings.auto_sync_modes.split(",")),
        default=AutoMode(settings.auto_sync_default),
        delay=timedelta(minutes=settings.auto_sync_delay_minutes),
        window=NightlyWindow.parse(settings.auto_sync_nightly_window),
        zone=zone,
        school=SchoolHours.parse(settings.school_days, settings.school_hours, zone),
        max_runs=settings.auto_sync_max_runs,
        sis_concurrency=settings.sis_max_concurrency,
        max_failures=settings.auto_sync_max_failures,
    )


def pending_view(settings: Settings, store: SqlStore) -> Pending:
    return Pending(
        store.course_state,
        store.grades,
        store.syncs,
        store.syncs,
        hold_unposted=settings.unposted_grades == "hold",
    )


def auto_sync_scheduler(settings: Settings, store: SqlStore) -> AutoSyncScheduler:
    return AutoSyncScheduler(
        store=store.auto_sync,
        pending=pending_view(settings, store),
        courses=store.course_state,
        policy=auto_sync_policy(settings),
        # A course waits at most half the delay more than the delay for its round.
        round_seconds=min(30.0, settings.auto_sync_delay_minutes * 30),
    )


def fix_service(
    settings: Settings,
    store: SqlStore,
    canvas: CanvasClient,
    ic: IcDirectory,
    notify: Callable[[], None],
) -> FixService:
    return FixService(
        canvas=canvas,
        writer=canvas,
        state=store.course_state,
        ic=ic,
        events=store.events,
        settings=FixSettings(
            name_max_length=settings.name_max_length,
            time_zone=ZoneInfo(settings.time_zone),
            act_as_user=settings.canvas_act_as_user,
        ),
        notify=notify,
    )


def sync_service(
    settings: Settings,
    store: SqlStore,
    canvas: CanvasClient,
    sis: Sis,
    ic: IcDirectory,
    rechecks: Rechecks,
    automatic: AutoSyncScheduler | None = None,
) -> SyncService:
    runner = SyncRunner(
        canvas=canvas,
        sis=sis,
        ic=ic,
        courses=store.course_state,
        grades=store.grades,
        confirmed=store.syncs,
        runs=store.syncs,
        changes=store,
        reload_course=rechecks.reload,
        settings=SyncSettings(
            time_zone=ZoneInfo(settings.time_zone),
            time_budget_seconds=settings.sync_time_budget_seconds,
            concurrency=settings.sis_max_concurrency,
            hold_unposted=settings.unposted_grades == "hold",
        ),
    )
    undo = UndoRunner(
        sis=sis,
        runs=store.syncs,
        changes=store,
        concurrency=settings.sis_max_concurrency,
        time_budget_seconds=settings.sync_time_budget_seconds,
    )
    return SyncService(
        store.syncs,
        runner,
        store.course_state,
        undo,
        holder=replica_name(settings),
        lease_seconds=settings.event_lease_seconds,
        alone_on_database=not settings.is_postgres,
        automatic=automatic.policy if automatic else None,
        after_run=automatic.after_run if automatic else None,
    )


def reconciler(
    settings: Settings,
    store: SqlStore,
    canvas: CanvasClient,
    sis: Sis,
    rechecks: Rechecks,
    syncs: SyncService,
) -> Reconciler:
    return Reconciler(
        canvas=canvas,
        sis=sis,
        courses=store.course_state,
        grades=store.grades,
        confirmed=store.syncs,
        changes=store,
        reload_course=rechecks.reload,
        remasters=syncs,
        store=store.reconciliations,
        settings=ReconcileSettings(
            concurrency=settings.sis_max_concurrency,
            active_days=settings.reconcile_active_days,
        ),
    )


def job_turns(settings: Settings, store: SqlStore) -> Turns:
    """Replicas take turns at the scheduled jobs; a SQLite gpb is alone and always has the turn."""
    return Turns(store.job_slots if settings.is_postgres else None, replica_name(settings))


def reconcile_job(settings: Settings, reconciler: Reconciler, turns: Turns) -> ReconcileJob | None:
    if settings.reconcile_at == "off":
        return None
    at = time.fromisoformat(settings.reconcile_at)
    return ReconcileJob(reconciler, at, ZoneInfo(settings.time_zone), turns=turns)


def open_store(settings: Settings) -> SqlStore:
    pool = PoolSettings(
        size=settings.database_pool_size,
        statement_timeout_seconds=settings.database_statement_timeout_seconds,
    )
    store = SqlStore(
        open_database(settings.database_url, pool),
        keep_raw_bytes=settings.rejected_body_keep_bytes,
    )
    store.migrate()
    return store


def disk_probe(settings: Settings) -> DiskProbe:
    """The free space under a SQLite database. PostgreSQL's disk is the database server's, out of
    sight of a replica: its own monitoring watches it."""
    if settings.is_postgres:
        return lambda: None
    return partial(disk_space, settings.sqlite_path)


def replica_name(settings: Settings) -> str:
    return settings.replica_name or f"{socket.gethostname()}-{os.getpid()}"


def worker_lanes(settings: Settings) -> int:
    """How many courses the worker handles side by side. On PostgreSQL each holds a pooled
    connection while it reads or writes: at most half the pool, the rest for deliveries and
    pages."""
    if settings.is_postgres:
        return min(WORKER_LANES, settings.database_pool_size // 2)
    return WORKER_LANES


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.handler_max_attempts,
        base_seconds=settings.handler_retry_base_seconds,
        max_seconds=settings.handler_retry_max_seconds,
    )


class KeySets:
    """One JwksCache per JWKS URL, fetched once at start: Canvas's event keys and its LTI keys
    (the sandbox serves both from one URL)."""

    def __init__(self, settings: Settings) -> None:
        self._min_refetch = settings.jwks_min_refetch_seconds
        self._caches: dict[str, JwksCache] = {}
        self._warming: list[asyncio.Task[None]] = []

    def at(self, url: str) -> JwksCache:
        cache = self._caches.get(url)
        if cache is None:
            cache = JwksCache(url, min_refetch_seconds=self._min_refetch)
            self._caches[url] = cache
            self._warming.append(asyncio.create_task(cache.refresh()))
        return cache

    async def close(self) -> None:
        for task in self._warming:
            task.cancel()
        for cache in self._caches.values():
            await cache.close()


def ingest_policy(settings: Settings) -> IngestPolicy:
    """Whose events are accepted. Canvas signs every customer's events with the same keys: in
    `jwt` mode without a root account gpb starts, but refuses every event and says so."""
    policy = IngestPolicy(
        root_account(settings.canvas_root_account_id),
        root_account_required=settings.events_auth == "jwt",
        refusals_logged=PerAddressLimit(settings.refusals_logged_per_minute),
    )
    if policy.root_account is None and policy.root_account_required:
        log.error(
            "GPB_CANVAS_ROOT_ACCOUNT_ID is not set: every event will be refused (403"
            " ROOT_ACCOUNT_NOT_CONFIGURED); set it to the district's root account id (%s)",
            ROOT_ACCOUNT_FORMS,
        )
    return policy


def _decoder(settings: Settings, keys: KeySets) -> EventDecoder:
    if settings.events_auth == "none":
        log.warning(
            "GPB_EVENTS_AUTH=none: events are accepted unsigned; use this only in development"
        )
        return PlainJsonDecoder()
    return JwtDecoder(
        keys.at(settings.canvas_jwks_url),
        leeway_seconds=settings.jwt_leeway_seconds,
        max_bytes=settings.max_event_bytes,
    )


def _lti_tokens(settings: Settings, keys: KeySets) -> JwtDecoder | None:
    """The id_token checker of launches from Canvas, when they are on."""
    if not settings.lti_client_id:
        return None
    return JwtDecoder(keys.at(settings.lti_jwks_url))


Job = Coroutine[Any, Any, None]


@dataclass
class Services:
    """gpb's object graph: the store, the Canvas and SIS adapters, and the domain's services wired
    to them. Building it starts no task: `background_tasks` says what runs beside the HTTP edge."""

    store: SqlStore
    canvas: CanvasClient
    sis: Sis
    ic: IcDirectory
    rechecks: Rechecks
    alert_signal: Broadcast  # wakes the alert streams of the pages
    teacher_notices: NoticeDispatcher
    admin_notices: NoticeDispatcher
    health_checks: HealthJob  # judges gpb's health and raises the admin alerts
    worker: Worker
    auto_sync: AutoSyncScheduler
    syncs: SyncService
    reconciler: Reconciler
    fixes: FixService


def build_services(
    settings: Settings, stack: AsyncExitStack, *, sis: Sis | None = None
) -> Services:
    """Opens the store and the clients (closed by `stack`) and wires the services to them.

    `sis` replaces the OneRoster client: another SIS is one adapter implementing the `Sis` port.
    """
    store = open_store(settings)
    store.start()
    stack.push_async_callback(store.close)
    canvas = canvas_client(settings)
    stack.push_async_callback(canvas.close)
    if sis is None:
        oneroster = sis_client(settings)
        stack.push_async_callback(oneroster.close)
        sis = oneroster
    channels = _notifiers_closed_with(stack, settings, canvas)
    ic = IcDirectory(sis, ttl_seconds=settings.sis_category_cache_seconds)
    rechecks = rechecks_for(settings, store, canvas, ic, channels)
    alert_signal = Broadcast()
    teacher_notices = NoticeDispatcher(store.alerts, channels, retry_policy(settings))

    def after_finish(finish: Finish) -> None:
        # Wake the SSE streams and the notice outbox only when there is news for them.
        if any(isinstance(c, ALERT_CHANGES) for c in finish.changes):
            alert_signal.fire()
        if any(isinstance(c, NoticesQueued) for c in finish.changes):
            teacher_notices.notify()

    worker = Worker(
        store.events,
        MessageBus(
            event_handlers(
                EventHandlers(
                    rechecks,
                    GradeEvents(canvas, store.grades),
                    StudentNames(canvas, store.course_state),
                )
            )
        ),
        retry_policy(settings),
        holder=replica_name(settings),
        lease_seconds=settings.event_lease_seconds,
        lanes=worker_lanes(settings),
        after_finish=after_finish,
    )
    auto_sync = auto_sync_scheduler(settings, store)
    syncs = sync_service(settings, store, canvas, sis, ic, rechecks, auto_sync)
    auto_sync.on_queued = syncs.wake
    admin_channels = admin_notifiers(settings, canvas, channels)
    admin_notices = NoticeDispatcher(store.health, admin_channels, retry_policy(settings))
    return Services(
        store=store,
        canvas=canvas,
        sis=sis,
        ic=ic,
        rechecks=rechecks,
        alert_signal=alert_signal,
        teacher_notices=teacher_notices,
        admin_notices=admin_notices,
        health_checks=health_job(settings, store, admin_channels, admin_notices.notify),
        worker=worker,
        auto_sync=auto_sync,
        syncs=syncs,
        reconciler=reconciler(settings, store, canvas, sis, rechecks, syncs),
        fixes=fix_service(settings, store, canvas, ic, worker.notify),
    )


def background_tasks(settings: Settings, services: Services) -> dict[str, Job]:
    """What runs beside the HTTP edge while gpb serves, by task name."""
    store = services.store
    turns = job_turns(settings, store)
    retention = RetentionJob(
        store.retention,
        settings.event_retention_days,
        rejected_keep_days=settings.rejected_retention_days,
        request_fields_keep_days=settings.request_fields_retention_days,
        turns=turns,
    )
    tasks: dict[str, Job] = {
        "gpb-worker": services.worker.run(),
        "gpb-notices": services.teacher_notices.run(),
        "gpb-syncs": services.syncs.run_forever(),
        "gpb-auto-syncs": services.auto_sync.run_forever(),
        "gpb-retention": retention.run(),
        "gpb-admin-notices": services.admin_notices.run(),
        "gpb-health": services.health_checks.run(),
    }
    nightly = reconcile_job(settings, services.reconciler, turns)
    if nightly is not None:
        tasks["gpb-reconcile"] = nightly.run()
    if settings.is_postgres:
        # Alerts raised on other replicas wake this one's streams too.
        signal = services.alert_signal
        tasks["gpb-alerts-listen"] = listen_forever(
            settings.database_url, ALERTS_CHANNEL, lambda _course: signal.fire()
        )
    return tasks


def app_context(
    settings: Settings, services: Services, policy: IngestPolicy, keys: KeySets
) -> AppContext:
    """What the HTTP edge is given: the stores and services it reads and calls, no adapter."""
    store = services.store
    return AppContext(
        config=listener_config(settings),
        read_deadlines=ReadDeadlines(settings.body_read_timeout_seconds),
        event_decoder=_decoder(settings, keys),
        ingest_policy=policy,
        events=store.events,
        event_lag=store.events,
        tokens=store.tokens,
        courses=store.courses,
        database=store,
        worker=services.worker,
        course_state=store.course_state,
        alerts=store.alerts,
        alert_signal=services.alert_signal,
        pending=pending_view(settings, store),
        syncs=services.syncs,
        sync_runs=store.syncs,
        connection_checks=connection_checks(settings),
        admin_alerts=store.health,
        reconciliations=store.reconciliations,
        finished_runs=store.health,
        auto_sync=services.auto_sync,
        lti_tokens=_lti_tokens(settings, keys),
        lti_nonces=store.lti_nonces,
        fixes=services.fixes,
        auth_throttle=PerAddressLimit(settings.auth_failures_per_minute),
        auth_failures=store.auth_failures,
        ended_sessions=store.ended_sessions,
        stream_slots=StreamSlots(settings.alert_streams_per_token),
    )


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task


@asynccontextmanager
async def running(settings: Settings, *, sis: Sis | None = None) -> AsyncIterator[AppContext]:
    """gpb serving: the services built, the background tasks started, the HTTP edge's context
    given; all stopped in reverse order at the end."""
    policy = ingest_policy(settings)  # a malformed root account stops the start here
    async with AsyncExitStack() as stack:
        if not settings.is_postgres:
            # Held while serving: `gpb restore` refuses to replace the database under a running
            # gpb, and a second gpb on one SQLite file is refused (PostgreSQL takes replicas).
            stack.enter_context(serving_lock(settings.sqlite_path, "gpb serve"))
        services = build_services(settings, stack, sis=sis)
        holder = replica_name(settings)
        if settings.is_postgres:
            log.info("serving on PostgreSQL as replica %s", holder)
        # A SQLite gpb is the only one on its database (it holds the serving lock): claims left
        # by an earlier process are all dead. A replica ends only its own earlier claims; the
        # others' run out unless their holders renew them.
        await services.store.events.release_claims(holder if settings.is_postgres else None)
        for name, job in background_tasks(settings, services).items():
            stack.push_async_callback(_cancel, asyncio.create_task(job, name=name))
        keys = KeySets(settings)
        stack.push_async_callback(keys.close)
        context = app_context(settings, services, policy, keys)
        stack.enter_context(tuned_for_serving())
        yield context


@asynccontextmanager
async def reconciling(settings: Settings) -> AsyncIterator[Reconciler]:
    """What `gpb reconcile` needs beside a running gpb: the services, no background task. A
    remaster it queues is run by `gpb serve`."""
    async with AsyncExitStack() as stack:
        yield build_services(settings, stack).reconciler


def create_app(settings: Settings | None = None, *, sis: Sis | None = None) -> Starlette:
    resolved = settings or Settings()
    return create_listener_app(lambda: running(resolved, sis=sis))
