"""The Canvas REST adapter: reads what live events do not carry, sends inbox messages, makes fixes.

Canvas answers with local ids, follows `Link` headers for paging, and throttles per token with a
leaky bucket (reference/canvas-rest.md section 1). Every failure leaves here as a `CanvasError`.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from gpb.handlers.backoff import RetryPolicy
from gpb.handlers.errors import (
    CanvasAuthFailed,
    CanvasError,
    CanvasNotConfigured,
    CanvasRefused,
    CanvasUnavailable,
)
from gpb.handlers.model import (
    LISTED_STATES,
    Assignment,
    AssignmentChange,
    AssignmentGroup,
    Course,
    Enrollment,
    Override,
    OverrideTarget,
    Section,
    Submission,
)
from gpb.infra.http_retry import (
    HTTP_RETRY,
    NOT_SENT_ERRORS,
    RETRY_WHEN,
    HttpAdapter,
    RetryingTransport,
    RetryWhen,
    Sleep,
    redact,
    retrying_client,
)

# Canvas caps per_page at 100 (Api::MAX_PER_PAGE); the bulk submissions endpoint refuses more than
# 100 explicit assignment ids.
PAGE_SIZE = 100
ASSIGNMENT_IDS_PER_CALL = 100
# A remaster reads every grade of a course, page after page, before it sends one: the assignments
# are split into this many reads at once. Canvas's rate limit charges each request in flight up
# front, so a few, not many.
SUBMISSION_READS_IN_FLIGHT = 4

# Canvas's bucket holds 700 units and drains about 10 per second. Below the low-water mark gpb waits
# long enough for the bucket to drain back to it, instead of running into 403s.
RATE_LIMIT_LOW_WATER = 100.0
RATE_LIMIT_DRAIN_PER_SECOND = 10.0

Params = tuple[tuple[str, str], ...]
Json = dict[str, Any]


@dataclass(frozen=True)
class ApiUser:
    """The Canvas user an API token acts as."""

    id: str
    name: str


class CanvasClient(HttpAdapter):
    """Implements the `Canvas` port over `{base_url}/api/v1`, authenticated with a bearer token."""

    def __init__(
        self,
        base_url: str | None,
        token: str | None,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy = HTTP_RETRY,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._api = f"{base_url.rstrip('/')}/api/v1" if base_url else None
        self._token = token

        def layers(network: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
            paced = _Paced(network, sleep, retry.max_seconds)
            return RetryingTransport(paced, RetryWhen(_transient), retry, sleep=sleep, rand=rand)

        self._http = retrying_client(
            layers,
            transport=transport,
            limits=httpx.Limits(max_connections=10, max_keepalive_connections=5),
            timeout=timeout,
        )

    # -- the port ---------------------------------------------------------------------------

    async def get_course(self, course_id: str) -> Course | None:
        data = await self._get_one(f"courses/{_seg(course_id)}")
        return None if data is None else _course(data)

    async def get_assignment(self, course_id: str, assignment_id: str) -> Assignment | None:
        data = await self._get_one(
            f"courses/{_seg(course_id)}/assignments/{_seg(assignment_id)}", _ASSIGNMENT_PARAMS
        )
        return None if data is None else _assignment(data, course_id)

    async def list_assignments(self, course_id: str) -> list[Assignment]:
        items = await self._get_all(f"courses/{_seg(course_id)}/assignments", _ASSIGNMENT_PARAMS)
        return [_assignment(item, course_id) for item in items]

    async def list_assignment_groups(self, course_id: str) -> list[AssignmentGroup]:
        items = await self._get_all(f"courses/{_seg(course_id)}/assignment_groups")
        return [
            AssignmentGroup(id=str(item["id"]), course_id=course_id, name=str(item.get("name", "")))
            for item in items
        ]

    async def list_sections(self, course_id: str) -> list[Section]:
        items = await self._get_all(
            f"courses/{_seg(course_id)}/sections", (("include[]", "total_students"),)
        )
        return [
            Section(
                id=str(item["id"]),
                course_id=_id(item.get("course_id")) or course_id,
                name=str(item.get("name", "")),
                sis_section_id=item.get("sis_section_id") or None,
                student_count=int(item.get("total_students") or 0),
            )
            for item in items
        ]

    async def list_student_enrollments(self, course_id: str) -> list[Enrollment]:
        # Concluded and deactivated students too: only they tell "left" from "grade removed".
        items = await self._enrollments(course_id, "StudentEnrollment", LISTED_STATES)
        found: dict[tuple[str, str], Enrollment] = {}
        for item in items:
            enrollment = Enrollment(
                user_id=str(item["user_id"]),
                section_id=str(item["course_section_id"]),
                sis_user_id=item.get("sis_user_id") or None,
                state=str(item.get("enrollment_state") or "active"),
                sortable_name=_sortable_name(item.get("user")),
            )
            # A student re-added to a section has an old enrollment beside the new one.
            key = (enrollment.user_id, enrollment.section_id)
            held = found.get(key)
            if held is None or _state_rank(enrollment) < _state_rank(held):
                found[key] = enrollment
        return list(found.values())

    async def list_teacher_ids(self, course_id: str) -> list[str]:
        items = await self._enrollments(course_id, "TeacherEnrollment", ("active",))
        # A teacher of two sections has two enrollments; dict keeps first-seen order.
        return list(dict.fromkeys(str(item["user_id"]) for item in items))

    async def get_sortable_name(self, user_id: str) -> str | None:
        return _sortable_name(await self._get_one(f"users/{_seg(user_id)}"))

    async def get_submission(
        self, course_id: str, assignment_id: str, user_id: str
    ) -> Submission | None:
        data = await self._get_one(
            f"courses/{_seg(course_id)}/assignments/{_seg(assignment_id)}"
            f"/submissions/{_seg(user_id)}"
        )
        return None if data is None else _submission(data)

    async def list_submissions(
        self, course_id: str, assignment_ids: Sequence[str]
    ) -> list[Submission]:
        # No assignment ids would mean every assignment to Canvas, so nothing is asked at all.
        per_read = min(
            ASSIGNMENT_IDS_PER_CALL, -(-len(assignment_ids) // SUBMISSION_READS_IN_FLIGHT)
        )
        chunks = [
            assignment_ids[start : start + per_read]
            for start in range(0, len(assignment_ids), max(per_read, 1))
        ]
        in_flight = asyncio.Semaphore(SUBMISSION_READS_IN_FLIGHT)

        async def read(chunk: Sequence[str]) -> list[Submission]:
            params = (("student_ids[]", "all"), *(("assignment_ids[]", a) for a in chunk))
            async with in_flight:
                items = await self._get_all(
                    f"courses/{_seg(course_id)}/students/submissions", params
                )
            return [_submission(item) for item in items]

        reads = [asyncio.ensure_future(read(chunk)) for chunk in chunks]
        try:
            pages = await asyncio.gather(*reads)
        except BaseException:  # one read failed: the others are of no use now
            for pending in reads:
                pending.cancel()
            raise
        return [submission for page in pages for submission in page]

    async def send_conversation(
        self, course_id: str | None, recipient_ids: Sequence[str], subject: str, body: str
    ) -> None:
        if not recipient_ids:
            return
        form = {
            "recipients[]": list(recipient_ids),
            "subject": subject,
            "body": body,
            "force_new": "true",  # a new thread per notice, not appended to an old one
            "group_conversation": "false",  # one private conversation per teacher
        }
        if course_id is not None:
            form["context_code"] = f"course_{course_id}"
        # A POST is not idempotent: retried only when Canvas provably did not act on it.
        response = await self._fetch(
            "POST", f"{self._root()}/conversations", data=form, idempotent=False
        )
        _expect_success(response, self._token)

    # -- writes: the fixes -----------------------------------------------------------------
    #
    # A change is sent once: retried only when Canvas provably did not act on it (no connection,
    # or throttled). After an ambiguous failure (a timeout once sent, a 5xx) it is not retried:
    # the caller is told the change may or may not have been made.

    async def update_assignment(
        self, course_id: str, assignment_id: str, change: AssignmentChange, as_user_id: str | None
    ) -> Assignment:
        form: dict[str, Any] = {}
        if change.name is not None:
            form["assignment[name]"] = change.name
        if change.published is not None:
            form["assignment[published]"] = "true" if change.published else "false"
        if change.due_at is not None:
            form["assignment[due_at]"] = _iso(change.due_at)
        if change.assignment_group_id is not None:
            form["assignment[assignment_group_id]"] = change.assignment_group_id
        path = f"courses/{_seg(course_id)}/assignments/{_seg(assignment_id)}"
        data = await self._write("PUT", path, form, as_user_id)
        return _assignment(data, course_id)

    async def set_section_due_at(
        self,
        course_id: str,
        assignment_id: str,
        section_id: str,
        override_id: str | None,
        due_at: datetime,
        as_user_id: str | None,
    ) -> None:
        base = f"courses/{_seg(course_id)}/assignments/{_seg(assignment_id)}/overrides"
        form = {"assignment_override[due_at]": _iso(due_at)}
        if override_id is None:
            form["assignment_override[course_section_id]"] = section_id
            await self._write("POST", base, form, as_user_id)
        else:
            await self._write("PUT", f"{base}/{_seg(override_id)}", form, as_user_id)

    async def rename_assignment_group(
        self, course_id: str, group_id: str, name: str, as_user_id: str | None
    ) -> AssignmentGroup:
        path = f"courses/{_seg(course_id)}/assignment_groups/{_seg(group_id)}"
        data = await self._write("PUT", path, {"name": name}, as_user_id)
        return AssignmentGroup(id=str(data["id"]), course_id=course_id, name=str(data.get("name")))

    async def _write(
        self, method: str, path: str, form: dict[str, Any], as_user_id: str | None
    ) -> Json:
        """One change; Canvas's refusal leaves as `CanvasRefused` with its reason in words."""
        if as_user_id is not None:
            form = {**form, "as_user_id": as_user_id}
        url = f"{self._root()}/{path}"
        try:
            response = await self._fetch(method, url, data=form, idempotent=False, refusals=True)
        except CanvasUnavailable as exc:
            raise CanvasUnavailable(
                f"{exc.message}. Canvas may or may not have made the change: look at it in Canvas "
                "before trying again",
                status=exc.status,
            ) from exc
        if not response.is_success:
            reason = redact(canvas_reason(response), [self._token])
            raise CanvasRefused(
                f"Canvas refused the change ({response.status_code}): {reason}",
                status=response.status_code,
            )
        body = _json(response)
        if not isinstance(body, dict):
            raise CanvasError(f"Canvas answered {method} {_where(response)} with no object")
        return body

    # -- beyond the port: `gpb check` -------------------------------------------------------

    async def whoami(self) -> ApiUser | None:
        """The user the token acts as; None when the base URL has no Canvas API behind it."""
        data = await self._get_one("users/self")
        return None if data is None else ApiUser(str(data.get("id")), str(data.get("name", "")))

    # -- HTTP -------------------------------------------------------------------------------

    def _root(self) -> str:
        if self._api is None or not self._token:
            raise CanvasNotConfigured(
                "gpb has no Canvas URL or API token (GPB_CANVAS_BASE_URL, GPB_CANVAS_TOKEN)"
            )
        return self._api

    async def _enrollments(self, course_id: str, kind: str, states: Sequence[str]) -> list[Json]:
        params = (("type[]", kind), *(("state[]", state) for state in states))
        return await self._get_all(f"courses/{_seg(course_id)}/enrollments", params)

    async def _get_one(self, path: str, params: Params | None = None) -> Json | None:
        """One object; None when Canvas answers 404 (deleted or never existed)."""
        response = await self._fetch("GET", f"{self._root()}/{path}", params=params)
        if response.status_code == 404:
            return None
        body = _json(_expect_success(response, self._token))
        if not isinstance(body, dict):
            raise CanvasError(f"Canvas answered GET {_where(response)} with no object")
        return body

    async def _get_all(self, path: str, params: Params | None = None) -> list[Json]:
        """Every page of a list. A 404 is an error here: an empty list would read as "no grades"."""
        url: str | None = f"{self._root()}/{path}"
        page_params: Params | None = (*(params or ()), ("per_page", str(PAGE_SIZE)))
        items: list[Json] = []
        while url is not None:
            response = _expect_success(
                await self._fetch("GET", url, params=page_params), self._token
            )
            page = _json(response)
            if not isinstance(page, list):
                raise CanvasError(f"Canvas answered GET {_where(response)} with no list")
            items.extend(item for item in page if isinstance(item, dict))
            # The next URL is absolute and already carries every parameter.
            url = response.links.get("next", {}).get("url")
            page_params = None
            if url is not None and not _same_origin(url, self._root()):
                # The bearer token goes with every request; never to a host it was not meant for.
                raise CanvasError(f"Canvas paged GET {_where(response)} to another host")
        return items

    async def _fetch(
        self,
        method: str,
        url: str,
        *,
        params: Params | None = None,
        data: dict[str, Any] | None = None,
        idempotent: bool = True,
        refusals: bool = False,
    ) -> httpx.Response:
        """Sends with retries; raises for auth failures and for what the retries could not cure.

        With `refusals`, a 401 or 403 that is not about the token comes back as an answer, so a
        change can say why Canvas declined it (a masquerade not allowed, a permission lacking).
        """
        headers = {"Authorization": f"Bearer {self._token}"}
        # A change is retried only when Canvas provably did not act on it.
        once = {} if idempotent else {RETRY_WHEN: RetryWhen(_rate_limited, NOT_SENT_ERRORS)}
        try:
            response = await self._http.request(
                method, url, params=params, data=data, headers=headers, extensions=once
            )
        except httpx.HTTPError as exc:
            where = urlsplit(url).path
            raise CanvasUnavailable(
                f"Canvas could not be reached for {method} {where}: {type(exc).__name__}"
            ) from exc
        status = response.status_code
        if _rate_limited(response):
            raise CanvasUnavailable(
                f"Canvas kept rate-limiting {method} {_where(response)}", status=status
            )
        if status == 401 and "WWW-Authenticate" in response.headers:
            raise CanvasAuthFailed(
                "Canvas refused gpb's API token: it is invalid or expired", status=status
            )
        if status in (401, 403) and not refusals:
            raise CanvasAuthFailed(
                f"Canvas refused {method} {_where(response)}: the token's user lacks permission",
                status=status,
            )
        if status >= 500:
            raise CanvasUnavailable(
                f"Canvas answered {status} to {method} {_where(response)}", status=status
            )
        return response


