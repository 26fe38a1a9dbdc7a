"""The store's writer tables against the domain's `Change` union, checked when gpb imports them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args

import pytest

from gpb.handlers.changes import Change
from gpb.handlers.courses import CourseSeen
from gpb.handlers.grades import GradeChanged
from gpb.infra.store.changes import WRITERS, checked_writers
from gpb.infra.store.database import Connection


@dataclass(frozen=True)
class Renamed:
    name: str


def write(conn: Connection, change: Any) -> None:
    """A writer that is never called: the check looks only at which changes have one."""


def test_every_change_gpb_makes_has_exactly_one_writer() -> None:
    assert set(WRITERS) == set(get_args(Change))


def test_the_tables_merge_into_one_when_each_change_has_one_writer() -> None:
    writers = checked_writers(CourseSeen | Renamed, [{CourseSeen: write}, {Renamed: write}])
    assert writers == {CourseSeen: write, Renamed: write}


def test_a_change_without_a_writer_fails_the_import() -> None:
    with pytest.raises(ImportError, match="no writer for the change Renamed"):
        checked_writers(CourseSeen | Renamed, [{CourseSeen: write}])


def test_a_change_with_two_writers_fails_the_import() -> None:
    with pytest.raises(ImportError, match="GradeChanged has two writers"):
        checked_writers(GradeChanged, [{GradeChanged: write}, {GradeChanged: write}])


def test_a_writer_for_what_is_not_a_change_fails_the_import() -> None:
    with pytest.raises(ImportError, match="Renamed, which is not in the Change union"):
        checked_writers(CourseSeen, [{CourseSeen: write, Renamed: write}])
