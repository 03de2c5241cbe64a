"""The prompt library's parts: the list, the editor and a prompt's version history."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from app.services.prompts import PromptVersionView, PromptView

Handler = Any


@dataclass(frozen=True)
class PromptActions:
    start_new: Handler
    start_edit: Callable[..., Any]  # (prompt id)
    set_archived: Callable[..., Any]  # (prompt id, archived)
    show_history: Callable[..., Any]  # (prompt id)
    set_show_archived: Handler


def _row(prompt: ObjectVar[PromptView], actions: PromptActions) -> rx.Component:
    return rx.el.li(
        rx.hstack(
            rx.vstack(
                rx.hstack(
                    rx.heading(prompt.name, as_="h3", size="3"),
                    rx.badge(f"v{prompt.version}", variant="soft"),
                    rx.cond(prompt.archived, rx.badge("archived", color_scheme="gray")),
                    align="center",
                    spacing="2",
                ),
                rx.text(
                    prompt.body,
                    size="2",
                    color=rx.color("gray", 11),
                    white_space="pre-wrap",
                    max_height="4.5em",
                    overflow="hidden",
                ),
                spacing="1",
                flex="1",
                min_width="0",
            ),
            rx.hstack(
                rx.button(
                    "Edit",
                    on_click=actions.start_edit(prompt.id),
                    aria_label=f"Edit {prompt.name}",
                    variant="soft",
                    size="1",
                ),
                rx.button(
                    "History",
                    on_click=actions.show_history(prompt.id),
                    aria_label=f"Version history of {prompt.name}",
                    variant="soft",
                    size="1",
                ),
                rx.cond(
                    prompt.archived,
                    rx.button(
                        "Restore",
                        on_click=actions.set_archived(prompt.id, False),
                        aria_label=f"Restore {prompt.name}",
                        variant="soft",
                        size="1",
                    ),
                    rx.button(
                        "Archive",
                        on_click=actions.set_archived(prompt.id, True),
                        aria_label=f"Archive {prompt.name}",
                        variant="soft",
                        color_scheme="gray",
                        size="1",
                    ),
                ),
                spacing="2",
            ),
            align="start",
            width="100%",
        ),
        padding="0.75em 0",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        list_style="none",
    )


def prompt_list(
    prompts: rx.Var[Sequence[PromptView]], show_archived: rx.Var[bool], actions: PromptActions
) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.button(rx.icon("plus", size=16), "New prompt", on_click=actions.start_new),
            rx.el.label(
                rx.checkbox(
                    checked=show_archived,
                    on_change=actions.set_show_archived,
                    margin_right="0.4em",
                ),
                "Show archived",
                display="flex",
                align_items="center",
            ),
            justify="between",
            align="center",
            width="100%",
        ),
        rx.el.ul(
            rx.foreach(prompts, lambda p: _row(p, actions)),
            aria_label="Prompts",
            padding="0",
            margin="0",
            width="100%",
        ),
        width="100%",
    )


@dataclass(frozen=True)
class EditorBinding:
    is_new: rx.Var[bool]
    name: rx.Var[str]
    body: rx.Var[str]
    error: rx.Var[str]
    on_name: Handler
    on_body: Handler
    on_save: Handler
    on_cancel: Handler


def prompt_editor(e: EditorBinding) -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.heading(rx.cond(e.is_new, "New prompt", "Edit prompt"), as_="h2", size="4"),
            rx.el.label("Name", html_for="prompt-name"),
            rx.input(id="prompt-name", value=e.name, on_change=e.on_name, width="100%"),
            rx.el.label("Text", html_for="prompt-body"),
            rx.text_area(
                id="prompt-body",
                value=e.body,
                on_change=e.on_body,
                rows="8",
                width="100%",
            ),
            rx.text(
                "Saving a changed text adds a new version; replies keep the version they used.",
                size="1",
                color=rx.color("gray", 10),
            ),
            rx.cond(
                e.error != "",
                rx.callout(e.error, icon="triangle-alert", color_scheme="red", role="alert"),
            ),
            rx.hstack(
                rx.button("Cancel", on_click=e.on_cancel, variant="soft", type="button"),
                rx.button("Save prompt", type="submit"),
                spacing="2",
            ),
            width="100%",
            spacing="2",
        ),
        on_submit=e.on_save,
        reset_on_submit=False,
        width="100%",
        padding="1em",
        border=f"1px solid {rx.color('gray', 6)}",
        border_radius="8px",
    )


def version_history(
    name: rx.Var[str], versions: rx.Var[Sequence[PromptVersionView]], on_close: Handler
) -> rx.Component:
    return rx.el.section(
        rx.hstack(
            rx.heading(f"Versions of {name}", as_="h2", size="4"),
            rx.button("Close history", on_click=on_close, variant="soft", size="1"),
            justify="between",
            width="100%",
        ),
        rx.el.ol(
            rx.foreach(
                versions,
                lambda v: rx.el.li(
                    rx.text(f"v{v.version}", weight="bold", size="2"),
                    rx.text(v.created_at, size="1", color=rx.color("gray", 10)),
                    rx.code_block(v.body, language="markdown", wrap_long_lines=True),
                    list_style="none",
                    margin_bottom="0.75em",
                ),
            ),
            padding="0",
        ),
        aria_label=f"Versions of {name}",
        width="100%",
    )
