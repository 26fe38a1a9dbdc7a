"""A shorter assignment title that fits IC's limit, for the NAME_TOO_LONG fix.

The suggestion changes as little as it must, one step after another until the title fits, counted
with the rule's own length function:

1. spaces collapsed, and filler words dropped ("the", "of", "and", ...);
2. long words abbreviated as teachers write them ("Homework" -> "HW", "Chapter" -> "Ch"), from the
   first word on;
3. words without a digit dropped from the end ("Unit 3 Test Linear" -> "Unit 3 Test"): numbers
   tell assignments apart and are always kept;
4. only then is the title cut, possibly mid-word, and the suggestion says so (`cut_mid_word`).

The same title and limit always give the same suggestion.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

FILLER_WORDS = frozenset({"a", "an", "the", "of", "and", "for", "on", "in", "to", "with", "&"})

ABBREVIATIONS = {
    "homework": "HW",
    "assignment": "Asgmt",
    "assessment": "Assess",
    "chapter": "Ch",
    "section": "Sec",
    "lesson": "Les",
    "introduction": "Intro",
    "review": "Rev",
    "practice": "Prac",
    "problems": "Probs",
    "problem": "Prob",
    "equations": "Eqns",
    "equation": "Eqn",
    "questions": "Qs",
    "question": "Q",
    "number": "No",
    "worksheet": "WS",
    "project": "Proj",
    "laboratory": "Lab",
    "vocabulary": "Vocab",
    "exercises": "Ex",
    "exercise": "Ex",
    "presentation": "Pres",
    "quarter": "Qtr",
    "semester": "Sem",
    "extra": "Xtra",
    "credit": "Cr",
    "reading": "Rdg",
    "writing": "Wrtg",
    "journal": "Jrnl",
    "discussion": "Disc",
    "midterm": "Midterm",
    "final": "Final",
}

_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class TitleSuggestion:
    title: str
    length: int  # in the rule's units
    cut_mid_word: bool  # the last step had to cut inside a word: the teacher should look


def _core(word: str) -> tuple[str, str, str]:
    """A word split into leading punctuation, letters and digits, trailing punctuation."""
    match = re.fullmatch(r"(\W*)(.*?)(\W*)", word)
    assert match is not None  # the pattern matches any string
    return match.group(1), match.group(2), match.group(3)


def _abbreviated(word: str) -> str:
    lead, core, trail = _core(word)
    short = ABBREVIATIONS.get(core.casefold())
    return word if short is None else lead + short + trail


def suggest_title(title: str, limit: int, length: Callable[[str], int]) -> TitleSuggestion:
    """A title of at most `limit` units (as `length` counts them) derived from `title`."""
    words = _WORD.findall(title)

    def done(candidate: list[str]) -> TitleSuggestion | None:
        text = " ".join(candidate)
        return TitleSuggestion(text, length(text), False) if length(text) <= limit else None

    if found := done(words):
        return found
    # 1. Filler words; a word that ends a clause ("of:") keeps its punctuation's place.
    kept = [w for w in words if _core(w)[1].casefold() not in FILLER_WORDS or _core(w)[2]]
    words = kept or words
    if found := done(words):
        return found
    # 2. Abbreviations, one word at a time from the start.
    for index, word in enumerate(words):
        words[index] = _abbreviated(word)
        if found := done(words):
            return found
    # 3. Words without digits, from the end; the first word stays.
    for index in range(len(words) - 1, 0, -1):
        if not any(ch.isdigit() for ch in words[index]):
            words = words[:index] + words[index + 1 :]
            if found := done(words):
                return found
    # 4. Cut, unit by unit, and say so when the cut falls inside a word.
    full = " ".join(words)
    text = full
    while text and length(text) > limit:
        text = text[:-1]
    mid_word = full[len(text)] != " "
    text = text.rstrip()
    return TitleSuggestion(text, length(text), mid_word)
