from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gpb.infra.sqlite.store import SqliteStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """A migrated, started SQLite store in a fresh folder."""
    store = SqliteStore(str(tmp_path / "gpb.db"))
    store.migrate()
    store.start()
    yield store
    await store.close()