class _Paced(httpx.AsyncBaseTransport):
    """Slows down before Canvas has to throttle: after an answer showing the token's bucket low,
    waits for it to drain a little (at most `max_seconds`)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, sleep: Sleep, max_seconds: float) -> None:
        self._inner = inner
        self._sleep = sleep
        self._max_seconds = max_seconds

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        try:
            remaining = float(response.headers["X-Rate-Limit-Remaining"])
        except (KeyError, ValueError):
            return response
        if remaining < RATE_LIMIT_LOW_WATER:
            wait = (RATE_LIMIT_LOW_WATER - remaining) / RATE_LIMIT_DRAIN_PER_SECOND
            await self._sleep(min(wait, self._max_seconds))
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


# `checkpoints`: a graded discussion with checkpoints keeps its dates on them, not on itself.
_ASSIGNMENT_PARAMS: Params = (
    ("include[]", "overrides"),
    ("include[]", "checkpoints"),
    ("override_assignment_dates", "false"),
)


def _seg(value: str) -> str:
    """A path segment: ids are digits, but `sis_course_id:...` forms must stay one segment."""
    return quote(value, safe=":")


def _same_origin(url: str, root: str) -> bool:
    a, b = urlsplit(url), urlsplit(root)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


def _rate_limited(response: httpx.Response) -> bool:
    # Canvas documents 403 "Forbidden (Rate Limit Exceeded)"; newer docs say 429.
    if response.status_code == 429:
        return True
    return response.status_code == 403 and "rate limit exceeded" in response.text.lower()


def _transient(response: httpx.Response) -> bool:
    return response.status_code >= 500 or _rate_limited(response)


def _where(response: httpx.Response) -> str:
    # The path only: query strings are Canvas's business and never needed to diagnose.
    return response.request.url.path


def _expect_success(response: httpx.Response, token: str | None) -> httpx.Response:
    if not response.is_success:
        text = redact(response.text.strip()[:300], [token])
        raise CanvasError(
            f"Canvas answered {response.status_code} to {response.request.method} "
            f"{_where(response)}: {text}",
            status=response.status_code,
        )
    return response


def canvas_reason(response: httpx.Response) -> str:
    """Canvas's reason for a refusal, in words, from its error bodies.

    Canvas answers `{"errors": [{"message": ...}]}`, `{"errors": {"due_at": [{"message": ...}]}}`
    for a validation, or `{"errors": "Invalid as_user_id"}` for a masquerade it refuses.
    """
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    errors = body.get("errors") if isinstance(body, dict) else body
    if isinstance(errors, str):
        return errors
    found: list[str] = []
    if isinstance(errors, list):
        found = [str(e.get("message")) for e in errors if isinstance(e, dict) and e.get("message")]
    elif isinstance(errors, dict):
        for attribute, items in errors.items():
            for item in items if isinstance(items, list) else [items]:
                message = item.get("message") if isinstance(item, dict) else item
                found.append(f"{attribute.replace('_', ' ')} {message}")
    return "; ".join(found) or json.dumps(body)[:300]


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise CanvasUnavailable(
            f"Canvas answered {response.request.method} {_where(response)} with unreadable JSON"
        ) from exc


# -- JSON to domain values -----------------------------------------------------------------


def _sortable_name(user: Any) -> str | None:
    """The student's "Last, First" from an enrollment's `user` object (Canvas includes it)."""
    if not isinstance(user, dict):
        return None
    name = user.get("sortable_name") or user.get("name")
    return str(name) if name else None


def _id(value: Any) -> str | None:
    return None if value is None else str(value)


def _datetime(value: Any) -> datetime | None:
    """ISO-8601 as Canvas writes it (`2024-10-18T04:59:59Z`); anything unreadable is None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _number(value: Any) -> float | None:
    # JSON numbers only: a bool is an int to Python but never a score.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _course(data: Json) -> Course:
    return Course(
        id=str(data["id"]),
        name=str(data.get("name", "")),
        workflow_state=str(data.get("workflow_state", "")),
        sis_course_id=data.get("sis_course_id") or None,
    )


