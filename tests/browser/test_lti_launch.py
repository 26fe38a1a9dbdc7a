"""Launch from Canvas in a real browser: the sandbox's Canvas page (on `localhost`) shows gpb (on
`127.0.0.1`, another site) in its iframe after a click on "Grade Passback", signed in by the launch;
with third-party cookies blocked (Chromium's default here) the partitioned cookies still carry it,
and where no cookie is kept inside Canvas, the new tab launches first-party."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from headless import CHROMIUM, CHROMIUM_ARGS, COURSE, missing, screenshot, script_problems
from running_gpb import SandboxedGpb, sandboxed_gpb
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from gpb.infra.sandbox.server import serve_on_loopback

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
if missing():
    pytest.skip(missing() or "", allow_module_level=True)

from playwright.async_api import Browser, Frame, FrameLocator, Page, expect  # noqa: E402

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Playwright

TEACHER, STUDENT, ADMIN = "789", "1201", "1"
IFRAME = 'iframe[title="Grade Passback"]'
FITS = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def lti_gpb(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SandboxedGpb]:
    async with sandboxed_gpb(Path(tmp_path_factory.mktemp("gpb")), lti=True) as gpb:
        await gpb.handled(await gpb.post("assignment_created"))  # gpb reads the whole course
        yield gpb


async def _watched(context: BrowserContext) -> tuple[Page, list[str]]:
    context.set_default_timeout(10_000)
    opened = await context.new_page()
    return opened, script_problems(opened)


async def _set_probe_cookies(request: Request) -> Response:
    response = HTMLResponse("<p>probe</p>")
    response.headers.append("set-cookie", "probe_plain=1; Path=/; Secure; SameSite=None")
    response.headers.append(
        "set-cookie", "probe_partitioned=1; Path=/; Secure; SameSite=None; Partitioned"
    )
    return response


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def probe() -> AsyncIterator[str]:
    """A server on gpb's host that sets two third-party cookies, to see which a browser keeps."""
    app = Starlette(routes=[Route("/set", _set_probe_cookies)])
    async with serve_on_loopback(app) as url:
        yield url


@pytest_asyncio.fixture(loop_scope="module")
async def canvas(browser: Browser, lti_gpb: SandboxedGpb) -> AsyncIterator[Page]:
    """A tab on the sandbox's Canvas, another site than gpb's."""
    context = await browser.new_context(
        base_url=lti_gpb.sandbox.pages_url, viewport={"width": 1280, "height": 900}
    )
    opened, problems = await _watched(context)
    yield opened
    await context.close()
    assert problems == [], problems


def gpb_url(gpb: SandboxedGpb) -> str:
    return str(gpb.client.base_url).rstrip("/")


def tool(page: Page) -> FrameLocator:
    return page.frame_locator(IFRAME)


def tool_frame(page: Page) -> Frame:
    frame = page.frame(name="tool_content")
    assert frame is not None
    return frame


async def click_grade_passback(page: Page, start: str) -> None:
    await page.goto(start)
    await (
        page.get_by_role("navigation", name="Course navigation")
        .get_by_role("link", name="Grade Passback")
        .click()
    )


async def assert_fits_800(frame: Frame) -> None:
    """gpb's page in Canvas's 800 px iframe scrolls only down, never sideways."""
    await frame.wait_for_load_state("load")  # measured with its stylesheet applied
    assert await frame.evaluate("document.documentElement.clientWidth") <= 800
    assert await frame.evaluate(FITS), await frame.evaluate("document.documentElement.scrollWidth")


async def test_a_teacher_launches_into_the_course_inside_canvas(
    canvas: Page, lti_gpb: SandboxedGpb, probe: str
) -> None:
    # Chromium's default here blocks third-party cookies (as its incognito windows do): only
    # partitioned cookies are kept, and they carry the launch.
    assert await third_party_cookies(canvas, probe) == {"probe_partitioned"}
    await click_grade_passback(canvas, f"/courses/{COURSE}?as_user={TEACHER}")
    await expect(tool(canvas).get_by_role("heading", name="Algebra I")).to_be_visible()
    await expect(tool(canvas).get_by_role("row").filter(has_text="Blocked").first).to_be_visible()
    frame = tool_frame(canvas)
    assert frame.url == f"{gpb_url(lti_gpb)}/courses/{COURSE}"
    await assert_fits_800(frame)
    await screenshot(canvas, "lti-teacher")

    session = next(c for c in await canvas.context.cookies() if c["name"] == "gpb_session")
    assert session["sameSite"] == "None" and session["secure"] and session["httpOnly"]

    # The session holds this course only: another one is Not found, inside the iframe too.
    await frame.goto(f"{gpb_url(lti_gpb)}/courses/999")
    await expect(tool(canvas).get_by_role("heading", name="Not found")).to_be_visible()
    for tab in ("pending", "sync", "history"):
        await frame.goto(f"{gpb_url(lti_gpb)}/courses/{COURSE}/{tab}")
        await expect(tool(canvas).get_by_role("heading", name="Algebra I")).to_be_visible()
        await assert_fits_800(frame)

    # Logging out inside the iframe (a form with the CSRF token) ends the partitioned session.
    await tool(canvas).get_by_role("button", name="Log out").click()
    await expect(tool(canvas).get_by_text("You are logged out.")).to_be_visible()
    assert not [c for c in await canvas.context.cookies() if c["name"] == "gpb_session"]


