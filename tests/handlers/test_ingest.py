import json

import pytest
from canvas_events import sample
from fakes import FakeEventLog

from gpb.handlers.eventlog import EventStatus
from gpb.handlers.ingest import (
    UNAUTHENTICATED_KEEP_BYTES,
    IngestPolicy,
    Refusal,
    ingest,
    root_account,
)
from gpb.handlers.throttle import PerAddressLimit
from gpb.listener.errors import status_of


class JsonDecoder:
    async def decode(self, raw: bytes) -> object:
        return json.loads(raw)


class RefusingDecoder:
    async def decode(self, raw: bytes) -> object:
        raise Refusal("BAD_SIGNATURE", "the signature does not verify")


OPEN = IngestPolicy(root_account=None)


async def test_stores_an_event_then_recognises_its_duplicate() -> None:
    log = FakeEventLog()
    raw = json.dumps(sample("grade_change_8_to_9_5")).encode()
    first = await ingest(raw, "10.0.0.1", JsonDecoder(), log, OPEN)
    again = await ingest(raw, "10.0.0.1", JsonDecoder(), log, OPEN)
    assert first.duplicate_of is None
    assert again.duplicate_of == first.id
    assert log.events[again.id].status is EventStatus.DUPLICATE


async def test_a_refusal_is_recorded_before_it_is_raised() -> None:
    log = FakeEventLog()
    with pytest.raises(Refusal) as refused:
        await ingest(b"xyz", "10.0.0.2", RefusingDecoder(), log, OPEN)
    assert refused.value.code == "BAD_SIGNATURE"
    (entry,) = log.events.values()
    assert entry.status is EventStatus.REJECTED
    assert entry.error == {"code": "BAD_SIGNATURE", "message": "the signature does not verify"}
    assert entry.raw == "xyz"


async def test_an_envelope_without_event_time_is_refused_as_invalid_envelope() -> None:
    log = FakeEventLog()
    event = sample("grade_change_8_to_9_5")
    del event["metadata"]["event_time"]
    with pytest.raises(Refusal) as refused:
        await ingest(json.dumps(event).encode(), None, JsonDecoder(), log, OPEN)
    assert (status_of(refused.value.code), refused.value.code) == (400, "INVALID_ENVELOPE")


async def test_another_root_account_is_refused_and_logged_with_its_event_name() -> None:
    log = FakeEventLog()
    policy = IngestPolicy(root_account=root_account("20000000000001"))
    with pytest.raises(Refusal) as refused:
        await ingest(
            json.dumps(sample("grade_change_8_to_9_5")).encode(), None, JsonDecoder(), log, policy
        )
    assert (status_of(refused.value.code), refused.value.code) == (403, "WRONG_ROOT_ACCOUNT")
    (entry,) = log.events.values()
    assert entry.event_name == "grade_change"


async def test_the_root_account_may_be_configured_globally_or_as_shard_tilde_id() -> None:
    raw = json.dumps(sample("grade_change_8_to_9_5")).encode()
    for configured in ("10000000000001", "1~1", " 1~1 "):
        policy = IngestPolicy(root_account=root_account(configured))
        appended = await ingest(raw, None, JsonDecoder(), FakeEventLog(), policy)
        assert appended.duplicate_of is None


@pytest.mark.parametrize("configured", ["1", "456", "1~10000000000001", "x~1", "1~", "~1", "-1"])
def test_a_root_account_without_its_shard_or_malformed_is_refused_at_start(
    configured: str,
) -> None:
    with pytest.raises(ValueError, match="GPB_CANVAS_ROOT_ACCOUNT_ID"):
        root_account(configured)


def _from_root_account(account: str, **metadata: str) -> bytes:
    event = sample("grade_change_8_to_9_5")
    event["metadata"].update(root_account_id=account, **metadata)
    return json.dumps(event).encode()


