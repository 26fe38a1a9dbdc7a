"""The OneRoster 1.2 adapter for Infinite Campus: rostering reads, gradebook reads and writes.

reference/oneroster-ic.md is the source for every choice here: OAuth 2 client credentials, the
`x-vendor-authorization` partner key on gradebook calls, at most a few requests in flight, retries
with backoff for 429 and 5xx, and error bodies that vary from server to server. Every failure
leaves here as a `SisError`.
"""

from __future__ import annotations

import asyncio
import base64
import math
import random
import re
import time
from collections.abc import AsyncGenerator, Callable, Generator
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from prometheus_client import Counter

from gpb.handlers.backoff import RetryPolicy
from gpb.handlers.errors import (
    SisAuthFailed,
    SisBusy,
    SisError,
    SisNotConfigured,
    SisRejected,
    SisUnavailable,
)
from gpb.handlers.model import (
    IcCategory,
    IcClass,
    IcRecord,
    IcTerm,
    LineItem,
    RecordKind,
    Result,
)
from gpb.infra.http_retry import (
    HTTP_RETRY,
    HttpAdapter,
    RetryingTransport,
    RetryWhen,
    Sleep,
    redact,
    retrying_client,
)

ROSTERING = "rostering/v1p2"
GRADEBOOK = "gradebook/v1p2"
PAGE_SIZE = 100

# A token is renewed this long before IC says it expires, so no request carries one that lapses
# in flight.
TOKEN_REFRESH_MARGIN = 60.0

# What IC may answer to a PUT or DELETE that took effect (the spec lists 201/204; providers differ).
WRITE_OK = frozenset({200, 201, 204})

# Every HTTP exchange with IC, token requests and retries included: an admin sees IC refusing or
# timing out before the runs fail. By the class of IC's answer (`2xx`...), or `timeout` / `error`
# when no answer came.
SIS_CALLS = Counter("gpb_sis_calls", "HTTP calls to IC (OneRoster), by outcome", ["status"])

Json = dict[str, Any]


@dataclass(frozen=True)
class ImsxStatus:
    """What an error body says, read leniently: IC, the spec and other providers all differ."""

    descriptions: tuple[str, ...]
    code_minors: tuple[str, ...]
    text: str

    def summary(self) -> str:
        if self.descriptions:
            return "; ".join(self.descriptions)
        if self.code_minors:
            return ", ".join(self.code_minors)
        return self.text[:300] or "no details"


def parse_imsx(response: httpx.Response) -> ImsxStatus:
    """Reads `imsx_StatusInfo` at the root, an array of them or a `statusInfoSet`; else raw text."""
    try:
        data: Any = response.json()
    except ValueError:
        data = None
    descriptions: list[str] = []
    code_minors: list[str] = []
    for status in _status_infos(data):
        description = status.get("imsx_description")
        if isinstance(description, str) and description.strip():
            descriptions.append(description.strip())
        code_minor = status.get("imsx_CodeMinor") or status.get("imsx_codeMinor")
        if isinstance(code_minor, dict):
            fields = code_minor.get("imsx_codeMinorField")
            for field in fields if isinstance(fields, list) else [fields]:
                if isinstance(field, dict) and field.get("imsx_codeMinorFieldValue"):
                    code_minors.append(str(field["imsx_codeMinorFieldValue"]))
    return ImsxStatus(tuple(descriptions), tuple(code_minors), response.text.strip())


def _status_infos(data: Any) -> list[Json]:
    if isinstance(data, list):
        return [status for item in data for status in _status_infos(item)]
    if not isinstance(data, dict):
        return []
    return [data, *_status_infos(data.get("statusInfoSet"))]


# -- wire format --------------------------------------------------------------------------


def line_item_body(item: LineItem, base_url: str) -> Json:
    """The `PUT /lineItems/{sourcedId}` body (gradebook schema `SingleLineItemDType`)."""
    root = base_url.rstrip("/")
    body: Json = {
        "sourcedId": item.sourced_id,
        "status": "active",
        "dateLastModified": _utc_z(datetime.now(UTC)),
        "title": item.title,
        "assignDate": _with_offset(item.assign_date),
        "dueDate": _with_offset(item.due_date),
        "class": _ref(root, ROSTERING, "classes", item.class_id, "class"),
        "school": _ref(root, ROSTERING, "schools", item.school_id, "org"),
        "category": _ref(root, GRADEBOOK, "categories", item.category_id, "category"),
        "resultValueMin": 0.0,
    }
    if item.result_value_max is not None:
        body["resultValueMax"] = item.result_value_max
    if item.grading_period_id is not None:
        body["gradingPeriod"] = _ref(
            root, ROSTERING, "academicSessions", item.grading_period_id, "academicSession"
        )
    return {"lineItem": body}


