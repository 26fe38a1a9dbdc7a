"""The Starlette application: routes, error handlers, and the lifespan the bootstrap provides."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from gpb.listener import (
    api_admin,
    api_assignments,
    api_auto_sync,
    api_courses,
    api_events,
    api_fixes,
    api_syncs,
    ingress,
    lti,
    metrics,
    openapi,
    ops,
)
from gpb.listener.context import AppContext
from gpb.listener.errors import EXCEPTION_HANDLERS
from gpb.listener.no_store import NoStoreForApi
from gpb.listener.pages import ROUTES as PAGE_ROUTES

ContextFactory = Callable[[], AbstractAsyncContextManager[AppContext]]

ROUTES = [
    Route("/events/canvas", ingress.receive_event, methods=["POST"]),
    Route("/healthz", ops.healthz, methods=["GET"]),
    Route("/lti/login", lti.login, methods=["GET", "POST"]),
    Route("/lti/launch", lti.launch, methods=["POST"]),
    Route("/lti/config.json", lti.config_json, methods=["GET"]),
    Route("/lti/jwks.json", lti.jwks_json, methods=["GET"]),
    Route("/metrics", metrics.metrics, methods=["GET"]),
    Route("/openapi.json", openapi.openapi_json, methods=["GET"]),
    Route("/api/courses", api_courses.list_courses, methods=["GET"]),
    Route(
        "/api/courses/{course_id}/assignments", api_assignments.list_assignments, methods=["GET"]
    ),
    Route(
        "/api/courses/{course_id}/assignments/{assignment_id}/fixes",
        api_fixes.list_fixes,
        methods=["GET"],
    ),
    Route(
        "/api/courses/{course_id}/assignments/{assignment_id}/fixes",
        api_fixes.post_fix,
        methods=["POST"],
    ),
    Route("/api/courses/{course_id}/categories", api_fixes.categories, methods=["GET"]),
    Route(
        "/api/courses/{course_id}/categories/groups/{group_id}",
        api_fixes.post_group_name,
        methods=["POST"],
    ),
    Route("/api/courses/{course_id}/alerts", api_assignments.list_alerts, methods=["GET"]),
    Route("/api/courses/{course_id}/alerts/stream", api_assignments.alert_stream, methods=["GET"]),
    Route("/api/courses/{course_id}/pending", api_syncs.pending, methods=["GET"]),
    Route("/api/courses/{course_id}/syncs", api_syncs.start_run, methods=["POST"]),
    Route("/api/courses/{course_id}/syncs", api_syncs.list_runs, methods=["GET"]),
    Route("/api/syncs/{sync_id}", api_syncs.get_run, methods=["GET"]),
    Route("/api/syncs/{sync_id}/resume", api_syncs.resume_run, methods=["POST"]),
    Route("/api/syncs/{sync_id}/undo", api_syncs.undo_run, methods=["POST"]),
    Route("/api/courses/{course_id}/auto-sync", api_auto_sync.get_auto_sync, methods=["GET"]),
    Route("/api/courses/{course_id}/auto-sync", api_auto_sync.put_auto_sync, methods=["PUT"]),
    Route("/api/errors", api_syncs.errors, methods=["GET"]),
    Route("/api/events", api_events.list_events, methods=["GET"]),
    Route("/api/events/export", api_events.export_events, methods=["GET"]),
    Route("/api/events/{event_id}", api_events.get_event, methods=["GET"]),
    Route("/api/events/{event_id}/replay", api_events.replay_event, methods=["POST"]),
    Route("/api/admin/check", api_admin.check_connections, methods=["GET"]),
    Route("/api/admin/alerts", api_admin.list_admin_alerts, methods=["GET"]),
    Route("/api/admin/reconciliations", api_admin.list_reconciliations, methods=["GET"]),
    Route(
        "/api/admin/reconciliations/{reconciliation_id}",
        api_admin.get_reconciliation,
        methods=["GET"],
    ),
    Route(
        "/api/admin/courses/{course_id}/reconciliation",
        api_admin.course_reconciliation,
        methods=["GET", "PUT"],
    ),
    *PAGE_ROUTES,
]


def create_app(running_context: ContextFactory) -> Starlette:
    """`running_context` starts what the app needs (store, worker) and yields its AppContext."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with running_context() as ctx:
            app.state.context = ctx
            yield

    return Starlette(
        routes=ROUTES,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=lifespan,
        middleware=[Middleware(NoStoreForApi)],
    )
