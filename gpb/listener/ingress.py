"""`POST /events/canvas`: what a Canvas Data Services subscription posts to.

Answer fast and never 5xx for a valid event: Canvas waits 15 s, retries a few times, and disables a
subscription that keeps failing.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from gpb.handlers.envelope import Envelope
from gpb.handlers.ingest import Refusal, ingest, record_refusal
from gpb.listener import schemas
from gpb.listener.auth import context
from gpb.listener.bodies import CutOff, SlowBody, TooLarge, read_bounded
from gpb.listener.errors import refused_response, status_of
from gpb.listener.metrics import EVENTS_RECEIVED
from gpb.listener.operations import operation, returns

log = logging.getLogger("gpb.ingress")
_ACCEPTED = EVENTS_RECEIVED.labels("accepted")
_DUPLICATE = EVENTS_RECEIVED.labels("duplicate")
_REJECTED = EVENTS_RECEIVED.labels("rejected")


@operation(
    "Receive one Canvas Live Event: a compact RS256 JWS (or, with GPB_EVENTS_AUTH=none, the"
    " event JSON). The Content-Type header is not trusted.",
    "public",
    {
        202: returns(schemas.Stored, "stored durably; handled in the background"),
        200: returns(schemas.Stored, "the same event is stored already (duplicate)"),
        400: returns(schemas.ErrorBody, "INVALID_BODY or INVALID_ENVELOPE"),
        401: returns(schemas.ErrorBody, "BAD_SIGNATURE or UNKNOWN_KEY"),
        403: returns(schemas.ErrorBody, "WRONG_ROOT_ACCOUNT or ROOT_ACCOUNT_NOT_CONFIGURED"),
        413: returns(schemas.ErrorBody, "PAYLOAD_TOO_LARGE"),
        503: returns(schemas.ErrorBody, "KEYS_UNAVAILABLE: retry after Retry-After seconds"),
    },
    body={"application/jwt": {"type": "string"}, "application/json": Envelope},
)
async def receive_event(request: Request) -> Response:
    ctx = context(request)
    ctx.worker.delivery_begun()  # the worker gives way to a burst of deliveries
    source_ip = request.client.host if request.client else None
    limit = ctx.config.max_event_bytes
    try:
        raw = await read_bounded(request, limit, ctx.read_deadlines)
    except TooLarge as too_large:
        refusal = Refusal("PAYLOAD_TOO_LARGE", f"the body is larger than {limit} bytes")
        await record_refusal(ctx.events, ctx.ingest_policy, refusal, too_large.prefix, source_ip)
        return _refused(refusal)
    except SlowBody as slow:
        refusal = Refusal(
            "REQUEST_TIMEOUT",
            f"the body did not arrive within {ctx.read_deadlines.seconds:g} seconds"
            f" ({len(slow.prefix)} bytes came)",
        )
        await record_refusal(ctx.events, ctx.ingest_policy, refusal, slow.prefix, source_ip)
        return _refused(refusal)
    except CutOff as cut_off:
        # Nobody hears the answer, but the log shows that a delivery came and how much arrived.
        refusal = Refusal(
            "INVALID_BODY",
            f"the connection closed after {len(cut_off.prefix)} bytes, before the body ended",
        )
        await record_refusal(ctx.events, ctx.ingest_policy, refusal, cut_off.prefix, source_ip)
        return _refused(refusal)
    try:
        appended = await ingest(raw, source_ip, ctx.event_decoder, ctx.events, ctx.ingest_policy)
    except Refusal as refusal:
        return _refused(refusal)
    if appended.duplicate_of is not None:
        _DUPLICATE.inc()
        return _stored(appended.duplicate_of, duplicate=True)
    _ACCEPTED.inc()
    ctx.worker.notify()
    return _stored(appended.id, duplicate=False)


def _stored(event_id: str, *, duplicate: bool) -> Response:
    """`{"id":"42","duplicate":false}` with 202, or 200 for a duplicate: the body JSONResponse
    would render, written out directly as it is sent for every event (ids are digits)."""
    body = f'{{"id":"{event_id}","duplicate":{"true" if duplicate else "false"}}}'
    return Response(body, status_code=200 if duplicate else 202, media_type="application/json")


def _refused(refusal: Refusal) -> Response:
    _REJECTED.inc()
    if status_of(refusal.code) >= 500:
        log.error("refused a delivery with %s: %s", refusal.code, refusal.message)
    return refused_response(refusal)
