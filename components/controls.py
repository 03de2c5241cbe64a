"""Small controls shared by several views."""

from __future__ import annotations

from typing import Any

import reflex as rx

Handler = Any  # an event handler or event spec, as Reflex accepts for on_* props


def native_select(
    *options: rx.Component, label: str, value: rx.Var[str], on_change: Handler, **props: Any
) -> rx.Component:
    """The header's pickers: a native select named ``label`` (keyboard- and
    screen-reader-friendly), styled alike."""
    return rx.el.select(
        *options,
        value=value,
        on_change=on_change,
        aria_label=label,
        title=label,
        padding="0.3em 0.5em",
        border_radius="6px",
        border=f"1px solid {rx.color('gray', 6)}",
        background=rx.color("gray", 1),
        color=rx.color("gray", 12),
        font_size="0.9em",
        **props,
    )
