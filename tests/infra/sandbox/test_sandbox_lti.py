"""The sandbox's Canvas as an LTI platform: the roles it signs, the checks of its authorization
endpoint, and what `gpb sandbox` prints to open."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from gpb.infra.sandbox import cli
from gpb.infra.sandbox.server import RunningSandbox

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"


def roles(sandbox: RunningSandbox, user_id: str, course_id: str | None = "456") -> list[str]:
    return sandbox.platform.roles(sandbox.state, user_id, course_id)


async def test_roles_follow_enrollments_as_canvas_maps_them(sandbox: RunningSandbox) -> None:
    assert roles(sandbox, "789") == [LIS + "membership#Instructor"]
    assert roles(sandbox, "1201") == [LIS + "membership#Learner"]
    assert roles(sandbox, "1") == [LIS + "institution/person#Administrator"]
    assert roles(sandbox, "789", None) == []
    world = sandbox.state.canvas
    world.enroll("1202", world.sections_of("456")[0], "TaEnrollment")
    assert LIS + "membership/Instructor#TeachingAssistant" in roles(sandbox, "1202")


async def test_the_id_token_carries_the_custom_fields_canvas_expands(
    sandbox: RunningSandbox,
) -> None:
    async with httpx.AsyncClient() as client:
        keys = KeySet.import_key_set((await client.get(sandbox.jwks_url)).json())
    token = sandbox.platform.id_token(sandbox.state, "789", "456", "n-1")
    claims = jwt.decode(token, keys).claims
    assert claims["nonce"] == "n-1"
    assert claims[CLAIM + "custom"] == {"canvas_course_id": "456", "canvas_user_id": "789"}
    assert claims[CLAIM + "message_type"] == "LtiResourceLinkRequest"
    account = jwt.decode(sandbox.platform.id_token(sandbox.state, "1", None, "n"), keys).claims
    assert account[CLAIM + "custom"]["canvas_course_id"] == "$Canvas.course.id"


async def test_the_authorization_endpoint_checks_the_request(sandbox: RunningSandbox) -> None:
    platform = sandbox.platform
    good: dict[str, Any] = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": platform.tool_url + "/lti/launch",
        "login_hint": "789",
        "lti_message_hint": "course:456",
        "state": "s",
        "nonce": "n",
    }
    async with httpx.AsyncClient(base_url=sandbox.base_url) as client:
        answer = await client.get("/api/lti/authorize_redirect", params=good)
        assert answer.status_code == 200
        assert f'action="{platform.tool_url}/lti/launch"' in answer.text
        for change in (
            {"redirect_uri": "https://evil.example/"},
            {"nonce": ""},
            {"login_hint": "0"},
        ):
            refused = await client.get("/api/lti/authorize_redirect", params=good | change)
            assert refused.status_code == 400


async def test_the_course_page_links_to_grade_passback(sandbox: RunningSandbox) -> None:
    async with httpx.AsyncClient(base_url=sandbox.pages_url) as client:
        page = await client.get("/courses/456", params={"as_user": "789"})
        assert page.status_code == 200
        assert "/courses/456/external_tools/gpb?as_user=789" in page.text
        assert (await client.get("/courses/456")).status_code == 400  # who is looking?
        assert (await client.get("/courses/999?as_user=789")).status_code == 404


def test_gpb_sandbox_prints_the_launch_settings_and_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli.uvicorn, "run", lambda *args, **kwargs: None)
    cli.serve(port=8901, key_path=tmp_path / "key.json", gpb_url="http://127.0.0.1:8001")
    printed = capsys.readouterr().out
    assert "export GPB_LTI_CLIENT_ID=" in printed
    assert "export GPB_LTI_FRAME_ORIGINS=http://localhost:8901" in printed
    assert "export GPB_PUBLIC_BASE_URL=http://127.0.0.1:8001" in printed
    assert "as the teacher: http://localhost:8901/courses/456?as_user=789" in printed
    assert (
        "as an admin:    http://localhost:8901/accounts/1/external_tools/gpb?as_user=1" in printed
    )
