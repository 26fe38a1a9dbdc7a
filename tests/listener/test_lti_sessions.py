"""Sessions made by launches from Canvas: what the cookie carries, how launches add up, and the
cookie attributes an iframe on another site needs."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.responses import Response

from gpb.bootstrap import frame_origins, lti_setup
from gpb.handlers.tokens import Role
from gpb.infra.settings import Settings
from gpb.listener import sessions
from gpb.listener.lti import developer_key
from gpb.listener.pages.render import security_headers

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
SECRET = "a-session-secret"


def test_a_launched_session_reads_back_with_its_courses() -> None:
    launched = sessions.launched(Role.INSTRUCTOR, "456", "789")
    session = sessions.new_session(NOW, launched=launched)
    decoded = sessions.decode(sessions.encode(session, SECRET), SECRET, NOW)
    assert decoded == session
    assert decoded is not None and decoded.token_hash is None
    principal = launched.principal()
    assert principal.may_see("456") and not principal.may_see("457")
    assert principal.role is Role.INSTRUCTOR and principal.name == "Canvas user 789"
    # Fixes made in Canvas act as the user the launch named (GPB_CANVAS_ACT_AS_USER).
    assert principal.canvas_user_id == "789"


def test_a_token_session_cookie_keeps_its_format() -> None:
    value = sessions.encode(sessions.new_session(NOW, "abc"), SECRET)
    decoded = sessions.decode(value, SECRET, NOW)
    assert decoded is not None and decoded.launched is None


def test_launches_of_one_user_add_their_courses_and_another_user_starts_over() -> None:
    first = sessions.launched(Role.INSTRUCTOR, "456", "789")
    both = first.adding(Role.INSTRUCTOR, "457", "789")
    assert both.course_ids == ("456", "457")
    assert both.adding(Role.INSTRUCTOR, "456", "789").course_ids == ("456", "457")
    assert both.adding(Role.ADMIN, None, "789").role is Role.ADMIN
    assert both.adding(Role.INSTRUCTOR, "900", "555") == sessions.launched(
        Role.INSTRUCTOR, "900", "555"
    )


def test_a_session_keeps_the_latest_courses_only_past_the_bound() -> None:
    launched = sessions.launched(Role.INSTRUCTOR, "1", "789")
    for course in range(2, sessions.MAX_LAUNCHED_COURSES + 6):
        launched = launched.adding(Role.INSTRUCTOR, str(course), "789")
    assert len(launched.course_ids) == sessions.MAX_LAUNCHED_COURSES
    assert launched.course_ids[-1] == str(sessions.MAX_LAUNCHED_COURSES + 5)


def test_a_forged_launched_session_is_refused() -> None:
    launched = sessions.launched(Role.ADMIN, None, "1")
    forged = sessions.encode(sessions.new_session(NOW, launched=launched), "guessed")
    assert sessions.decode(forged, SECRET, NOW) is None


def test_an_embedded_cookie_is_partitioned_and_cross_site() -> None:
    response = Response()
    sessions.set_embedded_cookie(response, "name", "value", max_age=60, path="/lti")
    header = response.headers["set-cookie"]
    assert (
        header == "name=value; Path=/lti; HttpOnly; Secure; SameSite=None; Max-Age=60; Partitioned"
    )


def test_framing_is_open_only_to_the_canvas_origins_when_lti_is_on() -> None:
    off = Settings(_env_file=None, canvas_base_url="https://district.instructure.com")  # type: ignore[call-arg]
    assert frame_origins(off) == ()
    assert lti_setup(off) is None
    assert "frame-ancestors 'none'" in security_headers(())["Content-Security-Policy"]
    on = Settings(  # type: ignore[call-arg]
        _env_file=None,
        canvas_base_url="https://district.instructure.com/",
        lti_client_id="10000000000042",
        lti_frame_origins="https://canvas.district.org/path, https://district.instructure.com",
        lti_instructor_roles="Instructor, TeachingAssistant",
    )
    origins = frame_origins(on)
    assert origins == ("https://district.instructure.com", "https://canvas.district.org")
    policy = security_headers(origins)["Content-Security-Policy"]
    assert policy.endswith(
        "frame-ancestors https://district.instructure.com https://canvas.district.org"
    )
    setup = lti_setup(on)
    assert setup is not None
    assert setup.policy.instructor_roles == {"Instructor", "TeachingAssistant"}
    assert setup.policy.deployment_ids == frozenset()


def test_the_developer_key_has_canvas_s_shape() -> None:
    key = developer_key("https://gpb.district.org", "gpb.district.org").model_dump()
    assert key["oidc_initiation_url"] == "https://gpb.district.org/lti/login"
    extension = key["extensions"][0]
    assert extension["platform"] == "canvas.instructure.com"
    assert extension["domain"] == "gpb.district.org"
    placements = {p["placement"]: p for p in extension["settings"]["placements"]}
    assert set(placements) == {"course_navigation", "account_navigation"}
    assert (
        placements["course_navigation"]["target_link_uri"] == "https://gpb.district.org/lti/launch"
    )
    assert key["custom_fields"]["canvas_course_id"] == "$Canvas.course.id"
