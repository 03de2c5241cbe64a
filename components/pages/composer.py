"""The composer's extras and the chat header's options, bound to :class:`ComposerState`."""

from __future__ import annotations

import reflex as rx

from components.composer import (
    ParametersDialog,
    attach_button,
    parameters_dialog,
    pending_attachments,
    prompt_picker,
    upload_errors,
)
from state.composer import UPLOAD_ID, ComposerState, upload_limits


def attach() -> rx.Component:
    largest, most = upload_limits()
    return attach_button(
        UPLOAD_ID,
        # A drop's messages replace the last drop's: cleared first, then the server's
        # (upload) and the browser's (refuse_files) are added as they come.
        on_drop=[
            ComposerState.dismiss_upload_errors,
            ComposerState.upload(rx.upload_files(upload_id=UPLOAD_ID)),
        ],
        on_rejected=ComposerState.refuse_files,
        max_size=largest,
        max_files=most,
    )


def pending() -> rx.Component:
    return rx.vstack(
        upload_errors(ComposerState.upload_errors, on_dismiss=ComposerState.dismiss_upload_errors),
        pending_attachments(ComposerState.attachments, on_remove=ComposerState.remove_attachment),
        spacing="2",
        width="100%",
        margin_bottom="0.5em",
    )


def prompt_library_link() -> rx.Component:
    return rx.link(
        rx.icon("library", size=18),
        href="/prompts",
        aria_label="Prompt library",
        title="Prompt library",
        color=rx.color("gray", 11),
        display="inline-flex",
    )


def header_options() -> rx.Component:
    return rx.hstack(
        prompt_picker(
            ComposerState.prompt_options,
            ComposerState.prompt_id,
            on_change=ComposerState.set_prompt,
        ),
        parameters_dialog(
            ParametersDialog(
                open=ComposerState.params_open,
                temperature=ComposerState.temperature,
                max_tokens=ComposerState.max_tokens,
                error=ComposerState.params_error,
                summary=ComposerState.params_summary,
                on_open_change=ComposerState.set_params_open,
                on_temperature=ComposerState.set_temperature,
                on_max_tokens=ComposerState.set_max_tokens,
                on_save=ComposerState.save_params,
                on_reset=ComposerState.reset_params,
            )
        ),
        spacing="2",
        align="center",
        flex_wrap="wrap",
        class_name="parley-header-options",
    )
