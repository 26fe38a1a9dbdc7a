"""Admin alerts through the teachers' notifiers: the webhook with its own payload type and message
ids, and Canvas inbox messages to the admins rather than a course's teachers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qs

import httpx
import pytest
from fakes import FakeCanvas

from gpb.handlers.health import DISK_LOW, AdminAlert, AdminNotice
from gpb.handlers.model import Course
from gpb.infra.canvas import CanvasClient
from gpb.infra.notifiers import CanvasInboxNotifier, NoticeRefused, WebhookNotifier

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
NOTICE = AdminNotice(
    "5",
    "webhook",
    0,
    "opened",
    AdminAlert("2", DISK_LOW, "3 GB free.", "Free space.", {"free_mb": 3072}, "open", NOW, NOW),
)


async def test_the_webhook_carries_an_admin_alert_payload() -> None:
    seen: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    hook = WebhookNotifier(
        "https://hooks.example/gpb", "secret", transport=httpx.MockTransport(receiver)
    )
    try:
        await hook.send(NOTICE)
    finally:
        await hook.close()
    (request,) = seen
    assert request.headers["webhook-id"] == "gpb-admin-notice-5"
    assert "webhook-signature" in request.headers
    body = json.loads(request.content)
    assert body["type"] == "gpb.admin_alert" and body["change"] == "opened"
    assert body["alert"]["code"] == DISK_LOW and body["alert"]["details"] == {"free_mb": 3072}


async def test_the_inbox_writes_to_the_admins_outside_any_course() -> None:
    canvas = FakeCanvas(Course("456", "Algebra", "available"))
    canvas.teachers = ["77"]
    await CanvasInboxNotifier(canvas, ("9", "10")).send(NOTICE)
    ((course_id, recipients, subject, body),) = canvas.sent
    assert course_id is None and recipients == ("9", "10")
    assert "nearly full" in subject and "Free space." in body
    assert "list_teacher_ids" not in canvas.calls


async def test_the_inbox_refuses_an_admin_alert_with_nobody_to_write_to() -> None:
    canvas = FakeCanvas(Course("456", "Algebra", "available"))
    with pytest.raises(NoticeRefused, match="GPB_ADMIN_CANVAS_USER_IDS"):
        await CanvasInboxNotifier(canvas).send(NOTICE)
    assert canvas.sent == []


async def test_a_message_outside_a_course_has_no_context_code() -> None:
    seen: list[httpx.Request] = []

    def canvas(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json=[{"id": 1}])

    client = CanvasClient("https://canvas.example", "token", transport=httpx.MockTransport(canvas))
    try:
        await client.send_conversation(None, ["9"], "Admin alert", "Disk nearly full")
    finally:
        await client.close()
    form = parse_qs(seen[0].content.decode())
    assert form["recipients[]"] == ["9"] and "context_code" not in form