async def test_an_admin_launches_into_the_overview(canvas: Page, lti_gpb: SandboxedGpb) -> None:
    await canvas.goto(f"/accounts/1/external_tools/gpb?as_user={ADMIN}")
    await expect(tool(canvas).get_by_role("heading", name="District overview")).to_be_visible()
    frame = tool_frame(canvas)
    await assert_fits_800(frame)
    await screenshot(canvas, "lti-admin")
    await frame.goto(f"{gpb_url(lti_gpb)}/admin/events?event_name=lti_launch")
    await expect(tool(canvas).get_by_role("heading", name="Event log")).to_be_visible()
    await expect(tool(canvas).get_by_text("lti_launch").first).to_be_visible()
    await assert_fits_800(frame)
    for path, heading in (("/admin/check", "Connection checks"), ("/errors", "Error dictionary")):
        await frame.goto(gpb_url(lti_gpb) + path)
        await expect(tool(canvas).get_by_role("heading", name=heading).first).to_be_visible()
        await assert_fits_800(frame)


async def test_a_student_gets_the_403_page(canvas: Page) -> None:
    await click_grade_passback(canvas, f"/courses/{COURSE}?as_user={STUDENT}")
    await expect(
        tool(canvas).get_by_role("heading", name="Grade passback is for teachers and admins")
    ).to_be_visible()
    await expect(tool(canvas).get_by_text("LTI_ROLE_NOT_ALLOWED")).to_be_visible()
    await assert_fits_800(tool_frame(canvas))
    assert not [c for c in await canvas.context.cookies() if c["name"] == "gpb_session"]
    await screenshot(canvas, "lti-student")


async def profile_context(
    playwright: Playwright, folder: Path, preferences: dict[str, Any], gpb: SandboxedGpb
) -> BrowserContext:
    """Chromium with a profile of its own whose cookie preferences are these."""
    (folder / "Default").mkdir(parents=True)
    (folder / "Default" / "Preferences").write_text(json.dumps({"profile": preferences}))
    return await playwright.chromium.launch_persistent_context(
        str(folder),
        executable_path=str(CHROMIUM),
        args=CHROMIUM_ARGS,
        base_url=gpb.sandbox.pages_url,
        viewport={"width": 1280, "height": 900},
    )


async def test_with_third_party_cookies_allowed_the_launch_works_too(
    lti_gpb: SandboxedGpb, probe: str, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        allowed = {"cookie_controls_mode": 0, "block_third_party_cookies": False}
        context = await profile_context(playwright, tmp_path, allowed, lti_gpb)
        try:
            page, problems = await _watched(context)
            assert await third_party_cookies(page, probe) == {"probe_plain", "probe_partitioned"}
            await click_grade_passback(page, f"/courses/{COURSE}?as_user={TEACHER}")
            await expect(tool(page).get_by_role("heading", name="Algebra I")).to_be_visible()
            assert problems == [], problems
        finally:
            await context.close()


async def test_with_no_cookie_kept_inside_canvas_the_new_tab_launches_first_party(
    lti_gpb: SandboxedGpb, probe: str, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    # gpb's cookies blocked whenever gpb is inside the sandbox's Canvas, partitioned or not (as
    # browsers without partitioned cookies do); gpb in a tab of its own keeps them.
    host = urlsplit(gpb_url(lti_gpb)).hostname
    canvas_host = urlsplit(lti_gpb.sandbox.pages_url).hostname
    blocked = {f"http://{host}:*,http://{canvas_host}:*": {"setting": 2}}
    preferences = {"content_settings": {"exceptions": {"cookies": blocked}}}
    async with async_playwright() as playwright:
        context = await profile_context(playwright, tmp_path, preferences, lti_gpb)
        try:
            page, problems = await _watched(context)
            assert await third_party_cookies(page, probe) == set()
            await click_grade_passback(page, f"/courses/{COURSE}?as_user={TEACHER}")
            offer = tool(page).get_by_role("link", name="Open gpb in a new tab")
            await expect(offer).to_be_visible()
            await assert_fits_800(tool_frame(page))
            await screenshot(page, "lti-new-tab-offer")
            async with context.expect_page() as opened:
                await offer.click()
            new_tab = await opened.value
            await expect(new_tab.get_by_role("heading", name="Algebra I")).to_be_visible()
            assert new_tab.url == f"{gpb_url(lti_gpb)}/courses/{COURSE}"
            assert problems == [], problems
        finally:
            await context.close()


async def third_party_cookies(page: Page, probe: str) -> set[str]:
    """The cookies a server on gpb's site (another port, the same cookies) keeps when it sets
    them inside the sandbox's Canvas page: an ordinary `SameSite=None; Secure` one, and a
    partitioned one."""
    await page.goto(f"/courses/{COURSE}?as_user={TEACHER}")
    await page.evaluate(
        """(url) => new Promise(resolve => {
            const frame = document.createElement('iframe');
            frame.onload = resolve;
            frame.src = url;
            document.body.appendChild(frame);
        })""",
        probe + "/set",
    )
    kept = {c["name"] for c in await page.context.cookies() if c["name"].startswith("probe_")}
    await page.context.clear_cookies()
    return kept
