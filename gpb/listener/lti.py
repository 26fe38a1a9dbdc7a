"""Launch from Canvas (LTI 1.3): the OIDC third-party login, the launch, and what Canvas reads.

/lti/login     Canvas starts a login here; gpb binds a fresh state and nonce to the browser with
               a cookie, makes sure the browser kept it (inside Canvas's iframe it may not), then
               sends the browser to Canvas's authorization endpoint.
/lti/launch    Canvas posts the signed id_token here; every check passes or nothing is made.
/lti/config.json, /lti/jwks.json   the developer key's configuration, gpb's own (empty) keys.

Every launch, accepted or refused, is a `lti_launch` entry of the event log.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from gpb.handlers.eventlog import LaunchEntry
from gpb.handlers.ingest import Refusal
from gpb.handlers.lti import COURSE_FIELD, USER_FIELD, Grant, Launcher, accept_launch, launcher
from gpb.listener import sessions
from gpb.listener.auth import context, live_session
from gpb.listener.context import AppContext, LtiSetup
from gpb.listener.errors import ApiError, status_of
from gpb.listener.forms import read_form
from gpb.listener.lti_schemas import (
    DeveloperKey,
    Extension,
    ExtensionSettings,
    Jwks,
    LtiLaunchForm,
    LtiLoginForm,
    Placement,
)
from gpb.listener.operations import FORM, Answer, Param, html, operation, returns
from gpb.listener.pages.render import page, render

log = logging.getLogger("gpb.lti")

# Launch from Canvas: pages for a browser Canvas sends (every refusal a page with its code).
_LTI_REFUSED = {
    400: html("refused: the page names the code"),
    401: html("refused: the page names the code"),
    403: html("refused: a deployment or role gpb does not take"),
    404: html("LTI_OFF: launch from Canvas is not configured"),
    411: html("LENGTH_REQUIRED"),
    413: html("PAYLOAD_TOO_LARGE"),
}
_LTI_LOGIN_ANSWERS = {
    302: Answer("to the platform's authorization endpoint"),
    303: Answer("back to the login, to see the browser kept its cookie"),
    200: html("the browser kept no cookie: open gpb in a new tab"),
    **_LTI_REFUSED,
}

STATE_COOKIE_PREFIX = "gpb_lti_state_"
STATE_SECONDS = 600  # from login to launch: Canvas's authorization answers in a moment
CHECK_PARAMETER = "gpb_state"  # the second pass of a login: did the browser keep the cookie?
LOGIN_PARAMETERS = (
    "iss",
    "login_hint",
    "target_link_uri",
    "lti_message_hint",
    "client_id",
    "lti_deployment_id",
    "lti_storage_target",
)
TITLE = "Grade Passback"
DESCRIPTION = "Checks assignments against the passback rules and sends grades to the SIS."
_TITLES = {400: "This launch cannot be used", 401: "This launch was refused", 403: "Not allowed"}
_ROLE_TITLE = "Grade passback is for teachers and admins"


def base_url(request: Request) -> str:
    configured = context(request).config.public_base_url
    return (configured or str(request.base_url)).rstrip("/")


# -- the state cookie ---------------------------------------------------------------------------


def _state_mac(secret: str, state: str, nonce: str) -> str:
    message = f"gpb-lti-state.{state}.{nonce}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _set_state_cookie(response: Response, secret: str, state: str, nonce: str) -> None:
    """Named by the state, so that two launches under way in one browser keep theirs; the value
    is the nonce, signed."""
    value = f"{nonce}.{_state_mac(secret, state, nonce)}"
    sessions.set_embedded_cookie(
        response, STATE_COOKIE_PREFIX + state, value, max_age=STATE_SECONDS, path="/lti"
    )


def _clear_state_cookie(response: Response, state: str) -> None:
    sessions.set_embedded_cookie(
        response, STATE_COOKIE_PREFIX + state, '""', max_age=0, path="/lti"
    )


def _nonce_for(request: Request, state: str) -> str | None:
    """The nonce the browser's cookie binds to `state`, or None when it has no such cookie."""
    value = request.cookies.get(STATE_COOKIE_PREFIX + state, "")
    nonce, _, mac = value.partition(".")
    secret = context(request).config.session_secret
    if not nonce or not hmac.compare_digest(mac, _state_mac(secret, state, nonce)):
        return None
    return nonce


def _has_state_cookies(request: Request) -> bool:
    return any(name.startswith(STATE_COOKIE_PREFIX) for name in request.cookies)


# -- answers ------------------------------------------------------------------------------------


def _setup(request: Request) -> LtiSetup:
    setup = context(request).config.lti
    if setup is None:
        raise ApiError(
            "LTI_OFF",
            "launch from Canvas is not configured here (an admin sets GPB_LTI_CLIENT_ID)",
        )
    return setup


