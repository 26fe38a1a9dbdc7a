"""Headless Chromium for the browser tests: Debian's `chromium`, driven by Playwright for Python.

Playwright's own browser download is never used (`playwright install` fails here and in CI);
scripts/test installs the Debian package when it is missing.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from running_gpb import SandboxedGpb, sandboxed_gpb

from gpb.handlers.tokens import Role, new_token
from gpb.infra.store.store import SqlStore

if TYPE_CHECKING:
    from playwright.async_api import Locator, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
COURSE = "456"  # the sandbox seed's course
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"


def missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.exists():
        return f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "browser tests need Playwright for Python (pip install playwright)"
    return None


@dataclass
class Site:
    """gpb as the browser tests use it: its URL, a teacher's tokens, the sandbox behind it."""

    gpb: SandboxedGpb
    url: str
    teacher_token: str  # an instructor of COURSE
    stranger_token: str  # an instructor of another course only
    control: httpx.AsyncClient  # the sandbox's control API: change Canvas, then post the event

    async def change_assignment(self, assignment_id: str, **fields: Any) -> str:
        """Changes the assignment in the sandbox's Canvas and posts the event Canvas would send;
        returns the event's id once gpb has handled it."""
        response = await self.control.post(f"/canvas/assignments/{assignment_id}", json=fields)
        assert response.status_code == 200, response.text
        # the event carries the new values too (Canvas's `title` is the REST API's `name`)
        body = {"title" if name == "name" else name: value for name, value in fields.items()}
        event_id = await self.gpb.post(
            "assignment_updated_title_35", assignment_id=f"1000000000{assignment_id:0>4}", **body
        )
        await self.gpb.handled(event_id)
        return event_id


async def _add_token(path: str, role: Role, courses: tuple[str, ...], name: str) -> str:
    token = new_token()
    store = SqlStore(path)
    store.start()
    try:
        await store.tokens.add(token, role, courses, name, None)
    finally:
        await store.close()
    return token


@asynccontextmanager
async def open_site(tmp: Path, **settings: Any) -> AsyncIterator[Site]:
    """gpb (with these settings) against the sandbox, the course read, and a teacher's tokens."""
    async with sandboxed_gpb(tmp, **settings) as gpb:
        await gpb.handled(await gpb.post("assignment_created"))  # gpb reads the whole course
        path = gpb.settings.database_url
        teacher = await _add_token(path, Role.INSTRUCTOR, (COURSE,), "Ms. Rivera")
        stranger = await _add_token(path, Role.INSTRUCTOR, ("999",), "Mr. Elsewhere")
        async with httpx.AsyncClient(base_url=gpb.sandbox.base_url + "/_sandbox") as control:
            yield Site(gpb, str(gpb.client.base_url), teacher, stranger, control)


async def log_in(page: Page, token: str, start: str = "/") -> None:
    """Opens `start`, which sends a visitor to the login form, and logs in there."""
    await page.goto(start)
    await page.get_by_label("Access token").fill(token)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(lambda url: "/login" not in url)


def assignment_row(page: Page, assignment_id: str) -> Locator:
    """The assignment's row on the course page."""
    return page.locator(f'tr[data-assignment-id="{assignment_id}"]')


def script_problems(page: Page) -> list[str]:
    """The script errors the page logs from now on, for the test to assert there are none. CSP
    refusals show only in the console. Answers the test asked for (a 404 page) log "Failed to
    load resource"; those are expected."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    return problems


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
