"""The prompt library, at ``/prompts``."""

from __future__ import annotations

import reflex as rx

from components.prompts import (
    EditorBinding,
    PromptActions,
    prompt_editor,
    prompt_list,
    version_history,
)
from state.prompts import NEW, PromptsState


def prompts_page() -> rx.Component:
    return rx.el.main(
        rx.vstack(
            rx.hstack(
                rx.heading("Prompt library", as_="h1", size="6"),
                rx.link("Back to chat", href="/"),
                justify="between",
                align="center",
                width="100%",
            ),
            rx.text(
                PromptsState.status,
                role="status",
                aria_live="polite",
                size="2",
                color=rx.color("gray", 11),
            ),
            rx.cond(
                PromptsState.editing,
                prompt_editor(
                    EditorBinding(
                        is_new=PromptsState.editing_id == NEW,
                        name=PromptsState.name,
                        body=PromptsState.body,
                        error=PromptsState.error,
                        on_name=PromptsState.set_name,
                        on_body=PromptsState.set_body,
                        on_save=PromptsState.save,
                        on_cancel=PromptsState.cancel_edit,
                    )
                ),
            ),
            rx.cond(
                PromptsState.history_id >= 0,
                version_history(
                    PromptsState.history_name,
                    PromptsState.history,
                    on_close=PromptsState.close_history,
                ),
            ),
            prompt_list(
                PromptsState.prompts,
                PromptsState.show_archived,
                PromptActions(
                    start_new=PromptsState.start_new,
                    start_edit=PromptsState.start_edit,
                    set_archived=PromptsState.set_archived,
                    show_history=PromptsState.show_history,
                    set_show_archived=PromptsState.set_show_archived,
                ),
            ),
            spacing="4",
            width="100%",
            max_width="860px",
            margin="0 auto",
            padding="1.5em",
        ),
    )
