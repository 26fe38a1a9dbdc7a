"""A teacher's grades on their way to IC, in a real browser: the pending grades beside what IC
confirmed, a preview of a sync and its outcome grade by grade, the commit with its progress followed
live to the end (and a second sync refused while it runs), the history and a run's page."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from headless import COURSE, Site, log_in, missing, screenshot
from running_gpb import grade_event

from gpb.infra.sandbox.faults import FaultConfig

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
if missing():
    pytest.skip(missing() or "", allow_module_level=True)

from playwright.async_api import Locator, Page, expect  # noqa: E402

FINE = "124"  # Homework 3.3: Slope, eligible; students 1201 (section 7) and 1207 (section 8)
BLOCKED = "123"  # its title is too long
RUN_STARTS_WITHIN_MS = RUN_ENDS_WITHIN_MS = 30_000  # a busy machine picks runs up slowly


async def graded(
    site: Site, assignment_id: str, user_id: str, score: float, **body: object
) -> None:
    """The teacher grades in Canvas, and Canvas's grade_change reaches gpb."""
    event = grade_event(assignment_id, user_id, score, **body)
    await site.gpb.handled(await site.gpb.post_event(event))


def pending_row(page: Page, assignment_id: str, student_id: str) -> Locator:
    section = page.locator(f'section[aria-labelledby="pending-{assignment_id}"]')
    return section.locator(f'tr[data-student-id="{student_id}"]')


def grade_rows(page: Page, outcome: str) -> Locator:
    return page.locator(f'table.grades tr[data-outcome="{outcome}"]')


async def test_the_pending_page_shows_canvas_beside_ic(page: Page, site: Site) -> None:
    await graded(site, FINE, "1201", 9.5)
    await graded(site, FINE, "1207", 6.0, muted=True)  # graded, not yet posted to the student
    await graded(site, BLOCKED, "1202", 5.0)
    await log_in(page, site.teacher_token, f"/courses/{COURSE}")
    await page.get_by_role("navigation", name="Course").get_by_role("link", name="Pending").click()
    await expect(page).to_have_url(re.compile(f"/courses/{COURSE}/pending$"))

    await expect(page.get_by_role("heading", name="Homework 3.3: Slope")).to_be_visible()
    ready = pending_row(page, FINE, "1201")
    await expect(ready).to_contain_text("9.5")
    await expect(ready).to_contain_text("nothing yet")
    await expect(ready).to_contain_text("Ready to send")
    await expect(pending_row(page, FINE, "1207")).to_contain_text("not posted")
    blocked = pending_row(page, BLOCKED, "1202")
    await expect(blocked).to_contain_text("Blocked")
    await expect(blocked.get_by_role("link", name="NAME_TOO_LONG")).to_have_attribute(
        "href", "/errors#NAME_TOO_LONG"
    )
    await expect(page.get_by_text("1 is not posted in Canvas yet")).to_be_visible()
    await screenshot(page, "pending")


