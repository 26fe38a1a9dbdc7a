"""Automatic syncs on the pages: the teacher's choice on the sync page, the district's view on
the admin overview."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from running_gpb import ADMIN_TOKEN, csrf_of, log_in, sandboxed_gpb


async def test_the_choice_on_the_sync_page_and_the_courses_by_mode_on_the_admin_overview(
    tmp_path: Path,
) -> None:
    async with sandboxed_gpb(tmp_path) as env:
        await env.handled(await env.post("assignment_created", assignment_id="10000000000124"))
        async with httpx.AsyncClient(base_url=str(env.client.base_url)) as client:
            await log_in(client, ADMIN_TOKEN)
            page = await client.get("/courses/456/sync")
            assert 'action="/courses/456/auto-sync"' in page.text
            assert "default (off)" in page.text

            chosen = await client.post(
                "/courses/456/auto-sync",
                data={"csrf_token": csrf_of(page.text), "mode": "nightly", "nightly_at": "23:00"},
            )
            assert chosen.status_code == 303
            saved = await client.get(chosen.headers["location"])
            assert "automatic syncs are now\n    on nightly at 23:00" in saved.text
            assert (await env.get("/api/courses/456/auto-sync")).json()["chosen"] == "nightly"

            refused = await client.post(
                "/courses/456/auto-sync",
                data={"csrf_token": csrf_of(page.text), "mode": "nightly", "nightly_at": "12:00"},
            )
            assert refused.status_code == 400
            assert "The automatic syncs were not changed" in refused.text
            assert (await env.get("/api/courses/456/auto-sync")).json()["nightly_at"] == "23:00"

            admin = await client.get("/admin")
            row = re.search(r'<tr data-mode="nightly">.*?</tr>', admin.text, re.S)
            assert row is not None and 'href="/courses/456/sync"' in row.group(0)
            assert re.search(r'<tr data-mode="off">.*?<td>0', admin.text, re.S)
