"""One gpb against the sandbox and one headless Chromium per test module; a fresh browser context
(so fresh cookies) per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio
from headless import CHROMIUM, CHROMIUM_ARGS, Site, open_site

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
    # Script errors and CSP refusals show only in the console: a page that logs one fails its test.
    # Answers the test asked for (a 404 page) log "Failed to load resource"; those are expected.
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(str(error)))
    opened.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    yield opened
    await context.close()
    assert problems == [], problems
