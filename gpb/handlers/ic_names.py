"""Canvas names as IC gets them: the title sent, its length as IC counts it, the category matched.

Canvas's REST API answers titles and group names as the raw text the teacher typed: "Facts &notes"
is that text, not an HTML entity to decode, and "R&amp;D" is a group literally named so. Nothing
here unescapes. The rule, the pages and the sender all call these functions, so what the rules
call eligible is what a sync sends, and finds in IC.
"""

from __future__ import annotations

from collections.abc import Iterable

from gpb.handlers.model import IcCategory


def sent_title(title: str) -> str:
    """The line item title IC receives for a Canvas assignment title: trimmed, else as typed."""
    return title.strip()


def ic_length(text: str) -> int:
    """Length as IC stores text, in UTF-16 code units: a character outside the BMP (most emoji)
    counts 2."""
    return len(text.encode("utf-16-le")) // 2


def name_key(name: str) -> str:
    """How two names are compared: ignoring case and surrounding spaces, never HTML entities."""
    return name.strip().casefold()


def matching_category(
    categories: Iterable[IcCategory], group_name: str | None
) -> IcCategory | None:
    """The IC category a Canvas assignment group files under: the first whose title is the
    group's name; None without a name or a match."""
    if group_name is None:
        return None
    wanted = name_key(group_name)
    return next((c for c in categories if name_key(c.title) == wanted), None)
