"""The sandbox's Canvas as an LTI 1.3 platform: a course page whose "Grade Passback" link launches
gpb in an iframe through the real flow.

/courses/{id}?as_user=U                       a Canvas course page, seen by sandbox user U
/courses/{id}/external_tools/gpb?as_user=U    the same page with gpb in its iframe
/accounts/1/external_tools/gpb?as_user=U      account navigation (admins), no course
/lti/initiate                                 posts the OIDC login initiation to gpb (the iframe)
/api/lti/authorize_redirect                   the authorization endpoint: signs an id_token for
                                              U with the sandbox's key, form_posts it to gpb

Open the pages at `localhost` and gpb at `127.0.0.1` (or the other way round): two sites, so the
browser treats gpb's cookies as third-party ones, as it does inside a district's Canvas. Nobody
signs in to the sandbox: `as_user` says who is looking. The admin below is an account admin with
no enrollment, as a district's Canvas admins are.
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from gpb.infra.sandbox.state import SandboxState

AUTHORIZE_PATH = "/api/lti/authorize_redirect"
# The platform's `iss`: a Canvas of its own, not Instructure's hosted one.
LTI_ISSUER = "https://sandbox.canvas.test"
CLIENT_ID = "10000000000042"
DEPLOYMENT_ID = "42:sandbox"
TOKEN_SECONDS = 3600
_LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
# What each enrollment type is in a launch (Canvas's mapping): a TA is an Instructor with the
# TeachingAssistant sub-role.
ENROLLMENT_ROLES = {
    "TeacherEnrollment": [_LIS + "membership#Instructor"],
    "TaEnrollment": [
        _LIS + "membership#Instructor",
        _LIS + "membership/Instructor#TeachingAssistant",
    ],
    "StudentEnrollment": [_LIS + "membership#Learner"],
    "ObserverEnrollment": [_LIS + "membership#Mentor"],
}
ADMIN_ROLE = _LIS + "institution/person#Administrator"
# The developer key's custom fields, expanded as Canvas expands them (an unknown one stays as is).
CUSTOM_FIELDS = {"canvas_course_id": "$Canvas.course.id", "canvas_user_id": "$Canvas.user.id"}


@dataclass
class LtiPlatform:
    """The platform's side of gpb's developer key, and where gpb is (set once gpb runs)."""

    key: RSAKey
    issuer: str = LTI_ISSUER
    tool_url: str = "http://127.0.0.1:8000"
    client_id: str = CLIENT_ID
    deployment_id: str = DEPLOYMENT_ID
    admins: dict[str, str] = field(default_factory=lambda: {"1": "Alex Admin"})

    def id_token(
        self,
        state: SandboxState,
        user_id: str,
        course_id: str | None,
        nonce: str,
        **overrides: Any,
    ) -> str:
        """The id_token Canvas would sign for this user launching in this course (None: from
        account navigation); `overrides` replace claims (None removes one), for tests."""
        now = int(time.time())
        variables = {"$Canvas.user.id": user_id}
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "azp": self.client_id,
            "sub": f"sandbox-user-{user_id}",
            "iat": now,
            "exp": now + TOKEN_SECONDS,
            "nonce": nonce,
            _CLAIM + "message_type": "LtiResourceLinkRequest",
            _CLAIM + "version": "1.3.0",
            _CLAIM + "deployment_id": self.deployment_id,
            _CLAIM + "target_link_uri": self.tool_url + "/lti/launch",
            _CLAIM + "resource_link": {"id": f"gpb-{course_id or 'account'}"},
            _CLAIM + "roles": self.roles(state, user_id, course_id),
        }
        if course_id is not None:
            variables["$Canvas.course.id"] = course_id
            course = state.canvas.courses.get(course_id)
            claims[_CLAIM + "context"] = {
                "id": f"sandbox-course-{course_id}",
                "title": course.name if course else "",
                "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
            }
        claims[_CLAIM + "custom"] = {
            name: variables.get(value, value) for name, value in CUSTOM_FIELDS.items()
        }
        for name, value in overrides.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        header = {"alg": "RS256", "typ": "JWT", "kid": self.key.kid}
        return jwt.encode(header, claims, self.key)

    def roles(self, state: SandboxState, user_id: str, course_id: str | None) -> list[str]:
        roles = [ADMIN_ROLE] if user_id in self.admins else []
        for enrollment in state.canvas.enrollments_of(course_id) if course_id else []:
            if enrollment.user_id == user_id and enrollment.enrollment_state == "active":
                roles += [r for r in ENROLLMENT_ROLES[enrollment.type] if r not in roles]
        return roles

    def user_name(self, state: SandboxState, user_id: str) -> str | None:
        user = state.canvas.users.get(user_id)
        return user.name if user else self.admins.get(user_id)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    style = (
        "body{font-family:sans-serif;margin:0;display:flex;min-height:100vh}"
        "nav{width:11rem;background:#2d3b45;color:#fff;padding:1rem}nav a{color:#fff;display:block;"
        "padding:.35rem 0}main{flex:1;padding:1rem}iframe{width:800px;height:640px;border:1px solid"
        " #c7cdd1}"
    )
    document = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}"
        f"</title><style>{style}</style></head><body>{body}</body></html>"
    )
    return HTMLResponse(document, status_code=status)


def _auto_post(action: str, fields: dict[str, str]) -> HTMLResponse:
    inputs = "".join(
        f'<input type=hidden name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in fields.items()
    )
    return _page(
        "Launching",
        f'<form id=f method=post action="{html.escape(action)}">{inputs}'
        "<noscript><button>Continue</button></noscript></form>"
        "<script>document.getElementById('f').submit()</script>",
    )


class PlatformPages:
    def __init__(self, state: SandboxState, platform: LtiPlatform) -> None:
        self._state = state
        self._platform = platform

    def routes(self) -> list[Route]:
        return [
            Route("/courses/{course_id}", self.course_page),
            Route("/courses/{course_id}/external_tools/gpb", self.course_tool),
            Route("/accounts/{account_id}/external_tools/gpb", self.account_tool),
            Route("/lti/initiate", self.initiate),
            Route(AUTHORIZE_PATH, self.authorize),
        ]

    def _viewer(self, request: Request) -> str | None:
        user_id = request.query_params.get("as_user", "")
        return user_id if self._platform.user_name(self._state, user_id) else None

    def _layout(self, request: Request, course_id: str | None, content: str) -> Response:
        user_id = self._viewer(request)
        if user_id is None:
            return _page(
                "Who are you?", "<main><p>Add ?as_user=USER_ID (e.g. 789).</p></main>", 400
            )
        who = urlencode({"as_user": user_id})
        course = self._state.canvas.courses.get(course_id) if course_id else None
        if course_id is not None and course is None:
            return _page("Not found", "<main><h1>Page Not Found</h1></main>", 404)
        links = (
            f'<a href="/courses/{course_id}?{who}">Home</a>'
            f'<a href="/courses/{course_id}/external_tools/gpb?{who}">Grade Passback</a>'
            if course_id
            else f'<a href="/accounts/1/external_tools/gpb?{who}">Grade Passback</a>'
        )
        name = html.escape(self._platform.user_name(self._state, user_id) or "")
        title = html.escape(course.name) if course else "Account"
        nav = f'<nav aria-label="Course navigation"><p>{name}</p>{links}</nav>'
        return _page(title, f"{nav}<main><h1>{title}</h1>{content}</main>")

    async def course_page(self, request: Request) -> Response:
        content = "<p>Sandbox Canvas. Open Grade Passback in the course navigation.</p>"
        return self._layout(request, request.path_params["course_id"], content)

    def _tool(self, request: Request, course_id: str | None) -> Response:
        query = {"as_user": request.query_params.get("as_user", "")}
        if course_id:
            query["course_id"] = course_id
        frame = (
            f'<iframe title="Grade Passback" name="tool_content"'
            f' src="/lti/initiate?{html.escape(urlencode(query))}"'
            ' allow="storage-access"></iframe>'
        )
        return self._layout(request, course_id, frame)

    async def course_tool(self, request: Request) -> Response:
        return self._tool(request, request.path_params["course_id"])

    async def account_tool(self, request: Request) -> Response:
        return self._tool(request, None)

    async def initiate(self, request: Request) -> Response:
        """The iframe's first page: the third-party initiated login, posted to gpb."""
        platform = self._platform
        user_id = request.query_params.get("as_user", "")
        course_id = request.query_params.get("course_id")
        hint = f"course:{course_id}" if course_id else "account:1"
        return _auto_post(
            platform.tool_url + "/lti/login",
            {
                "iss": platform.issuer,
                "login_hint": user_id,
                "target_link_uri": platform.tool_url + "/lti/launch",
                "lti_message_hint": hint,
                "client_id": platform.client_id,
                "lti_deployment_id": platform.deployment_id,
            },
        )

    async def authorize(self, request: Request) -> Response:
        """Checks the authorization request as Canvas does, then form_posts the id_token."""
        platform = self._platform
        q = request.query_params
        expected = {
            "scope": "openid",
            "response_type": "id_token",
            "response_mode": "form_post",
            "prompt": "none",
            "client_id": platform.client_id,
            "redirect_uri": platform.tool_url + "/lti/launch",
        }
        wrong = [name for name, value in expected.items() if q.get(name) != value]
        missing = [name for name in ("state", "nonce", "login_hint") if not q.get(name)]
        user_id = q.get("login_hint", "")
        if wrong or missing or platform.user_name(self._state, user_id) is None:
            problem = {"wrong": wrong, "missing": missing, "login_hint": user_id}
            return _page("Invalid request", f"<pre>{html.escape(json.dumps(problem))}</pre>", 400)
        hint = q.get("lti_message_hint", "")
        course_id = hint.removeprefix("course:") if hint.startswith("course:") else None
        token = platform.id_token(self._state, user_id, course_id, q["nonce"])
        return _auto_post(expected["redirect_uri"], {"id_token": token, "state": q["state"]})
