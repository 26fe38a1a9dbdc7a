"""The reliability tests run short by default (CI); GPB_RELIABILITY_LONG=1 runs them long: more
events, more crashes, more fuzzing examples (hypothesis profile `reliability-long`)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import event_stream
import httpx
import pytest
from hypothesis import settings
from running_gpb import ADMIN_TOKEN, SandboxedGpb, auth, sandboxed_gpb_in_thread

SEED = 5
LONG = os.environ.get("GPB_RELIABILITY_LONG") == "1"

settings.register_profile("reliability", max_examples=150, deadline=None)
settings.register_profile("reliability-long", max_examples=3000, deadline=None)
settings.load_profile("reliability-long" if LONG else "reliability")


@pytest.fixture(scope="session")
def long_run() -> bool:
    return LONG


@pytest.fixture(scope="session")
def served_gpb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxedGpb]:
    """One gpb with its sandbox, served from a thread for the blocking clients of hypothesis and
    schemathesis, with a course, grades and a sync run to find; launch from the sandbox's Canvas
    is on, so that the launch routes meet bad input with their checks, not as LTI_OFF."""
    with sandboxed_gpb_in_thread(tmp_path_factory.mktemp("served"), lti=True) as env:
        with httpx.Client(base_url=str(env.client.base_url), headers=auth(ADMIN_TOKEN)) as client:
            for payload in event_stream.events(SEED, 40):
                answer = client.post("/events/canvas", content=env.sandbox.sign_event(payload))
                assert answer.status_code == 202, answer.text
            run = client.post("/api/courses/456/syncs", json={"kind": "sync", "dry_run": True})
            assert run.status_code == 202, run.text
        yield env
