"""Canvas ids: global (shard x 10^13 + local) to local, the form gpb stores and shows."""

from __future__ import annotations

SHARD_FACTOR = 10**13


def split_id(value: str | int) -> tuple[int | None, str]:
    """`"10000000000456"` -> `(1, "456")`; an id below 10^13 is local already: `(None, "456")`.

    Raises ValueError for anything that is not a non-negative integer.
    """
    text = str(value).strip()
    if not text.isdigit():
        raise ValueError(f"not a Canvas id: {text[:40]!r}")
    shard, local = divmod(int(text), SHARD_FACTOR)
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
