"""How a reply ended, under it: a Stopped badge, or the error as an alert."""

from __future__ import annotations

import reflex as rx

from app.services.status import ERROR, STOPPED


def status_note(status: rx.Var[str], error: rx.Var[str]) -> rx.Component:
    return rx.fragment(
        rx.cond(
            status == STOPPED,
            rx.badge("Stopped", color_scheme="amber", variant="soft", aria_label="Reply stopped"),
        ),
        rx.cond(
            status == ERROR,
            rx.callout(
                error,
                icon="triangle-alert",
                color_scheme="red",
                role="alert",
                size="1",
                margin_top="0.5em",
            ),
        ),
    )
