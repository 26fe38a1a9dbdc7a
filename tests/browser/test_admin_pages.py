"""An admin in a real browser: the district overview, the event log's filters and paging, one
event's payload and outcome, and a replay."""

from __future__ import annotations

import re

import pytest
from canvas_events import sample
from headless import Site, log_in, missing, screenshot
from running_gpb import ADMIN_TOKEN, finished, grade_event

from gpb.bootstrap import reconciling

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
if missing():
    pytest.skip(missing() or "", allow_module_level=True)

from playwright.async_api import Page, expect  # noqa: E402


async def test_the_overview_shows_alerted_courses_and_events_over_time(
    page: Page, site: Site
) -> None:
    await log_in(page, ADMIN_TOKEN, "/admin")
    alerted = page.get_by_role("region", name="Courses with open alerts")
    await expect(alerted.get_by_role("link", name="Algebra I")).to_be_visible()
    chart = page.get_by_role("img", name="Events per hour, last 24 hours")
    await expect(chart).to_have_attribute("aria-label", re.compile(r"\d+ processed"))
    await screenshot(page, "admin-overview")


async def test_an_admin_filters_the_log_opens_an_event_and_replays_it(
    page: Page, site: Site
) -> None:
    await site.gpb.post_event(sample("unknown_event"))
    await log_in(page, ADMIN_TOKEN, "/admin/events")
    await expect(page.get_by_role("cell", name="ignored")).to_be_visible()

    await page.get_by_label("Event name").fill("assignment_created")
    await page.get_by_label("Status").select_option("processed")
    await page.get_by_role("button", name="Filter").click()
    await expect(page).to_have_url(re.compile(r"event_name=assignment_created"))
    events = page.locator("table.events tbody tr")
    await expect(events).to_have_count(1)
    await expect(events).to_contain_text("assignment_created")
    await expect(page.get_by_role("link", name="CSV")).to_have_attribute(
        "href", "/api/events/export?event_name=assignment_created&status=processed&format=csv"
    )
    await screenshot(page, "admin-events")

    await events.get_by_role("link").first.click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("assignment_created")
    await expect(page.locator("pre.json").first).to_contain_text('"rechecked"')
    await expect(page.locator("pre.json").nth(1)).to_contain_text(
        '"event_name": "assignment_created"'
    )
    await screenshot(page, "admin-event")

    await page.get_by_role("button", name="Replay").click()
    await expect(page.get_by_role("status")).to_contain_text("queued to be handled again")
    event_id = page.url.split("/admin/events/")[1].split("?")[0]
    replayed = await site.gpb.handled(event_id)
    assert replayed["status"] == "processed"
    await page.reload()
    await expect(page.locator(".facts")).to_contain_text("processed")


async def test_a_bad_filter_is_explained_on_the_page(page: Page, site: Site) -> None:
    await log_in(page, ADMIN_TOKEN, "/admin/events?course_id=not-a-course")
    await expect(page.get_by_role("alert")).to_contain_text(
        "Check the filters: course_id must be a Canvas course id"
    )
    await expect(page.get_by_label("Course id")).to_have_value("not-a-course")  # to correct


async def test_the_check_page_tells_each_check_with_its_fix(page: Page, site: Site) -> None:
    await log_in(page, ADMIN_TOKEN, "/admin")
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Checks").click()
    checks = page.locator("ul.checks > li")
    await expect(checks.filter(has_text="ic_token")).to_contain_text("passed")
    await expect(checks.filter(has_text="canvas_assignments")).to_contain_text("not checked")

    await page.get_by_label("Canvas course id (optional)").fill("456")
    await page.get_by_label("IC class sourcedId (optional)").fill("NO-SUCH-CLASS")
    await page.get_by_role("button", name="Check again").click()
    await expect(checks.filter(has_text="canvas_assignments")).to_contain_text("passed")
    no_class = checks.filter(has_text="ic_class")
    await expect(no_class).to_contain_text("failed")
    await expect(no_class.locator(".fix")).to_contain_text("Fix:")
    await expect(page.get_by_role("status")).to_contain_text("1 check failed")
    await screenshot(page, "admin-check")


async def test_a_reconciliation_report_reads_as_a_page(page: Page, site: Site) -> None:
    for user_id, score in (("1201", 9.5), ("1202", 8.0)):
        await site.gpb.handled(await site.gpb.post_event(grade_event("124", user_id, score)))
    run = await site.gpb.post_json("/api/courses/456/syncs", {"kind": "sync"})
    assert (await finished(site.gpb, run.json()["id"]))["status"] == "succeeded"
    site.gpb.sandbox.state.ic.results["canvas-a124-s7-u1201"]["score"] = 3.0  # typed over in IC
    async with reconciling(site.gpb.settings) as reconciler:
        (done,) = await reconciler.run("command", ["456"])

    await log_in(page, ADMIN_TOKEN, "/admin")
    await page.get_by_role("link", name=f"Report #{done.id}").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text(f"Reconciliation #{done.id}")
    drift = page.get_by_role("region", name="Drift in IC").locator("tbody tr")
    await expect(drift).to_have_count(1)
    await expect(drift).to_contain_text("changed in IC")
    await expect(drift.locator('td[data-label="IC holds now"]')).to_have_text("3")
    await expect(drift.locator('td[data-label="IC confirmed"]')).to_have_text("9.5")
    await screenshot(page, "admin-reconciliation")