def _assignment(data: Json, course_id: str) -> Assignment:
    published = data.get("published")
    if not isinstance(published, bool):
        published = data.get("workflow_state") == "published"
    visible = data.get("visible_to_everyone")
    overrides = tuple(_override(o) for o in data.get("overrides") or () if isinstance(o, dict))
    due_at = _datetime(data.get("due_at"))
    checkpoints = [c for c in data.get("checkpoints") or () if isinstance(c, dict)]
    if data.get("has_sub_assignments") and checkpoints:
        due_at, overrides = _checkpoint_dates(checkpoints)
    return Assignment(
        id=str(data["id"]),
        course_id=_id(data.get("course_id")) or course_id,
        title=str(data.get("name", "")),
        published=published,
        # Present only when the SIS sync feature is on; absent means the assignment cannot sync.
        post_to_sis=bool(data.get("post_to_sis")),
        assignment_group_id=_id(data.get("assignment_group_id")),
        due_at=due_at,
        unlock_at=_datetime(data.get("unlock_at")),
        created_at=_datetime(data.get("created_at")),
        updated_at=_datetime(data.get("updated_at")),
        points_possible=_number(data.get("points_possible")),
        grading_type=str(data.get("grading_type") or "points"),
        omit_from_final_grade=bool(data.get("omit_from_final_grade")),
        only_visible_to_overrides=bool(data.get("only_visible_to_overrides")),
        visible_to_everyone=visible if isinstance(visible, bool) else None,
        deleted=data.get("workflow_state") == "deleted",
        overrides=overrides,
    )