async def _record(
    request: Request, who: Launcher, grant: Grant | None, refusal: Refusal | ApiError | None
) -> None:
    ctx = context(request)
    error = {"code": refusal.code, "message": refusal.message} if refusal else None
    entry = LaunchEntry(
        course_id=who.course_id,
        user_id=who.canvas_user_id,
        role=grant.role.value if grant else None,
        error=error,
        source_ip=request.client.host if request.client else None,
    )
    await ctx.events.append_launch(entry)
    if refusal is not None:
        # The user stays in the event log, for admins: a student's id is kept out of the logs.
        log.warning(
            "refused a launch from Canvas (course %s): %s %s",
            who.course_id,
            refusal.code,
            refusal.message,
        )


async def _refused(
    request: Request, refusal: Refusal | ApiError, who: Launcher | None = None
) -> Response:
    """The launch's refusal, or its form's, recorded and told on a page of its own."""
    await _record(request, who or Launcher(None, None), None, refusal)
    status = status_of(refusal.code)
    response = render(
        request,
        "lti_refused.html",
        None,
        status=status,
        title=_ROLE_TITLE
        if refusal.code == "LTI_ROLE_NOT_ALLOWED"
        else _TITLES.get(status, "Launch from Canvas failed"),
        code=refusal.code,
        message=refusal.message[:1].upper() + refusal.message[1:] + ".",
    )
    if isinstance(refusal, Refusal) and refusal.retry_after:
        response.headers["Retry-After"] = str(refusal.retry_after)
    return response


async def _fields(request: Request) -> dict[str, str]:
    """The query of a GET, the form of a POST (bounded by the forms' size limit)."""
    if request.method == "GET":
        return dict(request.query_params)
    return await read_form(request)


# -- the OIDC login -----------------------------------------------------------------------------


@operation(
    "OIDC third-party initiated login from Canvas",
    "public",
    _LTI_LOGIN_ANSWERS,
    query=tuple(
        Param(name, "OIDC login parameter") for name in (*LtiLoginForm.model_fields, "gpb_state")
    ),
    method="GET",
)
@operation(
    "OIDC third-party initiated login from Canvas",
    "public",
    _LTI_LOGIN_ANSWERS,
    body={FORM: LtiLoginForm},
    method="POST",
)
@page
async def login(request: Request) -> Response:
    setup = _setup(request)
    try:
        fields = await _fields(request)
    except ApiError as error:
        return await _refused(request, error)
    problem = _login_problem(fields, setup, base_url(request))
    if problem is not None:
        return await _refused(request, problem)
    params = {name: fields[name] for name in LOGIN_PARAMETERS if fields.get(name)}
    checked = fields.get(CHECK_PARAMETER)
    if checked is None:
        # First pass: bind a state and nonce to the browser, then come back to see it kept.
        fresh = secrets.token_urlsafe(24)
        again = "/lti/login?" + urlencode(params | {CHECK_PARAMETER: fresh})
        response: Response = RedirectResponse(again, status_code=303)
        _set_state_cookie(
            response, context(request).config.session_secret, fresh, secrets.token_urlsafe(24)
        )
        return response
    nonce = _nonce_for(request, checked)
    if nonce is None:
        # The browser did not keep the cookie (third-party cookies blocked, no partitioning):
        # the same login in a tab of its own makes gpb a first party.
        return render(
            request, "lti_new_tab.html", None, new_tab_url="/lti/login?" + urlencode(params)
        )
    authorization = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": setup.policy.client_id,
        "redirect_uri": base_url(request) + "/lti/launch",
        "login_hint": params["login_hint"],
        "state": checked,
        "nonce": nonce,
    }
    if "lti_message_hint" in params:
        authorization["lti_message_hint"] = params["lti_message_hint"]
    separator = "&" if "?" in setup.auth_url else "?"
    return RedirectResponse(setup.auth_url + separator + urlencode(authorization), status_code=302)


def _login_problem(fields: dict[str, str], setup: LtiSetup, base: str) -> Refusal | None:
    if fields.get("iss") != setup.policy.issuer:
        return Refusal("LTI_UNKNOWN_ISSUER", f"gpb takes logins from {setup.policy.issuer}")
    client_id = fields.get("client_id")
    if client_id and client_id != setup.policy.client_id:
        return Refusal("LTI_UNKNOWN_CLIENT", f"client_id {client_id} is not gpb's")
    if not fields.get("login_hint"):
        return Refusal("LTI_MISSING_PARAMETER", "the login has no login_hint")
    target = fields.get("target_link_uri")
    if target and not (target == base or target.startswith(base + "/")):
        return Refusal("LTI_WRONG_TARGET", f"target_link_uri {target} is not gpb at {base}")
    return None


# -- the launch ---------------------------------------------------------------------------------


