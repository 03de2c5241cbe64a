"""The chat page's parts: the message log, its per-message actions, the header's pickers.
The composer is in components/composer.py, the sidebar in components/sidebar.py."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from app.services.status import ERROR, STREAMING
from app.services.views import MessageView, ModelOption
from components.composer import message_attachments
from components.controls import native_select
from components.live_reply import live_arm, live_reply, live_text
from components.markdown import safe_markdown
from components.message_status import status_note
from components.shell import scroll_follow

Handler = Any  # an event handler or event spec, as Reflex accepts for on_* props


@dataclass(frozen=True)
class MessageControls:
    """What the per-message actions show and raise; the page binds them to state."""

    editing_id: rx.Var[int]  # the message being edited (-1: none)
    edit_draft: rx.Var[str]
    retry: Callable[..., Any]  # (reply id)
    regenerate: Callable[..., Any]  # (reply id)
    start_edit: Callable[..., Any]  # (message id, its text)
    set_edit_draft: Handler
    save_edit: Handler
    cancel_edit: Handler
    ask_delete: Callable[..., Any]  # (message id): opens the confirm dialog
    switch_version: Callable[..., Any]  # (message id)
    # Shown under each message and under the reply streaming in (issue 12: agent steps,
    # extraction results and actions); None: nothing.
    extra: Callable[[ObjectVar[MessageView], rx.Var[bool]], rx.Component] | None = None
    live_extra: rx.Component | None = None
    # A live channel ended while its reply was streaming here: its worker may have died.
    settle: Handler | None = None


def reply_caption(message: ObjectVar[MessageView], on_retry: Handler) -> rx.Component:
    """Under a reply: which model answered (marked when a fallback did), tokens, cost, Retry."""
    return rx.hstack(
        rx.text(message.model_name, size="1", color=rx.color("gray", 11)),
        rx.cond(
            message.prompt_label != "",
            rx.badge(message.prompt_label, variant="soft", size="1", title="System prompt"),
        ),
        rx.cond(
            message.fallback,
            rx.badge("fallback", color_scheme="amber", variant="soft", size="1"),
        ),
        rx.cond(
            message.output_tokens.to(int) > 0,
            rx.text(
                f"{message.input_tokens} in · {message.output_tokens} out",
                size="1",
                color=rx.color("gray", 11),
            ),
        ),
        rx.cond(
            message.cost != "",
            rx.text(
                message.cost,
                size="1",
                color=rx.color("gray", 11),
                aria_label=message.cost_label,
                title=message.cost_label,
                class_name="reply-cost",
            ),
        ),
        rx.cond(
            message.status == ERROR,
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


def version_switcher(
    message: ObjectVar[MessageView], on_switch: Callable[..., Any], busy: rx.Var[bool]
) -> rx.Component:
    """The turn's versions: Previous version, "2 / 3", Next version. Shown when there are
    several; the buttons wait while a reply streams."""
    return rx.cond(
        message.versions.to(int) > 1,
        rx.hstack(
            rx.icon_button(
                rx.icon("chevron-left", size=14),
                on_click=on_switch(message.previous_version),
                disabled=busy | (message.previous_version.to(int) < 0),
                aria_label="Previous version",
                title="Previous version",
                size="1",
                variant="ghost",
                type="button",
            ),
            rx.text(
                f"{message.version} / {message.versions}",
                aria_label=f"Version {message.version} of {message.versions}",
                size="1",
                color=rx.color("gray", 11),
            ),
            rx.icon_button(
                rx.icon("chevron-right", size=14),
                on_click=on_switch(message.next_version),
                disabled=busy | (message.next_version.to(int) < 0),
                aria_label="Next version",
                title="Next version",
                size="1",
                variant="ghost",
                type="button",
            ),
            spacing="1",
            align="center",
            role="group",
            aria_label="Versions",
        ),
    )


def _action(icon: str, name: str, on_click: Any) -> rx.Component:
    """A small button named by what it does (its accessible name and its tooltip)."""
    return rx.icon_button(
        rx.icon(icon, size=14),
        on_click=on_click,
        aria_label=name,
        title=name,
        size="1",
        variant="ghost",
        color_scheme="gray",
        type="button",
    )


def _text(message: ObjectVar[MessageView]) -> rx.Var[str]:
    """The message's text in the browser: a reply this tab streamed is not sent again."""
    return rx.cond(message.live_key != "", live_text(message.live_key), message.content)


def message_actions(
    message: ObjectVar[MessageView], controls: MessageControls, busy: rx.Var[bool]
) -> rx.Component:
    """Copy, Regenerate (replies), Edit (questions), Delete, and the version switcher.
    Actions that change the conversation are hidden while a reply streams."""
    is_user = message.role == "user"
    return rx.hstack(
        version_switcher(message, controls.switch_version, busy),
        _action("copy", "Copy", rx.set_clipboard(_text(message))),
        rx.cond(
            busy,
            rx.fragment(),
            rx.fragment(
                rx.cond(
                    is_user,
                    _action("pencil", "Edit", controls.start_edit(message.id, message.content)),
                    _action("refresh-cw", "Regenerate", controls.regenerate(message.id)),
                ),
                _action("trash-2", "Delete", controls.ask_delete(message.id)),
            ),
        ),
        spacing="2",
        align="center",
        margin_top="0.25em",
        justify=rx.cond(is_user, "end", "start"),
        class_name="message-actions",
    )


