"""`gpb check` and `GET /api/admin/check`: each outside connection, tried with the current settings.

Each check gives one line: passed, failed with the fix, or not checked (`ok` is None) because it
needs a course or class the caller did not name, or an earlier check it builds on failed. gpb starts
without Canvas or IC settings, which suits development, but a district cannot pass grades without
them: here "not configured" is a failure whose fix names the settings to set.

The checks open their own connections and clients, so the IC token check really asks IC for a
token, whatever a running gpb has cached. No credential reaches a line: the clients keep them out of
their errors, and every line is redacted once more against each secret setting.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Awaitable, Callable
from contextlib import closing
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
from pydantic import SecretStr

from gpb.handlers.errors import (
    CanvasAuthFailed,
    CanvasNotConfigured,
    ExternalError,
    SisAuthFailed,
    SisNotConfigured,
)
from gpb.handlers.ingest import ROOT_ACCOUNT_FORMS, root_account
from gpb.handlers.model import Course
from gpb.infra.canvas import CanvasClient
from gpb.infra.event_decoders import fetch_jwks
from gpb.infra.http_retry import redact
from gpb.infra.oneroster import OneRosterClient
from gpb.infra.settings import Settings

TIMEOUT_SECONDS = 10.0

CANVAS_SETTINGS = (
    "set GPB_CANVAS_BASE_URL (the Canvas root, https://district.instructure.com) and "
    "GPB_CANVAS_TOKEN (an API token of gpb's Canvas admin user)"
)
CANVAS_REACH = (
    "check GPB_CANVAS_BASE_URL (the Canvas root, without /api/v1) and that this server reaches "
    "it over HTTPS (proxy, firewall)"
)
SIS_SETTINGS = (
    "set GPB_SIS_BASE_URL, GPB_SIS_TOKEN_URL, GPB_SIS_CLIENT_ID and GPB_SIS_CLIENT_SECRET from "
    "IC's OneRoster connection"
)
SIS_REACH = (
    "check GPB_SIS_BASE_URL (up to and including /ims/oneroster) and GPB_SIS_TOKEN_URL, and that "
    "this server reaches IC over HTTPS"
)
VENDOR_FIX = (
    "set GPB_SIS_VENDOR_AUTHORIZATION to the vendorKey:vendorSecret IC issued for grade passback,"
    " and check that IC's OneRoster connection has gradebook sync on"
)
NAME_A_COURSE = "gpb check --course COURSE_ID (course_id= in the API)"
NAME_A_CLASS = (
    "gpb check --class SIS_SECTION_ID, or --course COURSE_ID (class_id= or course_id= in the API)"
)

# Fixes for particular kinds of error, before the general one; the first that matches applies.
Fixes = tuple[tuple[type[Exception], str], ...]


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: not checked
    detail: str
    fix: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def passed(name: str, detail: str) -> Check:
    return Check(name, True, detail)


def failed(name: str, detail: str, fix: str) -> Check:
    return Check(name, False, detail, fix)


def not_checked(name: str, why: str, fix: str | None = None) -> Check:
    return Check(name, None, f"not checked: {why}", fix)


def all_ok(checks: list[Check]) -> bool:
    """No check failed (one not checked is no failure)."""
    return all(check.ok is not False for check in checks)


async def _attempt(
    name: str, probe: Callable[[], Awaitable[Check]], fix: str, fixes: Fixes = ()
) -> Check:
    """Runs one probe; whatever it raises becomes its failing line, never a crash of the rest."""
    try:
        return await probe()
    except Exception as exc:
        detail = exc.message if isinstance(exc, ExternalError) else f"{type(exc).__name__}: {exc}"
        fix = next((special for kind, special in fixes if isinstance(exc, kind)), fix)
        return failed(name, detail, fix)


def check_postgres(url: str) -> Check:
    """The same for PostgreSQL: the server answers, the schema is gpb's, and a write in a
    transaction that is rolled back goes through (the role may write, the disk takes it)."""
    name = "database"
    where = _without_credentials(url)
    try:
        with psycopg.connect(url, connect_timeout=int(TIMEOUT_SECONDS)) as conn:
            try:
                row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
            except psycopg.errors.UndefinedTable:
                return failed(name, f"{where} is not a gpb database", "run gpb migrate")
            assert row is not None
            with conn.transaction(force_rollback=True):
                conn.execute("CREATE TABLE gpb_check_probe (written INTEGER)")
                conn.execute("INSERT INTO gpb_check_probe VALUES (1)")
    except psycopg.Error as exc:
        return failed(
            name,
            # One line: libpq's messages run over several.
            f"{where} does not take writes: {type(exc).__name__}: {' '.join(str(exc).split())}",
            "check GPB_DATABASE_URL (host, database, user, password), that the server runs and"
            " takes connections from this host, and that the user owns gpb's tables",
        )
    return passed(name, f"{where} takes writes (one was made and rolled back); schema {row[0]}")


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    return f"postgresql://{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"


def check_database(path: str) -> Check:
    """A write in a transaction that is rolled back: the database file, its folder (WAL and
    shared-memory files) and the disk all take writes; and the schema is gpb's."""
    name = "database"
    if not os.path.isfile(path):
        return failed(
            name,
            f"no database at {path}",
            "run gpb migrate (gpb serve does it on start), or point GPB_DATABASE_URL at it",
        )
    uri = f"{Path(path).absolute().as_uri()}?mode=rw"  # never creates a missing file
    try:
        with closing(sqlite3.connect(uri, uri=True, isolation_level=None, timeout=5)) as conn:
            try:
                version = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
            except sqlite3.OperationalError:
                return failed(name, f"{path} is not a gpb database", "run gpb migrate")
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("CREATE TABLE gpb_check_probe (written INTEGER)")
                conn.execute("INSERT INTO gpb_check_probe VALUES (1)")
            finally:
                conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        return failed(
            name,
            f"{path} does not take writes: {exc}",
            "let the user gpb runs as write the database and its folder; check free disk space",
        )
    return passed(name, f"{path} takes writes (one was made and rolled back); schema {version}")


