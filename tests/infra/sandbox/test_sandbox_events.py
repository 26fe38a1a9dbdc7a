"""Signing: the sample events signed with the sandbox key verify against the served JWKS, and
`gpb sandbox post` delivers them."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from canvas_events import SAMPLES as SAMPLES_FOLDER
from joserfc import jws
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gpb.infra.sandbox import cli
from gpb.infra.sandbox.keys import load_or_create_key, public_jwks, sign_event
from gpb.infra.sandbox.server import RunningSandbox, serve_on_loopback
from gpb.infra.sandbox.state import SandboxState

SAMPLES = sorted(SAMPLES_FOLDER.glob("*.json"))
SHARD = 10**13


def load(path: Path) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return event


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
async def test_each_sample_event_verifies_against_the_served_jwks(
    sandbox: RunningSandbox, path: Path
) -> None:
    event = load(path)
    token = sandbox.sign_event(event)
    async with httpx.AsyncClient() as client:
        keys = KeySet.import_key_set((await client.get(sandbox.jwks_url)).json())
    verified = jws.deserialize_compact(token, keys, algorithms=["RS256"])
    assert verified.headers()["kid"] == sandbox.settings.signing_key.kid
    assert json.loads(verified.payload) == event


def test_half_a_surrogate_pair_is_signed_as_the_escape_json_carries_it(signing_key: RSAKey) -> None:
    event = {"metadata": {"event_name": "grade_change"}, "body": {"grade": "A\ud800"}}
    verified = jws.deserialize_compact(sign_event(event, signing_key), signing_key)
    assert b'"A\\ud800"' in verified.payload and json.loads(verified.payload) == event


def test_the_jwks_holds_only_the_public_key(signing_key: RSAKey) -> None:
    (key,) = public_jwks(signing_key)["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["kid"] == signing_key.kid
    assert "d" not in key and "p" not in key


def test_the_key_file_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    made = load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path).kid == made.kid


def test_the_sample_events_name_what_the_seed_holds() -> None:
    canvas = SandboxState().canvas
    for path in SAMPLES:
        metadata, body = load(path)["metadata"], load(path)["body"]
        assert int(metadata["context_id"]) % SHARD == 456
        if "assignment_id" in body:
            assert str(int(body["assignment_id"]) % SHARD) in canvas.assignments
        if "student_id" in body:
            student = canvas.users[str(int(body["student_id"]) % SHARD)]
            assert student.sis_user_id == body["student_sis_id"]
        if "assignment_group_id" in body:
            group = canvas.assignment_groups[str(int(body["assignment_group_id"]) % SHARD)]
            assert group.name == "Homework"
        if "course_section_id" in body:
            assert body["course_section_id"] in canvas.sections
    title = load(SAMPLES[0].with_name("assignment_updated_title_35.json"))["body"]["title"]
    assert canvas.assignments["123"].name == title and len(title) == 35
    graded = canvas.submissions[("123", "1201")]
    assert graded.score == 8.0 and graded.id == "5678"


async def test_post_signs_and_delivers_an_event(tmp_path: Path, capsys: Any) -> None:
    key_path = tmp_path / "key.json"
    load_or_create_key(key_path)  # as `gpb sandbox` makes it
    received: list[dict[str, Any]] = []

    async def receive(request: Request) -> Response:
        keys = KeySet.import_key_set(public_jwks(load_or_create_key(key_path)))
        token = (await request.body()).decode()
        received.append(json.loads(jws.deserialize_compact(token, keys).payload))
        return JSONResponse({"id": "1", "duplicate": False}, 202)

    app = Starlette(routes=[Route("/events/canvas", receive, methods=["POST"])])
    sample = SAMPLES[0]
    async with serve_on_loopback(app) as url:
        code = await asyncio.to_thread(cli.post, sample, url + "/events/canvas", key_path)
    assert code == 0
    assert received == [load(sample)]
    assert capsys.readouterr().out.startswith("202 Accepted")


def test_post_reports_unreadable_files_and_unreachable_targets(tmp_path: Path) -> None:
    key_path = tmp_path / "key.json"
    load_or_create_key(key_path)
    not_json = tmp_path / "event.json"
    not_json.write_text("{nope")
    assert cli.post(not_json, "http://127.0.0.1:9/events/canvas", key_path) == 2
    assert cli.post(SAMPLES[0], "http://127.0.0.1:9/events/canvas", key_path) == 1


def test_the_key_file_comes_from_the_environment_the_working_folder_or_the_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(cli.KEY_FILE_VARIABLE, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.chdir(tmp_path)
    # Any folder: the user's key, where `gpb sandbox` made it.
    assert cli.resolve_key_path() == tmp_path / "config" / "gpb" / "sandbox-key.json"
    (tmp_path / ".gpb-sandbox-key.json").write_text("{}")
    assert cli.resolve_key_path() == Path(".gpb-sandbox-key.json")
    monkeypatch.setenv(cli.KEY_FILE_VARIABLE, str(tmp_path / "k.json"))
    assert cli.resolve_key_path() == tmp_path / "k.json"
    assert cli.resolve_key_path("given.json") == Path("given.json")


def test_post_without_a_key_says_how_to_get_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.json"
    assert cli.post(SAMPLES[0], "http://127.0.0.1:9/events/canvas", missing) == 2
    assert "start `gpb sandbox` first" in capsys.readouterr().err
    assert not missing.exists()


def test_the_printed_settings_point_at_the_sandbox(sandbox: RunningSandbox) -> None:
    settings = sandbox.gpb_environment()
    assert settings["GPB_CANVAS_BASE_URL"] == sandbox.base_url
    assert settings["GPB_SIS_BASE_URL"].endswith("/ims/oneroster")
    assert settings["GPB_SIS_TOKEN_URL"] == sandbox.token_url
    assert settings["GPB_CANVAS_JWKS_URL"] == sandbox.jwks_url
    assert settings["GPB_SIS_VENDOR_AUTHORIZATION"] == sandbox.settings.sis_vendor_authorization
