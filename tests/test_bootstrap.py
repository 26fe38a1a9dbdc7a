import gc
from pathlib import Path

from running_gpb import gpb_settings

from gpb.bootstrap import running
from gpb.infra.garbage_collector import YOUNG_THRESHOLD


async def test_gpb_serves_with_the_collector_tuned_and_restores_it_when_it_stops(
    tmp_path: Path,
) -> None:
    before = gc.get_threshold()
    async with running(gpb_settings(tmp_path, "http://127.0.0.1:9/jwks", events_auth="none")):
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
