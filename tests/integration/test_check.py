"""`gpb check` and `GET /api/admin/check` against the sandbox, each connection broken in turn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from running_gpb import ADMIN_TOKEN, auth, sandbox_settings

from gpb.bootstrap import create_app
from gpb.cli import main as gpb_cli
from gpb.handlers.tokens import Role, new_token
from gpb.infra.sandbox.server import RunningSandbox, run_sandbox
from gpb.infra.sandbox.server import serve_on_loopback as serve
from gpb.infra.store.store import SqlStore

pytestmark = pytest.mark.asyncio(loop_scope="module")

NAMES = [
    "database",
    "jwks",
    "root_account",
    "canvas_token",
    "canvas_assignments",
    "canvas_sis_ids",
    "ic_token",
    "ic_vendor_key",
    "ic_class",
]
WRONG_CANVAS_TOKEN = "wrong-canvas-token-5f1c9e"
WRONG_SIS_SECRET = "wrong-client-secret-77aa10"
WRONG_VENDOR_KEY = "wrong-vendor:secret-93be4d"
WRONG_DATABASE_PASSWORD = "wrong-database-password-4d7e21"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    async with run_sandbox() as running:
        yield running


@pytest.fixture
def database(tmp_path: Path) -> str:
    store = SqlStore(str(tmp_path / "gpb.db"))
    store.migrate()
    return store.db.url


def secrets_of(sandbox: RunningSandbox) -> list[str]:
    settings = sandbox.settings
    return [
        settings.canvas_token,
        settings.sis_client_secret,
        settings.sis_vendor_authorization,
        WRONG_CANVAS_TOKEN,
        WRONG_SIS_SECRET,
        WRONG_VENDOR_KEY,
        WRONG_DATABASE_PASSWORD,
    ]


async def check(
    sandbox: RunningSandbox,
    database: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *argv: str,
    env: dict[str, str] | None = None,
    unset: tuple[str, ...] = (),
) -> tuple[int, dict[str, str]]:
    """Runs `gpb check`; its exit code and its lines by check name."""
    for name, value in {**sandbox.gpb_environment(), "GPB_DATABASE_URL": database}.items():
        monkeypatch.setenv(name, value)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    for name in unset:
        monkeypatch.delenv(name)
    code = await asyncio.to_thread(gpb_cli, ["check", *argv])
    out, err = capsys.readouterr()
    for secret in secrets_of(sandbox):
        assert secret not in out + err
    lines = {line.split(":", 1)[0].split()[1]: line for line in out.splitlines()}
    assert list(lines) == NAMES
    return code, lines


async def test_every_connection_passes_with_a_course(
    sandbox: RunningSandbox,
    database: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, lines = await check(sandbox, database, monkeypatch, capsys, "--course", "456")
    assert code == 0
    assert all(line.startswith("PASS") for line in lines.values()), lines
    assert "SEC-7, SEC-8" in lines["canvas_sis_ids"]
    assert "class SEC-7" in lines["ic_class"] and "Homework" in lines["ic_class"]


async def test_without_a_course_the_course_checks_say_so_and_do_not_fail(
    sandbox: RunningSandbox,
    database: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, lines = await check(sandbox, database, monkeypatch, capsys)
    assert code == 0
    for name in ("canvas_assignments", "canvas_sis_ids", "ic_class"):
        assert lines[name].startswith("SKIP"), lines[name]
        assert "--course" in lines[name]


@pytest.mark.parametrize(
    ("argv", "env", "unset", "failing", "says", "fix"),
    [
        pytest.param(
            (),
            {"GPB_CANVAS_TOKEN": WRONG_CANVAS_TOKEN},
            (),
            "canvas_token",
            "invalid or expired",
            "GPB_CANVAS_TOKEN",
            id="wrong-canvas-token",
        ),
        pytest.param(
            (),
            {"GPB_SIS_CLIENT_SECRET": WRONG_SIS_SECRET},
            (),
            "ic_token",
            "refused the client credentials",
            "GPB_SIS_CLIENT_SECRET",
            id="wrong-ic-secret",
        ),
        pytest.param(
            (),
            {"GPB_SIS_VENDOR_AUTHORIZATION": WRONG_VENDOR_KEY},
            (),
            "ic_vendor_key",
            "x-vendor-authorization",
            "GPB_SIS_VENDOR_AUTHORIZATION",
            id="wrong-vendor-key",
        ),
        pytest.param(
            (),
            {"GPB_CANVAS_JWKS_URL": "http://127.0.0.1:9/jwks.json"},
            (),
            "jwks",
            "could not be reached",
            "GPB_CANVAS_JWKS_URL",
            id="jwks-unreachable",
        ),
        pytest.param(
            (),
            {},
            ("GPB_CANVAS_ROOT_ACCOUNT_ID",),
            "root_account",
            "every event is refused (403 ROOT_ACCOUNT_NOT_CONFIGURED)",
            "set GPB_CANVAS_ROOT_ACCOUNT_ID",
            id="root-account-unset",
        ),
        pytest.param(
            (),
            {"GPB_CANVAS_ROOT_ACCOUNT_ID": "1"},
            (),
            "root_account",
            "is a local id without its shard",
            "SHARD~ID",
            id="root-account-without-its-shard",
        ),
        pytest.param(
            ("--class", "SEC-404"),
            {},
            (),
            "ic_class",
            "IC has no class SEC-404",
            "SIS id",
            id="unknown-class",
        ),
        pytest.param(
            (),
            {},
            ("GPB_CANVAS_BASE_URL", "GPB_CANVAS_TOKEN"),
            "canvas_token",
            "no Canvas URL or API token",
            "set GPB_CANVAS_BASE_URL",
            id="canvas-not-configured",
        ),
        pytest.param(
            (),
            {"GPB_DATABASE_URL": "sqlite:////nonexistent-folder/gpb.db"},
            (),
            "database",
            "no database at /nonexistent-folder/gpb.db",
            "run gpb migrate",
            id="no-database",
        ),
        pytest.param(
            (),
            {"GPB_DATABASE_URL": f"postgresql://gpb:{WRONG_DATABASE_PASSWORD}@127.0.0.1:9/gpb"},
            (),
            "database",
            "postgresql://127.0.0.1:9/gpb does not take writes",
            "GPB_DATABASE_URL",
            id="database-server-unreachable",
        ),
    ],
)
async def test_a_broken_connection_fails_its_line_with_the_fix(
    sandbox: RunningSandbox,
    database: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    env: dict[str, str],
    unset: tuple[str, ...],
    failing: str,
    says: str,
    fix: str,
) -> None:
    code, lines = await check(sandbox, database, monkeypatch, capsys, *argv, env=env, unset=unset)
    assert code == 1
    assert [name for name, line in lines.items() if line.startswith("FAIL")] == [failing]
    detail, _, fixed = lines[failing].partition(" -- fix: ")
    assert says in detail
    assert fix in fixed


async def test_the_admin_api_serves_the_same_checks(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    settings = sandbox_settings(sandbox, tmp_path)
    teacher = new_token()
    store = SqlStore(settings.database_url)
    store.migrate()
    store.start()
    try:
        await store.tokens.add(teacher, Role.INSTRUCTOR, ("456",), "teacher", None)
    finally:
        await store.close()
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        admin = await client.get(
            "/api/admin/check", params={"course_id": "10000000000456"}, headers=auth(ADMIN_TOKEN)
        )
        by_teacher = await client.get("/api/admin/check", headers=auth(teacher))
        anonymous = await client.get("/api/admin/check")
        unknown_class = await client.get(
            "/api/admin/check", params={"class_id": "SEC-404"}, headers=auth(ADMIN_TOKEN)
        )
        bad_course = await client.get(
            "/api/admin/check", params={"course_id": "x"}, headers=auth(ADMIN_TOKEN)
        )
    assert admin.status_code == 200, admin.text
    report = admin.json()
    assert report["ok"] is True
    assert [c["name"] for c in report["checks"]] == NAMES
    assert all(c["ok"] is True and c["fix"] is None for c in report["checks"])
    assert set(report["checks"][0]) == {"name", "ok", "detail", "fix"}
    assert by_teacher.status_code == 403
    assert anonymous.status_code == 401
    assert unknown_class.status_code == 200
    failing = unknown_class.json()
    assert failing["ok"] is False
    ic_class = failing["checks"][-1]
    assert ic_class["ok"] is False and "SEC-404" in ic_class["detail"] and ic_class["fix"]
    assert bad_course.status_code == 400
    for answer in (admin, unknown_class):
        for secret in secrets_of(sandbox):
            assert secret not in answer.text
