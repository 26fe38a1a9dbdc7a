from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from gpb.handlers.timefmt import format_time, parse_time

moments = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7)), timezone(timedelta(hours=5))]),
)


def test_the_stored_form_is_utc_with_microseconds_and_a_z() -> None:
    moment = datetime(2024, 10, 22, 11, 31, 18, 7000, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(moment) == "2024-10-22T09:31:18.007000Z"
    assert format_time(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2024-01-02T03:04:05.000000Z"
    assert format_time(datetime(999, 1, 2, tzinfo=UTC)) == "0999-01-02T00:00:00.000000Z"


@given(moments)
def test_the_stored_form_reads_back_as_the_same_moment(moment: datetime) -> None:
    text = format_time(moment)
    assert len(text) == len("2024-10-22T09:31:18.007000Z")
    assert parse_time(text) == moment


@given(moments, moments)
def test_text_order_is_time_order(first: datetime, second: datetime) -> None:
    assert (format_time(first) < format_time(second)) == (first < second)
