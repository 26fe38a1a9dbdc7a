"""The documentation stands on its own and cannot drift: docs/api.md names every route that
`/openapi.json` lists and every setting gpb reads, docs/design.md every code of the error
dictionary, and nothing in the repository points at documents outside it."""

from __future__ import annotations

import re
from pathlib import Path

from gpb.handlers.dictionary import ENTRIES
from gpb.infra.settings import Settings
from gpb.listener.app import ROUTES
from gpb.listener.openapi import document

ROOT = Path(__file__).resolve().parent.parent
API = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
DESIGN = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
METHOD = "GET|POST|PUT|DELETE|PATCH"
# `GET /api/courses/{course_id}/alerts[?state=...]`, `GET|POST /lti/login`
MENTION = re.compile(rf"`((?:{METHOD})(?:\|(?:{METHOD}))*) (/[^`\s\[?]*)")


def served() -> set[tuple[str, str]]:
    """(method, path) of every operation `/openapi.json` lists (the document it serves)."""
    paths = document(ROUTES)["paths"]
    return {(method.upper(), path) for path, item in paths.items() for method in item}


def documented() -> set[tuple[str, str]]:
    return {
        (method, path) for methods, path in MENTION.findall(API) for method in methods.split("|")
    }


def test_every_route_is_in_the_api_page() -> None:
    assert sorted(served() - documented()) == []


def test_the_api_page_names_no_route_gpb_does_not_serve() -> None:
    assert sorted(documented() - served()) == []


def _setting_names() -> list[str]:
    return [f"GPB_{name.upper()}" for name in Settings.model_fields]


def test_every_setting_is_in_the_api_page() -> None:
    assert [name for name in _setting_names() if f"`{name}`" not in API] == []


def test_the_readme_configuration_names_every_setting_or_links_to_the_page_that_does() -> None:
    section = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    missing = [name for name in _setting_names() if name not in section]
    assert missing == [] or "docs/api.md#settings" in section, missing
    first_steps = README.split("## What it does", 1)[0]
    assert "GPB_TIME_ZONE" in first_steps


def test_every_dictionary_code_is_in_the_design_page() -> None:
    assert [e.code for e in ENTRIES if f"`{e.code}`" not in DESIGN] == []


def test_nothing_points_outside_the_repository() -> None:
    # Spelled in pieces, so that this file does not find itself.
    outside = re.compile("|".join(["API" + r"\.md", "DESIGN" + r"\.md", "shared" + "/"]))
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("gpb", "docs", "tests", "bench")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in (".py", ".md", ".html", ".js", ".css", ".json", ".sql")
        and ".venv" not in path.parts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if outside.search(line)
    ]
    found += [
        f"README.md:{n}" for n, line in enumerate(README.splitlines(), 1) if outside.search(line)
    ]
    assert found == []