def result_body(result: Result, base_url: str) -> Json:
    """The `PUT /results/{sourcedId}` body (gradebook schema `SingleResultDType`).

    `late` and `missing` are the strings "true"/"false": the schema types them as strings.
    """
    root = base_url.rstrip("/")
    body: Json = {
        "sourcedId": result.sourced_id,
        "status": "active",
        "dateLastModified": _utc_z(datetime.now(UTC)),
        "lineItem": _ref(root, GRADEBOOK, "lineItems", result.line_item_id, "lineItem"),
        "student": _ref(root, ROSTERING, "users", result.student_sis_id, "user"),
        "scoreStatus": result.score_status,
        "scoreDate": result.score_date.isoformat(),
        "late": _flag_text(result.late),
        "missing": _flag_text(result.missing),
    }
    if result.score is not None:
        body["score"] = result.score
    return {"result": body}


def _ref(root: str, service: str, collection: str, sourced_id: str, kind: str) -> Json:
    return {
        "href": f"{root}/{service}/{collection}/{_seg(sourced_id)}",
        "sourcedId": sourced_id,
        "type": kind,
    }


def _utc_z(value: datetime) -> str:
    if value.tzinfo is None:  # gpb's datetimes are UTC; a naive one is taken as such
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _with_offset(value: datetime) -> str:
    """An ISO 8601 date-time in the offset gpb gave it (the district's), so a reader that keeps
    only the date part gets the teacher's date; a naive one is taken as UTC."""
    if value.tzinfo is None or value.utcoffset() == timedelta(0):
        return _utc_z(value)
    return value.isoformat(timespec="seconds")


def _flag_text(value: bool) -> str:
    return "true" if value else "false"


def _seg(sourced_id: str) -> str:
    return quote(sourced_id, safe="")


# -- the client ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    value: str
    refresh_at: float  # on the client's clock


Describe = Callable[[httpx.Response], str]


class OneRosterAuth(httpx.Auth):
    """OAuth 2 client credentials, in httpx's auth flow: each request gets the cached access
    token, fetched from the token endpoint when missing or near expiry; a request IC refuses with
    401 (a token revoked or expired early) gets one new token and is sent once more, then IC's
    answer stands. Concurrent requests share one fetch. A token request that fails leaves as a
    `SisError`, its message cut of every credential by `describe`."""

    requires_response_body = True  # the token endpoint's JSON

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        describe: Describe,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token_url = token_url
        pair = f"{client_id}:{client_secret}".encode()
        self._basic = f"Basic {base64.b64encode(pair).decode()}"
        self._describe = describe
        self._clock = clock
        self._token: _Token | None = None
        self._lock = asyncio.Lock()

    @property
    def token(self) -> str | None:
        """The access token held now, for the messages that must never show it."""
        return self._token.value if self._token else None

    def token_request(self, timeout: dict[str, float | None] | None = None) -> httpx.Request:
        form = {"grant_type": "client_credentials"}
        extensions = {"timeout": timeout} if timeout is not None else {}
        request = httpx.Request("POST", self.token_url, data=form, extensions=extensions)
        request.headers["Authorization"] = self._basic
        return request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        refused: str | None = None  # the token IC answered 401 to
        for _ in range(2):
            token = self._usable(refused)
            if token is None:
                async with self._lock:  # the first caller fetches; the others wait for it
                    token = self._usable(refused)
                    if token is None:
                        fetch = self.token_request(request.extensions.get("timeout"))
                        token = self.accept((yield fetch))
            request.headers["Authorization"] = f"Bearer {token}"
            response = yield request
            if response.status_code != 401:
                return
            refused = token
            request = _resent(request)

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError("OneRosterAuth serves an httpx.AsyncClient only")

    def _usable(self, refused: str | None) -> str | None:
        token = self._token
        if token is None or token.value == refused or self._clock() >= token.refresh_at:
            return None
        return token.value

    def accept(self, response: httpx.Response) -> str:
        """Keeps the token of the token endpoint's answer; raises what it says instead."""
        what = "the token request"
        spent = _spent(response, what, self._describe)
        if spent is not None:
            raise spent
        if response.status_code != 200:
            raise SisAuthFailed(
                f"IC's token endpoint refused the client credentials "
                f"(HTTP {response.status_code}): {self._describe(response)}",
                status=response.status_code,
            )
        data = _json(response, "token")
        value = data.get("access_token")
        if not isinstance(value, str) or not value:
            raise SisAuthFailed("IC's token endpoint answered without an access_token")
        lifetime = _float(data.get("expires_in"))
        # Without expires_in the token is kept until IC refuses it (the 401 path renews it).
        refresh_at = (
            math.inf
            if lifetime is None
            else self._clock() + lifetime - min(TOKEN_REFRESH_MARGIN, lifetime / 2)
        )
        self._token = _Token(value, refresh_at)
        return value


