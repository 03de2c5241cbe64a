"""The composer and its extras, and the chat header's options: the message box with Send and
Stop, the Attach files button and the pending-file chips, a message's attachments, the
Parameters dialog, the System prompt picker.

Pure view functions: vars and event handlers in, components out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import reflex as rx
from reflex.vars import ObjectVar
from reflex_base.utils.imports import ImportVar
from reflex_base.vars import VarData

from app.services.attachments import AttachmentView
from app.services.prompts import PromptOption
from components.composer_draft import composer_draft
from components.controls import native_select

Handler = Any  # an event handler or event spec, as Reflex accepts for on_* props

# Where the backend is (the same origin in production; another port under `reflex run`).
_BACKEND_ORIGIN = rx.Var(
    _js_expr="getBackendURL(env.UPLOAD).origin",
    _var_data=VarData(
        imports={
            "$/utils/state": "getBackendURL",
            "$/env.json": ImportVar(tag="env", is_default=True),
        }
    ),
).to(str)


def attachment_url(attachment_id: rx.Var[str]) -> rx.Var[str]:
    """The file route, by attachment id only (app/web/attachments.py)."""
    return rx.Var.create(f"{_BACKEND_ORIGIN}/_parley/attachment/{attachment_id}").to(str)


def _chip(attachment: ObjectVar[AttachmentView], *extra: rx.Component) -> rx.Component:
    is_image = attachment.kind == "image"
    return rx.hstack(
        rx.cond(
            is_image,
            rx.image(
                src=attachment_url(attachment.id),
                alt="",
                width="28px",
                height="28px",
                object_fit="cover",
                border_radius="4px",
            ),
            rx.icon("file-text", size=16, aria_hidden="true"),
        ),
        rx.text(attachment.filename, size="1", weight="medium", trim="both"),
        rx.text(attachment.size_label, size="1", color=rx.color("gray", 11)),
        *extra,
        align="center",
        spacing="2",
        padding="0.25em 0.5em",
        border=f"1px solid {rx.color('gray', 6)}",
        border_radius="8px",
        background=rx.color("gray", 1),
        max_width="100%",
        class_name="attachment-chip",
    )


def message_attachments(attachments: rx.Var[Sequence[AttachmentView]]) -> rx.Component:
    """A sent message's files: a chip each (name, size; a thumbnail for images) that opens
    the file from the attachment route."""
    return rx.cond(
        attachments.length() > 0,  # pyright: ignore[reportAttributeAccessIssue]
        rx.hstack(
            rx.foreach(
                attachments,
                lambda a: rx.link(
                    # Named by what it shows (file name, size), after a hidden "Open".
                    rx.el.span("Open ", class_name="parley-sr-only"),
                    _chip(a),
                    href=attachment_url(a.id),
                    is_external=True,
                    underline="none",
                    color="inherit",
                ),
            ),
            wrap="wrap",
            spacing="2",
            margin_top="0.4em",
            role="group",
            aria_label="Attachments",
        ),
    )


def pending_attachments(
    attachments: rx.Var[Sequence[AttachmentView]], on_remove: Callable[..., Any]
) -> rx.Component:
    """Files waiting to go with the next message, each with a Remove button."""
    return rx.cond(
        attachments.length() > 0,  # pyright: ignore[reportAttributeAccessIssue]
        rx.hstack(
            rx.foreach(
                attachments,
                lambda a: _chip(
                    a,
                    rx.icon_button(
                        rx.icon("x", size=12),
                        on_click=on_remove(a.id),
                        aria_label=f"Remove {a.filename}",
                        title=f"Remove {a.filename}",
                        size="1",
                        variant="ghost",
                        type="button",
                    ),
                ),
            ),
            wrap="wrap",
            spacing="2",
            width="100%",
            role="group",
            aria_label="Files to send",
        ),
    )


def upload_errors(errors: rx.Var[Sequence[str]], on_dismiss: Handler) -> rx.Component:
    """Refused files, each with what was wrong and the fix, in one alert."""
    return rx.cond(
        errors.length() > 0,  # pyright: ignore[reportAttributeAccessIssue]
        rx.callout.root(
            rx.callout.icon(rx.icon("file-x")),
            rx.vstack(
                rx.foreach(errors, lambda e: rx.text(e, size="2")),
                spacing="1",
                flex="1",
            ),
            rx.icon_button(
                rx.icon("x", size=14),
                on_click=on_dismiss,
                aria_label="Dismiss file errors",
                size="1",
                variant="ghost",
                type="button",
            ),
            color_scheme="red",
            role="alert",
            size="1",
            width="100%",
        ),
    )


def rejected_files(rejected: rx.Var) -> rx.Var:
    """react-dropzone's rejections as data the server can read: a File's name and size are
    not JSON fields, so they are picked here, in the browser."""
    return rx.Var(
        _js_expr=(
            f"({rejected}).map((r) => ({{name: r.file.name, size: r.file.size, "
            "errors: r.errors.map((e) => e.code)}))"
        ),
        _var_type=list[dict[str, Any]],
    )


def attach_button(
    upload_id: str,
    on_drop: Handler,
    *,
    on_rejected: Callable[[rx.Var], Handler],
    max_size: int,
    max_files: int,
) -> rx.Component:
    """The paperclip: opens the file picker; files dropped on it are attached too. Each
    file uploads at once (``on_drop``) and is checked on the server. A file over
    ``max_size`` bytes, or more than ``max_files`` at once, is refused in the browser
    (``on_rejected``, given :func:`rejected_files`' data) before any byte is sent."""
    return rx.upload.root(
        rx.icon_button(
            rx.icon("paperclip", size=18),
            type="button",
            aria_label="Attach files",
            title="Attach files",
            variant="soft",
            size="3",
        ),
        id=upload_id,
        multiple=True,
        max_size=max_size,
        max_files=max_files,
        no_keyboard=True,  # the button inside takes focus and Enter/Space
        on_drop=on_drop,
        on_drop_rejected=lambda rejected: on_rejected(rejected_files(rejected)),
        # The dropzone's own file input stays out of the tab order and the accessibility
        # tree: the button is the control (the picker still opens from it).
        style={"& input[type=file]": {"display": "none !important"}},
    )


@dataclass(frozen=True)
class ParametersDialog:
    """The Parameters dialog's vars and events; the page binds them to state."""

    open: rx.Var[bool]
    temperature: rx.Var[str]
    max_tokens: rx.Var[str]
    error: rx.Var[str]
    summary: rx.Var[str]
    on_open_change: Handler
    on_temperature: Handler
    on_max_tokens: Handler
    on_save: Handler
    on_reset: Handler


def parameters_dialog(p: ParametersDialog) -> rx.Component:
    """Temperature and max tokens for this conversation (empty: the model's default)."""
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button(
                rx.icon("sliders-horizontal", size=16),
                # Icon-only on phones; the hidden word still names the button.
                rx.el.span("Parameters", class_name="parley-phone-sr-only"),
                variant="soft",
                size="2",
                type="button",
                title=rx.cond(p.summary != "", p.summary, "Model defaults"),
            ),
        ),
        rx.dialog.content(
            rx.dialog.title("Parameters"),
            rx.dialog.description(
                "For this conversation. Leave a field empty for the model's default.",
                size="2",
                margin_bottom="1em",
            ),
            rx.form(
                rx.vstack(
                    rx.el.label("Temperature", html_for="param-temperature"),
                    rx.input(
                        id="param-temperature",
                        value=p.temperature,
                        on_change=p.on_temperature,
                        placeholder="default (OpenAI 0 to 2; Claude takes none)",
                        input_mode="decimal",
                        size="2",
                        width="100%",
                    ),
                    rx.el.label("Max tokens", html_for="param-max-tokens"),
                    rx.input(
                        id="param-max-tokens",
                        value=p.max_tokens,
                        on_change=p.on_max_tokens,
                        placeholder="default",
                        input_mode="numeric",
                        size="2",
                        width="100%",
                    ),
                    rx.cond(
                        p.error != "",
                        rx.callout(
                            p.error, icon="triangle-alert", color_scheme="red", role="alert"
                        ),
                    ),
                    rx.hstack(
                        rx.button(
                            "Use defaults", on_click=p.on_reset, variant="soft", type="button"
                        ),
                        rx.dialog.close(
                            rx.button("Cancel", variant="soft", color_scheme="gray", type="button")
                        ),
                        rx.button("Save parameters", type="submit"),
                        justify="end",
                        width="100%",
                        spacing="2",
                    ),
                    spacing="2",
                ),
                on_submit=p.on_save,
                reset_on_submit=False,
            ),
            max_width="420px",
        ),
        open=p.open,
        on_open_change=p.on_open_change,
    )


