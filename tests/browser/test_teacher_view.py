"""What a teacher meets, on a laptop and on a phone: students by name with their SIS ids, the
course list's true pending count, a run that was interrupted telling how far it got (with Resume on
the course and Sync tabs), progress that moves grade by grade, the Sync tab saying what blocks an
assignment, error pages that keep the navigation, icons that need no font, and a favicon."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from headless import COURSE, Site, log_in, missing, open_site, screenshot
from running_gpb import finished, grade

from gpb.infra.sandbox.faults import FaultConfig

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
if missing():
    pytest.skip(missing() or "", allow_module_level=True)

from playwright.async_api import Page, expect  # noqa: E402

FINE = "124"  # Homework 3.3: Slope, eligible
BLOCKED = "123"  # its title is too long
PER_SECTION = "125"  # a test with no base due date, a date per section
WIDTHS = [1280, 390]
# A run longer than this stops as interrupted; the runs of this module take well under a second
# unless IC is made slow on purpose.
TIME_BUDGET_SECONDS = 12.0
GRADED_AT = "2026-11-02T10:00:00.000Z"
GLYPHS = re.compile("[✓✗⚠⛔⧉⏸⟳◌]")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    async with open_site(
        Path(tmp_path_factory.mktemp("gpb")), sync_time_budget_seconds=TIME_BUDGET_SECONDS
    ) as opened:
        for user_id, score in (("1201", 9.5), ("1202", 7.0), ("1207", 6.5), ("1208", 8.0)):
            await grade(opened.gpb, FINE, user_id, score, GRADED_AT)
        yield opened


async def at_width(page: Page, width: int) -> None:
    await page.set_viewport_size({"width": width, "height": 900 if width > 600 else 844})


async def nothing_cut_off(page: Page, what: str) -> None:
    """No element reaches past the window's right edge, except inside a box that scrolls."""
    width = await page.evaluate("window.innerWidth")
    overflowing = await page.evaluate(
        """() => {
          const scrolls = (el) => {
            for (let p = el.parentElement; p; p = p.parentElement) {
              const x = getComputedStyle(p).overflowX;
              if (x === "auto" || x === "scroll") return true;
            }
            return false;
          };
          return [...document.body.querySelectorAll("*")]
            .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
            .filter((el) => !scrolls(el) && el.getClientRects().length)
            .map((el) => `${el.tagName}.${el.className}: ${el.textContent.slice(0, 40)}`);
        }"""
    )
    assert overflowing == [], f"{what} at {width}px: {overflowing[:5]}"
    assert await page.evaluate("document.documentElement.scrollWidth") <= width, what


async def no_font_glyphs(page: Page) -> None:
    text = await page.locator("main").inner_text()
    assert not GLYPHS.search(text), GLYPHS.findall(text)


@pytest.mark.parametrize("width", WIDTHS)
async def test_students_are_named_with_their_sis_ids(page: Page, site: Site, width: int) -> None:
    await at_width(page, width)
    await log_in(page, site.teacher_token, f"/courses/{COURSE}/pending")
    section = page.locator(f'section[aria-labelledby="pending-{FINE}"]')
    sam = section.locator('tr[data-student-id="1201"]')
    await expect(sam.get_by_role("rowheader")).to_contain_text("Student, Sam")
    await expect(sam.get_by_role("rowheader")).to_contain_text("SIS id S-102938")
    await expect(section).not_to_contain_text("Canvas user")
    await nothing_cut_off(page, "the pending page")
    await no_font_glyphs(page)
    await screenshot(page, f"names-pending-{width}")


@pytest.mark.parametrize("width", WIDTHS)
async def test_the_course_list_counts_what_the_pending_tab_lists(
    page: Page, site: Site, width: int
) -> None:
    await at_width(page, width)
    await log_in(page, site.teacher_token, f"/courses/{COURSE}/pending")
    rows = await page.locator("table.pending tbody tr").count()
    assert rows >= 4
    await page.goto("/")
    course = page.get_by_role("row").filter(has_text="Algebra I")
    await expect(course).to_contain_text(str(rows))
    await nothing_cut_off(page, "the course list")
    await screenshot(page, f"home-{width}")


