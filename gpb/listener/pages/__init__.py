"""The web pages: server-rendered, read through the same ports as the API, logged in by session.

Route names are part of the layout: the course tabs show a page once a route of its name exists
(see `courses.COURSE_TABS`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from gpb.listener.operations import Answer, operation
from gpb.listener.pages import admin, courses, dictionary, fixes, login, syncs
from gpb.listener.pages.render import STATIC_DIR

SVG = "image/svg+xml"


@operation(
    "gpb's icon (SVG), for browsers that ask for it by this name",
    "public",
    {200: Answer("the icon", media=("image/svg+xml",))},
)
async def favicon(request: Request) -> Response:
    return FileResponse(STATIC_DIR / "favicon.svg", media_type=SVG)


ROUTES: list[BaseRoute] = [
    Route("/login", login.login_form, methods=["GET"], name="login"),
    Route("/login", login.log_in, methods=["POST"]),
    Route("/logout", login.log_out, methods=["POST"], name="logout"),
    Route("/", courses.home, methods=["GET"], name="home"),
    Route("/courses/{course_id}", courses.course, methods=["GET"], name="course"),
    Route(
        "/courses/{course_id}/assignment-rows",
        courses.assignment_rows,
        methods=["GET"],
        name="course_assignment_rows",
    ),
    Route(
        "/courses/{course_id}/assignments/{assignment_id}/fixes",
        fixes.post_fix,
        methods=["POST"],
        name="course_fix",
    ),
    Route(
        "/courses/{course_id}/categories",
        fixes.categories,
        methods=["GET"],
        name="course_categories",
    ),
    Route(
        "/courses/{course_id}/categories/groups/{group_id}",
        fixes.post_group_name,
        methods=["POST"],
        name="course_group_rename",
    ),
    Route("/courses/{course_id}/pending", syncs.pending, methods=["GET"], name="course_pending"),
    Route("/courses/{course_id}/sync", syncs.sync_form, methods=["GET"], name="course_sync"),
    Route("/courses/{course_id}/syncs", syncs.start_run, methods=["POST"], name="course_run_start"),
    Route(
        "/courses/{course_id}/auto-sync",
        syncs.choose_auto_sync_page,
        methods=["POST"],
        name="course_auto_sync",
    ),
    Route("/courses/{course_id}/history", syncs.history, methods=["GET"], name="course_history"),
    Route(
        "/courses/{course_id}/syncs/{sync_id}", syncs.run_page, methods=["GET"], name="course_run"
    ),
    Route(
        "/courses/{course_id}/syncs/{sync_id}/resume",
        syncs.resume_run,
        methods=["POST"],
        name="course_run_resume",
    ),
    Route(
        "/courses/{course_id}/syncs/{sync_id}/undo",
        syncs.undo_run,
        methods=["POST"],
        name="course_run_undo",
    ),
    Route("/errors", dictionary.errors_page, methods=["GET"], name="errors"),
    Route("/admin", admin.overview, methods=["GET"], name="admin"),
    Route("/admin/check", admin.check_page, methods=["GET"], name="admin_check"),
    Route(
        "/admin/reconciliations/{reconciliation_id}",
        admin.reconciliation_page,
        methods=["GET"],
        name="admin_reconciliation",
    ),
    Route("/admin/events", admin.event_log, methods=["GET"], name="admin_events"),
    Route("/admin/events/{event_id}", admin.event_page, methods=["GET"], name="admin_event"),
    Route(
        "/admin/events/{event_id}/replay",
        admin.replay_event,
        methods=["POST"],
        name="admin_event_replay",
    ),
    Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    # Browsers ask for it without reading the page's <link rel="icon">: the same picture.
    Route("/favicon.ico", favicon),
]