async def test_a_preview_then_a_commit_followed_to_the_end(page: Page, site: Site) -> None:
    await log_in(page, site.teacher_token, f"/courses/{COURSE}/sync")
    await expect(page.get_by_label("Homework 3.3: Slope")).to_be_checked()
    await expect(page.get_by_role("checkbox", name="Homework 3.2")).to_be_disabled()
    await screenshot(page, "sync")

    await page.get_by_role("button", name="Preview").click()
    await expect(
        page.get_by_role("heading", name=re.compile(r"Preview of a sync #\d+"))
    ).to_be_visible()
    await expect(page.locator("#run-status")).to_contain_text(
        "succeeded", timeout=RUN_ENDS_WITHIN_MS
    )
    assert await page.get_by_role("checkbox").count() == 0
    would_send = grade_rows(page, "sent")
    await expect(would_send).to_have_count(2)
    await expect(would_send.first).to_contain_text("would be sent")
    await expect(would_send.filter(has_text="Garcia, Jamie")).to_contain_text("not posted")
    assert not site.gpb.sandbox.state.ic.results, "a preview wrote to IC"
    await screenshot(page, "sync-preview")

    # IC holds every write until the page and a second tab have seen the run under way: however
    # fast or slow the machine, the run cannot finish before they look.
    sis_faults = site.gpb.sandbox.state.sis_faults
    sis_faults.configure(FaultConfig(hold=True, methods=["PUT", "DELETE"]))
    try:
        await page.get_by_role("button", name="Commit: send these grades to IC").click()
        await expect(page.get_by_role("heading", name=re.compile(r"^Sync #\d+"))).to_be_visible()
        await page.evaluate("window.loadedOnce = true")  # gone if the page reloads
        run_url = page.url
        await expect(page.locator("#run-status")).to_contain_text(
            "running", timeout=RUN_STARTS_WITHIN_MS
        )
        await expect(page.locator("#run-progress-text")).to_have_text(
            "0 of 2 grades done; 0 confirmed in IC", timeout=RUN_STARTS_WITHIN_MS
        )
        await expect(page.locator("#run-progress")).to_have_js_property("max", 2)
        await screenshot(page, "sync-running")

        await second_sync_is_refused_while_one_runs(page, run_url)

        sis_faults.configure(FaultConfig())  # IC lets the writes through
        await expect(page.locator("#run-status")).to_contain_text(
            "succeeded", timeout=RUN_ENDS_WITHIN_MS
        )
    finally:
        sis_faults.configure(FaultConfig())
    await expect(page.get_by_role("status")).to_contain_text("The run has finished: succeeded")
    await expect(page.locator("#run-progress-text")).to_have_text("Finished: 2 grades looked at")
    await expect(page.locator("#run-progress")).to_have_js_property("value", 2)
    await expect(grade_rows(page, "sent")).to_have_count(2)
    assert await page.evaluate("window.loadedOnce") is True
    assert f"canvas-a{FINE}-s7-u1201" in site.gpb.sandbox.state.ic.results
    await screenshot(page, "sync-done")


async def second_sync_is_refused_while_one_runs(page: Page, run_url: str) -> None:
    """Another tab asks for a sync while the first runs: the sync page says why not, in words."""
    other = await page.context.new_page()
    await other.goto(f"/courses/{COURSE}/sync")
    await expect(other.get_by_role("status")).to_contain_text("follow it")
    await other.get_by_label("Homework 3.3: Slope").check()
    await other.get_by_role("button", name="Sync now").click()
    alert = other.get_by_role("alert")
    await expect(alert).to_contain_text("already queued or running")
    await expect(alert.get_by_role("link", name="Follow the run under way")).to_have_attribute(
        "href", urlsplit(run_url).path
    )
    await screenshot(other, "sync-refused")
    await other.close()


async def test_the_history_lists_runs_and_opens_one(page: Page, site: Site) -> None:
    await log_in(page, site.teacher_token, f"/courses/{COURSE}")
    await page.get_by_role("navigation", name="Course").get_by_role("link", name="History").click()
    runs = page.locator("table.runs tbody tr")
    await expect(runs.first.get_by_role("link")).to_have_text(re.compile(r"^Sync #\d+$"))
    await expect(runs.first).to_contain_text("succeeded")
    await expect(runs.nth(1)).to_contain_text("Preview of a sync")
    await screenshot(page, "history")

    await runs.first.get_by_role("link").click()
    await expect(page.get_by_role("heading", name="What it did")).to_be_visible()
    await expect(page.locator(".counts")).to_contain_text("2 sent")
    await expect(page.get_by_role("table", name="Sections")).to_contain_text("SEC-7")
    await expect(grade_rows(page, "sent").first).to_contain_text("sent")
    await expect(
        page.get_by_role("navigation", name="Course").get_by_role("link", name="History")
    ).to_have_attribute("aria-current", "page")
    await screenshot(page, "run")


async def test_the_sync_pages_read_on_a_phone(page: Page, site: Site) -> None:
    await page.set_viewport_size({"width": 390, "height": 844})
    await log_in(page, site.teacher_token, f"/courses/{COURSE}/pending")
    for path in ("pending", "sync", "history"):
        await page.goto(f"/courses/{COURSE}/{path}")
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the {path} page scrolls sideways on a phone ({width}px)"
        await screenshot(page, f"{path}-phone")


async def test_another_courses_teacher_sees_none_of_it(page: Page, site: Site) -> None:
    await log_in(page, site.stranger_token)
    for path in ("pending", "sync", "history", "syncs/1"):
        response = await page.goto(f"/courses/{COURSE}/{path}")
        assert response is not None and response.status == 404, path
