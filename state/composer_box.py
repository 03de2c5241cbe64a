"""What the server may ask of the composer's box in the browser (shared by the states that
send from it: the composer, and extraction's slash commands)."""

from __future__ import annotations

import json

import reflex as rx


def clear_sent(text: str) -> rx.event.EventSpec:
    """The browser removes ``text`` from the start of the composer, if it is still there
    (``window.parleyComposer.sent``, defined by assets/composer_draft.jsx)."""
    return rx.call_script(f"window.parleyComposer?.sent({json.dumps(text)})")