@pytest.mark.parametrize("width", WIDTHS)
async def test_the_sync_tab_says_what_blocks_and_when_sections_are_due(
    page: Page, site: Site, width: int
) -> None:
    await at_width(page, width)
    await log_in(page, site.teacher_token, f"/courses/{COURSE}/sync")
    blocked = page.get_by_role("row").filter(has_text="Homework 3.2")
    await expect(blocked).to_contain_text("Blocked until fixed")
    await expect(blocked.get_by_role("link", name="NAME_TOO_LONG")).to_have_attribute(
        "href", "/errors#NAME_TOO_LONG"
    )
    await expect(blocked).to_contain_text("Fix:")
    await expect(page.get_by_role("checkbox", name="Homework 3.2")).to_be_disabled()
    checkbox = page.locator(f'input[name="assignment-{PER_SECTION}"]')
    per_section = page.get_by_role("row").filter(has=checkbox)
    await expect(per_section).to_contain_text("(Algebra I - Period 1)")
    await expect(per_section).to_contain_text("(Algebra I - Period 2)")
    await expect(per_section).not_to_contain_text("not set")
    await nothing_cut_off(page, "the sync page")
    await no_font_glyphs(page)
    await screenshot(page, f"sync-blocks-{width}")

    await page.goto(f"/courses/{COURSE}")
    await expect(page.locator(f'tr[data-assignment-id="{PER_SECTION}"]')).to_contain_text(
        "(Algebra I - Period 2)"
    )
    await nothing_cut_off(page, "the course page")


async def test_progress_moves_grade_by_grade(page: Page, site: Site) -> None:
    await log_in(page, site.teacher_token, f"/courses/{COURSE}/sync")
    # Each IC call takes longer than the page's second between looks, so it sees every count.
    site.gpb.sandbox.state.sis_faults.configure(FaultConfig(latency_seconds=1.2))
    try:
        await page.get_by_label("Homework 3.3: Slope").check()
        await page.get_by_role("button", name="Sync now").click()
        # The grades of two sections, each with more than one: counted per section, it would
        # jump from 0 past 1.
        await expect(page.locator("#run-progress-text")).to_have_text(
            re.compile(r"^1 of \d+ grades done; 1 confirmed in IC$"), timeout=30_000
        )
        await screenshot(page, "sync-progress")
    finally:
        site.gpb.sandbox.state.sis_faults.configure(FaultConfig())
    await expect(page.locator("#run-status")).to_contain_text("succeeded", timeout=30_000)


async def interrupted_remaster(page: Page, site: Site) -> tuple[str, int]:
    """A remaster against an IC so slow that it outlives its time budget midway."""
    for user_id in ("1205", "1206", "1203", "1204"):
        await grade(site.gpb, FINE, user_id, 5.0, GRADED_AT)
    await log_in(page, site.teacher_token, f"/courses/{COURSE}/sync")
    writes_before = len(site.gpb.sandbox.state.ic.writes)
    site.gpb.sandbox.state.sis_faults.configure(FaultConfig(latency_seconds=0.8))
    try:
        await page.get_by_text("Remaster the whole course…").click()
        await page.get_by_label(re.compile("Yes: re-read every grade")).check()
        await page.get_by_role("button", name="Remaster", exact=True).click()
        await expect(page.locator("#run-status")).to_contain_text(
            "interrupted", timeout=int(TIME_BUDGET_SECONDS * 1000) + 30_000
        )
    finally:
        site.gpb.sandbox.state.sis_faults.configure(FaultConfig())
    return page.url, writes_before


