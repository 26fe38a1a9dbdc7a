import asyncio
import gc
from pathlib import Path

from running_gpb import gpb_settings

from gpb.bootstrap import reconciling, running, worker_lanes
from gpb.handlers.worker import WORKER_LANES
from gpb.infra.garbage_collector import YOUNG_THRESHOLD


async def test_gpb_serves_with_the_collector_tuned_and_restores_it_when_it_stops(
    tmp_path: Path,
) -> None:
    before = gc.get_threshold()
    async with running(gpb_settings(tmp_path, "http://127.0.0.1:9/jwks", events_auth="none")):
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before


def test_on_postgresql_the_worker_leaves_half_the_pool_to_deliveries(tmp_path: Path) -> None:
    def lanes(database_url: str, **pool: int) -> int:
        return worker_lanes(
            gpb_settings(tmp_path, "http://127.0.0.1:9/", database_url=database_url, **pool)
        )

    postgres = "postgresql://gpb@127.0.0.1:5432/gpb"
    assert lanes(postgres) == 5  # the default pool of 10
    assert lanes(postgres, database_pool_size=2) == 1
    assert lanes(postgres, database_pool_size=40) == WORKER_LANES
    assert lanes(f"sqlite:///{tmp_path / 'gpb.db'}") == WORKER_LANES


def _gpb_tasks() -> set[str]:
    return {t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("gpb-")}


SERVING_TASKS = {
    "gpb-worker",
    "gpb-notices",
    "gpb-syncs",
    "gpb-auto-syncs",
    "gpb-retention",
    "gpb-admin-notices",
    "gpb-health",
}


async def test_serving_runs_the_background_tasks_and_a_reconcile_runs_none(
    tmp_path: Path,
) -> None:
    settings = gpb_settings(tmp_path, "http://127.0.0.1:9/jwks", events_auth="none")
    # Replicas on PostgreSQL also listen for the alerts raised by the others.
    serving = SERVING_TASKS | ({"gpb-alerts-listen"} if settings.is_postgres else set())
    async with running(settings):
        assert _gpb_tasks() == serving | {"gpb-reconcile"}
    assert _gpb_tasks() == set()
    async with running(settings.model_copy(update={"reconcile_at": "off"})):
        assert _gpb_tasks() == serving
    async with reconciling(settings) as reconciler:
        assert _gpb_tasks() == set()
        assert await reconciler.run("command", []) == []
