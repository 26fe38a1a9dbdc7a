"""What a route takes and answers, declared on its endpoint: `openapi.py` assembles the document
from these declarations, so a route and its description are written in one place.

    @operation("A course's alerts", "token", {200: returns(schemas.AlertList)})
    async def list_alerts(request: Request) -> Response: ...

A route serving several methods with one endpoint declares each with `method=`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

Access = Literal["public", "token", "admin"]
HTML = "text/html"
FORM = "application/x-www-form-urlencoded"
ISO_TIME = {"type": "string", "format": "date-time"}
_DECLARED = "__gpb_operations__"  # the endpoint's attribute: {method or None: Operation}

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


@dataclass(frozen=True)
class Answer:
    description: str
    model: type[BaseModel] | None = None  # JSON of this shape
    media: tuple[str, ...] = ()  # with model None: a body of one of these types (or none)


@dataclass(frozen=True)
class Param:
    name: str
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True)
class Operation:
    summary: str
    access: Access
    answers: Mapping[int, Answer]
    body: Mapping[str, type[BaseModel] | dict[str, Any]] = field(default_factory=dict)  # by media
    query: tuple[Param, ...] = ()


def operation(
    summary: str,
    access: Access,
    answers: Mapping[int, Answer],
    *,
    body: Mapping[str, type[BaseModel] | dict[str, Any]] | None = None,
    query: tuple[Param, ...] = (),
    method: str | None = None,
) -> Callable[[Endpoint], Endpoint]:
    """Declares what the endpoint's route takes and answers (for `method` only, if given)."""
    declared = Operation(summary, access, answers, body or {}, query)

    def declare(endpoint: Endpoint) -> Endpoint:
        operations = dict(getattr(endpoint, _DECLARED, {}))
        operations[method] = declared
        setattr(endpoint, _DECLARED, operations)
        return endpoint

    return declare


def declared(endpoint: Callable[..., Any]) -> Mapping[str | None, Operation]:
    """The operations declared on `endpoint`, by method (None: every method of its route)."""
    found: Mapping[str | None, Operation] = getattr(endpoint, _DECLARED, {})
    return found


def returns(model: type[BaseModel], description: str = "OK") -> Answer:
    """JSON of the model's shape."""
    return Answer(description, model)


def html(description: str = "the page") -> Answer:
    return Answer(description, media=(HTML,))


REDIRECT = Answer("to the login page, or on after the form")
ANY_JSON = Answer("OK", media=("application/json",))
EVENT_FILTERS = (
    Param("course_id", "a Canvas course id (local or global)"),
    Param("event_name", "e.g. grade_change"),
    Param(
        "status",
        "what became of the delivery",
        {"enum": ["accepted", "processed", "ignored", "failed", "rejected", "duplicate"]},
    ),
    Param("since", "received at or after (ISO-8601)", ISO_TIME),
    Param("until", "received before (ISO-8601)", ISO_TIME),
    Param("cursor", "the next_cursor of the previous page"),
    Param("limit", "events per page, 1 to 500", {"type": "integer", "minimum": 1, "maximum": 500}),
)
CHECK_SCOPE = (
    Param("course_id", "a course to read assignments and SIS ids of"),
    Param("class_id", "an IC class to read"),
)
