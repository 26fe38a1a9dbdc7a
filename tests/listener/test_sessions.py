"""The session cookie: signed, expiring, forgery-proof, and carrying no token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from gpb.bootstrap import listener_config
from gpb.handlers.tokens import token_hash
from gpb.infra.settings import Settings
from gpb.listener import sessions

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
SECRET = "a-session-secret"


def test_a_session_reads_back_until_it_expires() -> None:
    session = sessions.new_session(NOW, token_hash("gpb_secret-token"))
    value = sessions.encode(session, SECRET)
    assert sessions.decode(value, SECRET, NOW) == session
    assert sessions.decode(value, SECRET, NOW + sessions.LIFETIME - timedelta(seconds=1))
    assert sessions.decode(value, SECRET, NOW + sessions.LIFETIME) is None


def test_the_cookie_names_the_token_by_its_hash_only() -> None:
    value = sessions.encode(sessions.new_session(NOW, token_hash("gpb_secret-token")), SECRET)
    assert "secret-token" not in value
    decoded = sessions.decode(value, SECRET, NOW)
    assert decoded is not None and decoded.token_hash == token_hash("gpb_secret-token")


def test_a_changed_or_foreign_cookie_is_refused() -> None:
    value = sessions.encode(sessions.new_session(NOW, token_hash("gpb_mine")), SECRET)
    payload, _, signature = value.partition(".")
    forged = sessions.encode(sessions.new_session(NOW, token_hash("gpb_admin")), "guessed")
    assert sessions.decode(forged, SECRET, NOW) is None
    assert sessions.decode(forged.split(".")[0] + "." + signature, SECRET, NOW) is None
    assert sessions.decode(value, "another-replica-secret", NOW) is None
    for junk in ("", ".", payload, "not base64!." + signature, value + "x"):
        assert sessions.decode(junk, SECRET, NOW) is None


def test_the_csrf_token_must_match_exactly() -> None:
    session = sessions.new_session(NOW)
    assert session.token_hash is None  # a visitor before logging in
    assert session.accepts(session.csrf_token)
    assert not session.accepts(None)
    assert not session.accepts("")
    assert not session.accepts(session.csrf_token[:-1])
    assert sessions.new_session(NOW).csrf_token != session.csrf_token


def test_without_a_configured_secret_each_process_draws_one_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    shared = "shared-by-every-replica-of-the-district"
    configured = listener_config(Settings(_env_file=None, session_secret=shared))  # type: ignore[call-arg]
    assert configured.session_secret == shared
    assert "GPB_SESSION_SECRET" not in caplog.text
    drawn = [listener_config(Settings(_env_file=None)) for _ in range(2)]  # type: ignore[call-arg]
    assert drawn[0].session_secret != drawn[1].session_secret
    assert len(drawn[0].session_secret) >= 32
    assert "GPB_SESSION_SECRET is not set" in caplog.text


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("admin_token", "change-me"),
        ("admin_token", "x" * 31),
        ("session_secret", "short"),
        ("session_secret", "é" * 15),  # 30 bytes in 15 characters
    ],
)
def test_short_secrets_are_refused_at_start(name: str, value: str) -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(_env_file=None, **{name: value})  # type: ignore[call-arg]
    assert Settings(_env_file=None, **{name: value + "x" * 32})  # type: ignore[call-arg]