def _resent(request: httpx.Request) -> httpx.Request:
    """A copy to send again, so that the first keeps the headers it went with."""
    return httpx.Request(
        request.method,
        request.url,
        headers=request.headers,
        content=request.content,
        extensions=request.extensions,
    )


class _CountedSlots(httpx.AsyncBaseTransport):
    """At most `slots` exchanges with IC in flight, each counted by its outcome (SIS_CALLS). A
    slot is held for one exchange, body included; the retries' sleeps happen above, without it."""

    def __init__(self, inner: httpx.AsyncBaseTransport, slots: int) -> None:
        self._inner = inner
        self._slots = asyncio.Semaphore(slots)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        async with self._slots:
            try:
                response = await self._inner.handle_async_request(request)
                await response.aread()
            except httpx.TimeoutException:
                SIS_CALLS.labels("timeout").inc()
                raise
            except httpx.HTTPError:
                SIS_CALLS.labels("error").inc()
                raise
        SIS_CALLS.labels(f"{response.status_code // 100}xx").inc()
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class OneRosterClient(HttpAdapter):
    """Implements the `Sis` port over `{base_url}/rostering/v1p2` and `.../gradebook/v1p2`."""

    def __init__(
        self,
        base_url: str | None,
        token_url: str | None,
        client_id: str | None,
        client_secret: str | None,
        vendor_authorization: str | None,
        *,
        max_concurrency: int = 1,
        timeout: float = 15.0,
        retry: RetryPolicy = HTTP_RETRY,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._root = base_url.rstrip("/") if base_url else None
        self._auth = (
            OneRosterAuth(token_url, client_id, client_secret, self._detail, clock)
            if base_url and token_url and client_id and client_secret
            else None
        )
        self._vendor_authorization = vendor_authorization
        self._secrets = (client_secret, vendor_authorization)

        def layers(network: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
            # IC asks for serial calls in school hours and at most 5 off-peak: the slots are the
            # limit, the pool only needs as many connections.
            slots = _CountedSlots(network, max_concurrency)
            return RetryingTransport(slots, RetryWhen(_transient), retry, sleep=sleep, rand=rand)

        self._http = retrying_client(
            layers,
            transport=transport,
            limits=httpx.Limits(
                max_connections=max_concurrency, max_keepalive_connections=max_concurrency
            ),
            timeout=timeout,
            auth=self._auth,
        )
        self._terms: dict[str, IcTerm] = {}
        self._grading_periods: dict[str, tuple[IcTerm, ...]] = {}

    # -- the port ---------------------------------------------------------------------------

    async def get_class(self, class_id: str) -> IcClass | None:
        data = await self._get_object(f"{ROSTERING}/classes/{_seg(class_id)}", "class")
        if data is None:
            return None
        terms: list[IcTerm] = []
        periods: dict[str, IcTerm] = {}
        for term_id in filter(None, map(_ref_id, data.get("terms") or ())):
            term = await self._term(term_id)
            if term is None:
                continue
            terms.append(term)
            # A class may be scheduled straight into a grading period.
            found = (term,) if term.kind == "gradingPeriod" else await self._periods_of(term)
            periods.update((p.sourced_id, p) for p in found)
        return IcClass(
            sourced_id=str(data.get("sourcedId", class_id)),
            title=str(data.get("title", "")),
            school_id=str(_ref_id(data.get("school")) or ""),
            terms=tuple(terms),
            grading_periods=tuple(sorted(periods.values(), key=lambda p: p.start_date)),
        )

    async def list_categories(self, class_id: str) -> list[IcCategory]:
        """The class's active categories; none when IC does not know the class."""
        path = f"{GRADEBOOK}/classes/{_seg(class_id)}/categories"
        items = await self._read_collection(path, "categories")
        return [IcCategory(sourced_id, str(item.get("title", ""))) for sourced_id, item in items]

    async def read_results_of(self, class_id: str, line_item_id: str) -> list[IcRecord]:
        path = f"{GRADEBOOK}/classes/{_seg(class_id)}/lineItems/{_seg(line_item_id)}/results"
        items = await self._read_collection(path, "results")
        return [ic_record("result", sourced_id, item) for sourced_id, item in items]

    async def put_line_item(self, line_item: LineItem) -> None:
        path = f"{GRADEBOOK}/lineItems/{_seg(line_item.sourced_id)}"
        response = await self._call("PUT", path, json=line_item_body(line_item, self._configured()))
        if response.status_code not in WRITE_OK:
            raise self._refusal(response, f"line item {line_item.sourced_id}", _line_item_code)

    async def put_result(self, result: Result) -> None:
        path = f"{GRADEBOOK}/results/{_seg(result.sourced_id)}"
        response = await self._call("PUT", path, json=result_body(result, self._configured()))
        if response.status_code not in WRITE_OK:
            raise self._refusal(response, f"result {result.sourced_id}", _result_code)

    async def delete_result(self, sourced_id: str) -> None:
        response = await self._call("DELETE", f"{GRADEBOOK}/results/{_seg(sourced_id)}")
        # 404: already gone, which is what a delete wants.
        if response.status_code not in WRITE_OK | {404}:
            raise self._refusal(response, f"deletion of result {sourced_id}", _result_code)

    async def get_result(self, sourced_id: str) -> Result | None:
        record = await self.read_record("result", sourced_id)
        if record is None:
            return None
        assert isinstance(record.value, Result)
        return record.value

    async def read_record(self, kind: RecordKind, sourced_id: str) -> IcRecord | None:
        collection = "lineItems" if kind == "lineItem" else "results"
        data = await self._get_object(f"{GRADEBOOK}/{collection}/{_seg(sourced_id)}", kind)
        # `tobedeleted` is OneRoster's "safe to delete": for gpb the record is gone.
        if data is None or data.get("status") == "tobedeleted":
            return None
        return ic_record(kind, sourced_id, data)

    async def restore_record(self, record: IcRecord) -> None:
        if record.kind == "lineItem":
            path, code = f"{GRADEBOOK}/lineItems/{_seg(record.sourced_id)}", _line_item_code
        else:
            path, code = f"{GRADEBOOK}/results/{_seg(record.sourced_id)}", _result_code
        response = await self._call("PUT", path, json={record.kind: record.body})
        if response.status_code not in WRITE_OK:
            raise self._refusal(response, f"{record.kind} {record.sourced_id}", code)

    async def delete_line_item(self, sourced_id: str) -> None:
        response = await self._call("DELETE", f"{GRADEBOOK}/lineItems/{_seg(sourced_id)}")
        # 404: already gone, which is what a delete wants.
        if response.status_code not in WRITE_OK | {404}:
            raise self._refusal(response, f"deletion of line item {sourced_id}", _line_item_code)

    # -- beyond the port: `gpb check` -------------------------------------------------------

    async def authenticate(self) -> None:
        """Gets an access token from the token endpoint now; raises what the port's calls would."""
        self._configured()
        assert self._auth is not None  # configured: the root and the credentials are all set
        request = self._auth.token_request(httpx.Timeout(self._http.timeout).as_dict())
        try:
            response = await self._http.send(request, auth=None)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc, "the token request") from exc
        self._auth.accept(response)

    async def read_gradebook(self) -> None:
        """One gradebook read that needs no class (a page of one category): IC answers it only
        with a token and vendor key it accepts."""
        response = await self._call("GET", f"{GRADEBOOK}/categories", params={"limit": "1"})
        self._expect_read(response)

    # -- reads ------------------------------------------------------------------------------

    async def _get_object(self, path: str, key: str) -> Json | None:
        """`{key: {...}}` from a single-object GET; None on 404."""
        response = await self._call("GET", path)
        if response.status_code == 404:
            return None
        obj = _json(self._expect_read(response), key).get(key)
        if not isinstance(obj, dict):
            raise SisUnavailable(f"IC answered GET /{path} without a {key!r} object")
        return obj

    async def _term(self, sourced_id: str) -> IcTerm | None:
        """A term of a class, cached: terms hardly change within a school year.

        One IC no longer has is skipped rather than failing the class: all it costs is the
        due-date-in-term warning.
        """
        if sourced_id not in self._terms:
            path = f"{ROSTERING}/academicSessions/{_seg(sourced_id)}"
            data = await self._get_object(path, "academicSession")
            if data is None:
                return None
            self._terms[sourced_id] = _session(data, sourced_id)
        return self._terms[sourced_id]

    async def _periods_of(self, term: IcTerm) -> tuple[IcTerm, ...]:
        """The grading periods of a term (`GET /terms/{id}/gradingPeriods`), cached like terms.

        None when IC knows the term by another type than `term` and answers unknownobject.
        """
        if term.sourced_id not in self._grading_periods:
            path = f"{ROSTERING}/terms/{_seg(term.sourced_id)}/gradingPeriods"
            items = await self._read_collection(path, "academicSessions")
            self._grading_periods[term.sourced_id] = tuple(
                _session(item, sourced_id) for sourced_id, item in items
            )
        return self._grading_periods[term.sourced_id]

    async def _read_collection(self, path: str, key: str) -> list[tuple[str, Json]]:
        """The active records of a collection, page by page, by sourcedId; none on a 404."""
        found: dict[str, Json] = {}
        offset = 0
        while True:
            params = {"limit": str(PAGE_SIZE), "offset": str(offset)}
            response = await self._call("GET", path, params=params)
            if response.status_code == 404:
                return []
            items = _json(self._expect_read(response), key).get(key)
            page = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
            before = len(found)
            for item in page:
                if item.get("status", "active") == "active" and item.get("sourcedId"):
                    found[str(item["sourcedId"])] = item
            # A short page is the last; so is one with nothing new, from a server ignoring offset.
            if len(page) < PAGE_SIZE or len(found) == before:
                return list(found.items())
            offset += len(page)

    # -- HTTP -------------------------------------------------------------------------------

    def _configured(self) -> str:
        """The root URL of IC's OneRoster API, once gpb has it and the client credentials."""
        if self._root is None or self._auth is None:
            raise SisNotConfigured(
                "gpb has no OneRoster URL or client credentials (GPB_SIS_BASE_URL, "
                "GPB_SIS_TOKEN_URL, GPB_SIS_CLIENT_ID, GPB_SIS_CLIENT_SECRET)"
            )
        return self._root

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Json | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One authenticated call with retries; raises for what retries and a new token can't cure.

        The answer may still be any other status: what a 404 or a 422 means depends on the call.
        """
        root = self._configured()
        what = f"{method} /{path}"
        gradebook = path.startswith(GRADEBOOK)
        headers = {}
        if gradebook and self._vendor_authorization:
            headers["x-vendor-authorization"] = self._vendor_authorization
        try:
            response = await self._http.request(
                method, f"{root}/{path}", json=json, params=params, headers=headers
            )
        except httpx.HTTPError as exc:
            raise self._unreachable(exc, what) from exc
        spent = _spent(response, what, self._detail)
        if spent is not None:
            raise spent
        if response.status_code in (401, 403):
            hint = ""
            if gradebook and not self._vendor_authorization:
                hint = " (GPB_SIS_VENDOR_AUTHORIZATION is not set; IC requires it for gradebook)"
            detail = self._detail(response)
            raise SisAuthFailed(
                f"IC refused gpb's credentials for {what}{hint}: {detail}",
                status=response.status_code,
            )
        return response

    def _unreachable(self, exc: httpx.HTTPError, what: str) -> SisUnavailable:
        """No answer came, even after retries; from the token request, when it was that one."""
        if self._auth is not None and isinstance(exc, httpx.RequestError):
            with suppress(RuntimeError):  # an error raised without its request
                if str(exc.request.url) == self._auth.token_url:
                    what = "the token request"
        return SisUnavailable(f"IC could not be reached for {what}: {type(exc).__name__}")

    def _expect_read(self, response: httpx.Response) -> httpx.Response:
        if response.status_code != 200:
            raise SisUnavailable(
                f"IC answered {response.status_code} to GET {response.request.url.path}: "
                f"{self._detail(response)}",
                status=response.status_code,
            )
        return response

    def _refusal(
        self, response: httpx.Response, what: str, code: Callable[[int, ImsxStatus], str]
    ) -> SisRejected | SisUnavailable:
        """The error for a write IC did not confirm: a 4xx refused it, anything else is odd."""
        status = response.status_code
        if 400 <= status < 500:
            message = f"IC refused {what} (HTTP {status}): {self._detail(response)}"
            return SisRejected(code(status, parse_imsx(response)), message, status=status)
        return SisUnavailable(
            f"IC answered {status} to {what}: {self._detail(response)}", status=status
        )

    def _detail(self, response: httpx.Response) -> str:
        """IC's own words about a failure, for an exception message: never with a credential."""
        token = self._auth.token if self._auth else None
        return redact(parse_imsx(response).summary(), [*self._secrets, token])


def _transient(response: httpx.Response) -> bool:
    return response.status_code == 429 or response.status_code >= 500


def _spent(response: httpx.Response, what: str, describe: Describe) -> SisError | None:
    """The error for an answer the retries could not cure (429, 5xx); None for any other."""
    if not _transient(response):
        return None
    status = response.status_code
    if status == 429:
        return SisBusy(f"IC stayed busy (429) for {what}: {describe(response)}", status=status)
    return SisUnavailable(f"IC answered {status} to {what}: {describe(response)}", status=status)


# -- error mapping ------------------------------------------------------------------------

_UNKNOWN = re.compile(r"not found|unknown|does not exist|no such|invalid guid", re.IGNORECASE)


def _line_item_code(status: int, error: ImsxStatus) -> str:
    """Which dictionary entry a refused line item gets: the unknown reference IC names, if any."""
    text = " ".join(error.descriptions) or error.text
    unknown = status == 404 or "unknownobject" in error.code_minors or _UNKNOWN.search(text)
    if unknown and re.search(r"\bcategor", text, re.IGNORECASE):
        return "SIS_CATEGORY_NOT_FOUND"
    if unknown and re.search(r"\bclass", text, re.IGNORECASE):
        return "SIS_CLASS_NOT_FOUND"
    return "SIS_LINEITEM_REJECTED"


def _result_code(status: int, error: ImsxStatus) -> str:
    return "SIS_RESULT_REJECTED"


# -- JSON to domain values ----------------------------------------------------------------


def _json(response: httpx.Response, what: str) -> Json:
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise SisUnavailable(f"IC answered the {what} request with unreadable JSON")
    return data


def _session(data: Json, sourced_id: str) -> IcTerm:
    start, end = _date(data.get("startDate")), _date(data.get("endDate"))
    if start is None or end is None:
        raise SisUnavailable(f"IC answered academic session {sourced_id} without readable dates")
    kind = str(data.get("type") or "term")
    return IcTerm(sourced_id, str(data.get("title", "")), start, end, kind)


def ic_record(kind: RecordKind, sourced_id: str, data: Json) -> IcRecord:
    """A record as IC answered it, with what gpb reads in it."""
    value = _line_item(data, sourced_id) if kind == "lineItem" else _result(data, sourced_id)
    return IcRecord(kind, sourced_id, data, value)


def _result(data: Json, sourced_id: str) -> Result:
    score_date = _date(data.get("scoreDate")) or _date(data.get("dateLastModified"))
    if score_date is None:
        raise SisUnavailable(f"IC answered result {sourced_id} without a readable scoreDate")
    return Result(
        sourced_id=str(data.get("sourcedId", sourced_id)),
        line_item_id=str(_ref_id(data.get("lineItem")) or ""),
        student_sis_id=str(_ref_id(data.get("student")) or ""),
        score=_float(data.get("score")),
        score_status=str(data.get("scoreStatus", "")),
        score_date=score_date,
        late=_flag(data.get("late")),
        missing=_flag(data.get("missing")),
    )


def _line_item(data: Json, sourced_id: str) -> LineItem:
    assign_date, due_date = _datetime(data.get("assignDate")), _datetime(data.get("dueDate"))
    if assign_date is None or due_date is None:
        raise SisUnavailable(f"IC answered line item {sourced_id} without readable dates")
    return LineItem(
        sourced_id=str(data.get("sourcedId", sourced_id)),
        title=str(data.get("title", "")),
        assign_date=assign_date,
        due_date=due_date,
        class_id=str(_ref_id(data.get("class")) or ""),
        school_id=str(_ref_id(data.get("school")) or ""),
        category_id=str(_ref_id(data.get("category")) or ""),
        result_value_max=_float(data.get("resultValueMax")),
    )


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _ref_id(ref: Any) -> str | None:
    return str(ref["sourcedId"]) if isinstance(ref, dict) and ref.get("sourcedId") else None


def _date(value: Any) -> date | None:
    """A `YYYY-MM-DD` date; a date-time is cut to its date."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _float(value: Any) -> float | None:
    try:
        return None if value is None or isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        return None


def _flag(value: Any) -> bool:
    # Sent as the strings "true"/"false"; a provider may answer with JSON booleans.
    return value is True or (isinstance(value, str) and value.lower() == "true")
