"""Page sessions and CSRF over HTTP, without a browser: the cookie a token becomes, what it may do
on the API, and what pages answer to callers who may not see them."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from canvas_events import sample, sign, variant
from joserfc.jwk import RSAKey
from running_gpb import ADMIN_TOKEN, auth, gpb_settings

from gpb.bootstrap import create_app
from gpb.handlers.timefmt import utcnow
from gpb.handlers.tokens import Role, new_token, token_hash
from gpb.infra.sandbox.server import serve_on_loopback as serve
from gpb.infra.settings import Settings
from gpb.infra.store.store import SqlStore
from gpb.listener import sessions

pytestmark = pytest.mark.asyncio(loop_scope="module")
SESSION_SECRET = "the-district-session-secret"


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


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


async def log_in(client: httpx.AsyncClient, token: str, next_path: str = "/") -> httpx.Response:
    form = await client.get("/login", params={"next": next_path})
    return await client.post(
        "/login", data={"csrf_token": csrf_of(form.text), "token": token, "next": next_path}
    )


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