class ConnectionChecks:
    def __init__(
        self,
        settings: Settings,
        canvas: Callable[[], CanvasClient],
        sis: Callable[[], OneRosterClient],
    ) -> None:
        self._settings = settings
        self._canvas = canvas
        self._sis = sis
        self._secrets: list[str | None] = [
            value.get_secret_value()
            for value in (getattr(settings, field) for field in type(settings).model_fields)
            if isinstance(value, SecretStr)
        ]
        self._secrets.append(urlsplit(settings.database_url).password)

    async def report(self, course_id: str | None, class_id: str | None) -> dict[str, Any]:
        """The checks as the admin API answers them."""
        checks = await self.run(course_id, class_id)
        return {"checks": [check.as_json() for check in checks], "ok": all_ok(checks)}

    async def run(self, course_id: str | None, class_id: str | None) -> list[Check]:
        """Every check, in a fixed order; `course_id` is local, `class_id` an IC class."""
        async with self._canvas() as canvas, self._sis() as sis:
            database, jwks, (canvas_checks, sis_ids), ic_auth = await asyncio.gather(
                asyncio.to_thread(self._database),
                self._jwks(),
                self._canvas_checks(canvas, course_id),
                self._ic_auth(sis),
            )
            ic_class = await self._ic_class(sis, ic_auth, class_id, course_id, sis_ids)
        checks = [database, jwks, self._root_account(), *canvas_checks, *ic_auth, ic_class]
        return [self._redacted(check) for check in checks]

    def _redacted(self, check: Check) -> Check:
        fix = redact(check.fix, self._secrets) if check.fix else None
        return replace(check, detail=redact(check.detail, self._secrets), fix=fix)

    # -- the database and the signing keys --------------------------------------------------

    def _database(self) -> Check:
        if self._settings.is_postgres:
            return check_postgres(self._settings.database_url)
        try:
            path = self._settings.sqlite_path
        except ValueError as exc:
            return failed(
                "database", str(exc), "set GPB_DATABASE_URL to sqlite:///PATH or postgresql://..."
            )
        return check_database(path)

    async def _jwks(self) -> Check:
        name, url = "jwks", self._settings.canvas_jwks_url
        if self._settings.events_auth == "none":
            return failed(
                name,
                "GPB_EVENTS_AUTH=none: unsigned events are taken from anyone who reaches gpb",
                "unset GPB_EVENTS_AUTH (jwt is the default) and sign the Canvas subscription's"
                " payloads",
            )
        fix = (
            "check GPB_CANVAS_JWKS_URL (unset, it is Instructure's live-events JWKS) and that this"
            " server reaches it over HTTPS"
        )
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
            try:
                keys = await fetch_jwks(client, url)
            except httpx.HTTPStatusError as exc:
                return failed(name, f"{url} answered HTTP {exc.response.status_code}", fix)
            except httpx.HTTPError as exc:
                return failed(name, f"{url} could not be reached: {type(exc).__name__}", fix)
            except ValueError as exc:
                return failed(name, f"{url} is not a JWKS: {exc}", fix)
        if not keys:
            return failed(name, f"{url} holds no RSA key with a kid", fix)
        return passed(name, f"{url} holds {len(keys)} RSA signing keys: {', '.join(sorted(keys))}")

    def _root_account(self) -> Check:
        name = "root_account"
        fix = (
            "set GPB_CANVAS_ROOT_ACCOUNT_ID to the district's Canvas root account, as "
            + ROOT_ACCOUNT_FORMS
        )
        try:
            account = root_account(self._settings.canvas_root_account_id)
        except ValueError as exc:
            return failed(name, str(exc), fix)
        if account is not None:
            return passed(name, f"events of root account {account} only are accepted")
        if self._settings.events_auth == "none":
            return not_checked(name, "GPB_EVENTS_AUTH=none takes events of any root account")
        return failed(
            name,
            "GPB_CANVAS_ROOT_ACCOUNT_ID is not set: every event is refused (403"
            " ROOT_ACCOUNT_NOT_CONFIGURED), since Canvas signs every customer's events with the"
            " same keys",
            fix,
        )

    # -- Canvas -----------------------------------------------------------------------------

    async def _canvas_checks(
        self, canvas: CanvasClient, course_id: str | None
    ) -> tuple[list[Check], list[str]]:
        """The Canvas lines, and the SIS ids of the course's sections (for the IC class check)."""
        token = await _attempt(
            "canvas_token",
            lambda: self._whoami(canvas),
            CANVAS_REACH,
            (
                (CanvasNotConfigured, CANVAS_SETTINGS),
                (
                    CanvasAuthFailed,
                    "create a new access token for gpb's Canvas user (Account, Settings, New"
                    " access token) and set GPB_CANVAS_TOKEN",
                ),
            ),
        )
        course_lines = ("canvas_assignments", "canvas_sis_ids")
        if not token.ok:
            return [token, *(not_checked(n, "the Canvas token failed") for n in course_lines)], []
        if course_id is None:
            skipped = [not_checked(n, "no course named", NAME_A_COURSE) for n in course_lines]
            return [token, *skipped], []
        lines, sis_ids = await self._course_checks(canvas, course_id)
        return [token, *lines], sis_ids

    async def _whoami(self, canvas: CanvasClient) -> Check:
        user = await canvas.whoami()
        if user is None:
            return failed(
                "canvas_token",
                f"{self._settings.canvas_base_url} has no Canvas API (users/self is not found)",
                CANVAS_REACH,
            )
        return passed("canvas_token", f"the token acts as {user.name} (Canvas user {user.id})")

    async def _course_checks(
        self, canvas: CanvasClient, course_id: str
    ) -> tuple[list[Check], list[str]]:
        fixes: Fixes = (
            (
                CanvasAuthFailed,
                "give gpb's Canvas user an account role that may read the account's courses,"
                " assignments and SIS data",
            ),
        )
        found: list[Course] = []

        async def assignments() -> Check:
            course = await canvas.get_course(course_id)
            if course is None:
                return failed(
                    "canvas_assignments",
                    f"Canvas has no course {course_id}",
                    "check the course id: the number in the course's Canvas address",
                )
            found.append(course)
            items = await canvas.list_assignments(course_id)
            with_overrides = sum(1 for item in items if item.overrides)
            return passed(
                "canvas_assignments",
                f"read the {len(items)} assignments of {course.name} (course {course_id}) with"
                f" their overrides ({with_overrides} have some)",
            )

        sis_ids: list[str] = []

        async def sections() -> Check:
            listed = await canvas.list_sections(course_id)
            sis_ids.extend(s.sis_section_id for s in listed if s.sis_section_id)
            if not sis_ids:
                return failed(
                    "canvas_sis_ids",
                    f"none of the {len(listed)} sections of course {course_id} shows an SIS id",
                    "give gpb's Canvas user the permission to read SIS data; if it has it, ask"
                    " the SIS admin to link the course's sections to their IC classes",
                )
            return passed(
                "canvas_sis_ids",
                f"{len(sis_ids)} of the {len(listed)} sections of course {course_id} show an SIS"
                f" id: {', '.join(sis_ids)}",
            )

        assignments_line = await _attempt("canvas_assignments", assignments, CANVAS_REACH, fixes)
        if not found:
            why = f"course {course_id} could not be read"
            return [assignments_line, not_checked("canvas_sis_ids", why)], []
        sections_line = await _attempt("canvas_sis_ids", sections, CANVAS_REACH, fixes)
        return [assignments_line, sections_line], sis_ids

    # -- Infinite Campus --------------------------------------------------------------------

    async def _ic_auth(self, sis: OneRosterClient) -> list[Check]:
        """The token line and the vendor key line."""
        token = await _attempt(
            "ic_token",
            lambda: self._ic_token(sis),
            SIS_REACH,
            (
                (SisNotConfigured, SIS_SETTINGS),
                (
                    SisAuthFailed,
                    "check GPB_SIS_CLIENT_ID and GPB_SIS_CLIENT_SECRET against the client of IC's"
                    " OneRoster connection",
                ),
            ),
        )
        name = "ic_vendor_key"
        if not token.ok:
            return [token, not_checked(name, "the IC token failed")]
        if self._settings.sis_vendor_authorization is None:
            vendor = failed(
                name,
                "GPB_SIS_VENDOR_AUTHORIZATION is not set: IC refuses gradebook calls without it",
                VENDOR_FIX,
            )
        else:
            vendor = await _attempt(
                name, lambda: _gradebook(sis), SIS_REACH, ((SisAuthFailed, VENDOR_FIX),)
            )
        return [token, vendor]

    async def _ic_token(self, sis: OneRosterClient) -> Check:
        await sis.authenticate()
        return passed("ic_token", f"{self._settings.sis_token_url} issued an access token")

    async def _ic_class(
        self,
        sis: OneRosterClient,
        ic_auth: list[Check],
        class_id: str | None,
        course_id: str | None,
        course_sis_ids: list[str],
    ) -> Check:
        name = "ic_class"
        if not all(check.ok for check in ic_auth):
            return not_checked(name, "the IC token or vendor key failed")
        target = class_id or next(iter(course_sis_ids), None)
        if target is None:
            if course_id is None:
                return not_checked(name, "no class named", NAME_A_CLASS)
            return not_checked(name, f"no section of course {course_id} with an SIS id was read")
        source = "" if class_id else f", the first linked section of course {course_id}"
        return await _attempt(name, lambda: _class_categories(sis, target, source), SIS_REACH)


async def _gradebook(sis: OneRosterClient) -> Check:
    await sis.read_gradebook()
    return passed("ic_vendor_key", "IC's gradebook took the vendor key (categories read)")


async def _class_categories(sis: OneRosterClient, class_id: str, source: str) -> Check:
    name = "ic_class"
    ic_class = await sis.get_class(class_id)
    if ic_class is None:
        return failed(
            name,
            f"IC has no class {class_id}{source}",
            "check the section's SIS id in Canvas (it is the IC class's sourcedId) and that the"
            " class is in IC's current school year",
        )
    categories = await sis.list_categories(class_id)
    label = f"class {class_id} ({ic_class.title}{source})"
    if not categories:
        return failed(
            name,
            f"{label} has no active grading categories in IC",
            "create the class's grading categories in IC; Canvas assignment groups must be"
            " named like them",
        )
    titles = ", ".join(category.title for category in categories)
    return passed(name, f"{label}: {len(categories)} grading categories: {titles}")