def _checkpoint_dates(checkpoints: list[Json]) -> tuple[datetime | None, tuple[Override, ...]]:
    """The dates of a discussion with checkpoints (reply to the topic, then to entries) as one
    assignment: IC gets one line item, due when its last part is due.

    The discussion's own `due_at` is empty; each checkpoint has its own date and overrides. Each
    override target gets the latest of its dates over the checkpoints (a checkpoint that does not
    override it gives its own date), and no date if one checkpoint leaves it without.
    """
    bases = [_datetime(c.get("due_at")) for c in checkpoints]
    per_checkpoint: list[dict[tuple[str, ...], Override]] = []
    for checkpoint in checkpoints:
        raw = [o for o in checkpoint.get("overrides") or () if isinstance(o, dict)]
        per_checkpoint.append({_target_key(o): o for o in map(_override, raw)})
    targets: dict[tuple[str, ...], Override] = {}
    for overrides in per_checkpoint:
        for key, override in overrides.items():
            targets.setdefault(key, override)
    merged = []
    for key, first in targets.items():
        dates = []
        for base, overrides in zip(bases, per_checkpoint, strict=True):
            found = overrides.get(key)
            dates.append(found.due_at if found is not None and found.due_at_set else base)
        merged.append(replace(first, due_at=_latest(dates), due_at_set=True))
    return _latest(bases), tuple(merged)


