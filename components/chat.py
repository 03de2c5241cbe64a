"""The chat page's parts: sidebar, message log, composer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from app.services.chat import MessageView, ModelOption
from components.live_reply import live_reply
from components.markdown import safe_markdown
from components.shell import scroll_follow

Handler = Any  # an event handler or event spec, as Reflex accepts for on_* props


def status_note(status: rx.Var[str], error: rx.Var[str]) -> rx.Component:
    return rx.fragment(
        rx.cond(
            status == "stopped",
            rx.badge("Stopped", color_scheme="amber", variant="soft", aria_label="Reply stopped"),
        ),
        rx.cond(
            status == "error",
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


def reply_caption(message: ObjectVar[MessageView], on_retry: Handler) -> rx.Component:
    """Under a reply: which model answered (marked when a fallback did), tokens, Retry."""
    return rx.hstack(
        rx.text(message.model_name, size="1", color=rx.color("gray", 10)),
        rx.cond(
            message.fallback,
            rx.badge("fallback", color_scheme="amber", variant="soft", size="1"),
        ),
        rx.cond(
            message.output_tokens.to(int) > 0,
            rx.text(
                f"{message.input_tokens} in · {message.output_tokens} out",
                size="1",
                color=rx.color("gray", 10),
            ),
        ),
        rx.cond(
            message.status == "error",
            rx.button(
                rx.icon("rotate-ccw", size=14),
                "Retry",
                on_click=on_retry(message.id),
                size="1",
                variant="soft",
                type="button",
            ),
        ),
        spacing="2",
        align="center",
        margin_top="0.35em",
        class_name="reply-caption",
    )


def _bubble(role: rx.Var[str] | str, body: rx.Component, *extra: rx.Component) -> rx.Component:
    is_user = role == "user"
    return rx.box(
        rx.text(
            rx.cond(is_user, "You", "Assistant"),
            size="1",
            weight="bold",
            color=rx.color("gray", 11),
        ),
        body,
        *extra,
        class_name="message",
        custom_attrs={"data-role": role},
        align_self=rx.cond(is_user, "flex-end", "flex-start"),
        max_width="min(760px, 100%)",
        padding="0.6em 1em",
        border_radius="12px",
        background=rx.cond(is_user, rx.color("accent", 3), rx.color("gray", 2)),
    )


# Markdown's component map calls a React hook, so markdown is rendered in every branch
# (empty where unused) rather than swapped in and out by rx.cond, which would change the
# order of hooks between renders.


def message_item(message: ObjectVar[MessageView], on_retry: Handler) -> rx.Component:
    is_user = message.role == "user"
    return _bubble(
        message.role,
        rx.cond(is_user, rx.text(message.content, white_space="pre-wrap")),
        safe_markdown(rx.cond(is_user, "", message.content)),
        status_note(message.status, message.error),
        rx.cond(is_user, rx.fragment(), reply_caption(message, on_retry)),
    )


def live_item(message_id: rx.Var[int]) -> rx.Component:
    """The reply being streamed: its text comes over the live-reply channel, not state."""
    return _bubble("assistant", live_reply(message_id))


def message_log(
    messages: rx.Var[Sequence[MessageView]],
    live_id: rx.Var[int],
    streaming_here: rx.Var[bool],
    more_history: rx.Var[bool],
    on_load_earlier: Handler,
    on_retry: Handler,
) -> rx.Component:
    # Not itself a live region (loading a conversation would read it all): the scroller
    # reads the streaming reply aloud once, part by part (assets/shell.jsx).
    return scroll_follow(
        rx.box(
            rx.cond(
                more_history,
                rx.button("Load earlier messages", on_click=on_load_earlier, variant="ghost"),
            ),
            rx.foreach(messages, lambda message: message_item(message, on_retry)),
            rx.cond(streaming_here, live_item(live_id)),
            display="flex",
            flex_direction="column",
            gap="0.75em",
            padding="1em",
        ),
        live_id=live_id,
        role="log",
        aria_label="Messages",
        aria_live="off",
        flex="1",
        width="100%",
    )


def composer(
    draft: rx.Var[str],
    streaming: rx.Var[bool],
    notice: rx.Var[str],
    on_change: Handler,
    on_send: Handler,
    on_stop: Handler,
) -> rx.Component:
    return rx.form(
        rx.cond(
            notice != "",
            rx.callout(notice, icon="info", color_scheme="red", role="alert", size="1"),
        ),
        rx.hstack(
            rx.text_area(
                value=draft,
                on_change=on_change,
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


def model_picker(
    models: rx.Var[Sequence[ModelOption]], value: rx.Var[str], on_change: Handler
) -> rx.Component:
    """A native select: keyboard- and screen-reader-friendly, labelled "Model"."""
    return rx.el.select(
        rx.foreach(models, lambda m: rx.el.option(m.name, value=m.id)),
        value=value,
        on_change=on_change,
        aria_label="Model",
        title="Model",
        padding="0.3em 0.5em",
        border_radius="6px",
        border=f"1px solid {rx.color('gray', 6)}",
        background=rx.color("gray", 1),
        color=rx.color("gray", 12),
        font_size="0.9em",
    )
