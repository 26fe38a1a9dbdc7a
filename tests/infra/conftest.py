from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from databases import database_url

from gpb.infra.store.store import SqlStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    """A migrated, started store on a fresh database (SQLite, or PostgreSQL: see databases.py)."""
    store = SqlStore(database_url(tmp_path))
    store.migrate()
    store.start()
    yield store
    await store.close()
