"""The pieces of the pages that are plain functions: where a login may lead, the event-log filters
in the district's zone, the event chart's layout, and the course tabs' placeholders."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gpb.handlers.eventlog import BucketCount, EventStatus
from gpb.listener.pages.admin import api_filters
from gpb.listener.pages.charts import HEIGHT, build_chart, window_start
from gpb.listener.pages.courses import course_tabs
from gpb.listener.pages.login import safe_next

CHICAGO = ZoneInfo("America/Chicago")


@pytest.mark.parametrize(
    ("asked", "goes_to"),
    [
        (None, "/"),
        ("/courses/456?x=1", "/courses/456?x=1"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("courses/456", "/"),
    ],
)
def test_a_login_leads_only_to_a_page_of_this_site(asked: str | None, goes_to: str) -> None:
    assert safe_next(asked) == goes_to


def test_filters_typed_in_the_district_zone_reach_the_api_in_utc() -> None:
    form = {
        "course_id": " 456 ",
        "event_name": "",
        "status": "failed",
        "since": "2026-01-15T08:30",  # CST, UTC-6
        "until": "2026-07-15T08:30",  # CDT, UTC-5
    }
    assert api_filters(form, CHICAGO) == {
        "course_id": "456",
        "status": "failed",
        "since": "2026-01-15T14:30:00.000Z",
        "until": "2026-07-15T13:30:00.000Z",
    }
    # what is not a time goes on unchanged, for the API's own message
    assert api_filters({"since": "yesterday"}, CHICAGO) == {"since": "yesterday"}


def test_the_chart_stacks_each_bucket_and_totals_the_window() -> None:
    now = datetime(2026, 3, 2, 9, 41, 30, tzinfo=UTC)
    start = window_start(now, "minute", 60)
    assert start == datetime(2026, 3, 2, 8, 42, tzinfo=UTC)
    counts = [
        BucketCount(datetime(2026, 3, 2, 9, 40, tzinfo=UTC), EventStatus.PROCESSED, 3),
        BucketCount(datetime(2026, 3, 2, 9, 40, tzinfo=UTC), EventStatus.FAILED, 1),
        BucketCount(datetime(2026, 3, 2, 9, 41, tzinfo=UTC), EventStatus.PROCESSED, 2),
        BucketCount(datetime(2026, 3, 2, 8, 0, tzinfo=UTC), EventStatus.PROCESSED, 9),  # before
    ]
    chart = build_chart("Per minute", counts, start=start, bucket="minute", buckets=60, zone=UTC)
    assert len(chart.bars) == 60 and chart.peak == 4
    busiest = chart.bars[58]
    assert busiest.label == "09:40" and busiest.total == 4
    processed, failed = busiest.segments
    assert (processed.status, processed.height, processed.y) == ("processed", 75.0, 25.0)
    assert (failed.status, failed.height, failed.y) == ("failed", 25.0, 0.0)
    assert chart.bars[59].segments[0].height == HEIGHT / 2
    assert chart.totals == (("processed", 5), ("failed", 1))
    assert chart.summary == "Per minute: 6 events (5 processed, 1 failed)"
    assert busiest.description == "09:40: 4 events (3 processed, 1 failed)"


def test_an_empty_chart_has_bars_of_nothing() -> None:
    now = datetime(2026, 3, 2, 9, 41, tzinfo=UTC)
    chart = build_chart(
        "Per hour", [], start=window_start(now, "hour", 24), bucket="hour", buckets=24, zone=UTC
    )
    assert chart.peak == 0 and chart.total == 0
    assert all(bar.segments == () for bar in chart.bars)
    assert chart.bars[-1].label == "Mon 09:00"


def _request(*route_names: str) -> Request:
    async def endpoint(request: Request) -> Response:
        return Response()

    routes = [Route(f"/courses/{{course_id}}/{name}", endpoint, name=name) for name in route_names]
    app = Starlette(routes=[Route("/courses/{course_id}", endpoint, name="course"), *routes])
    return Request({"type": "http", "app": app, "router": app.router})


def test_course_tabs_appear_once_their_routes_exist() -> None:
    tabs = course_tabs(_request(), "456", "course")
    assert [(t.label, t.url, t.current) for t in tabs] == [("Assignments", "/courses/456", True)]
    later = course_tabs(_request("course_pending", "course_history"), "456", "course_pending")
    assert [(t.label, t.url, t.current) for t in later] == [
        ("Assignments", "/courses/456", False),
        ("Pending", "/courses/456/course_pending", True),
        ("History", "/courses/456/course_history", False),
    ]
