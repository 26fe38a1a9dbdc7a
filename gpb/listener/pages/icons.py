"""Status icons drawn as inline SVG, so that they show whatever fonts the browser has (Debian's
Chromium draws ⏸, ⧉ and ⛔ as empty boxes). An icon only repeats the word beside it: hidden from
screen readers, tinted by the text colour around it."""

from __future__ import annotations

from markupsafe import Markup

_SHAPES = {
    "check": '<polyline points="3,8.5 6.5,12 13,4"/>',
    "cross": '<line x1="4" y1="4" x2="12" y2="12"/><line x1="12" y1="4" x2="4" y2="12"/>',
    "warn": '<path d="M8 2 L14.5 13.5 H1.5 Z"/><line x1="8" y1="6.5" x2="8" y2="9.5"/>'
    '<circle cx="8" cy="11.6" r=".4"/>',
    "dash": '<line x1="4" y1="8" x2="12" y2="8"/>',
    "wait": '<circle cx="3.5" cy="8" r=".6"/><circle cx="8" cy="8" r=".6"/>'
    '<circle cx="12.5" cy="8" r=".6"/>',
    "refused": '<circle cx="8" cy="8" r="6"/><line x1="4.5" y1="8" x2="11.5" y2="8"/>',
    "copy": '<rect x="2.5" y="2.5" width="8" height="8"/>'
    '<rect x="5.5" y="5.5" width="8" height="8"/>',
    "running": '<path d="M13 8 A5 5 0 1 1 11.5 4.5"/><polyline points="12,1.5 12,5 8.5,5"/>',
    "pause": '<line x1="5.5" y1="3.5" x2="5.5" y2="12.5"/>'
    '<line x1="10.5" y1="3.5" x2="10.5" y2="12.5"/>',
    "same": '<line x1="3.5" y1="6" x2="12.5" y2="6"/><line x1="3.5" y1="10" x2="12.5" y2="10"/>',
    "hidden": '<circle cx="8" cy="8" r="5.5" stroke-dasharray="2 1.6"/>',
    "dot": '<circle cx="8" cy="8" r="1.5"/>',
}


def icon(name: str) -> Markup:
    """One icon by name (an unknown name draws a dot)."""
    shape = _SHAPES.get(name, _SHAPES["dot"])
    return Markup(
        f'<svg class="icon icon-{name}" aria-hidden="true" focusable="false" viewBox="0 0 16 16"'
        ' width="16" height="16" fill="none" stroke="currentColor" stroke-width="2"'
        f' stroke-linecap="round" stroke-linejoin="round">{shape}</svg>'
    )
