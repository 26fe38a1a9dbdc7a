"""Fixtures for the sandbox tests: the sandbox served on loopback, and clients for its two sides."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey

from gpb.infra.sandbox.keys import new_signing_key
from gpb.infra.sandbox.server import RunningSandbox, run_sandbox
from gpb.infra.sandbox.settings import SandboxSettings


@pytest.fixture(scope="session")
def signing_key() -> RSAKey:
    return new_signing_key()


@pytest.fixture
async def sandbox(signing_key: RSAKey) -> AsyncIterator[RunningSandbox]:
    async with run_sandbox(settings=SandboxSettings(signing_key=signing_key)) as running:
        yield running


@pytest.fixture
async def canvas(sandbox: RunningSandbox) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the Canvas stand-in, base URL at `/api/v1`, with the right token."""
    headers = {"Authorization": f"Bearer {sandbox.settings.canvas_token}"}
    async with httpx.AsyncClient(base_url=sandbox.canvas_url, headers=headers) as client:
        yield client


async def fetch_token(client: httpx.AsyncClient, sandbox: RunningSandbox) -> str:
    settings = sandbox.settings
    answer = await client.post(
        sandbox.token_url,
        auth=(settings.sis_client_id, settings.sis_client_secret),
        data={"grant_type": "client_credentials"},
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


@pytest.fixture
async def sis(sandbox: RunningSandbox) -> AsyncIterator[httpx.AsyncClient]:
    """A OneRoster client, base URL at `/ims/oneroster`, with a token and the vendor key."""
    async with httpx.AsyncClient(base_url=sandbox.sis_url) as client:
        token = await fetch_token(client, sandbox)
        client.headers["Authorization"] = f"Bearer {token}"
        client.headers["x-vendor-authorization"] = sandbox.settings.sis_vendor_authorization
        yield client


@pytest.fixture
async def control(sandbox: RunningSandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox.base_url + "/_sandbox") as client:
        yield client


Body = Callable[..., dict[str, Any]]


def line_item_body(root: str, **changes: Any) -> dict[str, Any]:
    """The line item example of oneroster-ic.md, `{root}` filled in."""
    item = {
        "sourcedId": "canvas-a123-s7",
        "status": "active",
        "dateLastModified": "2024-10-21T13:10:00Z",
        "title": "Homework 3.2",
        "assignDate": "2024-10-07T05:00:00Z",
        "dueDate": "2024-10-18T04:59:59Z",
        "class": {
            "href": f"{root}/rostering/v1p2/classes/SEC-7",
            "sourcedId": "SEC-7",
            "type": "class",
        },
        "school": {
            "href": f"{root}/rostering/v1p2/schools/SCH-1",
            "sourcedId": "SCH-1",
            "type": "org",
        },
        "category": {
            "href": f"{root}/gradebook/v1p2/categories/CAT-3",
            "sourcedId": "CAT-3",
            "type": "category",
        },
        "resultValueMin": 0,
        "resultValueMax": 10,
    }
    item.update(changes)
    return {"lineItem": item}


def result_body(root: str, **changes: Any) -> dict[str, Any]:
    """The result example of oneroster-ic.md, `{root}` filled in."""
    result = {
        "sourcedId": "canvas-a123-s7-u1201",
        "status": "active",
        "dateLastModified": "2024-10-21T13:10:00Z",
        "lineItem": {
            "href": f"{root}/gradebook/v1p2/lineItems/canvas-a123-s7",
            "sourcedId": "canvas-a123-s7",
            "type": "lineItem",
        },
        "student": {
            "href": f"{root}/rostering/v1p2/users/S-102938",
            "sourcedId": "S-102938",
            "type": "user",
        },
        "scoreStatus": "fully graded",
        "score": 9.5,
        "scoreDate": "2024-10-21",
        "late": "false",
        "missing": "false",
    }
    result.update(changes)
    return {"result": result}


@pytest.fixture
def line_item(sandbox: RunningSandbox) -> Body:
    """Makes the example line item body, with changes to its fields."""
    return lambda **changes: line_item_body(sandbox.sis_url, **changes)


@pytest.fixture
def result(sandbox: RunningSandbox) -> Body:
    """Makes the example result body, with changes to its fields."""
    return lambda **changes: result_body(sandbox.sis_url, **changes)
