"""The NAME_TOO_LONG title suggester: never over the limit, deterministic, keeps numbers."""

from __future__ import annotations

import pytest

from gpb.handlers.eligibility import title_length
from gpb.handlers.titles import suggest_title

TITLES = [
    "Homework 3.2: Linear Equations Rev2",
    "Chapter 7 Review of the Quadratic Formula and Its Applications",
    "Introduction to the Study of Vocabulary Exercises Section 4 Part 2",
    "Supercalifragilisticexpialidocious Assessment Number 12",
    "Lab 5 — Measuring the Acceleration due to Gravity 🚀 with Pendulums",
    "   Unit   3    Test   ",
    "A",
]


@pytest.mark.parametrize("title", TITLES)
@pytest.mark.parametrize("limit", [10, 20, 30, 50])
def test_never_over_the_limit(title: str, limit: int) -> None:
    found = suggest_title(title, limit, title_length)
    assert title_length(found.title) <= limit
    assert found.length == title_length(found.title)


@pytest.mark.parametrize("title", TITLES)
def test_deterministic(title: str) -> None:
    assert {suggest_title(title, 20, title_length) for _ in range(5)} == {
        suggest_title(title, 20, title_length)
    }


def test_a_title_that_fits_only_loses_its_extra_spaces() -> None:
    found = suggest_title("   Unit   3    Test   ", 30, title_length)
    assert (found.title, found.cut_mid_word) == ("Unit 3 Test", False)


def test_abbreviations_come_before_dropping_words() -> None:
    found = suggest_title("Homework 3.2: Linear Equations Rev2", 30, title_length)
    assert found.title == "HW 3.2: Linear Equations Rev2"


def test_filler_words_go_first() -> None:
    found = suggest_title("Review of the Unit 4 Test and Answers", 30, title_length)
    assert found.title == "Review Unit 4 Test Answers"


@pytest.mark.parametrize(
    ("title", "limit", "numbers"),
    [
        ("Chapter 7 Review of the Quadratic Formula and Its Applications", 20, ["7"]),
        ("Introduction to the Study of Vocabulary Exercises Section 4 Part 2", 20, ["4", "2"]),
        ("Homework 12 Problems 3 to 17 with Extended Explanations", 20, ["12", "3", "17"]),
    ],
)
def test_numbers_are_kept(title: str, limit: int, numbers: list[str]) -> None:
    found = suggest_title(title, limit, title_length)
    words = found.title.split()
    assert [w for w in words if any(c.isdigit() for c in w)] == numbers
    assert not found.cut_mid_word


def test_a_cut_inside_a_word_is_said() -> None:
    found = suggest_title("Supercalifragilisticexpialidocious 12", 20, title_length)
    assert found.cut_mid_word
    assert title_length(found.title) <= 20


def test_counts_in_the_rules_units() -> None:
    """A length function counting other units (UTF-16 code units here) is obeyed."""

    def utf16(text: str) -> int:
        return len(text.strip().encode("utf-16-le")) // 2

    found = suggest_title("Rocket 🚀🚀🚀🚀 Lab 5 Measurements", 16, utf16)
    assert utf16(found.title) <= 16
    assert "5" in found.title.split()
