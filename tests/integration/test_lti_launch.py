"""Launch from Canvas through real HTTP: the sandbox's platform starts the login, its authorization
endpoint signs the id_token, gpb checks it and makes the session; every bad launch is a page with
its code, an entry of the event log, and no session."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import pytest_asyncio
from joserfc.jwk import RSAKey
from lti_claims import FromNow, resolved
from running_gpb import SandboxedGpb, csrf_of, sandboxed_gpb

from gpb.infra.sandbox.keys import new_signing_key
from gpb.infra.sandbox.lti_platform import LtiPlatform

pytestmark = pytest.mark.asyncio(loop_scope="module")

TEACHER, STUDENT, ADMIN, COURSE = "789", "1201", "1", "456"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"


class Browser:
    """A browser's cookie jar as far as the launch needs one: the cookies gpb sets (Secure ones
    included, which a browser keeps on loopback http and httpx's jar does not) go back to gpb."""

    def __init__(self, gpb: SandboxedGpb) -> None:
        self.gpb = gpb
        self.cookies: dict[str, str] = {}
        self.set_cookies: list[str] = []

    def _keep(self, response: httpx.Response) -> httpx.Response:
        for header in response.headers.get_list("set-cookie"):
            self.set_cookies.append(header)
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "max-age=0" in header.lower() or not value.strip('"'):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return response

    async def get(self, url: str) -> httpx.Response:
        return self._keep(await self.gpb.client.get(url, headers=self._cookie_header()))

    async def post(self, url: str, data: dict[str, str] | bytes) -> httpx.Response:
        headers = self._cookie_header()
        if isinstance(data, bytes):
            headers["content-type"] = "application/x-www-form-urlencoded"
            return self._keep(await self.gpb.client.post(url, content=data, headers=headers))
        return self._keep(await self.gpb.client.post(url, data=data, headers=headers))

    def _cookie_header(self) -> dict[str, str]:
        if not self.cookies:
            return {}
        return {"cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    def session_set_cookie(self) -> str:
        return next(h for h in reversed(self.set_cookies) if h.startswith("gpb_session="))


def form_fields(page: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of an auto-submitted form of the sandbox's."""
    action = unescape(re.search(r'action="([^"]+)"', page).group(1))  # type: ignore[union-attr]
    fields = {
        unescape(name): unescape(value)
        for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', page)
    }
    return action, fields


async def start_login(
    browser: Browser, user: str, course: str | None = COURSE
) -> tuple[str, str, str]:
    """Canvas's iframe posts the login to gpb, gpb checks its cookie came back and sends the
    browser to the platform; returns the authorization URL's state, nonce and the URL itself."""
    sandbox = browser.gpb.sandbox
    query = {"as_user": user} | ({"course_id": course} if course else {})
    async with httpx.AsyncClient(base_url=sandbox.base_url) as canvas:
        initiation = await canvas.get("/lti/initiate", params=query)
    action, fields = form_fields(initiation.text)
    first = await browser.post(urlsplit(action).path, fields)
    assert first.status_code == 303, first.text
    second = await browser.get(first.headers["location"])
    assert second.status_code == 302, second.text
    authorization = second.headers["location"]
    query_values = parse_qs(urlsplit(authorization).query)
    return query_values["state"][0], query_values["nonce"][0], authorization


async def launch(browser: Browser, user: str, course: str | None = COURSE) -> httpx.Response:
    """The whole flow: login, the platform's authorization endpoint, the form_post to gpb."""
    _, _, authorization = await start_login(browser, user, course)
    async with httpx.AsyncClient() as canvas:
        answer = await canvas.get(authorization)
    assert answer.status_code == 200, answer.text
    action, fields = form_fields(answer.text)
    return await browser.post(urlsplit(action).path, fields)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SandboxedGpb]:
    async with sandboxed_gpb(Path(tmp_path_factory.mktemp("lti")), lti=True) as gpb:
        await gpb.handled(await gpb.post("assignment_created"))  # gpb knows course 456
        yield gpb


async def launches(env: SandboxedGpb) -> list[dict[str, Any]]:
    answer = await env.get("/api/events", event_name="lti_launch", limit=200)
    assert answer.status_code == 200, answer.text
    events: list[dict[str, Any]] = answer.json()["events"]
    return events


async def test_a_teacher_launches_into_the_course_page(env: SandboxedGpb) -> None:
    browser = Browser(env)
    answer = await launch(browser, TEACHER)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/courses/{COURSE}"
    cookie = browser.session_set_cookie().lower()
    for attribute in ("samesite=none", "secure", "partitioned", "httponly"):
        assert attribute in cookie
    assert "max-age" not in cookie  # ends with the browser session (12 h at most, signed)

    course = await browser.get(f"/courses/{COURSE}")
    assert course.status_code == 200
    assert "Algebra I" in course.text
    # Framed only by the Canvas sites: GPB_CANVAS_BASE_URL and GPB_LTI_FRAME_ORIGINS.
    ancestors = course.headers["content-security-policy"].split("frame-ancestors ")[1]
    assert ancestors.split() == [env.sandbox.base_url, env.sandbox.pages_url]
    assert (await browser.get("/courses/999")).status_code == 404
    assert (await browser.get(f"/api/courses/{COURSE}/assignments")).status_code == 200
    assert (await browser.get("/api/courses/999/assignments")).status_code == 404
    assert (await browser.get("/admin")).status_code == 403

    newest = (await launches(env))[0]
    assert newest["status"] == "processed"
    assert (newest["course_id"], newest["user_id"]) == (COURSE, TEACHER)
    detail = await env.get(f"/api/events/{newest['id']}")
    assert detail.json()["outcome"] == {"role": "instructor"}
    assert "id_token" not in detail.text and "eyJ" not in detail.text


async def test_a_session_cookie_posts_need_the_csrf_token(env: SandboxedGpb) -> None:
    browser = Browser(env)
    await launch(browser, TEACHER)
    refused = await browser.post(f"/api/courses/{COURSE}/syncs", {"kind": "sync"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "CSRF_FAILED"


async def test_a_launch_is_no_event_to_replay(env: SandboxedGpb) -> None:
    assert (await launch(Browser(env), TEACHER)).status_code == 303
    newest = (await launches(env))[0]
    assert newest["status"] == "processed"
    replayed = await env.post_json(f"/api/events/{newest['id']}/replay", {})
    assert (replayed.status_code, replayed.json()["error"]["code"]) == (409, "NOT_REPLAYABLE")
    assert "launch from Canvas" in replayed.json()["error"]["message"]
    assert (await env.get(f"/api/events/{newest['id']}")).json()["status"] == "processed"


async def test_an_admin_launch_from_account_navigation_lands_on_the_overview(
    env: SandboxedGpb,
) -> None:
    browser = Browser(env)
    answer = await launch(browser, ADMIN, course=None)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/admin"
    assert (await browser.get("/admin")).status_code == 200
    listing = await browser.get("/admin/events?event_name=lti_launch")
    assert listing.status_code == 200 and "lti_launch" in listing.text
    newest = (await launches(env))[0]
    entry = await browser.get(f"/admin/events/{newest['id']}")
    assert entry.status_code == 200 and "lti_launch" in entry.text
    assert (newest["status"], newest["user_id"], newest["course_id"]) == ("processed", ADMIN, None)


async def test_a_student_gets_a_polite_403_page_and_no_session(env: SandboxedGpb) -> None:
    browser = Browser(env)
    answer = await launch(browser, STUDENT)
    assert answer.status_code == 403
    assert "LTI_ROLE_NOT_ALLOWED" in answer.text
    assert "Grade passback is for teachers and admins" in answer.text
    assert "gpb_session" not in browser.cookies
    newest = (await launches(env))[0]
    assert newest["status"] == "rejected"
    assert newest["error"]["code"] == "LTI_ROLE_NOT_ALLOWED"
    assert (newest["user_id"], newest["course_id"]) == (STUDENT, COURSE)


async def test_a_ta_gets_the_course_only_when_teaching_assistants_are_listed(
    tmp_path: Path,
) -> None:
    for roles, status in (("Instructor", 403), ("Instructor,TeachingAssistant", 303)):
        async with sandboxed_gpb(tmp_path / roles, lti=True, lti_instructor_roles=roles) as env:
            world = env.sandbox.state.canvas
            world.enroll("1202", world.sections_of(COURSE)[0], "TaEnrollment")
            answer = await launch(Browser(env), "1202")
            assert answer.status_code == status, answer.text


async def test_launches_into_two_courses_add_both_to_one_session(env: SandboxedGpb) -> None:
    world = env.sandbox.state.canvas
    second = world.courses[COURSE].model_copy(update={"id": "457", "name": "Geometry"})
    world.courses["457"] = second
    section = world.sections_of(COURSE)[0].model_copy(update={"id": "70", "course_id": "457"})
    world.sections["70"] = section
    world.enroll(TEACHER, section, "TeacherEnrollment")
    browser = Browser(env)
    await launch(browser, TEACHER)
    assert (await browser.get("/api/courses/457/assignments")).status_code == 404
    answer = await launch(browser, TEACHER, "457")
    assert answer.headers["location"] == "/courses/457"
    for course in (COURSE, "457"):
        assert (await browser.get(f"/api/courses/{course}/assignments")).status_code == 200
    assert (await browser.get("/api/courses/999/assignments")).status_code == 404


async def test_a_launch_over_a_logged_out_session_lends_it_nothing(env: SandboxedGpb) -> None:
    world = env.sandbox.state.canvas
    if "457" not in world.courses:
        world.courses["457"] = world.courses[COURSE].model_copy(update={"id": "457"})
        section = world.sections_of(COURSE)[0].model_copy(update={"id": "70", "course_id": "457"})
        world.sections["70"] = section
        world.enroll(TEACHER, section, "TeacherEnrollment")
    browser = Browser(env)
    await launch(browser, TEACHER)
    kept = dict(browser.cookies)  # a copy of the cookie, as a shared computer may keep it
    course = await browser.get(f"/courses/{COURSE}")
    ended = await browser.post("/logout", {"csrf_token": csrf_of(course.text)})
    assert ended.status_code == 303, ended.text
    browser.cookies = kept
    answer = await launch(browser, TEACHER, "457")
    assert answer.headers["location"] == "/courses/457"
    assert (await browser.get("/api/courses/457/assignments")).status_code == 200
    assert (await browser.get(f"/api/courses/{COURSE}/assignments")).status_code == 404


async def test_login_with_a_cookie_the_browser_did_not_keep_offers_a_new_tab(
    env: SandboxedGpb,
) -> None:
    browser = Browser(env)
    sandbox = env.sandbox
    async with httpx.AsyncClient(base_url=sandbox.base_url) as canvas:
        initiation = await canvas.get(
            "/lti/initiate", params={"as_user": TEACHER, "course_id": COURSE}
        )
    action, fields = form_fields(initiation.text)
    first = await browser.post(urlsplit(action).path, fields)
    browser.cookies.clear()  # third-party cookies blocked, no partitioning
    page = await browser.get(first.headers["location"])
    assert page.status_code == 200
    assert "Open gpb in a new tab" in page.text
    new_tab = unescape(re.search(r'href="(/lti/login\?[^"]+)" target="_blank"', page.text).group(1))  # type: ignore[union-attr]
    assert "gpb_state" not in new_tab
    # The new tab is first-party: its cookie is kept, and the same login goes through.
    again = await browser.get(new_tab)
    assert again.status_code == 303
    onward = await browser.get(again.headers["location"])
    assert onward.status_code == 302
    assert onward.headers["location"].startswith(sandbox.base_url + "/api/lti/authorize_redirect")


# -- bad launches --------------------------------------------------------------------------------


async def forged_launch(
    env: SandboxedGpb, key: RSAKey | None = None, **claims: Any
) -> tuple[Browser, httpx.Response]:
    """A login as the teacher, then an id_token signed for it with `claims` changed."""
    browser = Browser(env)
    state, nonce, _ = await start_login(browser, TEACHER)
    platform = env.sandbox.platform
    if key is not None:
        platform = LtiPlatform(key, tool_url=platform.tool_url)
    nonce = claims.pop("nonce", nonce)
    token = platform.id_token(env.sandbox.state, TEACHER, COURSE, nonce, **claims)
    answer = await browser.post("/lti/launch", {"id_token": token, "state": state})
    return browser, answer


async def assert_refused(
    env: SandboxedGpb, browser: Browser, answer: httpx.Response, status: int, code: str
) -> None:
    assert answer.status_code == status, answer.text
    assert code in answer.text
    assert "text/html" in answer.headers["content-type"]
    assert not any(h.startswith("gpb_session=") for h in browser.set_cookies)
    assert (await browser.get(f"/courses/{COURSE}")).status_code == 303  # to the login form
    newest = (await launches(env))[0]
    assert (newest["status"], newest["error"]["code"]) == ("rejected", code)


@pytest.mark.parametrize(
    ("claims", "status", "code"),
    [
        ({"aud": "another-tool"}, 401, "LTI_WRONG_AUDIENCE"),
        (
            {"aud": ["another-tool", "10000000000042"], "azp": "another-tool"},
            401,
            "LTI_WRONG_AUDIENCE",
        ),
        ({"iss": "https://evil.example"}, 401, "LTI_WRONG_ISSUER"),
        ({CLAIM + "deployment_id": "9:elsewhere"}, 403, "LTI_UNKNOWN_DEPLOYMENT"),
        ({"exp": FromNow(-400), "iat": FromNow(-4000)}, 401, "LTI_EXPIRED"),
        ({"iat": FromNow(400)}, 401, "LTI_ISSUED_IN_FUTURE"),
        ({CLAIM + "message_type": "LtiDeepLinkingRequest"}, 400, "LTI_WRONG_MESSAGE_TYPE"),
        ({CLAIM + "version": "1.1"}, 400, "LTI_WRONG_VERSION"),
        ({CLAIM + "custom": {"canvas_user_id": TEACHER}}, 400, "LTI_MISSING_CUSTOM_FIELD"),
        ({"nonce": "not-this-logins"}, 401, "LTI_NONCE_MISMATCH"),
    ],
)
async def test_a_bad_token_is_refused_with_its_code(
    env: SandboxedGpb, claims: dict[str, Any], status: int, code: str
) -> None:
    browser, answer = await forged_launch(env, **resolved(claims))
    await assert_refused(env, browser, answer, status, code)


async def test_a_token_signed_by_another_key_is_refused(env: SandboxedGpb) -> None:
    other = new_signing_key()
    other_with_kid = RSAKey.import_key(
        other.as_dict(private=True) | {"kid": env.sandbox.settings.signing_key.kid}
    )
    browser, answer = await forged_launch(env, key=other_with_kid)
    await assert_refused(env, browser, answer, 401, "BAD_SIGNATURE")
    browser, answer = await forged_launch(env, key=other)  # a kid the platform never had
    await assert_refused(env, browser, answer, 401, "UNKNOWN_KEY")


async def test_a_replayed_token_is_refused(env: SandboxedGpb) -> None:
    browser = Browser(env)
    state, nonce, _ = await start_login(browser, TEACHER)
    token = env.sandbox.platform.id_token(env.sandbox.state, TEACHER, COURSE, nonce)
    saved = dict(browser.cookies)
    first = await browser.post("/lti/launch", {"id_token": token, "state": state})
    assert first.status_code == 303
    replay = Browser(env)
    replay.cookies = {k: v for k, v in saved.items() if k.startswith("gpb_lti_state_")}
    answer = await replay.post("/lti/launch", {"id_token": token, "state": state})
    await assert_refused(env, replay, answer, 401, "LTI_NONCE_REUSED")


async def test_a_state_that_does_not_match_is_refused(env: SandboxedGpb) -> None:
    browser = Browser(env)
    _, nonce, _ = await start_login(browser, TEACHER)
    token = env.sandbox.platform.id_token(env.sandbox.state, TEACHER, COURSE, nonce)
    answer = await browser.post("/lti/launch", {"id_token": token, "state": "someone-elses"})
    await assert_refused(env, browser, answer, 401, "LTI_STATE_MISMATCH")


async def test_a_launch_with_no_state_cookie_is_refused(env: SandboxedGpb) -> None:
    browser = Browser(env)
    state, nonce, _ = await start_login(browser, TEACHER)
    token = env.sandbox.platform.id_token(env.sandbox.state, TEACHER, COURSE, nonce)
    browser.cookies.clear()
    answer = await browser.post("/lti/launch", {"id_token": token, "state": state})
    await assert_refused(env, browser, answer, 401, "LTI_NO_STATE_COOKIE")


async def test_an_oversized_or_garbled_launch_is_refused(env: SandboxedGpb) -> None:
    browser = Browser(env)
    state, _, _ = await start_login(browser, TEACHER)
    huge = b"state=" + state.encode() + b"&id_token=" + b"a" * 70_000
    answer = await browser.post("/lti/launch", huge)
    await assert_refused(env, browser, answer, 413, "PAYLOAD_TOO_LARGE")
    for garbage in ("not-a-jwt", "a.b.c", "eyJhbGciOiJub25lIn0.e30."):
        answer = await browser.post("/lti/launch", {"id_token": garbage, "state": state})
        assert answer.status_code in (400, 401), answer.text
        newest = (await launches(env))[0]
        assert newest["status"] == "rejected"
    answer = await browser.post("/lti/launch", {"state": state})
    await assert_refused(env, browser, answer, 400, "LTI_MISSING_PARAMETER")


async def test_a_login_from_another_platform_or_client_is_refused(env: SandboxedGpb) -> None:
    browser = Browser(env)
    answer = await browser.post("/lti/login", {"iss": "https://evil.example", "login_hint": "1"})
    await assert_refused(env, browser, answer, 400, "LTI_UNKNOWN_ISSUER")
    issuer = env.sandbox.platform.issuer
    answer = await browser.post(
        "/lti/login", {"iss": issuer, "login_hint": "1", "client_id": "someone-else"}
    )
    await assert_refused(env, browser, answer, 400, "LTI_UNKNOWN_CLIENT")


async def test_the_developer_key_json_is_what_canvas_reads(env: SandboxedGpb) -> None:
    answer = await env.client.get("/lti/config.json")
    assert answer.status_code == 200
    key = answer.json()
    base = str(env.client.base_url).rstrip("/")
    assert key["oidc_initiation_url"] == base + "/lti/login"
    assert key["target_link_uri"] == base + "/lti/launch"
    assert key["public_jwk_url"] == base + "/lti/jwks.json"
    assert key["custom_fields"] == {
        "canvas_course_id": "$Canvas.course.id",
        "canvas_user_id": "$Canvas.user.id",
    }
    placements = key["extensions"][0]["settings"]["placements"]
    assert {p["placement"] for p in placements} == {"course_navigation", "account_navigation"}
    assert all(p["message_type"] == "LtiResourceLinkRequest" for p in placements)
    assert (await env.client.get("/lti/jwks.json")).json() == {"keys": []}


async def test_with_lti_off_launches_are_not_found_and_pages_cannot_be_framed(
    tmp_path: Path,
) -> None:
    async with sandboxed_gpb(tmp_path) as env:
        answer = await env.client.post("/lti/login", data={"iss": "x", "login_hint": "1"})
        assert answer.status_code == 404
        assert "LTI_OFF" in answer.text or "not configured" in answer.text
        login = await env.client.get("/login")
        assert "frame-ancestors 'none'" in login.headers["content-security-policy"]