def edit_form(controls: MessageControls) -> rx.Component:
    """The question being edited, in place: "Save and send" asks it as a new version."""
    return rx.vstack(
        rx.text_area(
            value=controls.edit_draft,
            on_change=controls.set_edit_draft,
            aria_label="Edit message",
            auto_height=True,
            rows="2",
            max_height="40vh",
            width="100%",
            min_width="min(480px, 70vw)",
        ),
        rx.hstack(
            rx.button(
                "Cancel", on_click=controls.cancel_edit, variant="soft", size="1", type="button"
            ),
            rx.button("Save and send", on_click=controls.save_edit, size="1", type="button"),
            spacing="2",
            justify="end",
            width="100%",
        ),
        spacing="2",
        width="100%",
    )


def delete_dialog(
    deleting_id: rx.Var[int], on_confirm: Callable[..., Any], on_cancel: Handler
) -> rx.Component:
    """Asks before a message and its replies are deleted."""
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete this message and its replies?"),
            rx.alert_dialog.description(
                "The message and everything that follows it in this branch are deleted. "
                "Other versions stay.",
                size="2",
            ),
            rx.hstack(
                rx.alert_dialog.cancel(
                    rx.button("Cancel", variant="soft", color_scheme="gray", on_click=on_cancel)
                ),
                rx.alert_dialog.action(
                    rx.button("Delete", color_scheme="red", on_click=on_confirm(deleting_id))
                ),
                spacing="3",
                justify="end",
                margin_top="1em",
            ),
            max_width="440px",
        ),
        open=deleting_id.to(int) >= 0,
        on_open_change=lambda _: on_cancel,  # Esc or a click outside cancels
    )


def conversation_spend(text: rx.Var[str], label: rx.Var[str]) -> rx.Component:
    """The conversation's running total for the header ("$0.0123 spent")."""
    return rx.cond(
        text != "",
        rx.text(
            text,
            aria_label=label,
            title=label,
            size="1",
            color=rx.color("gray", 11),
            white_space="nowrap",
            class_name="conversation-spend",
        ),
    )


def _bubble(
    role: rx.Var[str] | str,
    body: rx.Component,
    *extra: rx.Component,
    hidden: rx.Var[bool] | bool = False,
) -> rx.Component:
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
        display=rx.cond(hidden, "none", "block"),
    )


# Markdown's component map calls a React hook, so markdown is rendered in every branch
# (empty where unused) rather than swapped in and out by rx.cond, which would change the
# order of hooks between renders.


def message_item(
    message: ObjectVar[MessageView],
    controls: MessageControls,
    busy: rx.Var[bool],
    hidden: rx.Var[bool] | bool = False,
) -> rx.Component:
    is_user = message.role == "user"
    editing = message.id == controls.editing_id
    return _bubble(
        message.role,
        rx.cond(
            is_user,
            rx.cond(editing, edit_form(controls), rx.text(message.content, white_space="pre-wrap")),
        ),
        safe_markdown(rx.cond(is_user, "", message.content)),
        # A reply this tab streamed shows the text it already has from the live channel.
        rx.cond(
            message.live_key != "",
            live_reply(
                message.live_key,
                finished=True,
                on_end=controls.settle,
                report_end=message.status == STREAMING,
            ),
        ),
        message_attachments(message.attachments),
        status_note(message.status, message.error),
        rx.cond(is_user, rx.fragment(), reply_caption(message, controls.retry)),
        rx.cond(editing, rx.fragment(), message_actions(message, controls, busy)),
        controls.extra(message, busy) if controls.extra else rx.fragment(),
        hidden=hidden,
    )


def live_item(
    stream_key: rx.Var[str], extra: rx.Component | None = None, settle: Handler | None = None
) -> rx.Component:
    """The reply being streamed: its text comes over the live-reply channel, not state;
    ``extra`` (the agent's steps) above it."""
    reply = live_reply(stream_key, on_end=settle, report_end=True)
    return _bubble("assistant", extra or rx.fragment(), reply)


def message_log(
    messages: rx.Var[Sequence[MessageView]],
    recent: rx.Var[Sequence[MessageView]],
    hidden_from: rx.Var[int],
    live_id: rx.Var[int],
    live_key: rx.Var[str],
    next_key: rx.Var[str],
    streaming_here: rx.Var[bool],
    more_history: rx.Var[bool],
    on_load_earlier: Handler,
    controls: MessageControls,
    busy: rx.Var[bool],
) -> rx.Component:
    """The branch on screen: loaded history (from ``hidden_from`` on hidden, being replaced),
    the messages added since, and the reply streaming in.

    Not itself a live region (loading a conversation would read it all): the scroller
    reads the streaming reply aloud once, part by part (assets/use_reply_announcer.jsx)."""
    return scroll_follow(
        rx.box(
            rx.cond(
                more_history,
                rx.button("Load earlier messages", on_click=on_load_earlier, variant="ghost"),
            ),
            rx.foreach(
                messages,
                lambda message, index: message_item(
                    message,
                    controls,
                    busy,
                    hidden=(hidden_from.to(int) >= 0) & (index >= hidden_from.to(int)),
                ),
            ),
            rx.foreach(recent, lambda message: message_item(message, controls, busy)),
            rx.cond(streaming_here, live_item(live_key, controls.live_extra, controls.settle)),
            live_arm(next_key),  # opens the next reply's channel as the message is sent
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


def model_picker(
    models: rx.Var[Sequence[ModelOption]], value: rx.Var[str], on_change: Handler
) -> rx.Component:
    """A native select: keyboard- and screen-reader-friendly, labelled "Model"."""
    return native_select(
        rx.foreach(models, lambda m: rx.el.option(m.name, value=m.id)),
        label="Model",
        value=value,
        on_change=on_change,
    )
