"""Canvas ids: global (shard x 10^13 + local) to local, the form gpb stores and shows."""

from __future__ import annotations

SHARD_FACTOR = 10**13
# Canvas ids, and the ids of gpb's own records, are 64-bit signed integers (SQLite's INTEGER).
MAX_ID = 2**63 - 1
MAX_ID_DIGITS = len(str(MAX_ID))


def _digits(text: str) -> int | None:
    """The number ASCII digits spell, when it fits in MAX_ID. `str.isdigit` alone also takes "²"
    (which int() refuses) and "١٢" (which int() reads as 12)."""
    if not (text.isascii() and text.isdigit()):
        return None
    if len(text.lstrip("0")) > MAX_ID_DIGITS:  # int() refuses more than 4,300 digits outright
        return None
    number = int(text)
    return number if number <= MAX_ID else None


def split_id(value: str | int) -> tuple[int | None, str]:
    """`"10000000000456"` -> `(1, "456")`; an id below 10^13 is local already: `(None, "456")`.

    Raises ValueError for anything that is not a non-negative 64-bit integer.
    """
    text = str(value).strip()
    number = _digits(text)
    if number is None:
        raise ValueError(f"not a Canvas id: {text[:40]!r}")
    shard, local = divmod(number, SHARD_FACTOR)
    return (shard or None, str(local))


def local_id(value: str | int) -> str:
    return split_id(value)[1]


def local_id_or_none(value: object) -> str | None:
    """The local id of a JSON value, or None when it is absent or not an id."""
    if value is None or isinstance(value, bool) or not isinstance(value, str | int):
        return None
    try:
        return local_id(value)
    except ValueError:
        return None


def record_id(value: str) -> int | None:
    """The id of one of gpb's own records (an event, a sync run) as a path or query gives it;
    None when it cannot be one, so a made-up id is "not found" rather than a database error."""
    return _digits(value)
