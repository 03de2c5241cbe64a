"""The sidebar: New chat, search, pinned and recent conversations with their actions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import reflex as rx
from reflex.vars import ArrayVar, ObjectVar

from app.services.conversations import SearchHit
from app.services.views import ConversationSummary

Handler = Any  # an event handler or event spec, as Reflex accepts for on_* props


@dataclass(frozen=True)
class SidebarActions:
    """The events the sidebar raises; the page binds them to state."""

    new_chat: Handler
    open: Callable[..., Any]  # (conversation id), as its link is followed
    load_more: Handler
    search: Handler  # (query)
    clear_search: Handler
    set_pinned: Callable[..., Any]  # (conversation id, pinned)
    start_rename: Callable[..., Any]  # (conversation id, current title)
    set_rename_value: Handler
    save_rename: Handler
    cancel_rename: Handler
    delete: Callable[..., Any]  # (conversation id)
    undo_delete: Handler


def _group_heading(label: str) -> rx.Component:
    """The small heading over a group of the list (Pinned, Shared with me)."""
    return rx.text(
        label, size="1", weight="bold", color=rx.color("gray", 11), margin="0.75em 0 0.25em 0.6em"
    )


def _link_style(active: rx.Var[bool]) -> dict[str, Any]:
    return {
        "display": "block",
        "flex": "1",
        "min_width": "0",
        "padding": "0.4em 0.6em",
        "border_radius": "6px",
        "color": rx.color("gray", 12),
        "background": rx.cond(active, rx.color("accent", 4), "transparent"),
        "overflow": "hidden",
        "text_overflow": "ellipsis",
        "white_space": "nowrap",
        "underline": "none",
        "_hover": {"background": rx.color("accent", 3)},
    }


def _rename_form(
    conversation: ObjectVar[ConversationSummary], value: rx.Var[str], actions: SidebarActions
) -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.input(
                value=value,
                on_change=actions.set_rename_value,
                aria_label="Conversation title",
                auto_focus=True,
                size="1",
                flex="1",
            ),
            rx.button("Save", type="submit", size="1"),
            rx.button(
                "Cancel",
                type="button",
                on_click=actions.cancel_rename,
                size="1",
                variant="soft",
                color_scheme="gray",
            ),
            spacing="1",
            width="100%",
        ),
        on_submit=lambda _: actions.save_rename,
        reset_on_submit=False,
        width="100%",
    )


def _item(
    conversation: ObjectVar[ConversationSummary],
    *,
    current_id: rx.Var[str],
    renaming_id: rx.Var[str],
    rename_value: rx.Var[str],
    pinned: bool,
    actions: SidebarActions,
) -> rx.Component:
    active = conversation.id == current_id
    menu = rx.menu.root(
        rx.menu.trigger(
            rx.icon_button(
                rx.icon("ellipsis", size=14),
                variant="ghost",
                size="1",
                aria_label=f"Actions for {conversation.title}",
            )
        ),
        rx.menu.content(
            rx.menu.item(
                "Rename", on_click=actions.start_rename(conversation.id, conversation.title)
            ),
            rx.menu.item(
                "Unpin" if pinned else "Pin",
                on_click=actions.set_pinned(conversation.id, not pinned),
            ),
            rx.menu.separator(),
            rx.menu.item("Delete", color="red", on_click=actions.delete(conversation.id)),
        ),
    )
    return rx.el.li(
        rx.cond(
            renaming_id == conversation.id,
            _rename_form(conversation, rename_value, actions),
            rx.hstack(
                rx.link(
                    conversation.title,
                    href=f"/c/{conversation.id}",
                    on_click=actions.open(conversation.id),
                    aria_current=rx.cond(active, "page", "false"),
                    **_link_style(active),
                ),
                rx.cond(conversation.shared, shared_badge()),
                menu,
                align="center",
                spacing="1",
                width="100%",
            ),
        ),
        list_style="none",
    )


def shared_badge() -> rx.Component:
    """The mark of a conversation that is shared (with people, or by a live link)."""
    return rx.badge(
        "Shared",
        size="1",
        variant="soft",
        color_scheme="green",
        high_contrast=True,  # soft green text alone is under 4.5:1 (axe)
        flex_shrink="0",
    )


def _shared_item(
    conversation: ObjectVar[ConversationSummary], current_id: rx.Var[str], actions: SidebarActions
) -> rx.Component:
    """A conversation someone shared with this user: open it; its owner manages it."""
    active = conversation.id == current_id
    return rx.el.li(
        rx.hstack(
            rx.link(
                conversation.title,
                href=f"/c/{conversation.id}",
                on_click=actions.open(conversation.id),
                aria_current=rx.cond(active, "page", "false"),
                **_link_style(active),
            ),
            shared_badge(),
            align="center",
            spacing="1",
            width="100%",
        ),
        list_style="none",
    )


def _shared_section(
    rows: ArrayVar[Sequence[ConversationSummary]], current_id: rx.Var[str], actions: SidebarActions
) -> rx.Component:
    return rx.cond(
        rows.length() > 0,
        rx.box(
            _group_heading("Shared with me"),
            rx.el.ul(
                rx.foreach(rows, lambda c: _shared_item(c, current_id, actions)),
                aria_label="Shared with me",
                padding="0",
                margin="0",
            ),
        ),
    )


def _search_hit(hit: ObjectVar[SearchHit], actions: SidebarActions) -> rx.Component:
    return rx.el.li(
        rx.link(
            rx.text(hit.title, weight="medium", size="2", trim="both"),
            rx.text(
                rx.foreach(
                    hit.snippet,
                    lambda part: rx.cond(
                        part[1],
                        rx.el.mark(part[0].to(str)),
                        rx.el.span(part[0].to(str)),
                    ),
                ),
                size="1",
                color=rx.color("gray", 11),
            ),
            # The best matching message's branch goes on screen (load_page reads ?m=).
            href=rx.cond(hit.message_id, f"/c/{hit.id}?m={hit.message_id}", f"/c/{hit.id}"),
            on_click=actions.open(hit.id),
            display="block",
            padding="0.4em 0.6em",
            border_radius="6px",
            color=rx.color("gray", 12),
            underline="none",
            _hover={"background": rx.color("accent", 3)},
        ),
        list_style="none",
    )


def sidebar(
    *,
    pinned: ArrayVar[Sequence[ConversationSummary]],
    conversations: ArrayVar[Sequence[ConversationSummary]],
    current_id: rx.Var[str],
    more: rx.Var[bool],
    search_query: rx.Var[str],
    search_results: ArrayVar[Sequence[SearchHit]],
    renaming_id: rx.Var[str],
    rename_value: rx.Var[str],
    undo_id: rx.Var[str],
    undo_title: rx.Var[str],
    actions: SidebarActions,
    in_drawer: bool = False,
    top: ArrayVar[Sequence[ConversationSummary]] | None = None,
    hidden: ArrayVar[Sequence[str]] | None = None,
    shared_with_me: ArrayVar[Sequence[ConversationSummary]] | None = None,
) -> rx.Component:
    """The conversations' navigation: a column on wide screens, or (``in_drawer``) the
    content of the phone layout's drawer. ``top`` rows show above ``conversations``, whose
    rows with an id in ``hidden`` are not shown (they moved up)."""

    def items(
        rows: rx.Var[Sequence[ConversationSummary]],
        *,
        is_pinned: bool,
        hide: ArrayVar[Sequence[str]] | None = None,
    ) -> rx.Component:
        def item(c: ObjectVar[ConversationSummary]) -> rx.Component:
            shown = _item(
                c,
                current_id=current_id,
                renaming_id=renaming_id,
                rename_value=rename_value,
                pinned=is_pinned,
                actions=actions,
            )
            return shown if hide is None else rx.cond(hide.contains(c.id), rx.fragment(), shown)

        return rx.foreach(rows, item)

    searching = search_query != ""
    placement: dict[str, Any] = (
        {"width": "100%", "flex": "1", "min_height": "0"}
        if in_drawer
        else {
            "width": "280px",
            "min_width": "280px",
            "height": "100dvh",
            "border_right": f"1px solid {rx.color('gray', 5)}",
            "class_name": "parley-desktop-sidebar",
        }
    )
    return rx.el.nav(
        rx.button(
            rx.icon("square-pen", size=16),
            "New chat",
            on_click=actions.new_chat,
            width="100%",
            variant="soft",
        ),
        rx.input(
            rx.input.slot(rx.icon("search", size=14)),
            value=search_query,
            on_change=actions.search.debounce(250),
            placeholder="Search",
            aria_label="Search conversations",
            type="search",
            margin_top="0.75em",
            size="2",
        ),
        rx.cond(
            undo_id != "",
            rx.callout.root(
                rx.callout.text(
                    f"Deleted “{undo_title}”. ",
                    rx.button("Undo", on_click=actions.undo_delete, size="1", variant="soft"),
                ),
                size="1",
                role="status",
                margin_top="0.5em",
            ),
        ),
        rx.cond(
            searching,
            rx.box(
                rx.el.ul(
                    rx.foreach(search_results, lambda hit: _search_hit(hit, actions)),
                    aria_label="Search results",
                    padding="0",
                    margin="0.5em 0 0 0",
                ),
                rx.cond(
                    search_results.length() == 0,
                    rx.text(
                        "No conversation matches.",
                        size="1",
                        color=rx.color("gray", 11),
                        padding="0.5em",
                    ),
                ),
                rx.button(
                    "Clear search",
                    on_click=actions.clear_search,
                    variant="ghost",
                    size="1",
                    width="100%",
                ),
            ),
            rx.box(
                rx.cond(
                    pinned.length() > 0,
                    rx.box(
                        _group_heading("Pinned"),
                        rx.el.ul(
                            items(pinned, is_pinned=True),
                            aria_label="Pinned conversations",
                            padding="0",
                            margin="0",
                        ),
                    ),
                ),
                _shared_section(shared_with_me, current_id, actions)
                if shared_with_me is not None
                else rx.fragment(),
                rx.el.ul(
                    items(top, is_pinned=False) if top is not None else rx.fragment(),
                    items(conversations, is_pinned=False, hide=hidden),
                    aria_label="Recent conversations",
                    padding="0",
                    margin="0.75em 0 0 0",
                ),
                rx.cond(
                    more,
                    rx.button(
                        "Show more", on_click=actions.load_more, variant="ghost", width="100%"
                    ),
                ),
            ),
        ),
        aria_label="Conversations",
        overflow_y="auto",
        padding="1em",
        background=rx.color("gray", 2),
        **placement,
    )
