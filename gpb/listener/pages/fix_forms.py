"""What the course pages show of fixes: the offers beside each problem, the counter's units, and
the words for a fix just made. Used by the Assignments tab and the category view."""

from __future__ import annotations

from typing import Any

from gpb.handlers.eligibility import title_length
from gpb.handlers.fixes import FIX_EVENT
from gpb.listener import schemas
from gpb.listener.answers import shown
from gpb.listener.context import AppContext


def title_units() -> dict[str, Any]:
    """How the title rule counts, probed from its own length function, for the live counter."""
    return {"utf16": title_length("\U0001f600") == 2, "trim": title_length(" a ") == 1}


async def fix_offers(ctx: AppContext, course_id: str) -> dict[str, dict[str, Any]]:
    """The offers of every assignment with problems, by assignment id then code."""
    found = await ctx.fixes.course_offers(course_id)
    return {
        aid: {o.code: shown(schemas.FixOffer.of(o)) for o in offers}
        for aid, offers in found.items()
    }


async def fixed_notice(ctx: AppContext, course_id: str, event_id: str | None) -> str | None:
    """The words for a fix just made (after a form posted without the page's script)."""
    if not event_id or not event_id.isdigit():
        return None
    event = await ctx.events.get(event_id)
    if event is None or event.event_name != FIX_EVENT or event.course_id != course_id:
        return None
    return f"{event.body.get('what')}: {event.body.get('canvas_answer')}."
