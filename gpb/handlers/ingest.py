"""Accepting a delivery: decode, validate, file, store — or refuse with a code, and record why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gpb.handlers.envelope import CanvasEvent, InvalidEnvelope, parse_event
from gpb.handlers.eventlog import Appended, EventLog, Rejection
from gpb.handlers.ids import split_id


class Refusal(Exception):
    """A delivery gpb will not store as an event; becomes a 4xx, or the 503 KEYS_UNAVAILABLE of
    docs/api.md."""

    def __init__(
        self, status: int, code: str, message: str, *, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


class EventDecoder(Protocol):
    """Turns a raw body into the claimed event: verifies a JWS, or parses plain JSON."""

    async def decode(self, raw: bytes) -> object:
        """Raises Refusal (INVALID_BODY, BAD_SIGNATURE, UNKNOWN_KEY, KEYS_UNAVAILABLE)."""
        ...


@dataclass(frozen=True)
class RootAccount:
    local_id: str
    shard: int | None  # None when configured in local form: any shard matches

    def matches(self, event: CanvasEvent) -> bool:
        if event.root_account_id != self.local_id:
            return False
        return self.shard is None or event.shard in (None, self.shard)


@dataclass(frozen=True)
class IngestPolicy:
    root_account: RootAccount | None  # None accepts every root account


async def ingest(
    raw: bytes,
    source_ip: str | None,
    decoder: EventDecoder,
    log: EventLog,
    policy: IngestPolicy,
) -> Appended:
    """Stores one delivery; every refusal is recorded in the log before it is raised."""
    event: CanvasEvent | None = None
    try:
        claims = await decoder.decode(raw)
        try:
            event = parse_event(claims)
        except InvalidEnvelope as exc:
            raise Refusal(400, "INVALID_ENVELOPE", str(exc)) from None
        _check_root_account(event, policy)
    except Refusal as refusal:
        await record_refusal(log, refusal, raw, source_ip, event.event_name if event else None)
        raise
    return await log.append(event, source_ip)


async def record_refusal(
    log: EventLog,
    refusal: Refusal,
    raw: bytes,
    source_ip: str | None,
    event_name: str | None = None,
) -> str:
    return await log.append_rejected(
        Rejection(
            code=refusal.code,
            message=refusal.message,
            raw=raw,
            source_ip=source_ip,
            event_name=event_name,
        )
    )


def _check_root_account(event: CanvasEvent, policy: IngestPolicy) -> None:
    if policy.root_account is None or policy.root_account.matches(event):
        return
    raise Refusal(
        403,
        "WRONG_ROOT_ACCOUNT",
        f"events of root account {event.root_account_id or '(none)'} are not accepted here",
    )


def root_account(value: str | None) -> RootAccount | None:
    """GPB_CANVAS_ROOT_ACCOUNT_ID, given in global or local form."""
    if value is None or not value.strip():
        return None
    try:
        shard, local = split_id(value)
    except ValueError:
        raise ValueError("GPB_CANVAS_ROOT_ACCOUNT_ID must be a Canvas account id") from None
    return RootAccount(local, shard)