async def test_an_interrupted_run_tells_how_far_it_got_and_resumes(page: Page, site: Site) -> None:
    run_url, writes_before = await interrupted_remaster(page, site)
    sync_id = run_url.rsplit("/", 1)[1]
    run = (await site.gpb.get(f"/api/syncs/{sync_id}")).json()
    done, total, confirmed = (run["progress"][k] for k in ("done", "total", "confirmed"))
    assert confirmed > 0 and done < total and run["counts"]["sent"] == confirmed, run["progress"]
    where = f"Stopped at {done} of {total} grades; {confirmed} confirmed in IC"

    for width in WIDTHS:
        await at_width(page, width)
        await page.goto(run_url)
        await expect(page.locator("#run-progress-text")).to_have_text(where)
        facts = page.locator("dl.facts")
        await expect(facts).to_contain_text("not finished: it stopped before the end")
        await expect(
            page.get_by_role("heading", name="What it did before it stopped")
        ).to_be_visible()
        await expect(page.locator(".counts")).to_contain_text(f"{confirmed} sent")
        await expect(page.get_by_text("No grade was part of this run")).to_have_count(0)
        await expect(page.get_by_role("button", name="Resume this run")).to_be_visible()
        await expect(page.locator("#run-status svg.icon-pause")).to_be_visible()
        await nothing_cut_off(page, "the interrupted run")
        await no_font_glyphs(page)
        await screenshot(page, f"run-interrupted-{width}")

        for path, name in ((f"/courses/{COURSE}", "course"), (f"/courses/{COURSE}/sync", "sync")):
            await page.goto(path)
            notice = page.locator("#stopped-run")
            await expect(notice).to_contain_text(f"Remaster #{sync_id} was interrupted")
            await expect(notice).to_contain_text(where)
            await expect(notice.get_by_role("button", name="Resume it")).to_be_visible()
            await nothing_cut_off(page, f"the {name} page with an interrupted run")
            await screenshot(page, f"{name}-interrupted-{width}")

    await at_width(page, 1280)
    await page.locator("#stopped-run").get_by_role("button", name="Resume it").click()
    await expect(page).to_have_url(re.compile(rf"/syncs/{sync_id}\?resumed=1$"))
    await expect(page.locator("#run-status")).to_contain_text("succeeded", timeout=30_000)
    await page.goto(f"/courses/{COURSE}")
    await expect(page.locator("#stopped-run")).to_have_count(0)
    puts = site.gpb.sandbox.state.ic.writes[writes_before:]
    sent = [w.sourced_id for w in puts if w.kind == "result" and w.method == "PUT" and w.applied]
    assert len(sent) - len(set(sent)) <= 1, "a resumed run sent again what IC had confirmed"


@pytest.mark.parametrize("width", WIDTHS)
async def test_run_pages_name_each_student(page: Page, site: Site, width: int) -> None:
    await at_width(page, width)
    asked = await site.gpb.post_json(
        f"/api/courses/{COURSE}/syncs", {"kind": "remaster", "dry_run": True}
    )
    preview = await finished(site.gpb, asked.json()["id"])
    await log_in(page, site.teacher_token, f"/courses/{COURSE}/syncs/{preview['id']}")
    rows = page.locator("table.grades tbody tr")
    await expect(rows.filter(has_text="Student, Sam").first).to_contain_text("SIS id S-102938")
    await expect(rows.filter(has_text="Garcia, Jamie").first).to_be_visible()
    await nothing_cut_off(page, "a run's page")
    await screenshot(page, f"names-run-{width}")


@pytest.mark.parametrize("width", WIDTHS)
async def test_error_pages_keep_the_header_and_log_out(page: Page, site: Site, width: int) -> None:
    await at_width(page, width)
    await log_in(page, site.teacher_token)
    for path, title in (("/courses/999", "Not found"), ("/admin", "Not allowed")):
        response = await page.goto(path)
        assert response is not None and response.status in (403, 404)
        await expect(page.get_by_role("heading", name=title)).to_be_visible()
        await expect(page.get_by_role("navigation", name="Main")).to_be_visible()
        await expect(page.get_by_role("button", name="Log out")).to_be_visible()
        await nothing_cut_off(page, f"the {title} page")
    await screenshot(page, f"not-allowed-{width}")


async def test_the_favicon_and_the_icons_need_no_font(page: Page, site: Site) -> None:
    await log_in(page, site.teacher_token, f"/courses/{COURSE}")
    href = await page.locator('link[rel="icon"]').get_attribute("href")
    for path in (href, "/favicon.ico"):
        assert path is not None
        answer = await page.request.get(path)
        assert answer.status == 200 and "svg" in answer.headers["content-type"], path
    icons = page.locator("main svg.icon")
    assert await icons.count() > 0
    # Some icons sit in closed fix forms, and rows are redrawn live: wait for a shown one to have
    # a size (a glyph of a missing font would have none, an SVG always has its own).
    await page.wait_for_function(
        "() => [...document.querySelectorAll('main svg.icon')]"
        ".some(icon => icon.getBoundingClientRect().width > 0)"
    )
    await no_font_glyphs(page)
