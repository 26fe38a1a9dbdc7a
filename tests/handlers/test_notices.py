from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from gpb.handlers.alerts import Alert
from gpb.handlers.backoff import RetryPolicy
from gpb.handlers.notices import Notice, NoticeDispatcher

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
ALERT = Alert(
    "1",
    "456",
    "123",
    "NAME_TOO_LONG",
    "error",
    "Title is 35 characters.",
    "Shorten it.",
    "open",
    1,
    NOW,
    NOW,
)


def notice(**changes: Any) -> Notice:
    return replace(Notice("9", "webhook", "456", "123", "Homework 3.2", 0, (ALERT,)), **changes)


class Outbox:
    def __init__(self, *notices: Notice) -> None:
        self.waiting = list(notices)
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.failures: list[tuple[str, str, datetime | None]] = []

    async def due_notices(self, now: datetime, limit: int) -> list[Notice]:
        due, self.waiting = self.waiting, []
        return due

    async def notice_sent(self, notice_id: str, sent: dict[str, Any], now: datetime) -> None:
        self.sent.append((notice_id, sent))

    async def notice_failed(
        self, notice_id: str, error: str, retry_at: datetime | None, now: datetime
    ) -> None:
        self.failures.append((notice_id, error, retry_at))


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.got: list[Notice] = []

    async def send(self, notice: Notice) -> None:
        if self.fail:
            raise ConnectionError("hook.example refused the connection")
        self.got.append(notice)


async def test_a_due_notice_is_sent_and_recorded() -> None:
    outbox, hook = Outbox(notice()), Recorder()
    await NoticeDispatcher(
        outbox, {"webhook": hook}, RetryPolicy(), clock=lambda: NOW
    ).dispatch_due()
    assert [n.id for n in hook.got] == ["9"]
    ((sent_id, body),) = outbox.sent
    assert sent_id == "9" and body["alerts"][0]["code"] == "NAME_TOO_LONG"


async def test_a_failed_notice_is_retried_later_then_given_up() -> None:
    outbox = Outbox(notice(attempts=0))
    dispatcher = NoticeDispatcher(
        outbox,
        {"webhook": Recorder(fail=True)},
        RetryPolicy(max_attempts=3, base_seconds=10),
        clock=lambda: NOW,
    )
    await dispatcher.dispatch_due()
    ((_, error, retry_at),) = outbox.failures
    assert "refused" in error and retry_at is not None and retry_at > NOW
    outbox.waiting = [notice(attempts=2)]
    await dispatcher.dispatch_due()
    assert outbox.failures[-1][2] is None  # third attempt failed: for good


async def test_a_channel_without_a_notifier_fails_at_once() -> None:
    outbox = Outbox(notice(channel="canvas_inbox"))
    await NoticeDispatcher(outbox, {}, RetryPolicy(), clock=lambda: NOW).dispatch_due()
    assert outbox.failures[0][2] is None


def test_the_text_tells_open_and_resolved_alerts() -> None:
    resolved = replace(
        ALERT,
        id="2",
        code="ASSIGNMENT_UNPUBLISHED",
        message="'Homework 3.2' is not published.",
        state="resolved",
        resolved_at=NOW + timedelta(seconds=5),
    )
    text = notice(alerts=(ALERT, resolved)).text
    assert (
        "1 problem(s)" in text
        and "Fix: Shorten it." in text
        and "Resolved: 'Homework 3.2' is not published." in text
    )
    assert "is fixed" in notice(alerts=(resolved,)).subject
