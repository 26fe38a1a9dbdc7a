"""The cyclic garbage collector, tuned for a long-running server.

Every event gpb ingests allocates a few hundred containers (the decoded JSON, the envelope, the
request's objects); almost all of them are freed by reference counting the moment the request
ends. With CPython's default threshold a young collection runs every 700 allocations, every few
requests, and each older collection walks the whole heap of imported modules and schemas: together
about a sixth of ingest's CPU time (bench/ingest.py). So gpb, once started, freezes what it has
built (nothing started up is garbage later) and collects the young generation every 10,000
allocations instead: cyclic garbage waits a little longer, a few megabytes at most.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 10_000


@contextmanager
def tuned_for_serving() -> Iterator[None]:
    """While serving: start-up objects frozen, young collections rarer; restored after."""
    previous = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, previous[1], previous[2])
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()