def _latest(dates: list[datetime | None]) -> datetime | None:
    return None if any(d is None for d in dates) else max(d for d in dates if d is not None)


def _target_key(override: Override) -> tuple[str, ...]:
    ids = (override.section_id or "", override.group_id or "", *override.student_ids)
    return (override.target.value, *ids)


def _override(data: Json) -> Override:
    # One target per override; if Canvas sent several, the most specific wins.
    student_ids = tuple(str(s) for s in data.get("student_ids") or ())
    group_id = _id(data.get("group_id"))
    section_id = _id(data.get("course_section_id"))
    if student_ids:
        target, group_id, section_id = OverrideTarget.STUDENTS, None, None
    elif group_id is not None:
        target, section_id = OverrideTarget.GROUP, None
    elif section_id is not None:
        target = OverrideTarget.SECTION
    elif data.get("course_id") is not None:
        # Canvas's course-level override: "Everyone" in the Assign To tray.
        target = OverrideTarget.COURSE
    else:
        # No known target (a Mastery Paths "noop" override): it assigns per student.
        target = OverrideTarget.STUDENTS
    return Override(
        id=str(data["id"]),
        target=target,
        # A present `due_at: null` removes the date; an absent one leaves the base date.
        due_at=_datetime(data.get("due_at")),
        due_at_set="due_at" in data,
        unlock_at=_datetime(data.get("unlock_at")),
        unlock_at_set="unlock_at" in data,
        section_id=section_id,
        student_ids=student_ids,
        group_id=group_id,
    )


def _state_rank(enrollment: Enrollment) -> int:
    return LISTED_STATES.index(enrollment.state) if enrollment.state in LISTED_STATES else 99


def _submission(data: Json) -> Submission:
    grade = data.get("grade")
    return Submission(
        assignment_id=str(data["assignment_id"]),
        user_id=str(data["user_id"]),
        score=_number(data.get("score")),
        grade=None if grade is None else str(grade),
        excused=bool(data.get("excused")),
        missing=bool(data.get("missing")),
        late=bool(data.get("late")),
        posted=data.get("posted_at") is not None,
        graded_at=_datetime(data.get("graded_at")),
    )
