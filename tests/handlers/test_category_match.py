"""The category-mapping assistant's ranking: the IC category a Canvas group's name stands for."""

from __future__ import annotations

import pytest

from gpb.handlers.category_match import closeness, rank_categories

IC = ["Homework", "Tests", "Quizzes", "Projects", "Participation"]


@pytest.mark.parametrize(
    ("group", "first", "rank", "reason"),
    [
        ("Homework", "Homework", 0, "the same name"),
        ("Homework ", "Homework", 0, "the same name"),
        ("home work", "Homework", 1, "differs only in case, spacing or punctuation"),
        ("Home-Work", "Homework", 1, "differs only in case, spacing or punctuation"),
        ("Quizes", "Quizzes", 2, "singular or plural of the same word"),
        ("Quiz", "Quizzes", 2, "singular or plural of the same word"),
        ("Test", "Tests", 2, "singular or plural of the same word"),
        ("HW", "Homework", 3, "a common abbreviation of it"),
        ("Proj", "Projects", 3, "a common abbreviation of it"),
        ("Homwork", "Homework", 4, "1 letter apart"),
        ("Participaton", "Participation", 4, "1 letter apart"),
    ],
)
def test_the_closest_category_first(group: str, first: str, rank: int, reason: str) -> None:
    ranked = rank_categories(group, IC)
    assert (ranked[0].title, ranked[0].rank, ranked[0].reason) == (first, rank, reason)
    assert ranked[0].close


def test_a_group_of_two_categories_shares_a_word_with_each() -> None:
    ranked = rank_categories("Tests & Quizzes", IC)
    assert [(m.title, m.rank) for m in ranked[:2]] == [("Tests", 5), ("Quizzes", 5)]
    assert all(m.close for m in ranked[:2])
    assert not any(m.close for m in ranked[2:])


def test_unrelated_names_are_listed_last_and_not_close() -> None:
    ranked = rank_categories("Extra Practice", IC)
    assert [m.title for m in ranked] == IC
    assert {m.rank for m in ranked} == {9}
    assert not any(m.close for m in ranked)


def test_every_category_is_listed_once() -> None:
    ranked = rank_categories("HW", [*IC, "Homework"])
    assert sorted(m.title for m in ranked) == sorted(IC)


def test_short_names_are_not_close_by_accident() -> None:
    assert closeness("Art", "Tests")[0] == 9
    assert closeness("Lab", "Tab")[0] == 9
