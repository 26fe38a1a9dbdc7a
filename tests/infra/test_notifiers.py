import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import httpx
import pytest
from fakes import FakeCanvas

from gpb.handlers.alerts import Alert
from gpb.handlers.model import Course
from gpb.handlers.notices import Notice
from gpb.infra.notifiers import CanvasInboxNotifier, NoticeRefused, WebhookNotifier

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
NOTICE = Notice(
    "9",
    "webhook",
    "456",
    "123",
    "Homework 3.2",
    0,
    (
        Alert(
            "1",
            "456",
            "123",
            "NAME_TOO_LONG",
            "error",
            "Too long.",
            "Shorten it.",
            "open",
            1,
            NOW,
            NOW,
        ),
    ),
)
SECRET = "whsec_" + base64.b64encode(b"a-very-secret-key").decode()


async def test_the_webhook_is_signed_per_standard_webhooks() -> None:
    seen: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    hook = WebhookNotifier(
        "https://hooks.example/gpb",
        SECRET,
        transport=httpx.MockTransport(receiver),
        clock=lambda: 1_760_000_000,
    )
    await hook.send(NOTICE)
    (request,) = seen
    assert request.headers["webhook-id"] == "gpb-notice-9"
    assert request.headers["webhook-timestamp"] == "1760000000"
    signed = b"gpb-notice-9.1760000000." + request.content
    expected = base64.b64encode(
        hmac.new(b"a-very-secret-key", signed, hashlib.sha256).digest()
    ).decode()
    assert request.headers["webhook-signature"] == f"v1,{expected}"
    assert json.loads(request.content)["alerts"][0]["code"] == "NAME_TOO_LONG"


async def test_a_refusing_webhook_raises_without_leaking_the_secret() -> None:
    hook = WebhookNotifier(
        "https://hooks.example/gpb",
        SECRET,
        transport=httpx.MockTransport(lambda r: httpx.Response(500)),
    )
    with pytest.raises(NoticeRefused) as refused:
        await hook.send(NOTICE)
    assert "500" in str(refused.value) and "secret" not in str(refused.value)


async def test_the_inbox_notice_goes_to_the_course_teachers() -> None:
    canvas = FakeCanvas(Course("456", "Algebra I", "available"))
    canvas.teachers = ["789", "790"]
    await CanvasInboxNotifier(canvas).send(NOTICE)
    ((course_id, recipients, subject, body),) = canvas.sent
    assert (course_id, recipients) == ("456", ("789", "790"))
    assert "Homework 3.2" in subject and "Shorten it." in body
    canvas.teachers = []
    with pytest.raises(NoticeRefused):
        await CanvasInboxNotifier(canvas).send(NOTICE)
