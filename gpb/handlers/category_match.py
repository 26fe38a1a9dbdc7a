"""How close a Canvas assignment group's name is to each IC grading category's title.

The CATEGORY_NOT_FOUND rule wants the group named exactly as a category (ignoring case and outer
spaces). Teachers name groups the way they talk: "HW", "home work", "Quizes", "Tests & Quizzes".
The category-mapping assistant ranks IC's categories by how likely each is the one meant, closest
first, and says why in words:

    0  the same name to the rule
    1  the same but for case, spacing or punctuation   "home work"  -> "Homework"
    2  singular and plural, or a common misspelling    "Quizes"     -> "Quizzes"
    3  a common abbreviation                           "HW"         -> "Homework"
    4  a few letters apart (edit distance)             "Homwork"    -> "Homework"
    5  shares a word                                   "Tests & Quizzes" -> "Tests", "Quizzes"
    9  no likeness: listed last, still a valid choice
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from gpb.handlers.ic_names import name_key

ABBREVIATIONS = {
    "hw": "homework",
    "hwk": "homework",
    "cw": "classwork",
    "qz": "quiz",
    "quiz": "quiz",
    "tst": "test",
    "proj": "project",
    "projs": "project",
    "ps": "problemset",
    "ec": "extracredit",
    "xc": "extracredit",
    "assess": "assessment",
    "assmt": "assessment",
    "asgmt": "assignment",
    "lab": "laboratory",
    "labs": "laboratory",
    "part": "participation",
    "partic": "participation",
    "sa": "summativeassessment",
    "fa": "formativeassessment",
    "summ": "summative",
    "form": "formative",
}

CLOSE = 5  # ranks up to this one are offered as matches

_REASONS = {
    0: "the same name",
    1: "differs only in case, spacing or punctuation",
    2: "singular or plural of the same word",
    3: "a common abbreviation of it",
    5: "shares a word with it",
    9: "no likeness",
}


@dataclass(frozen=True)
class CategoryMatch:
    title: str
    rank: int  # lower is closer
    reason: str

    @property
    def close(self) -> bool:
        return self.rank <= CLOSE


def _compact(text: str) -> str:
    """Letters and digits only, case-folded: "Home Work " -> "homework"."""
    return re.sub(r"[\W_]+", "", name_key(text))


def _words(text: str) -> set[str]:
    return {_singular(w) for w in re.findall(r"[a-z0-9]+", name_key(text)) if w != "and"}


def _singular(word: str) -> str:
    if word.endswith("zzes"):
        return word[:-3]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("es") and len(word) > 3 and word[-3] in "sxz":
        return word[:-2]
    if word.endswith(("ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _distance(a: str, b: str) -> int:
    """Levenshtein distance, row by row."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _initials(text: str) -> str:
    return "".join(w[0] for w in re.findall(r"[a-z0-9]+", name_key(text)))


def closeness(group: str, category: str) -> tuple[int, str]:
    """The rank of `category` for a group named `group`, and why in words."""
    if name_key(group) == name_key(category):
        return 0, _REASONS[0]
    g, c = _compact(group), _compact(category)
    if g and g == c:
        return 1, _REASONS[1]
    if g and _singular(g) == _singular(c):
        return 2, _REASONS[2]
    expanded = ABBREVIATIONS.get(g)
    if g and (expanded in (c, _singular(c)) or _initials(category) == g and len(g) > 1):
        return 3, _REASONS[3]
    apart = _distance(_singular(g), _singular(c))
    if g and apart <= min(len(g), len(c)) // 4:
        return 4, f"{apart} letter{'s' if apart != 1 else ''} apart"
    if _words(group) & _words(category):
        return 5, _REASONS[5]
    return 9, _REASONS[9]


def rank_categories(group: str, categories: Iterable[str]) -> list[CategoryMatch]:
    """Every category title, closest to `group` first (ties in the order given)."""
    matches = []
    for title in dict.fromkeys(categories):
        rank, reason = closeness(group, title)
        matches.append(CategoryMatch(title, rank, reason))
    return sorted(matches, key=lambda m: m.rank)
