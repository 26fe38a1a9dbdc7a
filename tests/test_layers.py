"""The folders are the architecture: `listener -> handlers <- infra`. The domain (handlers/) knows
no HTTP and no SQL, and the HTTP edge reaches the adapters only through the composition root.
These tests read each module's imports, so a shortcut across a layer fails here, not in review."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import gpb

PACKAGE = Path(gpb.__file__).parent

# What each layer may not import (a prefix matches the module and its submodules).
FORBIDDEN = {
    "handlers": (
        "gpb.listener",
        "gpb.infra",
        "gpb.bootstrap",
        "gpb.cli",
        "starlette",
        "uvicorn",
        "httpx",
        "jinja2",
        "sqlite3",
        "psycopg",
        "psycopg_pool",
    ),
    "listener": ("gpb.infra", "gpb.bootstrap", "gpb.cli", "sqlite3", "psycopg", "psycopg_pool"),
    "infra": ("gpb.listener", "gpb.bootstrap", "gpb.cli"),
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def crossings(layer: str) -> list[str]:
    forbidden = FORBIDDEN[layer]
    return [
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        for module in sorted(imported_modules(path))
        if any(module == banned or module.startswith(banned + ".") for banned in forbidden)
    ]


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_it_must_not(layer: str) -> None:
    assert crossings(layer) == []


def test_the_check_sees_a_crossing(tmp_path: Path) -> None:
    module = tmp_path / "shortcut.py"
    module.write_text("from gpb.infra.store import sqlite\nimport httpx\n")
    assert imported_modules(module) >= {"gpb.infra.store", "httpx"}
