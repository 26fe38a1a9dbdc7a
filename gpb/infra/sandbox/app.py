"""The sandbox as one Starlette app: Canvas, OneRoster, the JWKS and the control API on one port.

/api/v1/...            Canvas REST (canvas_api)
/ims/oneroster/token   OAuth 2 token endpoint (outside fault injection)
/ims/oneroster/...     OneRoster 1.2 rostering and gradebook (oneroster_api)
/jwks.json             the public half of the key that signs sandbox events
/_sandbox/...          the control API (control_api), and changes that send Live Events
                       (control_actions)
/courses/..., /lti/... Canvas's pages as an LTI platform that launches gpb (lti_platform)
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, Router

from gpb.infra.sandbox.canvas_api import canvas_app
from gpb.infra.sandbox.canvas_writes import CanvasWrites
from gpb.infra.sandbox.control_actions import ControlActions
from gpb.infra.sandbox.control_api import ControlApi
from gpb.infra.sandbox.keys import public_jwks
from gpb.infra.sandbox.live_events import LiveEventSender
from gpb.infra.sandbox.lti_platform import LtiPlatform, PlatformPages
from gpb.infra.sandbox.oneroster_api import TokenEndpoint, oneroster_app
from gpb.infra.sandbox.settings import (
    CANVAS_PREFIX,
    JWKS_PATH,
    ONEROSTER_PREFIX,
    TOKEN_PATH,
    SandboxSettings,
)
from gpb.infra.sandbox.state import SandboxState


def create_sandbox_app(
    state: SandboxState, settings: SandboxSettings, platform: LtiPlatform | None = None
) -> Starlette:
    """`platform` says where gpb is, for launches; by default gpb's own default address."""
    jwks = public_jwks(settings.signing_key)
    platform = platform or LtiPlatform(settings.signing_key)
    sender = LiveEventSender(state, settings)
    writes = CanvasWrites(state, sender)

    async def serve_jwks(request: Request) -> Response:
        return JSONResponse(jwks, headers={"Cache-Control": "max-age=300"})

    routes = [
        Route(JWKS_PATH, serve_jwks),
        Mount(CANVAS_PREFIX, app=canvas_app(state, settings.canvas_token, writes.routes())),
        Route(TOKEN_PATH, TokenEndpoint(state, settings).handle, methods=["POST"]),
        Mount(ONEROSTER_PREFIX, app=oneroster_app(state, settings)),
        Mount(
            "/_sandbox",
            app=Router(
                [*ControlActions(state, sender).routes(), *ControlApi(state).router().routes]
            ),
        ),
        *PlatformPages(state, platform).routes(),
    ]
    app = Starlette(routes=routes)
    app.state.sandbox = state
    return app