@pytest.mark.parametrize(
    "raw",
    [
        _from_root_account("20000000000001"),  # local id 1 of shard 2
        _from_root_account("21070000000000001"),
        # A local id in the event: its shard comes from the other ids, and must match too.
        _from_root_account("1", context_id="20000000000456", user_id="20000000000789"),
        _from_root_account("1", context_id="456", user_id="789"),  # no shard at all
    ],
)
async def test_the_same_local_id_on_another_shard_is_another_root_account(raw: bytes) -> None:
    log = FakeEventLog()
    policy = IngestPolicy(root_account=root_account("10000000000001"))
    with pytest.raises(Refusal) as refused:
        await ingest(raw, None, JsonDecoder(), log, policy)
    assert (status_of(refused.value.code), refused.value.code) == (403, "WRONG_ROOT_ACCOUNT")


async def test_a_local_root_account_id_with_its_shard_beside_it_is_accepted() -> None:
    policy = IngestPolicy(root_account=root_account("1~1"))
    raw = _from_root_account("1", context_id="10000000000456")
    assert (await ingest(raw, None, JsonDecoder(), FakeEventLog(), policy)).duplicate_of is None


async def test_without_a_root_account_signed_events_are_all_refused_and_logged() -> None:
    log = FakeEventLog()
    policy = IngestPolicy(root_account=None, root_account_required=True)
    with pytest.raises(Refusal) as refused:
        await ingest(
            json.dumps(sample("grade_change_8_to_9_5")).encode(),
            "10.0.0.9",
            JsonDecoder(),
            log,
            policy,
        )
    assert (status_of(refused.value.code), refused.value.code) == (
        403,
        "ROOT_ACCOUNT_NOT_CONFIGURED",
    )
    assert "GPB_CANVAS_ROOT_ACCOUNT_ID" in refused.value.message
    (entry,) = log.events.values()
    assert entry.status is EventStatus.REJECTED
    assert entry.error is not None and entry.error["code"] == "ROOT_ACCOUNT_NOT_CONFIGURED"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_body_refused_before_its_signature_is_checked_keeps_a_short_prefix() -> None:
    log = FakeEventLog()
    with pytest.raises(Refusal):
        await ingest(b"x" * 16_384, "10.0.0.3", RefusingDecoder(), log, OPEN)
    (entry,) = log.events.values()
    assert entry.raw == "x" * UNAUTHENTICATED_KEEP_BYTES


async def test_refusals_past_an_addresss_share_are_counted_in_one_entry() -> None:
    log = FakeEventLog()
    clock = Clock()
    policy = IngestPolicy(root_account=None, refusals_logged=PerAddressLimit(3, clock=clock))
    for _ in range(10):
        with pytest.raises(Refusal):
            await ingest(b"forged", "10.0.0.4", RefusingDecoder(), log, policy)
    with pytest.raises(Refusal):
        await ingest(b"forged", "10.0.0.5", RefusingDecoder(), log, policy)  # its own share
    assert [e.source_ip for e in log.events.values()] == ["10.0.0.4"] * 3 + ["10.0.0.5"]
    clock.now += 60
    with pytest.raises(Refusal):
        await ingest(b"forged", "10.0.0.4", RefusingDecoder(), log, policy)
    *_, summary, latest = log.events.values()
    assert summary.error is not None and summary.error["code"] == "REFUSALS_NOT_LOGGED"
    assert summary.error["message"].startswith("7 more deliveries from this address")
    assert summary.source_ip == "10.0.0.4"
    assert latest.error == {"code": "BAD_SIGNATURE", "message": "the signature does not verify"}


def test_the_per_address_count_holds_a_bounded_number_of_addresses() -> None:
    clock = Clock()
    limit = PerAddressLimit(1, clock=clock, max_addresses=100)
    for n in range(1000):
        limit.hit(f"10.1.{n // 256}.{n % 256}")
    assert len(limit._windows) <= 101  # the newcomers share one bucket
    assert limit.hit("10.9.9.9") == (False, None)  # that bucket is over its share
    clock.now += 60
    assert limit.hit("10.9.9.9")[0] is True  # ended windows are dropped for new addresses


def test_blocked_for_says_the_seconds_left_in_the_window() -> None:
    clock = Clock()
    limit = PerAddressLimit(2, clock=clock)
    limit.hit("10.0.0.6")
    assert limit.blocked_for("10.0.0.6") == 0
    limit.hit("10.0.0.6")
    clock.now += 20.5
    assert limit.blocked_for("10.0.0.6") == 40
    assert limit.blocked_for("10.0.0.7") == 0
