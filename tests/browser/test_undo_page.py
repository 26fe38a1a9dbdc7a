"""Undoing a run from its page in a real browser: the preview first, then the confirmed undo,
followed to the end, with IC back as it was before the run."""

from __future__ import annotations

import re

import pytest
from headless import COURSE, Site, log_in, missing, screenshot
from running_gpb import grade_event

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
if missing():
    pytest.skip(missing() or "", allow_module_level=True)

from playwright.async_api import Page, expect  # noqa: E402

FINE = "124"
RUN_ENDS_WITHIN_MS = 30_000


async def test_a_run_is_undone_from_its_page_after_a_preview(page: Page, site: Site) -> None:
    results = site.gpb.sandbox.state.ic.results
    before = dict(results)
    await site.gpb.handled(await site.gpb.post_event(grade_event(FINE, "1201", 9.5)))
    await log_in(page, site.teacher_token, f"/courses/{COURSE}/sync")
    await page.get_by_label("Homework 3.3: Slope").check()
    await page.get_by_role("button", name="Sync now").click()
    await expect(page.get_by_role("heading", name=re.compile(r"^Sync #\d+"))).to_be_visible()
    await expect(page.locator("#run-status")).to_contain_text(
        "succeeded", timeout=RUN_ENDS_WITHIN_MS
    )
    sync_id = page.url.rsplit("/", 1)[-1]
    assert f"canvas-a{FINE}-s7-u1201" in results

    await page.reload()  # the finished run's page offers the undo
    await page.get_by_role("button", name="Preview the undo").click()
    await expect(
        page.get_by_role("heading", name=re.compile(r"^Preview of an undo #\d+"))
    ).to_be_visible()
    await expect(page.locator("#run-status")).to_contain_text(
        "succeeded", timeout=RUN_ENDS_WITHIN_MS
    )
    await page.reload()
    await expect(page.locator('table.grades tr[data-outcome="deleted"]')).to_have_count(1)
    assert f"canvas-a{FINE}-s7-u1201" in results, "a preview wrote to IC"
    await screenshot(page, "undo-preview")

    undo = page.get_by_role("button", name=f"Undo run #{sync_id}")
    await undo.click()  # not confirmed: refused, in words
    await expect(page.get_by_role("alert")).to_contain_text("Tick the box to confirm the undo")
    await page.go_back()
    await page.get_by_label(f"Put back in IC what it held before run #{sync_id}").check()
    await page.get_by_role("button", name=f"Undo run #{sync_id}").click()
    await expect(page.get_by_role("heading", name=re.compile(r"^Undo #\d+"))).to_be_visible()
    await expect(page.locator("#run-status")).to_contain_text(
        "succeeded", timeout=RUN_ENDS_WITHIN_MS
    )
    assert results == before
    await page.reload()
    await expect(page.locator(".counts")).to_contain_text("1 deleted")
    await expect(page.get_by_role("button", name="Preview the undo")).to_have_count(0)
    await screenshot(page, "undo-done")
