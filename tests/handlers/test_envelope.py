from datetime import UTC, datetime
from typing import Any

import pytest
from canvas_events import canvas_examples, sample, variant

from gpb.handlers.envelope import InvalidEnvelope, content_hash, parse_canvas_time, parse_event


@pytest.mark.parametrize(
    ("name", "payload"), canvas_examples(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_instructure_example_is_accepted(name: str, payload: dict[str, Any]) -> None:
    event = parse_event(payload)
    assert event.event_name == payload["metadata"]["event_name"]
    assert event.event_time.tzinfo is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-10-22T09:31:18.007Z", datetime(2024, 10, 22, 9, 31, 18, 7000, tzinfo=UTC)),
        ("2019-11-05 07:38:00 -0800", datetime(2019, 11, 5, 15, 38, tzinfo=UTC)),
        ("2018-10-01T05:59:59Z", datetime(2018, 10, 1, 5, 59, 59, tzinfo=UTC)),
        ("2024-10-22T09:31:18+02:00", datetime(2024, 10, 22, 7, 31, 18, tzinfo=UTC)),
        ("2024-10-22T09:31:18", datetime(2024, 10, 22, 9, 31, 18, tzinfo=UTC)),
    ],
)
def test_canvas_times(text: str, expected: datetime) -> None:
    assert parse_canvas_time(text) == expected


def test_ids_are_filed_in_local_form_with_the_shard() -> None:
    event = parse_event(sample("grade_change_8_to_9_5"))
    assert (event.course_id, event.user_id, event.shard) == ("456", "789", 1)
    assert event.root_account_id == "1"


def test_integer_ids_are_accepted() -> None:
    payload = sample("assignment_created")
    payload["metadata"]["context_id"] = 10000000000456
    payload["metadata"]["user_id"] = 10000000000789
    event = parse_event(payload)
    assert (event.course_id, event.user_id) == ("456", "789")


def test_course_comes_from_the_body_when_the_context_is_not_a_course() -> None:
    payload = sample("assignment_created")
    payload["metadata"]["context_type"] = "Account"
    payload["metadata"]["context_id"] = "10000000000022"
    assert parse_event(payload).course_id == "456"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"body": {}}, "metadata"),
        ({"metadata": {"event_time": "2024-10-22T09:31:18Z"}}, "event_name"),
        ({"metadata": {"event_name": "grade_change"}}, "event_time"),
        ({"metadata": {"event_name": "x", "event_time": "yesterday"}}, "event_time"),
        (
            {"metadata": {"event_name": "x", "event_time": "2024-10-22T09:31:18Z"}, "body": [1]},
            "body",
        ),
        ({"metadata": {"event_name": 5, "event_time": "2024-10-22T09:31:18Z"}}, "event_name"),
        ([1, 2], "JSON object"),
        # Before the first datetime once in UTC; a lone surrogate no UTF-8 text can hold.
        ({"metadata": {"event_name": "x", "event_time": "0001-01-01T00:00:00+01:00"}}, "hold"),
        (
            {
                "metadata": {"event_name": "x", "event_time": "2024-10-22T09:31:18Z"},
                "body": {"t": "\ud800"},
            },
            "surrogate",
        ),
    ],
)
def test_invalid_envelopes_say_why(claims: Any, reason: str) -> None:
    with pytest.raises(InvalidEnvelope, match=reason):
        parse_event(claims)


def test_hash_ignores_jwt_claims_and_key_order_but_not_content() -> None:
    event = sample("grade_change_8_to_9_5")
    resigned = {
        "exp": 1,
        "iat": 2,
        "body": dict(reversed(event["body"].items())),
        "metadata": event["metadata"],
    }
    assert content_hash(resigned) == content_hash(event)
    assert content_hash(variant(event, score=9.0)) != content_hash(event)
