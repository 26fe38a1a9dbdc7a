"""The Canvas event envelope: validation, the ids it is filed under, and its content hash."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from gpb.handlers.ids import local_id_or_none, split_id

# Canvas documents one example as "2019-11-05 07:38:00 -0800"; everything else is ISO-8601.
_LEGACY_TIME_FORMAT = "%Y-%m-%d %H:%M:%S %z"


def parse_canvas_time(value: object) -> datetime:
    """An aware UTC datetime from what Canvas puts in `event_time` and body timestamps."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            try:
                parsed = datetime.strptime(text, _LEGACY_TIME_FORMAT)
            except ValueError:
                raise ValueError(f"not a timestamp: {text[:40]!r}") from None
    else:
        raise ValueError("a timestamp must be a string")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # "0001-01-01T00:00:00+01:00" lies before the first datetime
        raise ValueError(f"not a timestamp gpb can hold: {value!r}"[:80]) from None


def _optional_id_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("an id must be a string or an integer")
    return str(value)


CanvasTime = Annotated[datetime, BeforeValidator(parse_canvas_time)]
IdText = Annotated[str | None, BeforeValidator(_optional_id_text)]


class Metadata(BaseModel):
    model_config = ConfigDict(extra="allow")

    event_name: str
    event_time: CanvasTime
    root_account_id: IdText = None
    context_type: str | None = None
    context_id: IdText = None
    user_id: IdText = None


class Envelope(BaseModel):
    model_config = ConfigDict(extra="allow")

    metadata: Metadata
    body: dict[str, Any] | None = None


class InvalidEnvelope(ValueError):
    """The decoded event lacks what every Canvas event has."""


@dataclass(frozen=True)
class CanvasEvent:
    """A validated event, with the ids the event log files it under."""

    event_name: str
    event_time: datetime
    shard: int | None
    root_account_id: str | None
    course_id: str | None
    user_id: str | None
    payload: dict[str, Any]
    content_hash: str
    payload_json: str  # the payload as canonical JSON: what the log stores, and what is hashed

    @property
    def event_time_ms(self) -> int:
        return int(self.event_time.timestamp() * 1000)

    @property
    def body(self) -> dict[str, Any]:
        body = self.payload.get("body")
        return body if isinstance(body, dict) else {}


def canonical_json(event: dict[str, Any]) -> str:
    """The event's metadata and body as JSON with sorted keys and no spaces: the same event
    re-signed or re-serialised gives the same text."""
    canonical = {"metadata": event.get("metadata"), "body": event.get("body")}
    return json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(event: dict[str, Any]) -> str:
    """A hash of the canonical event: the same event re-signed or re-serialised hashes the same."""
    return _sha256(canonical_json(event))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _is_unicode(text: str) -> bool:
    """JSON may escape half a surrogate pair ("\\ud800"), which no UTF-8 text (the hash, the
    database) can hold."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def parse_event(claims: object) -> CanvasEvent:
    """Validates a decoded event; raises InvalidEnvelope with a reason a person can read."""
    if not isinstance(claims, dict):
        raise InvalidEnvelope("the event must be a JSON object with metadata and body")
    try:
        envelope = Envelope.model_validate(claims)
    except ValidationError as exc:
        raise InvalidEnvelope(_describe(exc)) from None
    meta = envelope.metadata
    body = envelope.body or {}
    # One serialisation serves both the hash and the stored payload.
    payload_json = canonical_json(claims)
    if not _is_unicode(payload_json):
        raise InvalidEnvelope("the event holds half a surrogate pair, which is not Unicode text")
    return CanvasEvent(
        event_name=meta.event_name,
        event_time=meta.event_time,
        shard=_shard_of(meta.root_account_id, meta.context_id, meta.user_id),
        root_account_id=local_id_or_none(meta.root_account_id),
        course_id=_course_id(meta, body),
        user_id=local_id_or_none(meta.user_id),
        payload={"metadata": claims["metadata"], "body": claims.get("body")},
        content_hash=_sha256(payload_json),
        payload_json=payload_json,
    )


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}"


def _shard_of(*ids: str | None) -> int | None:
    for value in ids:
        if value is None:
            continue
        try:
            shard, _ = split_id(value)
        except ValueError:
            continue
        if shard is not None:
            return shard
    return None


def _course_id(meta: Metadata, body: dict[str, Any]) -> str | None:
    """The event's course: its context when that is a course, else what the body names."""
    if meta.context_type == "Course" and meta.context_id is not None:
        return local_id_or_none(meta.context_id)
    if body.get("context_type") == "Course" and body.get("context_id") is not None:
        return local_id_or_none(body.get("context_id"))
    return local_id_or_none(body.get("course_id"))
