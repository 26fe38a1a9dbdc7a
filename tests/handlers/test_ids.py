import pytest

from gpb.handlers.ids import local_id, local_id_or_none, record_id, split_id


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10000000000456", (1, "456")),
        ("21070000000000565", (2107, "565")),
        (21070000000000565, (2107, "565")),
        ("456", (None, "456")),
        (7, (None, "7")),
        (" 123 ", (None, "123")),
    ],
)
def test_split_id(value: str | int, expected: tuple[int | None, str]) -> None:
    assert split_id(value) == expected


@pytest.mark.parametrize("value", ["", "abc", "-5", "1.5", "12e3", "²", "١٢", str(2**63)])
def test_split_id_refuses_what_is_not_an_id(value: str) -> None:
    with pytest.raises(ValueError):
        split_id(value)


def test_local_id_or_none_tolerates_junk() -> None:
    assert local_id("10000000000123") == "123"
    assert local_id_or_none(None) is None
    assert local_id_or_none(True) is None
    assert local_id_or_none({"id": 1}) is None
    assert local_id_or_none("x1") is None
    assert local_id_or_none(10000000000789) == "789"


def test_record_id_takes_ascii_digits_that_fit_in_64_bits() -> None:
    assert record_id("42") == 42
    assert record_id(str(2**63 - 1)) == 2**63 - 1
    for junk in ("", "x", "²", "١٢", str(2**63), " 1"):
        assert record_id(junk) is None
