"""Sharing's views (issue 13): the Share dialog, the chat header's "Shared" mark, the note a
read-only reader sees in place of the composer, and the read-only link page's body.

Pure view functions: vars and event handlers in, components out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import reflex as rx
from reflex.vars import ArrayVar, ObjectVar

from app.services.sharing import ShareView
from app.services.views import MessageView
from components.controls import native_select
from components.markdown import safe_markdown

Handler = Any  # an event handler or event spec, as Reflex accepts for on_* props

ROLES = (("viewer", "Viewer (read only)"), ("participant", "Participant (can send)"))


@dataclass(frozen=True)
class ShareDialog:
    """What the Share dialog shows and the events it raises; the page binds them."""

    open: rx.Var[bool]
    shares: ArrayVar[Sequence[ShareView]]
    link_url: rx.Var[str]  # "" when the conversation has no live link
    error: rx.Var[str]
    on_open_change: Handler  # (open)
    on_add: Handler  # form data: email, role
    on_share_with_project: Callable[..., Any]  # (role)
    on_change_role: Callable[..., Any]  # (share id, role)
    on_remove: Callable[..., Any]  # (share id)
    on_create_link: Handler
    on_revoke_link: Handler


def _role_options() -> list[rx.Component]:
    return [rx.el.option(label, value=value) for value, label in ROLES]


def _share_row(share: ObjectVar[ShareView], d: ShareDialog) -> rx.Component:
    return rx.el.li(
        rx.hstack(
            rx.text(share.label, size="2", flex="1", min_width="0", trim="both"),
            native_select(
                *_role_options(),
                label=f"Role of {share.label}",
                value=share.role,
                on_change=lambda role: d.on_change_role(share.id, role),
            ),
            rx.button(
                "Remove",
                on_click=d.on_remove(share.id),
                aria_label=f"Remove {share.label}",
                variant="soft",
                color_scheme="red",
                size="1",
                type="button",
            ),
            align="center",
            spacing="2",
            width="100%",
        ),
        list_style="none",
        padding="0.25em 0",
    )


def _link_section(d: ShareDialog) -> rx.Component:
    return rx.box(
        rx.heading("Read-only link", as_="h3", size="2", margin_bottom="0.25em"),
        rx.cond(
            d.link_url != "",
            rx.vstack(
                rx.el.label("Link", html_for="share-link", class_name="parley-sr-only"),
                rx.input(id="share-link", value=d.link_url, read_only=True, width="100%"),
                rx.hstack(
                    rx.button(
                        rx.icon("copy", size=14),
                        "Copy link",
                        on_click=[
                            rx.set_clipboard(d.link_url),
                            rx.toast.success("Link copied", duration=2000),
                        ],
                        type="button",
                        size="2",
                    ),
                    rx.button(
                        "Revoke link",
                        on_click=d.on_revoke_link,
                        variant="soft",
                        color_scheme="red",
                        type="button",
                        size="2",
                    ),
                    spacing="2",
                ),
                spacing="2",
                width="100%",
            ),
            rx.button("Create link", on_click=d.on_create_link, type="button", size="2"),
        ),
        rx.text(
            "Anyone signed in who has the link can read this conversation as it is when "
            "they open it. Revoking stops the link for good.",
            size="1",
            color=rx.color("gray", 11),
            margin_top="0.25em",
        ),
        margin_top="1em",
    )


def share_dialog(d: ShareDialog, *, title: rx.Var[str]) -> rx.Component:
    """The conversation's Share dialog: people (by email) and the project's members, each as
    viewer or participant, changeable and removable; and a read-only link."""
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button(
                rx.icon("share-2", size=16),
                rx.el.span("Share", class_name="parley-phone-sr-only"),
                variant="soft",
                size="2",
                type="button",
            ),
        ),
        rx.dialog.content(
            rx.dialog.title(f"Share “{title}”"),
            rx.dialog.description(
                "Viewers can read it and watch replies; participants can also send, and pay "
                "for what they send from their own budget.",
                size="2",
                margin_bottom="1em",
            ),
            rx.form(
                rx.hstack(
                    rx.box(
                        rx.el.label("Email", html_for="share-email"),
                        rx.input(
                            id="share-email",
                            name="email",
                            type="email",
                            placeholder="name@example.com",
                            width="100%",
                        ),
                        flex="1",
                    ),
                    rx.box(
                        rx.el.label("Role", html_for="share-role"),
                        rx.el.select(
                            *_role_options(),
                            id="share-role",
                            name="role",
                            default_value="viewer",
                            padding="0.3em 0.5em",
                            border_radius="6px",
                            border=f"1px solid {rx.color('gray', 6)}",
                            display="block",
                        ),
                    ),
                    rx.button("Add person", type="submit"),
                    align="end",
                    spacing="2",
                    width="100%",
                ),
                on_submit=d.on_add,
                reset_on_submit=True,
            ),
            rx.cond(
                d.error != "",
                rx.callout(d.error, icon="triangle-alert", color_scheme="red", role="alert"),
            ),
            rx.heading("Who has access", as_="h3", size="2", margin="1em 0 0.25em 0"),
            rx.el.ul(
                rx.foreach(d.shares, lambda share: _share_row(share, d)),
                aria_label="Who has access",
                padding="0",
                margin="0",
            ),
            rx.cond(
                d.shares.length() == 0,
                rx.text("Only you and your project's members.", size="2"),
            ),
            rx.button(
                "Share with project members",
                on_click=d.on_share_with_project("viewer"),
                variant="soft",
                type="button",
                size="2",
                margin_top="0.5em",
            ),
            _link_section(d),
            rx.hstack(
                rx.dialog.close(
                    rx.button("Close", variant="soft", color_scheme="gray", type="button")
                ),
                justify="end",
                margin_top="1em",
            ),
            max_width="520px",
        ),
        open=d.open,
        on_open_change=d.on_open_change,
    )


def shared_mark(role: rx.Var[str], is_shared: rx.Var[bool]) -> rx.Component:
    """The header's mark: "Shared" on a shared conversation; the reader's role when they
    read it through a share."""
    return rx.fragment(
        rx.cond(
            role != "",
            rx.badge(
                rx.cond(role == "viewer", "Shared with you: view only", "Shared with you"),
                color_scheme="green",
                variant="soft",
                high_contrast=True,  # soft green text alone is under 4.5:1 (axe)
            ),
            rx.cond(
                is_shared,
                rx.badge("Shared", color_scheme="green", variant="soft", high_contrast=True),
            ),
        ),
    )


def read_only_note(notice: rx.Var[str]) -> rx.Component:
    """In place of the composer, for a reader who may not send here."""
    return rx.box(
        rx.cond(
            notice != "",
            rx.callout(notice, icon="info", color_scheme="red", role="alert", size="1"),
        ),
        rx.callout(
            "You can read this conversation, not send in it.",
            icon="eye",
            role="status",
            size="1",
        ),
        padding="1em",
        border_top=f"1px solid {rx.color('gray', 5)}",
    )


def link_page_body(
    *,
    title: rx.Var[str],
    messages: ArrayVar[Sequence[MessageView]],
    more: rx.Var[bool],
    problem: rx.Var[str],
    needs_login: rx.Var[bool],
    login_href: rx.Var[str],
) -> rx.Component:
    """The read-only link page: the conversation's branch, or why it cannot be shown."""

    def message(m: ObjectVar[MessageView]) -> rx.Component:
        return rx.el.article(
            rx.text(
                rx.cond(m.role == "user", "User", "Assistant"),
                weight="bold",
                size="2",
            ),
            safe_markdown(m.content),
            padding="0.75em 1em",
            border_radius="8px",
            background=rx.cond(m.role == "user", rx.color("accent", 3), rx.color("gray", 2)),
            aria_label=rx.cond(m.role == "user", "User message", "Assistant message"),
        )

    return rx.el.main(
        rx.cond(
            problem != "",
            rx.vstack(
                rx.heading("Shared conversation", as_="h1", size="5"),
                rx.callout(problem, icon="info", role="alert"),
                rx.cond(needs_login, rx.link("Log in", href=login_href)),
                spacing="3",
            ),
            rx.vstack(
                rx.heading(title, as_="h1", size="5"),
                rx.text("A read-only copy, as it is now.", size="2", color=rx.color("gray", 11)),
                rx.cond(more, rx.text("Earlier messages are not shown.", size="1")),
                rx.box(
                    rx.foreach(messages, message),
                    role="log",
                    aria_label="Messages",
                    display="flex",
                    flex_direction="column",
                    gap="0.75em",
                    width="100%",
                ),
                spacing="3",
                width="100%",
            ),
        ),
        max_width="48em",
        margin="0 auto",
        padding="2em 1em",
    )