def prompt_picker(
    options: rx.Var[Sequence[PromptOption]], value: rx.Var[str], on_change: Handler
) -> rx.Component:
    """A native select, labelled "System prompt", like the Model picker."""
    return native_select(
        rx.el.option("No system prompt", value=""),
        rx.foreach(options, lambda o: rx.el.option(o.name, value=o.id)),
        label="System prompt",
        value=value,
        on_change=on_change,
        max_width="12em",
    )


MESSAGE_BOX_ID = "composer-message"


def composer(
    streaming: rx.Var[bool],
    notice: rx.Var[str],
    on_send: Handler,
    on_stop: Handler,
    attach: rx.Component | None = None,
    pending: rx.Component | None = None,
) -> rx.Component:
    """The message box and Send (Stop while a reply streams). ``on_send`` gets the form's
    data: the box's text is under "message". The box is uncontrolled: what is typed stays
    the browser's (components/composer_draft.py) until the server says it was sent."""
    return rx.form(
        rx.cond(
            notice != "",
            rx.callout(notice, icon="info", color_scheme="red", role="alert", size="1"),
        ),
        pending or rx.fragment(),
        rx.hstack(
            attach or rx.fragment(),
            rx.text_area(
                id=MESSAGE_BOX_ID,
                placeholder="Message Parley…",
                aria_label="Message",
                name="message",
                enter_key_submit=True,
                auto_height=True,
                rows="1",
                max_height="40vh",
                flex="1",
                size="3",
            ),
            composer_draft(MESSAGE_BOX_ID),
            rx.cond(
                streaming,
                rx.button(
                    rx.icon("square", size=16),
                    "Stop",
                    type="button",
                    on_click=on_stop,
                    color_scheme="red",
                    size="3",
                ),
                rx.button(rx.icon("send", size=16), "Send", type="submit", size="3"),
            ),
            align="end",
            width="100%",
        ),
        on_submit=on_send,
        reset_on_submit=False,
        width="100%",
        padding="1em",
        border_top=f"1px solid {rx.color('gray', 5)}",
    )