@operation(
    "The launch: Canvas's form_post of the signed id_token",
    "public",
    {
        303: Answer("signed in: to the course page, or the admin overview"),
        503: html("KEYS_UNAVAILABLE: Canvas's keys could not be fetched"),
        **_LTI_REFUSED,
    },
    body={FORM: LtiLaunchForm},
)
@page
async def launch(request: Request) -> Response:
    setup = _setup(request)
    try:
        fields = await read_form(request)
    except ApiError as error:
        return await _refused(request, error)
    if fields.get("error"):  # the platform's own refusal, e.g. login_required
        detail = fields.get("error_description") or fields["error"]
        return await _refused(
            request, Refusal("LTI_PLATFORM_ERROR", f"Canvas refused the login: {detail}")
        )
    state, id_token = fields.get("state", ""), fields.get("id_token", "")
    if not id_token or not state:
        return await _refused(
            request, Refusal("LTI_MISSING_PARAMETER", "the launch lacks its id_token or state")
        )
    nonce = _nonce_for(request, state)
    if nonce is None:
        if _has_state_cookies(request):
            refusal = Refusal("LTI_STATE_MISMATCH", "the state is not the one this browser got")
        else:
            refusal = Refusal(
                "LTI_NO_STATE_COOKIE",
                "this browser holds no login state of gpb's; launch again from Canvas",
            )
        return await _refused(request, refusal)
    ctx = context(request)
    assert ctx.lti_tokens is not None and ctx.lti_nonces is not None  # set with the LtiSetup
    try:
        claims = await ctx.lti_tokens.verify(id_token.encode())
    except Refusal as refusal:
        return await _refused(request, refusal)
    who = launcher(claims)
    try:
        grant = await accept_launch(claims, setup.policy, nonce, ctx.lti_nonces, ctx.now())
    except Refusal as refusal:
        return await _refused(request, refusal, who)
    await _record(request, who, grant, None)
    return await _signed_in(request, ctx, grant, state)


async def _signed_in(request: Request, ctx: AppContext, grant: Grant, state: str) -> Response:
    """A session holding this launch's course besides the earlier launches' of the same user. A
    session that was logged out of lends the new one nothing: its courses stay behind."""
    current = await live_session(request)
    earlier = current.launched if current is not None else None
    if earlier is not None:
        launched = earlier.adding(grant.role, grant.course_id, grant.canvas_user_id)
    else:
        launched = sessions.launched(grant.role, grant.course_id, grant.canvas_user_id)
    target = f"/courses/{grant.course_id}" if grant.course_id else "/admin"
    response = RedirectResponse(target, status_code=303)
    sessions.store(
        response,
        request,
        sessions.new_session(ctx.now(), launched=launched),
        ctx.config.session_secret,
    )
    _clear_state_cookie(response, state)
    return response


# -- what Canvas reads --------------------------------------------------------------------------


def developer_key(base: str, domain: str) -> DeveloperKey:
    """Canvas's developer key JSON ("Add LTI Key", method "Enter URL" or "Paste JSON")."""
    launch_url = base + "/lti/launch"

    def placement(name: str) -> Placement:
        return Placement(
            placement=name,
            message_type="LtiResourceLinkRequest",
            target_link_uri=launch_url,
            text=TITLE,
            enabled=True,
            default="enabled",
            visibility="admins",  # teachers, TAs and admins see the link; students do not
        )

    return DeveloperKey(
        title=TITLE,
        description=DESCRIPTION,
        oidc_initiation_url=base + "/lti/login",
        target_link_uri=launch_url,
        public_jwk_url=base + "/lti/jwks.json",
        scopes=[],
        custom_fields={COURSE_FIELD: "$Canvas.course.id", USER_FIELD: "$Canvas.user.id"},
        extensions=[
            Extension(
                domain=domain,
                tool_id="gpb",
                platform="canvas.instructure.com",
                privacy_level="anonymous",  # ids and roles only: no names, no e-mail addresses
                settings=ExtensionSettings(
                    text=TITLE,
                    placements=[placement("course_navigation"), placement("account_navigation")],
                ),
            )
        ],
    )


@operation(
    "The developer key's JSON configuration for Canvas",
    "public",
    {200: returns(DeveloperKey)},
)
async def config_json(request: Request) -> Response:
    base = base_url(request)
    domain = base.split("://", 1)[-1].split("/", 1)[0]
    return JSONResponse(developer_key(base, domain).model_dump())


@operation("gpb's own public keys (none yet)", "public", {200: returns(Jwks)})
async def jwks_json(request: Request) -> Response:
    # gpb calls no LTI Advantage service yet, so it signs nothing: an empty set.
    return JSONResponse(Jwks(keys=[]).model_dump(), headers={"Cache-Control": "max-age=300"})
