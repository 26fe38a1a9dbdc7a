"""Purging old events: what is still needed stays, the rest goes by date, a batch per write."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from canvas_events import sample

from gpb.cli import main as gpb_cli
from gpb.handlers.envelope import canonical_json
from gpb.handlers.timefmt import format_time
from gpb.infra.store.database import Connection
from gpb.infra.store.retention import SqlRetention
from gpb.infra.store.store import SqlStore

OLD = datetime(2024, 1, 10, tzinfo=UTC)
CUTOFF = datetime(2025, 1, 1, tzinfo=UTC)
RECENT = datetime(2025, 3, 1, tzinfo=UTC)


class Log:
    """Rows written straight into the events table, oldest first, as the single writer would."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    async def add(
        self,
        received: datetime,
        status: str,
        *,
        duplicate_of: str | None = None,
        retry_at: datetime | None = None,
    ) -> str:
        def write(conn: Connection) -> str:
            cursor = conn.execute(
                "INSERT INTO events (received_at, status, duplicate_of, next_attempt_at)"
                " VALUES (?, ?, ?, ?) RETURNING id",
                (
                    format_time(received),
                    status,
                    int(duplicate_of) if duplicate_of else None,
                    format_time(retry_at) if retry_at else None,
                ),
            )
            return str(cursor.fetchone()[0])

        return await self.store.db.write(write)

    async def ids(self) -> set[str]:
        def read(conn: Connection) -> set[str]:
            return {str(row[0]) for row in conn.execute("SELECT id FROM events")}

        return await self.store.db.read(read)


async def test_purge_keeps_what_is_still_needed_and_removes_the_rest(store: SqlStore) -> None:
    log = Log(store)
    processed = await log.add(OLD, "processed")
    ignored = await log.add(OLD, "ignored")
    rejected = await log.add(OLD, "rejected")
    gave_up = await log.add(OLD, "failed")  # attempts spent: nothing more will happen to it
    waiting = await log.add(OLD, "accepted")
    retrying = await log.add(OLD, "failed", retry_at=RECENT)
    first_of_old_twin = await log.add(OLD, "processed")
    first_of_new_twin = await log.add(OLD, "processed")
    old_twin = await log.add(OLD, "duplicate", duplicate_of=first_of_old_twin)
    twin_of_waiting = await log.add(OLD, "duplicate", duplicate_of=waiting)
    recent = await log.add(RECENT, "processed")
    new_twin = await log.add(RECENT, "duplicate", duplicate_of=first_of_new_twin)

    result = await SqlRetention(store.db, batch_size=2).purge_events(CUTOFF)

    kept = {waiting, retrying, first_of_new_twin, recent, new_twin}
    purged = {
        processed,
        ignored,
        rejected,
        gave_up,
        first_of_old_twin,
        old_twin,
        twin_of_waiting,
    }
    assert await log.ids() == kept
    assert result.purged == len(purged)
    assert result.kept == 3  # the waiting, the retrying, and the first copy of a newer twin

    def foreign_key_problems(conn: Connection) -> list[Any]:
        return conn.execute(
            "SELECT d.id FROM events d WHERE d.duplicate_of IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM events f WHERE f.id = d.duplicate_of)"
        ).fetchall()

    assert await store.db.read(foreign_key_problems) == []


async def test_each_batch_is_its_own_short_write(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = Log(store)
    for _ in range(7):
        await log.add(OLD, "processed")
    deleted_per_write: list[int] = []
    write = store.db.write

    async def counting(fn: Callable[[Connection], Any]) -> Any:
        result = await write(fn)
        deleted_per_write.append(result)
        return result

    monkeypatch.setattr(store.db, "write", counting)
    result = await SqlRetention(store.db, batch_size=3).purge_events(CUTOFF)
    assert result.purged == 7
    assert deleted_per_write == [3, 3, 1, 0]


async def test_nothing_received_after_the_cutoff_is_purged(store: SqlStore) -> None:
    log = Log(store)
    ids = {await log.add(RECENT, "processed") for _ in range(3)}
    result = await store.retention.purge_events(CUTOFF)
    assert (result.purged, result.kept) == (0, 0)
    assert await log.ids() == ids


async def test_the_command_purges_by_date_and_says_how_many(
    store: SqlStore,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = Log(store)
    await log.add(OLD, "processed")
    waiting = await log.add(OLD, "accepted")
    recent = await log.add(RECENT, "processed")
    monkeypatch.setenv("GPB_DATABASE_URL", store.db.url)

    async def purge(before: str) -> int:
        return await asyncio.to_thread(gpb_cli, ["events", "purge", "--before", before])

    assert await purge("2025-01-01") == 0
    out = capsys.readouterr().out
    assert "purged 1 events received before 2025-01-01T00:00:00.000Z; kept 1" in out
    assert await log.ids() == {waiting, recent}
    assert await purge("someday") == 2


async def test_refused_deliveries_go_at_their_own_sooner_cutoff(store: SqlStore) -> None:
    log = Log(store)
    old_refusal = await log.add(OLD, "rejected")
    old_processed = await log.add(OLD, "processed")
    recent_refusal = await log.add(RECENT, "rejected")
    purged = await SqlRetention(store.db, batch_size=1).purge_rejected(CUTOFF)
    assert purged == 1
    assert await log.ids() == {old_processed, recent_refusal}
    assert old_refusal not in await log.ids()


async def test_request_fields_are_removed_from_old_events_only_once(store: SqlStore) -> None:
    event = sample("grade_change_8_to_9_5")
    event["metadata"].update(
        user_login="teacher@district.org",
        client_ip="203.0.113.9",
        user_agent="Mozilla/5.0",
        session_id="abc123",
    )

    def add(received: datetime, status: str = "processed") -> Callable[[Connection], str]:
        def write(conn: Connection) -> str:
            cursor = conn.execute(
                "INSERT INTO events (received_at, status, payload) VALUES (?, ?, ?) RETURNING id",
                (format_time(received), status, canonical_json(event)),
            )
            return str(cursor.fetchone()[0])

        return write

    old, recent = await store.db.write(add(OLD)), await store.db.write(add(RECENT))
    # An old event still waiting for its handler (the worker was down) is not kept whole either.
    old_waiting = await store.db.write(add(OLD, "accepted"))
    retention = SqlRetention(store.db, batch_size=1)
    assert await retention.remove_request_fields(CUTOFF) == 2
    assert await retention.remove_request_fields(CUTOFF) == 0  # marked done: not read again
    kept = await store.events.get(recent)
    assert kept is not None and kept.payload is not None
    for scrubbed_id in (old, old_waiting):
        scrubbed = await store.events.get(scrubbed_id)
        assert scrubbed is not None and scrubbed.payload is not None
        for name in ("user_login", "client_ip", "user_agent", "session_id"):
            assert name not in scrubbed.payload["metadata"]
            assert name in kept.payload["metadata"]
        assert scrubbed.payload["metadata"]["event_name"] == "grade_change"
        assert scrubbed.payload["body"] == event["body"]
