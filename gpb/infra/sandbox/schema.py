"""Validation of gradebook PUT bodies against the official OneRoster 1.2 OpenAPI document.

The stand-in is strict on purpose: a body IC might refuse should be refused here first, with the
schema's own words. The document ships in this package (a copy of the 1EdTech file).

Two adjustments are made when it is loaded:
- `late`, `missing`, `inProgress` and `incomplete` are typed as strings with an unquoted
  `[true, false]` enum, which YAML reads as booleans; the enum is turned back into the strings
  "true"/"false", so those validate and JSON booleans do not.
- jsonschema checks the formats `date-time`, `date` and `uri` only with optional packages; they are
  checked here with the standard library instead, so the result does not depend on what happens to
  be installed.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

_DOCUMENT = "oneroster-1p2-gradebook-openapi.yaml"
_URI = "urn:oneroster-1p2-gradebook"
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _unbool_enums(node: Any) -> Any:
    """Turns YAML's booleans back into the strings the spec means, in every string enum."""
    if isinstance(node, dict):
        fixed = {key: _unbool_enums(value) for key, value in node.items()}
        if fixed.get("type") == "string" and isinstance(fixed.get("enum"), list):
            fixed["enum"] = [
                ("true" if value else "false") if isinstance(value, bool) else value
                for value in fixed["enum"]
            ]
        return fixed
    if isinstance(node, list):
        return [_unbool_enums(item) for item in node]
    return node


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def is_date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not _RFC3339.match(value):
            return False
        datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
        return True

    @checker.checks("date", raises=ValueError)
    def is_date(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not _DATE.match(value):
            return False
        date.fromisoformat(value)
        return True

    @checker.checks("uri")
    def is_uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        return bool(parts.scheme) and " " not in value

    return checker


@cache
def _document() -> dict[str, Any]:
    text = resources.files("gpb.infra.sandbox").joinpath(_DOCUMENT).read_text("utf-8")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loaded: dict[str, Any] = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    return _unbool_enums(loaded)


@cache
def validator(schema_name: str) -> Draft202012Validator:
    """A validator for one schema of the document's `components.schemas`, `$ref`s resolved."""
    document = _document()
    if schema_name not in document["components"]["schemas"]:
        raise KeyError(schema_name)
    registry: Registry[Any] = Registry().with_resource(
        _URI, Resource.from_contents(document, default_specification=DRAFT202012)
    )
    schema = {"$ref": f"{_URI}#/components/schemas/{schema_name}"}
    return Draft202012Validator(schema, registry=registry, format_checker=_format_checker())


def line_item_validator() -> Draft202012Validator:
    return validator("SingleLineItemDType")


def result_validator() -> Draft202012Validator:
    return validator("SingleResultDType")


def problems(checker: Draft202012Validator, body: Any) -> list[str]:
    """What is wrong with `body`, one line per error, in a stable order; empty when valid."""
    found = []
    for error in sorted(checker.iter_errors(body), key=lambda e: list(map(str, e.absolute_path))):
        where = "/".join(str(part) for part in error.absolute_path) or "(body)"
        found.append(f"{where}: {error.message}")
    return found
