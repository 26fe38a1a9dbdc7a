"""Accepting a delivery: decode, validate, file, store — or refuse with a code, and record why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, get_args

from gpb.handlers.envelope import CanvasEvent, InvalidEnvelope, parse_event
from gpb.handlers.eventlog import Appended, Rejection
from gpb.handlers.ids import split_id
from gpb.handlers.ports import EventDecoder, EventLog
from gpb.handlers.refusals import Refused
from gpb.handlers.throttle import PerAddressLimit

# What is kept of a body refused before its signature was checked.
UNAUTHENTICATED_KEEP_BYTES = 512


RefusalCode = Literal[
    # a delivery to the ingress
    "INVALID_BODY",
    "INVALID_ENVELOPE",
    "BAD_SIGNATURE",
    "UNKNOWN_KEY",
    "KEYS_UNAVAILABLE",  # the one to try again: with retry_after
    "ROOT_ACCOUNT_NOT_CONFIGURED",
    "WRONG_ROOT_ACCOUNT",
    "PAYLOAD_TOO_LARGE",
    "REQUEST_TIMEOUT",
    # a launch from Canvas (docs/canvas-lti.md)
    "LTI_UNKNOWN_ISSUER",
    "LTI_UNKNOWN_CLIENT",
    "LTI_MISSING_PARAMETER",
    "LTI_WRONG_TARGET",
    "LTI_PLATFORM_ERROR",
    "LTI_STATE_MISMATCH",
    "LTI_NO_STATE_COOKIE",
    "LTI_WRONG_ISSUER",
    "LTI_WRONG_AUDIENCE",
    "LTI_EXPIRED",
    "LTI_ISSUED_IN_FUTURE",
    "LTI_NONCE_MISMATCH",
    "LTI_NONCE_REUSED",
    "LTI_MISSING_CLAIM",
    "LTI_UNKNOWN_DEPLOYMENT",
    "LTI_WRONG_MESSAGE_TYPE",
    "LTI_WRONG_VERSION",
    "LTI_MISSING_CUSTOM_FIELD",
    "LTI_ROLE_NOT_ALLOWED",
]


class Refusal(Refused):
    """A delivery gpb will not store as an event, or a launch it will not accept; recorded in
    the event log with its code."""

    codes: ClassVar[tuple[str, ...]] = get_args(RefusalCode)

    def __init__(self, code: RefusalCode, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(code, message, retry_after=retry_after)


@dataclass(frozen=True)
class RootAccount:
    """The district's root account: its local id and its shard, both compared strictly (Canvas
    signs every customer's events with the same keys, so the shard is part of who sent it)."""

    shard: int | None  # None only for an unsharded Canvas, configured as `0~ID`
    local_id: str

    def matches(self, event: CanvasEvent) -> bool:
        return event.root_account_id == self.local_id and event.shard == self.shard

    def __str__(self) -> str:
        return f"{self.shard or 0}~{self.local_id}"


@dataclass(frozen=True)
class IngestPolicy:
    root_account: RootAccount | None
    # Signed events must name a configured root account: unset refuses them all.
    root_account_required: bool = False
    # How many refusals per client address are logged one by one (None: all of them).
    refusals_logged: PerAddressLimit | None = None

    @property
    def refuses_every_event(self) -> bool:
        return self.root_account is None and self.root_account_required


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
            raise Refusal("INVALID_ENVELOPE", str(exc)) from None
        _check_root_account(event, policy)
    except Refusal as refusal:
        await record_refusal(
            log,
            policy,
            refusal,
            raw,
            source_ip,
            event.event_name if event else None,
            authenticated=event is not None,
        )
        raise
    return await log.append(event, source_ip)


async def record_refusal(
    log: EventLog,
    policy: IngestPolicy,
    refusal: Refusal,
    raw: bytes,
    source_ip: str | None,
    event_name: str | None = None,
    *,
    authenticated: bool = False,
) -> str | None:
    """Logs a refusal; None when the address is over its share and it was only counted.

    A body refused before its signature was checked keeps only a short prefix: enough to tell
    what it was, too little for a flood of forged posts to fill the disk."""
    limit = policy.refusals_logged
    if limit is not None:
        within, ended = limit.hit(source_ip)
        if ended is not None:
            await log.append_rejected(_summary(ended.over, limit.limit, source_ip))
        if not within:
            return None
    return await log.append_rejected(
        Rejection(
            code=refusal.code,
            message=refusal.message,
            raw=raw if authenticated else raw[:UNAUTHENTICATED_KEEP_BYTES],
            source_ip=source_ip,
            event_name=event_name,
        )
    )


def _summary(over: int, limit: int, source_ip: str | None) -> Rejection:
    return Rejection(
        code="REFUSALS_NOT_LOGGED",
        message=(
            f"{over} more deliveries from this address were refused within one minute; at most"
            f" {limit} a minute are logged one by one"
        ),
        raw=b"",
        source_ip=source_ip,
    )


def _check_root_account(event: CanvasEvent, policy: IngestPolicy) -> None:
    if policy.refuses_every_event:
        raise Refusal(
            "ROOT_ACCOUNT_NOT_CONFIGURED",
            "GPB_CANVAS_ROOT_ACCOUNT_ID is not set, so no event is accepted: set it to the"
            " district's root account id",
        )
    if policy.root_account is None or policy.root_account.matches(event):
        return
    theirs = f"{event.shard or 0}~{event.root_account_id}" if event.root_account_id else "(none)"
    raise Refusal(
        "WRONG_ROOT_ACCOUNT",
        f"events of root account {theirs} are not accepted here",
    )


ROOT_ACCOUNT_FORMS = (
    "the global id (shard x 10^13 + local id, e.g. 10000000000001) or SHARD~ID (e.g. 1~1)"
)


def root_account(value: str | None) -> RootAccount | None:
    """GPB_CANVAS_ROOT_ACCOUNT_ID: a global id, or `SHARD~ID` (Canvas's own short form). A bare
    local id is refused: it says nothing of the shard, and any shard's account of that number
    would match."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    shard_text, tilde, local_text = text.partition("~")
    try:
        if tilde:
            shard, local = split_id(shard_text), split_id(local_text)
            if shard[0] is not None or local[0] is not None:
                raise ValueError(text)
            return RootAccount(int(shard[1]) or None, local[1])
        shard_of, local_id = split_id(text)
    except ValueError:
        raise ValueError(
            f"GPB_CANVAS_ROOT_ACCOUNT_ID must be {ROOT_ACCOUNT_FORMS}; got {text[:40]!r}"
        ) from None
    if shard_of is None:
        raise ValueError(
            f"GPB_CANVAS_ROOT_ACCOUNT_ID={text} is a local id without its shard; give"
            f" {ROOT_ACCOUNT_FORMS}"
        )
    return RootAccount(shard_of, local_id)
