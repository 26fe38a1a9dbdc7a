"""A teacher fixes problems in Canvas from gpb's pages, in a real browser: renames a long title and
watches the alert resolve without a reload, aligns a group through the category assistant, reads
Canvas's refusal in words; a teacher of another course cannot fix."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from headless import COURSE, Site, assignment_row, log_in, missing, screenshot
from running_gpb import new_group_with_assignment

# A fix goes to Canvas, its event back to gpb, the worker, the alert stream: generous on a busy box.
LOOP_MS = 30_000
pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
if missing():
    pytest.skip(missing() or "", allow_module_level=True)

from playwright.async_api import Page, expect  # noqa: E402


@pytest_asyncio.fixture(loop_scope="module", scope="module", autouse=True)
async def live_events(site: Site) -> AsyncIterator[None]:
    """The sandbox's Canvas sends its Live Events to this gpb, as a district's Canvas does."""
    site.gpb.sandbox.state.live_events.url = site.url.rstrip("/") + "/events/canvas"
    yield


async def test_a_long_title_is_fixed_from_the_page_and_resolves_live(
    page: Page, site: Site
) -> None:
    await log_in(page, site.teacher_token, f"/courses/{COURSE}")
    await expect(page.locator("#live")).to_have_attribute("data-live", "connected")
    await page.evaluate("window.loadedOnce = true")  # gone if the page reloads
    blocked = assignment_row(page, "123")
    await blocked.get_by_text("Rename in Canvas…").click()
    title = blocked.get_by_label("New title")
    await expect(title).to_have_value("HW 3.2: Linear Equations Rev2")
    counter = blocked.locator(".title-count")
    await expect(counter).to_have_text("29 of 30 characters")
    await title.fill("HW 3.2: Linear Equations Rev2 + more")
    await expect(counter).to_have_text("36 of 30 characters")
    await title.fill("HW 3.2: Linear Equations")
    await expect(counter).to_have_text("24 of 30 characters")
    await screenshot(page, "fix-title")
    # Another assignment changes meanwhile: the rows are redrawn, the open fix is kept as typed.
    notices = page.get_by_role("status")
    await site.change_assignment("124", points_possible=0)
    await expect(notices).to_contain_text("New warning on “Homework 3.3", timeout=LOOP_MS)
    await expect(blocked.locator("details.fix-details")).to_have_attribute("open", "")
    await expect(title).to_have_value("HW 3.2: Linear Equations")
    await expect(counter).to_have_text("24 of 30 characters")
    await site.change_assignment("124", points_possible=10)
    await expect(notices).to_contain_text("Resolved on “Homework 3.3", timeout=LOOP_MS)
    await blocked.get_by_role("button", name="Rename in Canvas").click()

    await expect(notices).to_contain_text(
        "Rename in Canvas: Canvas made the change", timeout=LOOP_MS
    )
    await expect(notices).to_contain_text("Resolved on “HW 3.2: Linear Equations”", timeout=LOOP_MS)
    await expect(assignment_row(page, "123")).to_contain_text("Eligible", timeout=LOOP_MS)
    await screenshot(page, "fix-title-resolved")
    assert site.gpb.sandbox.state.canvas.assignments["123"].name == "HW 3.2: Linear Equations"
    assert await page.evaluate("window.loadedOnce") is True


async def test_a_group_is_aligned_through_the_assistant(page: Page, site: Site) -> None:
    await new_group_with_assignment(site.gpb, "314", "Quizes", 4, "130", "Quiz 1")

    await log_in(page, site.teacher_token, f"/courses/{COURSE}")
    await expect(page.locator("#live")).to_have_attribute("data-live", "connected")
    blocked = assignment_row(page, "130")
    await expect(blocked).to_contain_text("Blocked")
    await blocked.get_by_text("Match an IC category…").click()
    await expect(blocked.locator(".candidates")).to_contain_text(
        "Quizzes (singular or plural of the same word)"
    )
    await expect(blocked).to_contain_text("It moves 1 assignment(s) with it: Quiz 1")
    await screenshot(page, "fix-category")
    await blocked.get_by_role("button", name="Rename group 'Quizes' to 'Quizzes' in Canvas").click()
    notices = page.get_by_role("status")
    await expect(notices).to_contain_text(
        "Rename group 'Quizes' to 'Quizzes' in Canvas", timeout=LOOP_MS
    )
    await expect(notices).to_contain_text("Resolved on “Quiz 1”", timeout=LOOP_MS)
    await expect(assignment_row(page, "130")).to_contain_text("Eligible", timeout=LOOP_MS)

    await page.get_by_role("link", name="Categories").click()
    quizzes = page.locator('tr[data-group-id="314"]')
    await expect(quizzes).to_contain_text("matches “Quizzes”")
    extra = page.locator('tr[data-group-id="313"]')
    await expect(extra).to_contain_text("no category of that name")
    # Every IC category names a group already: renaming would make twins, so none is offered.
    await expect(extra).to_contain_text("Another group already has each IC category's name")
    await screenshot(page, "categories")


async def test_canvas_refusing_is_told_in_words(page: Page, site: Site) -> None:
    await log_in(page, site.teacher_token, f"/courses/{COURSE}")
    await expect(page.locator("#live")).to_have_attribute("data-live", "connected")
    await site.change_assignment("124", due_at=None)
    # The alert's notice leads to the fix.
    notice = page.get_by_role("status").locator("p", has_text="New error on “Homework 3.3")
    await notice.get_by_role("link", name="Fix it…").click()
    blocked = assignment_row(page, "124")
    await expect(blocked.locator("details#fix-124-DUE_DATE_MISSING")).to_have_attribute("open", "")
    # Before the assignment opens (2026-10-12): Canvas refuses.
    await blocked.get_by_label("Due", exact=True).fill("2026-10-01T12:00")
    await blocked.get_by_role("button", name="Set due date in Canvas").click()
    notices = page.get_by_role("status")
    await expect(notices).to_contain_text(
        "Not done: Canvas refused the change (400)", timeout=LOOP_MS
    )
    await expect(notices).to_contain_text("due at must be between availability dates")
    await expect(assignment_row(page, "124")).to_contain_text("Blocked")
    assert site.gpb.sandbox.state.canvas.assignments["124"].due_at is None
    await blocked.get_by_label("Due", exact=True).fill("2026-10-20T23:59")
    await blocked.get_by_role("button", name="Set due date in Canvas").click()
    await expect(notices).to_contain_text("Resolved on “Homework 3.3: Slope”", timeout=LOOP_MS)


async def test_a_teacher_of_another_course_cannot_fix(page: Page, site: Site) -> None:
    await log_in(page, site.stranger_token)
    csrf = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    status = await page.evaluate(
        """async (csrf) => {
            const body = new URLSearchParams({csrf_token: csrf, code: "ASSIGNMENT_UNPUBLISHED"});
            const answer = await fetch("/courses/456/assignments/126/fixes",
                {method: "POST", body, headers: {Accept: "application/json"}});
            return answer.status;
        }""",
        csrf,
    )
    assert status == 404
    assert not site.gpb.sandbox.state.canvas.assignments["126"].published
