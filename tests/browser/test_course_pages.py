"""A teacher in a real browser: logs in, sees what blocks an assignment and how to fix it, watches
alerts arrive and resolve without reloading, and logs out; the access rules hold on pages."""

from __future__ import annotations

import pytest
from headless import COURSE, Site, assignment_row, log_in, missing, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
if missing():
    pytest.skip(missing() or "", allow_module_level=True)

from playwright.async_api import Page, expect  # noqa: E402


async def test_a_teacher_logs_in_and_sees_what_blocks_an_assignment(page: Page, site: Site) -> None:
    await page.goto("/")
    await expect(page).to_have_url(f"{site.url.rstrip('/')}/login?next=/")
    await screenshot(page, "login")
    await log_in(page, site.teacher_token)

    cookie = next(c for c in await page.context.cookies() if c["name"] == "gpb_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert site.teacher_token not in cookie["value"]

    await expect(page.get_by_role("heading", name="Your courses")).to_be_visible()
    course_link = page.get_by_role("link", name="Algebra I")
    await expect(page.get_by_role("row").filter(has=course_link)).to_contain_text("open")
    await screenshot(page, "home")

    await course_link.click()
    await expect(page).to_have_url(f"{site.url.rstrip('/')}/courses/{COURSE}")
    blocked = assignment_row(page, "123")
    await expect(blocked).to_contain_text("Blocked")
    await expect(blocked).to_contain_text("Title too long")
    await expect(blocked.locator(".fix")).to_contain_text("Shorten the title by")
    await expect(assignment_row(page, "124")).to_contain_text("Eligible")
    await expect(assignment_row(page, "129")).to_contain_text("Not set to sync")
    await expect(page.get_by_role("navigation", name="Course")).to_contain_text("Assignments")
    await screenshot(page, "course")

    await blocked.get_by_role("link", name="NAME_TOO_LONG").click()
    await expect(page).to_have_url(f"{site.url.rstrip('/')}/errors#NAME_TOO_LONG")
    await expect(page.locator("#NAME_TOO_LONG")).to_contain_text("Title too long")


async def test_an_alert_arrives_and_resolves_live(page: Page, site: Site) -> None:
    await log_in(page, site.teacher_token, f"/courses/{COURSE}")
    await expect(page.locator("#live")).to_have_attribute("data-live", "connected")
    await page.evaluate("window.loadedOnce = true")  # gone if the page reloads

    await site.change_assignment("124", name="Homework 3.3: Quadratic Equations, Part 2")
    notices = page.get_by_role("status")
    await expect(notices).to_contain_text("New error on “Homework 3.3: Quadratic Equations")
    await expect(assignment_row(page, "124")).to_contain_text("Blocked")
    await expect(assignment_row(page, "124")).to_contain_text("remove 11")
    await screenshot(page, "course-live-alert")

    await site.change_assignment("124", name="Homework 3.3")
    await expect(notices).to_contain_text("Resolved on “Homework 3.3”")
    await expect(assignment_row(page, "124")).to_contain_text("Eligible")

    await site.change_assignment("124", points_possible=0)  # a warning leaves it eligible
    await expect(notices).to_contain_text("New warning on “Homework 3.3”")
    await expect(assignment_row(page, "124")).to_contain_text("Eligible, with warnings")
    await expect(assignment_row(page, "124").locator(".violation-warning")).to_contain_text(
        "Warning"
    )
    await screenshot(page, "course-live-warning")
    assert await page.evaluate("window.loadedOnce") is True


async def test_a_teacher_of_another_course_gets_not_found(page: Page, site: Site) -> None:
    await log_in(page, site.stranger_token)
    await expect(page.get_by_text("No courses yet")).to_be_visible()
    response = await page.goto(f"/courses/{COURSE}")
    assert response is not None and response.status == 404
    await expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    response = await page.goto("/admin/events")
    assert response is not None and response.status == 403


async def test_logging_out_ends_the_session(page: Page, site: Site) -> None:
    await log_in(page, site.teacher_token)
    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_text("You are logged out.")).to_be_visible()
    await page.goto(f"/courses/{COURSE}")
    await expect(page).to_have_url(f"{site.url.rstrip('/')}/login?next=/courses/{COURSE}")


async def test_a_form_without_the_csrf_token_is_refused(page: Page, site: Site) -> None:
    await log_in(page, site.teacher_token)
    # What a hostile page could make the browser send: the cookie goes along, the token cannot.
    async with page.expect_navigation() as navigation:
        await page.evaluate(
            """() => {
                const form = document.createElement("form");
                form.method = "post";
                form.action = "/logout";
                document.body.append(form);
                form.submit();
            }"""
        )
    response = await navigation.value
    assert response is not None and response.status == 403
    await expect(page.get_by_role("heading", name="This form has expired")).to_be_visible()
    await page.goto("/")
    await expect(page.get_by_role("heading", name="Your courses")).to_be_visible()  # still in


async def test_the_course_page_reads_on_a_phone(page: Page, site: Site) -> None:
    await page.set_viewport_size({"width": 390, "height": 844})
    await log_in(page, site.teacher_token, f"/courses/{COURSE}")
    await expect(assignment_row(page, "123")).to_contain_text("Blocked")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    await screenshot(page, "course-phone")
