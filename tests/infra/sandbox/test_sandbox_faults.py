"""Fault injection over real HTTP: rates, scripts, drops, after-apply failures, in-flight counts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from running_gpb import until_held

from gpb.infra.sandbox.faults import FaultConfig
from gpb.infra.sandbox.server import RunningSandbox

Body = Callable[..., dict[str, Any]]
CLASS = "/rostering/v1p2/classes/SEC-7"


async def statuses(sis: httpx.AsyncClient, count: int) -> list[int]:
    return [(await sis.get(CLASS)).status_code for _ in range(count)]


async def test_fault_rates_are_honoured_and_reproducible(
    sandbox: RunningSandbox, sis: httpx.AsyncClient
) -> None:
    config = FaultConfig(rates={"server_error": 0.3, "rate_limit": 0.1}, seed=7)
    sandbox.state.sis_faults.configure(config)
    first = await statuses(sis, 300)
    assert 60 <= first.count(500) <= 120
    assert 15 <= first.count(429) <= 45
    assert first.count(200) == 300 - first.count(500) - first.count(429)
    sandbox.state.sis_faults.configure(config)
    assert await statuses(sis, 300) == first
    report = sandbox.state.sis_faults.report()
    assert report["requests"] == 300 and report["injected"]["server_error"] == first.count(500)


async def test_busy_answers_carry_retry_after_some_of_the_time(
    sandbox: RunningSandbox, sis: httpx.AsyncClient
) -> None:
    sandbox.state.sis_faults.configure(
        FaultConfig(rates={"rate_limit": 1.0}, retry_after_seconds=2, seed=3)
    )
    answers = [await sis.get(CLASS) for _ in range(40)]
    assert {a.status_code for a in answers} == {429}
    body = answers[0].json()
    assert body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == (
        "server_busy"
    )
    retry_after = [a.headers.get("Retry-After") for a in answers]
    assert "2" in retry_after and None in retry_after


async def test_scripted_faults_come_first_and_in_order(
    sandbox: RunningSandbox, sis: httpx.AsyncClient
) -> None:
    sandbox.state.sis_faults.configure(FaultConfig(script=["rate_limit", "server_error"]))
    assert await statuses(sis, 3) == [429, 500, 200]


async def test_a_dropped_connection_is_a_transport_error(
    sandbox: RunningSandbox, sis: httpx.AsyncClient
) -> None:
    sandbox.state.sis_faults.configure(FaultConfig(script=["drop"]))
    with pytest.raises(httpx.RemoteProtocolError):
        await sis.get(CLASS)
    assert (await sis.get(CLASS)).status_code == 200


async def test_faults_hit_only_the_chosen_methods(
    sandbox: RunningSandbox, sis: httpx.AsyncClient, line_item: Body
) -> None:
    sandbox.state.sis_faults.configure(
        FaultConfig(rates={"server_error": 1.0}, methods=["PUT", "DELETE"])
    )
    assert (await sis.get(CLASS)).status_code == 200
    body = line_item()
    assert (await sis.put("/gradebook/v1p2/lineItems/canvas-a123-s7", json=body)).status_code == 500
    assert sandbox.state.ic.line_items == {}


async def test_an_error_after_apply_stores_the_write_and_answers_500(
    sandbox: RunningSandbox, sis: httpx.AsyncClient, line_item: Body, result: Body
) -> None:
    assert (
        await sis.put("/gradebook/v1p2/lineItems/canvas-a123-s7", json=line_item())
    ).status_code == 201
    sandbox.state.sis_faults.configure(FaultConfig(script=["error_after_apply"]))
    path = "/gradebook/v1p2/results/canvas-a123-s7-u1201"
    failed = await sis.put(path, json=result())
    assert failed.status_code == 500
    assert "canvas-a123-s7-u1201" in sandbox.state.ic.results
    last = sandbox.state.ic.writes[-1]
    assert (last.status, last.applied, last.fault) == (201, True, "error_after_apply")
    assert (await sis.put(path, json=result())).status_code == 200


async def test_a_drop_after_apply_stores_the_write_and_loses_the_answer(
    sandbox: RunningSandbox, sis: httpx.AsyncClient, line_item: Body
) -> None:
    sandbox.state.sis_faults.configure(FaultConfig(script=["drop_after_apply"]))
    with pytest.raises(httpx.RemoteProtocolError):
        await sis.put("/gradebook/v1p2/lineItems/canvas-a123-s7", json=line_item())
    assert "canvas-a123-s7" in sandbox.state.ic.line_items
    assert sandbox.state.ic.writes[-1].fault == "drop_after_apply"


async def test_a_timeout_stalls_longer_than_the_client_waits(
    sandbox: RunningSandbox, sis: httpx.AsyncClient
) -> None:
    sandbox.state.sis_faults.configure(FaultConfig(script=["timeout"], timeout_seconds=5))
    with pytest.raises(httpx.ReadTimeout):
        await sis.get(CLASS, timeout=0.3)
    assert (await sis.get(CLASS)).status_code == 200


async def test_latency_is_added_to_every_request(
    sandbox: RunningSandbox, sis: httpx.AsyncClient
) -> None:
    sandbox.state.sis_faults.configure(FaultConfig(latency_seconds=0.2))
    started = time.perf_counter()
    await sis.get(CLASS)
    assert time.perf_counter() - started >= 0.2


async def test_held_requests_wait_until_released(
    sandbox: RunningSandbox, sis: httpx.AsyncClient, line_item: Body
) -> None:
    faults = sandbox.state.sis_faults
    faults.configure(FaultConfig(hold=True, methods=["PUT"]))
    path = "/gradebook/v1p2/lineItems/canvas-a123-s7"
    waiting = asyncio.create_task(sis.put(path, json=line_item()))
    await until_held(faults)
    assert faults.report()["held"] == 1
    assert (await sis.get(CLASS)).status_code == 200  # methods the config leaves out go by
    assert not waiting.done() and sandbox.state.ic.line_items == {}
    faults.configure(FaultConfig())
    assert (await waiting).status_code == 201
    assert "canvas-a123-s7" in sandbox.state.ic.line_items and faults.held == 0


async def test_requests_in_flight_are_counted(
    sandbox: RunningSandbox, sis: httpx.AsyncClient
) -> None:
    faults = sandbox.state.sis_faults
    faults.configure(FaultConfig(latency_seconds=0.1))
    await asyncio.gather(*(sis.get(CLASS) for _ in range(3)))
    for _ in range(3):
        await sis.get(CLASS)
    assert faults.max_in_flight == 3
    faults.configure(FaultConfig(latency_seconds=0.1))
    for _ in range(3):
        await sis.get(CLASS)
    assert faults.max_in_flight == 1 and faults.in_flight == 0


async def test_the_token_endpoint_is_left_alone(
    sandbox: RunningSandbox, sis: httpx.AsyncClient
) -> None:
    sandbox.state.sis_faults.configure(FaultConfig(rates={"server_error": 1.0}))
    settings = sandbox.settings
    answer = await sis.post(
        sandbox.token_url,
        auth=(settings.sis_client_id, settings.sis_client_secret),
        data={"grant_type": "client_credentials"},
    )
    assert answer.status_code == 200


async def test_faults_are_switched_through_the_control_api(
    sandbox: RunningSandbox, sis: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    switched = await control.post("/faults/sis", json={"script": ["server_error"], "seed": 1})
    assert switched.status_code == 200
    assert switched.json()["config"]["script"] == ["server_error"]
    assert (await sis.get(CLASS)).status_code == 500
    report = (await control.get("/faults")).json()
    assert report["sis"]["injected"] == {"server_error": 1}
    assert report["canvas"]["requests"] == 0
    too_much = await control.post("/faults/sis", json={"rates": {"drop": 0.7, "timeout": 0.5}})
    assert too_much.status_code == 422
    assert (await control.post("/faults/sis", json={})).json()["config"]["rates"] == {}
    assert (await control.post("/faults/nowhere", json={})).status_code == 404
