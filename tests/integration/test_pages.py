"""Page sessions and CSRF over HTTP, without a browser: the cookie a token becomes, what it may do
on the API, and what pages answer to callers who may not see them."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from canvas_events import sample, sign, variant
from joserfc.jwk import RSAKey
from running_gpb import (
    ADMIN_TOKEN,
    auth,
    csrf_of,
    gpb_settings,
    grade,
    log_in,
    resumed_to_the_end,
    sandboxed_gpb,
    start,
)

from gpb.bootstrap import create_app
from gpb.handlers.timefmt import utcnow
from gpb.handlers.tokens import Role, new_token, token_hash
from gpb.infra.sandbox.faults import FaultConfig
from gpb.infra.sandbox.server import serve_on_loopback as serve
from gpb.infra.settings import Settings
from gpb.infra.store.store import SqlStore
from gpb.listener import sessions

pytestmark = pytest.mark.asyncio(loop_scope="module")
SESSION_SECRET = "the-district-session-secret-of-32-bytes"


class Site:
    def __init__(self, url: str, settings: Settings, key: RSAKey) -> None:
        self.url = url
        self.settings = settings
        self.key = key
        self.canvas = httpx.AsyncClient(base_url=url)  # posts events: no cookies of its own

    def browser(self) -> httpx.AsyncClient:
        """A client with its own cookie jar, as one browser is."""
        return httpx.AsyncClient(base_url=self.url)

    async def add_token(self, role: Role, *courses: str) -> str:
        token = new_token()
        store = SqlStore(self.settings.database_url)
        store.start()
        try:
            await store.tokens.add(token, role, courses, "Ms. Rivera", None)
        finally:
            await store.close()
        return token

    async def revoke(self, token: str) -> None:
        store = SqlStore(self.settings.database_url)
        store.start()
        try:
            await store.tokens.revoke(token[:12], utcnow())
        finally:
            await store.close()

    async def start_run(self, course_id: str, body: dict[str, object]) -> str:
        answer = await self.canvas.post(
            f"/api/courses/{course_id}/syncs", json=body, headers=auth(ADMIN_TOKEN)
        )
        assert answer.status_code == 202, answer.text
        sync_id: str = answer.json()["id"]
        return sync_id

    async def finished(self, sync_id: str) -> None:
        for _ in range(500):
            run = await self.canvas.get(f"/api/syncs/{sync_id}", headers=auth(ADMIN_TOKEN))
            if run.json()["status"] not in ("queued", "running"):
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"run {sync_id} did not finish")

    async def post_event(self, tag: str) -> str:
        event = variant(sample("unknown_event"), test_tag=tag)
        response = await self.canvas.post("/events/canvas", content=sign(event, self.key))
        assert response.status_code == 202, response.text
        event_id: str = response.json()["id"]
        return event_id


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def site(
    tmp_path_factory: pytest.TempPathFactory, jwks_url: str, signing_key: RSAKey
) -> AsyncIterator[Site]:
    settings = gpb_settings(
        Path(tmp_path_factory.mktemp("gpb")), jwks_url, session_secret=SESSION_SECRET
    )
    async with serve(create_app(settings)) as url:
        site = Site(url, settings, signing_key)
        yield site
        await site.canvas.aclose()


def session_of(client: httpx.AsyncClient) -> sessions.Session:
    session = sessions.decode(client.cookies[sessions.COOKIE_NAME], SESSION_SECRET, utcnow())
    assert session is not None
    return session


async def test_a_token_becomes_a_session_cookie_that_holds_only_its_hash(site: Site) -> None:
    teacher = await site.add_token(Role.INSTRUCTOR, "456")
    async with site.browser() as client:
        form = await client.get("/login")
        cookie = form.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=43200" in cookie
        assert "Secure" not in cookie  # plain http on loopback; https behind a proxy adds it
        visitor = session_of(client)
        assert visitor.token_hash is None

        answer = await log_in(client, teacher, "/courses/456")
        assert (answer.status_code, answer.headers["location"]) == (303, "/courses/456")
        assert teacher not in answer.headers["set-cookie"]
        session = session_of(client)
        assert session.token_hash == token_hash(teacher)
        assert session.csrf_token != visitor.csrf_token  # a new one at login
        assert (await client.get("/courses/456")).status_code == 200


async def test_a_wrong_token_shows_the_form_again(site: Site) -> None:
    async with site.browser() as client:
        answer = await log_in(client, "gpb_not-a-token")
        assert answer.status_code == 401
        assert "unknown, revoked or expired" in answer.text
        assert session_of(client).token_hash is None


async def test_the_login_form_needs_its_csrf_token(site: Site) -> None:
    async with site.browser() as client:
        # a login posted from elsewhere: no session of ours, so no CSRF token to match
        answer = await client.post("/login", data={"token": ADMIN_TOKEN, "csrf_token": "guess"})
        assert answer.status_code == 403 and "This form has expired" in answer.text
        assert sessions.COOKIE_NAME not in client.cookies


async def test_a_login_never_leads_off_the_site(site: Site) -> None:
    async with site.browser() as client:
        answer = await log_in(client, ADMIN_TOKEN, "//evil.example/steal")
        assert answer.headers["location"] == "/"


async def test_the_api_reads_with_the_cookie_and_writes_only_with_the_csrf_token(
    site: Site,
) -> None:
    event_id = await site.post_event("replay-me")
    async with site.browser() as client:
        await log_in(client, ADMIN_TOKEN)
        assert (await client.get("/api/courses")).status_code == 200
        async with client.stream("GET", "/api/courses/456/alerts/stream") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")

        refused = await client.post(f"/api/events/{event_id}/replay")
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "CSRF_FAILED")
        wrong = await client.post(
            f"/api/events/{event_id}/replay", headers={"X-CSRF-Token": "not-the-token"}
        )
        assert wrong.status_code == 403
        replayed = await client.post(
            f"/api/events/{event_id}/replay",
            headers={"X-CSRF-Token": session_of(client).csrf_token},
        )
        assert replayed.status_code == 202

        # a bearer token is checked first, and a wrong one is not rescued by the cookie
        bad_bearer = await client.get("/api/courses", headers=auth("gpb_not-a-token"))
        assert bad_bearer.status_code == 401
    async with site.browser() as client:  # a bearer call needs no CSRF token
        answer = await client.post(f"/api/events/{event_id}/replay", headers=auth(ADMIN_TOKEN))
        assert answer.status_code == 202


async def test_logging_out_needs_the_csrf_token_and_clears_the_cookie(site: Site) -> None:
    async with site.browser() as client:
        await log_in(client, ADMIN_TOKEN)
        page = await client.get("/")
        refused = await client.post("/logout", data={})
        assert refused.status_code == 403
        assert (await client.get("/")).status_code == 200  # still logged in
        done = await client.post("/logout", data={"csrf_token": csrf_of(page.text)})
        assert (done.status_code, done.headers["location"]) == (303, "/login?logged_out=1")
        assert "Max-Age=0" in done.headers["set-cookie"]
        assert sessions.COOKIE_NAME not in client.cookies
        gone = await client.get("/courses/456")
        assert (gone.status_code, gone.headers["location"]) == (303, "/login?next=/courses/456")
        assert (await client.get("/api/courses")).status_code == 401


async def test_logging_out_ends_the_session_so_a_copy_of_its_cookie_is_refused(
    site: Site,
) -> None:
    async with site.browser() as client, site.browser() as thief:
        await log_in(client, ADMIN_TOKEN)
        thief.cookies[sessions.COOKIE_NAME] = client.cookies[sessions.COOKIE_NAME]
        assert (await thief.get("/api/courses")).status_code == 200
        page = await client.get("/")
        done = await client.post("/logout", data={"csrf_token": csrf_of(page.text)})
        assert done.status_code == 303
        assert (await thief.get("/api/courses")).status_code == 401
        assert (await thief.get("/admin")).headers["location"] == "/login?next=/admin"
        form = await thief.get("/login")  # a fresh visitor's form, not a redirect
        assert form.status_code == 200
        await log_in(client, ADMIN_TOKEN)  # a new login is a new session
        assert (await client.get("/api/courses")).status_code == 200


async def test_over_https_the_session_cookie_takes_the_host_prefix(site: Site) -> None:
    """Behind the TLS proxy (X-Forwarded-Proto, trusted from loopback), the cookie is
    `__Host-gpb_session`: Secure, for the whole site, bound to this host."""
    https = {"X-Forwarded-Proto": "https"}
    async with httpx.AsyncClient(base_url=site.url, headers=https) as client:
        form = await client.get("/login")
        visitor = form.headers["set-cookie"]
        assert visitor.startswith(f"{sessions.SECURE_COOKIE_NAME}=")
        assert "Secure" in visitor and "Path=/" in visitor and "Domain" not in visitor
        value = visitor.split(";")[0].split("=", 1)[1]
        logged_in = await client.post(
            "/login",
            data={"csrf_token": csrf_of(form.text), "token": ADMIN_TOKEN},
            headers={"Cookie": f"{sessions.SECURE_COOKIE_NAME}={value}"},
        )
        session = logged_in.headers["set-cookie"].split(";")[0].split("=", 1)[1]
        named = await client.get(
            "/api/courses", headers={"Cookie": f"{sessions.SECURE_COOKIE_NAME}={session}"}
        )
        unprefixed = await client.get(
            "/api/courses", headers={"Cookie": f"{sessions.COOKIE_NAME}={session}"}
        )
    assert logged_in.status_code == 303
    assert named.status_code == 200
    assert unprefixed.status_code == 401  # over https only the prefixed cookie counts


async def test_only_a_cookie_signed_with_the_session_secret_counts(site: Site) -> None:
    admin = sessions.new_session(utcnow(), token_hash(ADMIN_TOKEN))
    async with site.browser() as client:
        client.cookies[sessions.COOKIE_NAME] = sessions.encode(admin, "someone-else's-secret")
        assert (await client.get("/api/courses")).status_code == 401
        assert (await client.get("/admin")).headers["location"] == "/login?next=/admin"
        # another replica with the same GPB_SESSION_SECRET signs cookies this one accepts
        client.cookies[sessions.COOKIE_NAME] = sessions.encode(admin, SESSION_SECRET)
        assert (await client.get("/admin")).status_code == 200


async def test_revoking_the_token_ends_its_sessions(site: Site) -> None:
    teacher = await site.add_token(Role.INSTRUCTOR, "456")
    async with site.browser() as client:
        await log_in(client, teacher)
        assert (await client.get("/api/courses")).status_code == 200
        await site.revoke(teacher)
        assert (await client.get("/api/courses")).status_code == 401
        assert (await client.get("/")).status_code == 303


async def test_pages_refuse_framing_and_caching(site: Site) -> None:
    async with site.browser() as client:
        for path in ("/login", "/"):
            headers = (await client.get(path)).headers
            assert "frame-ancestors 'none'" in headers["content-security-policy"]
            assert headers["cache-control"] == "no-store"
            assert headers["x-content-type-options"] == "nosniff"


async def test_pages_follow_the_access_rules(site: Site) -> None:
    stranger = await site.add_token(Role.INSTRUCTOR, "999")
    async with site.browser() as client:
        await log_in(client, stranger)
        for path in ("/courses/456", "/courses/10000000000456", "/courses/456/assignment-rows"):
            answer = await client.get(path)
            assert answer.status_code == 404 and "No such course" in answer.text
        assert (await client.get("/courses/999")).status_code == 200  # not heard of yet: empty
        for path in ("/admin", "/admin/events", "/admin/events/1"):
            answer = await client.get(path)
            assert answer.status_code == 403 and "for admins" in answer.text
        replay = await client.post(
            "/admin/events/1/replay", data={"csrf_token": session_of(client).csrf_token}
        )
        assert replay.status_code == 403


async def test_the_event_log_pages_by_cursor_and_exports_with_the_filters(site: Site) -> None:
    ids = [await site.post_event(f"page-{i}") for i in range(55)]
    async with site.browser() as client:
        await log_in(client, ADMIN_TOKEN)
        first = await client.get("/admin/events", params={"event_name": "assignment_archived"})
        listed = re.findall(r'href="/admin/events/(\d+)"', first.text)
        assert listed == ids[::-1][:50]
        older = re.search(r'href="(\?[^"]+)" rel="next"', first.text)
        assert older is not None
        second = await client.get("/admin/events" + older.group(1).replace("&amp;", "&"))
        assert re.findall(r'href="/admin/events/(\d+)"', second.text)[:5] == ids[::-1][50:]

        export = re.search(r'href="(/api/events/export\?[^"]+format=csv)"', first.text)
        assert export is not None
        csv_text = (await client.get(export.group(1).replace("&amp;", "&"))).text
        assert csv_text.splitlines()[0].startswith("id,received_at,event_name")
        assert sum("assignment_archived" in line for line in csv_text.splitlines()) >= 55


async def test_replaying_from_the_event_page(site: Site) -> None:
    event_id = await site.post_event("replay-from-page")
    async with site.browser() as client:
        await log_in(client, ADMIN_TOKEN)
        page = await client.get(f"/admin/events/{event_id}")
        assert "assignment_archived" in page.text and 'action="/admin/events/' in page.text
        done = await client.post(
            f"/admin/events/{event_id}/replay", data={"csrf_token": csrf_of(page.text)}
        )
        assert (done.status_code, done.headers["location"]) == (
            303,
            f"/admin/events/{event_id}?replayed=1",
        )
        forged = await client.post(f"/admin/events/{event_id}/replay", data={})
        assert forged.status_code == 403


async def test_the_sync_pages_follow_the_access_rules(site: Site) -> None:
    teacher = await site.add_token(Role.INSTRUCTOR, "456")
    stranger = await site.add_token(Role.INSTRUCTOR, "999")
    run = await site.start_run("456", {"kind": "sync", "dry_run": True})
    pages = ("pending", "sync", "history", f"syncs/{run}")
    async with site.browser() as client:
        for page in pages:  # no session: to the login, and back to the page after it
            answer = await client.get(f"/courses/456/{page}")
            assert (answer.status_code, answer.headers["location"]) == (
                303,
                f"/login?next=/courses/456/{page}",
            )
        for path in ("/courses/456/syncs", f"/courses/456/syncs/{run}/resume"):
            answer = await client.post(path, data={"action": "preview"})
            assert (answer.status_code, answer.headers["location"]) == (303, "/login?next=/")
        await log_in(client, teacher)
        for page in pages:
            assert (await client.get(f"/courses/10000000000456/{page}")).status_code == 200
        for path in ("/admin/check", "/admin/reconciliations/1"):
            answer = await client.get(path)
            assert answer.status_code == 403 and "for admins" in answer.text
    async with site.browser() as client:
        await log_in(client, stranger)
        csrf = session_of(client).csrf_token
        for page in pages:
            answer = await client.get(f"/courses/456/{page}")
            assert answer.status_code == 404 and "No such course" in answer.text
        for path in ("/courses/456/syncs", f"/courses/456/syncs/{run}/resume"):
            answer = await client.post(path, data={"csrf_token": csrf, "action": "preview"})
            assert answer.status_code == 404, path
        # the stranger's own course, with the run of another course in its path
        assert (await client.get(f"/courses/999/syncs/{run}")).status_code == 404
    async with site.browser() as client:
        await log_in(client, ADMIN_TOKEN)
        assert (await client.get(f"/courses/999/syncs/{run}")).status_code == 404
        assert (await client.get(f"/courses/456/syncs/{run}")).status_code == 200


async def test_the_sync_forms_need_the_csrf_token(site: Site) -> None:
    teacher = await site.add_token(Role.INSTRUCTOR, "456")
    run = await site.start_run("456", {"kind": "sync", "dry_run": True})
    async with site.browser() as client:
        await log_in(client, teacher)
        form = await client.get("/courses/456/sync")
        assert 'action="/courses/456/syncs"' in form.text
        for path in ("/courses/456/syncs", f"/courses/456/syncs/{run}/resume"):
            for fields in ({"action": "remaster", "confirm": "yes"}, {"csrf_token": "a-guess"}):
                refused = await client.post(path, data=fields)
                assert refused.status_code == 403 and "This form has expired" in refused.text
        after = (await client.get("/api/courses/456/syncs")).json()["syncs"]
        assert after[0]["id"] == run  # nothing was started
        sent = await client.post(
            "/courses/456/syncs",
            data={"csrf_token": csrf_of(form.text), "action": "preview", "assignment-9": "yes"},
        )
        assert sent.status_code == 400  # through the CSRF check, refused by the service


@pytest.mark.parametrize(
    ("fields", "status", "said"),
    [
        ({"action": "preview"}, 400, "Choose at least one assignment"),
        ({"action": "commit", "assignment-9": "yes"}, 400, "gpb knows no assignment 9"),
        ({"action": "remaster"}, 400, "Tick the box to confirm the remaster"),
        ({"action": "everything"}, 400, "Press Preview, Sync now or Remaster"),
    ],
)
async def test_a_refused_sync_is_told_in_words_on_the_sync_page(
    site: Site, fields: dict[str, str], status: int, said: str
) -> None:
    async with site.browser() as client:
        await log_in(client, ADMIN_TOKEN)
        form = await client.get("/courses/456/sync")
        answer = await client.post(
            "/courses/456/syncs", data={"csrf_token": csrf_of(form.text), **fields}
        )
        assert answer.status_code == status
        assert answer.headers["content-type"].startswith("text/html")
        assert 'role="alert"' in answer.text and said in answer.text


async def test_a_sync_form_may_name_hundreds_of_assignments(site: Site) -> None:
    async with site.browser() as client:
        await log_in(client, ADMIN_TOKEN)
        form = await client.get("/courses/456/sync")
        many = {f"assignment-{9000 + i}": "yes" for i in range(400)}
        answer = await client.post(
            "/courses/456/syncs",
            data={"csrf_token": csrf_of(form.text), "action": "preview", **many},
        )
        # Read whole: it is the service that refuses them, naming the ids it does not know.
        assert answer.status_code == 400 and "gpb knows no assignment 9000" in answer.text


async def test_a_run_started_from_the_page_is_shown_and_a_failed_one_is_on_the_overview(
    site: Site,
) -> None:
    async with site.browser() as client:
        await log_in(client, ADMIN_TOKEN)
        form = await client.get("/courses/456/sync")
        started = await client.post(
            "/courses/456/syncs",
            data={"csrf_token": csrf_of(form.text), "action": "remaster", "confirm": "yes"},
        )
        assert started.status_code == 303
        run_page = started.headers["location"]
        assert re.fullmatch(r"/courses/456/syncs/\d+", run_page)
        run_id = run_page.rsplit("/", 1)[1]
        await site.finished(run_id)  # this gpb has no Canvas to re-read the grades from
        shown = await client.get(run_page)
        assert "failed" in shown.text and 'href="/errors#CANVAS_NOT_CONFIGURED"' in shown.text
        history = await client.get("/courses/456/history")
        assert f'href="{run_page}"' in history.text

        overview = await client.get("/admin")
        failed = overview.text.split('id="failed-runs-heading"')[1].split("</section>")[0]
        assert 'href="/courses/456/history"' in failed and "CANVAS_NOT_CONFIGURED" in failed


async def test_the_history_pages_by_cursor_and_refuses_a_made_up_one(site: Site) -> None:
    ids = [await site.start_run("777", {"kind": "sync", "dry_run": True}) for _ in range(27)]
    async with site.browser() as client:
        await log_in(client, ADMIN_TOKEN)
        first = await client.get("/courses/777/history")
        listed = re.findall(r'href="/courses/777/syncs/(\d+)"', first.text)
        assert listed == ids[::-1][:25]
        older = re.search(r'href="(\?cursor=\d+)" rel="next"', first.text)
        assert older is not None and "Newest runs" not in first.text
        second = await client.get("/courses/777/history" + older.group(1))
        assert re.findall(r'href="/courses/777/syncs/(\d+)"', second.text) == ids[::-1][25:]
        assert 'rel="next"' not in second.text and "Newest runs" in second.text
        answer = await client.get("/courses/456/history", params={"cursor": "not-a-cursor"})
        assert answer.status_code == 400 and "Cursor is not one this API gave" in answer.text


async def test_an_interrupted_run_is_resumed_from_its_page(tmp_path: Path) -> None:
    async with sandboxed_gpb(tmp_path, sync_time_budget_seconds=0.4) as env:
        await env.handled(await env.post("assignment_created", assignment_id="10000000000124"))
        for user_id in ("1201", "1202", "1205", "1206", "1207", "1208"):
            await grade(env, "124", user_id, 5.0, "2026-11-02T10:00:00.000Z")
        env.sandbox.state.sis_faults.configure(FaultConfig(latency_seconds=0.15))
        run = await start(env, kind="remaster")
        assert run["status"] == "interrupted"
        env.sandbox.state.sis_faults.configure(FaultConfig())
        async with httpx.AsyncClient(base_url=str(env.client.base_url)) as client:
            await log_in(client, ADMIN_TOKEN)
            page = await client.get(f"/courses/456/syncs/{run['id']}")
            assert "interrupted" in page.text and 'href="/errors#SYNC_TIMED_OUT"' in page.text
            resume = f"/courses/456/syncs/{run['id']}/resume"
            assert f'action="{resume}"' in page.text
            resumed = await client.post(resume, data={"csrf_token": csrf_of(page.text)})
            assert (resumed.status_code, resumed.headers["location"]) == (
                303,
                f"/courses/456/syncs/{run['id']}?resumed=1",
            )
            assert (await resumed_to_the_end(env, run["id"]))["status"] == "succeeded"
            again = await client.post(resume, data={"csrf_token": csrf_of(page.text)})
            assert again.status_code == 409
            assert "Only an interrupted run can be resumed" in again.text


async def test_the_error_page_maps_every_canvas_ic_title_to_gpb_codes(site: Site) -> None:
    teacher = await site.add_token(Role.INSTRUCTOR, "456")
    async with site.browser() as client:
        await log_in(client, teacher)
        page = (await client.get("/errors")).text
    for title in (
        "Cannot Export Canvas Submission in Section",
        "Assignment Scores Export-PUT for OneRoster Error",
        "Could Not Determine Class or Grading Period",
    ):
        assert f"<h3>{title}</h3>" in page
    assert '<a href="#STUDENT_WITHOUT_SIS_ID"><code>STUDENT_WITHOUT_SIS_ID</code></a>' in page
    assert "What gpb sends to Infinite Campus, and why" in page
