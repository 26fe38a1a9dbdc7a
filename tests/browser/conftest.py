"""One gpb against the sandbox and one headless Chromium per test module; a fresh browser context
(so fresh cookies) per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio
from headless import CHROMIUM, CHROMIUM_ARGS, Site, open_site, script_problems

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    async with open_site(Path(tmp_path_factory.mktemp("gpb"))) as opened:
        yield opened


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser: Browser, site: Site) -> AsyncIterator[Page]:
    context = await browser.new_context(base_url=site.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(5_000)
    opened = await context.new_page()
    problems = script_problems(opened)  # a page that logs a script error fails its test
    yield opened
    await context.close()
    assert problems == [], problems
