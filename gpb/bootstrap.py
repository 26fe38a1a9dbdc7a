"""The composition root: settings in, adapters built, handlers registered, the app wired."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from starlette.applications import Starlette

from gpb.handlers.courses import note_course
from gpb.handlers.ingest import EventDecoder, IngestPolicy, root_account
from gpb.handlers.messagebus import Handler, MessageBus
from gpb.handlers.worker import RetryPolicy, Worker
from gpb.infra.event_decoders import JwksCache, JwtDecoder, PlainJsonDecoder
from gpb.infra.settings import Settings
from gpb.infra.sqlite.store import SqliteStore
from gpb.listener.app import create_app as create_listener_app
from gpb.listener.context import AppContext, ListenerConfig

log = logging.getLogger("gpb")

# Families that gpb will act on; until their handlers exist, they only note their course.
KNOWN_EVENTS = (
    "assignment_created",
    "assignment_updated",
    "assignment_override_created",
    "assignment_override_updated",
    "assignment_group_created",
    "assignment_group_updated",
    "course_created",
    "course_updated",
    "course_section_created",
    "course_section_updated",
    "enrollment_created",
    "enrollment_updated",
    "grade_change",
    "submission_created",
    "submission_updated",
)


def handler_registry() -> dict[str, Handler]:
    return {name: note_course for name in KNOWN_EVENTS}


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


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[AppContext]:
    """Starts the store, the key cache and the worker; stops them in reverse order."""
    store = open_store(settings)
    store.start()
    worker = Worker(store.events, MessageBus(handler_registry()), retry_policy(settings))
    worker_task = asyncio.create_task(worker.run(), name="gpb-worker")
    try:
        async with _decoder(settings) as decoder:
            yield AppContext(
                config=ListenerConfig(
                    max_event_bytes=settings.max_event_bytes,
                    admin_token=(
                        settings.admin_token.get_secret_value() if settings.admin_token else None
                    ),
                ),
                decoder=decoder,
                ingest_policy=IngestPolicy(root_account(settings.canvas_root_account_id)),
                events=store.events,
                lag=store.events,
                tokens=store.tokens,
                courses=store.courses,
                health=store,
                worker=worker,
            )
    finally:
        worker_task.cancel()
        with suppress(asyncio.CancelledError):
            await worker_task
        await store.close()


def create_app(settings: Settings | None = None) -> Starlette:
    resolved = settings or Settings()
    return create_listener_app(lambda: running(resolved))
