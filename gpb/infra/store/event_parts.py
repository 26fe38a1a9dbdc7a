"""The two parts of the event log, as its indexes see it.

An event is stored as 'accepted', waiting for the worker, and is filed under its final status once
handled. The admin filters' indexes (by course, event name, status, and each pair) hold only the
filed events, so storing an event on the request's path updates none of them; events_waiting holds
the waiting ones, the worker's backlog, few at any time. A query that filters on those columns
reads the part its status lies in, or each part in turn.

SQLite uses a partial index only for a query whose WHERE states the index's condition word for
word: to SQLite, `status = 'failed'` does not imply `status <> 'accepted'`, nor does `status = ?`
bound to 'accepted' imply `status = 'accepted'`. Without the term, such a query scans the log.
"""

from __future__ import annotations

from gpb.handlers.eventlog import EventStatus

FILED = "status <> 'accepted'"
WAITING = "status = 'accepted'"


def part_of(status: EventStatus) -> str:
    """The term that names the part of the log holding the events of `status`."""
    return WAITING if status is EventStatus.ACCEPTED else FILED
