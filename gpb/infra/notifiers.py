"""Where alert notices go: a webhook signed per Standard Webhooks, and the Canvas inbox.

Both carry the teachers' notices and the admins' alerts alike.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Sequence

import httpx

from gpb.handlers.health import AdminNotice
from gpb.handlers.notices import Notice
from gpb.handlers.ports import Canvas


class NoticeRefused(Exception):
    """The receiver answered, but not with a 2xx."""


def signing_key(secret: str) -> bytes:
    """Standard Webhooks secrets are `whsec_` + base64; any other string is used as it is."""
    if secret.startswith("whsec_"):
        return base64.b64decode(secret.removeprefix("whsec_"))
    return secret.encode()


def sign_webhook(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class WebhookNotifier:
    def __init__(
        self,
        url: str,
        secret: str | None,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._url = url
        self._key = signing_key(secret) if secret else None
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport)
        self._clock = clock

    async def close(self) -> None:
        await self._client.aclose()

    async def send(self, notice: Notice | AdminNotice) -> None:
        body = json.dumps(notice.as_json(), separators=(",", ":")).encode()
        # The id stays the same across retries of one notice, so receivers can de-duplicate.
        message_id = notice.message_id
        timestamp = int(self._clock())
        headers = {
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
        }
        if self._key is not None:
            headers["webhook-signature"] = sign_webhook(self._key, message_id, timestamp, body)
        try:
            response = await self._client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise NoticeRefused(f"the webhook could not be reached: {type(exc).__name__}") from None
        if not response.is_success:
            raise NoticeRefused(f"the webhook answered {response.status_code}")


class CanvasInboxNotifier:
    """Sends a notice to the course's teachers, and an admin alert to the admins
    (`GPB_ADMIN_CANVAS_USER_IDS`), as Canvas conversations."""

    def __init__(self, canvas: Canvas, admin_ids: Sequence[str] = ()) -> None:
        self._canvas = canvas
        self._admin_ids = tuple(admin_ids)

    async def send(self, notice: Notice | AdminNotice) -> None:
        if isinstance(notice, AdminNotice):
            if not self._admin_ids:
                raise NoticeRefused("no admin to write to: set GPB_ADMIN_CANVAS_USER_IDS")
            await self._canvas.send_conversation(None, self._admin_ids, notice.subject, notice.text)
            return
        teachers = await self._canvas.list_teacher_ids(notice.course_id)
        if not teachers:
            raise NoticeRefused(f"course {notice.course_id} has no active teacher to write to")
        await self._canvas.send_conversation(
            notice.course_id, teachers, notice.subject, notice.text
        )


# Each takes teachers' notices and admins' alerts alike, so one instance serves both outboxes.
Channel = WebhookNotifier | CanvasInboxNotifier
