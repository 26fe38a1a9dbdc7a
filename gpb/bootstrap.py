"""The composition root: settings in, adapters built, handlers registered, the app wired."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from starlette.applications import Starlette

from gpb.handlers.backoff import RetryPolicy
from gpb.handlers.grades import GradeEvents
from gpb.handlers.ic_directory import IcDirectory
from gpb.handlers.ingest import EventDecoder, IngestPolicy, root_account
from gpb.handlers.messagebus import Handler, MessageBus
from gpb.handlers.notices import CANVAS_INBOX, WEBHOOK, NoticeDispatcher, Notifier
from gpb.handlers.rechecks import Rechecks, RecheckSettings
from gpb.handlers.retention import RetentionJob
from gpb.handlers.signals import Broadcast
from gpb.handlers.sync_runner import SyncRunner, SyncSettings
from gpb.handlers.sync_service import Pending, SyncService
from gpb.handlers.worker import Worker
from gpb.infra.canvas import CanvasClient
from gpb.infra.checks import ConnectionChecks
from gpb.infra.event_decoders import JwksCache, JwtDecoder, PlainJsonDecoder
from gpb.infra.notifiers import CanvasInboxNotifier, WebhookNotifier
from gpb.infra.oneroster import OneRosterClient
from gpb.infra.settings import Settings
from gpb.infra.sqlite.lock import serving_lock
from gpb.infra.sqlite.store import SqliteStore
from gpb.listener.app import create_app as create_listener_app
from gpb.listener.context import AppContext, ListenerConfig

log = logging.getLogger("gpb")


def handler_registry(rechecks: Rechecks, grade_events: GradeEvents) -> dict[str, Handler]:
    return rechecks.registry() | grade_events.registry()


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def listener_config(settings: Settings) -> ListenerConfig:
    config = ListenerConfig(
        max_event_bytes=settings.max_event_bytes,
        admin_token=_secret(settings.admin_token),
        time_zone=ZoneInfo(settings.time_zone),
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
    )


def connection_checks(settings: Settings) -> ConnectionChecks:
    return ConnectionChecks(
        settings, partial(canvas_client, settings), partial(sis_client, settings)
    )


def notifiers(settings: Settings, canvas: CanvasClient) -> dict[str, Notifier]:
    channels: dict[str, Notifier] = {}
    if settings.alert_webhook_url:
        channels[WEBHOOK] = WebhookNotifier(
            settings.alert_webhook_url, _secret(settings.alert_webhook_secret)
        )
    if settings.alert_canvas_inbox:
        channels[CANVAS_INBOX] = CanvasInboxNotifier(canvas)
    return channels


def open_store(settings: Settings) -> SqliteStore:
    store = SqliteStore(settings.sqlite_path, keep_raw_bytes=settings.rejected_body_keep_bytes)
    store.migrate()
    return store


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.handler_max_attempts,
        base_seconds=settings.handler_retry_base_seconds,
        max_seconds=settings.handler_retry_max_seconds,
    )


@asynccontextmanager
async def _decoder(settings: Settings) -> AsyncIterator[EventDecoder]:
    if settings.events_auth == "none":
        log.warning(
            "GPB_EVENTS_AUTH=none: events are accepted unsigned; use this only in development"
        )
        yield PlainJsonDecoder()
        return
    keys = JwksCache(
        settings.canvas_jwks_url, min_refetch_seconds=settings.jwks_min_refetch_seconds
    )
    warm = asyncio.create_task(keys.refresh())
    try:
        yield JwtDecoder(keys, leeway_seconds=settings.jwt_leeway_seconds)
    finally:
        warm.cancel()
        await keys.close()


def _background(coroutine: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    return asyncio.create_task(coroutine, name=name)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[AppContext]:
    """Starts the store, the clients and the background workers; stops them in reverse order."""
    async with AsyncExitStack() as stack:
        # Held while serving: `gpb restore` refuses to replace the database under a running gpb.
        stack.enter_context(serving_lock(settings.sqlite_path, "gpb serve"))
        store = open_store(settings)
        store.start()
        stack.push_async_callback(store.close)
        canvas = canvas_client(settings)
        stack.push_async_callback(canvas.close)
        sis = sis_client(settings)
        stack.push_async_callback(sis.close)
        channels = notifiers(settings, canvas)
        for notifier in channels.values():
            if isinstance(notifier, WebhookNotifier):
                stack.push_async_callback(notifier.close)

        ic = IcDirectory(sis, ttl_seconds=settings.sis_category_cache_seconds)
        time_zone = ZoneInfo(settings.time_zone)
        rechecks = Rechecks(
            canvas=canvas,
            ic=ic,
            state=store.course_state,
            alerts=store.alerts,
            settings=RecheckSettings(
                name_max_length=settings.name_max_length,
                time_zone=time_zone,
                notice_channels=tuple(channels),
                coalesce_seconds=settings.alert_coalesce_seconds,
            ),
        )
        alert_signal = Broadcast()
        dispatcher = NoticeDispatcher(store.alerts, channels, retry_policy(settings))

        def after_finish(finish: object) -> None:
            alert_signal.fire()
            dispatcher.notify()

        worker = Worker(
            store.events,
            MessageBus(handler_registry(rechecks, GradeEvents(canvas, store.syncs))),
            retry_policy(settings),
            after_finish=after_finish,
        )
        runner = SyncRunner(
            canvas=canvas,
            sis=sis,
            ic=ic,
            courses=store.course_state,
            grades=store.syncs,
            confirmed=store.syncs,
            runs=store.syncs,
            changes=store,
            reload_course=rechecks.reload,
            settings=SyncSettings(
                time_zone=time_zone,
                time_budget_seconds=settings.sync_time_budget_seconds,
                concurrency=settings.sis_max_concurrency,
            ),
        )
        syncs = SyncService(store.syncs, runner, store.course_state)
        for task in (
            _background(worker.run(), "gpb-worker"),
            _background(dispatcher.run(), "gpb-notices"),
            _background(syncs.run_forever(), "gpb-syncs"),
            _background(
                RetentionJob(store.retention, settings.event_retention_days).run(), "gpb-retention"
            ),
        ):
            stack.push_async_callback(_cancel, task)
        decoder = await stack.enter_async_context(_decoder(settings))
        yield AppContext(
            config=listener_config(settings),
            decoder=decoder,
            ingest_policy=IngestPolicy(root_account(settings.canvas_root_account_id)),
            events=store.events,
            lag=store.events,
            tokens=store.tokens,
            courses=store.courses,
            health=store,
            worker=worker,
            course_state=store.course_state,
            alerts=store.alerts,
            alert_signal=alert_signal,
            pending=Pending(store.course_state, store.syncs, store.syncs),
            syncs=syncs,
            sync_runs=store.syncs,
            checks=connection_checks(settings),
        )


def create_app(settings: Settings | None = None) -> Starlette:
    resolved = settings or Settings()
    return create_listener_app(lambda: running(resolved))
