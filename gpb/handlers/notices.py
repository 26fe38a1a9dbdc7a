"""Outbound notices of alerts (webhook, Canvas inbox), gathered per assignment over a window.

Teachers save in bursts, so a notice waits `GPB_ALERT_COALESCE_SECONDS` after the first change and
then tells the assignment's state as it is: its open alerts and those resolved meanwhile. A notice
that fails is retried with backoff and, when attempts run out, stays `failed` with its error.
Nothing here runs inside event handling: a notifier that hangs delays only other notices.
The admins' alerts (`health`) go out through the same dispatcher and notifiers, from their own
outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic

from gpb.handlers.alerts import Alert
from gpb.handlers.backoff import RetryPolicy
from gpb.handlers.ports import N, NoticeStore, Sender
from gpb.handlers.signals import Wakeup, drain_forever
from gpb.handlers.timefmt import utcnow

log = logging.getLogger("gpb.notices")

WEBHOOK = "webhook"
CANVAS_INBOX = "canvas_inbox"


@dataclass(frozen=True)
class NoticesQueued:
    """A change: alerts of these assignments changed; notify on each channel after `send_after`
    (or with the notice already waiting, which gathers this change too)."""

    course_id: str
    assignment_ids: tuple[str, ...]
    channels: tuple[str, ...]
    send_after: datetime


@dataclass(frozen=True)
class Notice:
    id: str
    channel: str
    course_id: str
    assignment_id: str
    assignment_title: str
    attempts: int
    alerts: tuple[Alert, ...]  # open ones, and those resolved since the notice was queued

    @property
    def message_id(self) -> str:
        """The same on every retry of the notice, so that receivers can de-duplicate."""
        return f"gpb-notice-{self.id}"

    def as_json(self) -> dict[str, Any]:
        return {
            "type": "gpb.assignment_alerts",
            "course_id": self.course_id,
            "assignment_id": self.assignment_id,
            "assignment_title": self.assignment_title,
            "alerts": [alert.as_json() for alert in self.alerts],
        }

    @property
    def subject(self) -> str:
        open_count = sum(a.state == "open" for a in self.alerts)
        if open_count == 0:
            return f"Grade passback: '{self.assignment_title}' is fixed"
        return f"Grade passback: '{self.assignment_title}' has {open_count} problem(s) to fix"

    @property
    def text(self) -> str:
        lines = [self.subject, ""]
        for alert in self.alerts:
            if alert.state == "open":
                lines.append(f"- {alert.message} Fix: {alert.fix}")
            else:
                lines.append(f"- Resolved: {alert.message}")
        return "\n".join(lines)


# Longer than a notifier's timeouts and retries take, however slow the far end.
NOTICE_CLAIM = timedelta(minutes=5)


class NoticeDispatcher(Generic[N]):
    def __init__(
        self,
        store: NoticeStore[N],
        notifiers: Mapping[str, Sender[N]],
        retry: RetryPolicy,
        *,
        clock: Callable[[], datetime] = utcnow,
        poll_seconds: float = 1.0,
    ) -> None:
        self._store = store
        self._notifiers = dict(notifiers)
        self._retry = retry
        self._clock = clock
        self._poll = poll_seconds
        self._wakeup = Wakeup()

    def notify(self) -> None:
        self._wakeup.set()

    async def run(self) -> None:
        await drain_forever(self.dispatch_due, self._wakeup, self._poll, "dispatching notices")

    async def dispatch_due(self) -> int:
        notices = await self._store.due_notices(self._clock(), 50)
        for notice in notices:
            await self._dispatch(notice)
        return len(notices)

    async def _dispatch(self, notice: N) -> None:
        notifier = self._notifiers.get(notice.channel)
        now = self._clock()
        if notifier is None:
            await self._store.notice_failed(
                notice.id, f"the {notice.channel} channel is not configured", None, now
            )
            return
        try:
            await notifier.send(notice)
        except Exception as exc:
            attempts = notice.attempts + 1
            retry_at = None
            if attempts < self._retry.max_attempts:
                retry_at = now + timedelta(seconds=self._retry.delay(attempts))
            log.warning("notice %s over %s failed: %s", notice.id, notice.channel, exc)
            await self._store.notice_failed(
                notice.id, str(exc) or type(exc).__name__, retry_at, now
            )
            return
        await self._store.notice_sent(notice.id, notice.as_json(), now)
