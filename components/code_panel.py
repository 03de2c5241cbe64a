"""The code panel: the open conversation's code blocks beside the message log.

A list of blocks (language, file name, first line, which message), and one block shown
large with highlighting, Copy and Download. Copy and Download work in the browser on the
code already shown, so they cost no round trip. A drag handle (also arrow keys) resizes it.
It sits beside the log on wide screens, and is a sheet over the chat on tablets and phones
(full width below the ``sm`` breakpoint, 48em), so it never squeezes the log.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import reflex as rx
from reflex.vars import ArrayVar, FunctionVar, NumberVar, ObjectVar

from app.services.code_blocks import CodeBlockItem

Handler = Any  # an event handler or event spec, as Reflex accepts for on_* props

PANEL_ID = "code-panel"
RESIZE_STEP = 16  # pixels per arrow key; Shift moves four steps
LOG_ROOM = 600  # pixels kept for the sidebar and the message log beside the panel


class PanelResizer(rx.Component):
    """A keyboard-operable vertical separator that resizes the element ``controls``."""

    library = rx.asset("panel_resizer.jsx").importable_path
    tag = "PanelResizer"

    panel_width: rx.Var[int]
    min: rx.Var[int]
    max: rx.Var[int]
    step: rx.Var[int]
    controls: rx.Var[str]
    label: rx.Var[str]
    on_resize: rx.EventHandler[rx.event.passthrough_event_spec(int)]


@dataclass(frozen=True)
class CodePanelActions:
    """The events the panel raises; the page binds them to state."""

    close: Handler
    open_block: Callable[..., Any]  # (block key)
    close_block: Handler
    resize: Handler  # (width in pixels)


@dataclass(frozen=True)
class SelectedBlock:
    """The block shown large ("" key: none)."""

    key: rx.Var[str]
    code: rx.Var[str]
    file_name: rx.Var[str]
    language: rx.Var[str]
    highlight: rx.Var[str]  # the highlighter's language name
    origin: rx.Var[str]


def code_panel_button(is_open: rx.Var[bool], on_click: Handler) -> rx.Component:
    """The chat header's toggle (Ctrl/Cmd+Shift+L does the same)."""
    return rx.button(
        rx.icon("code-xml", size=16),
        rx.text("Code", as_="span", display=rx.breakpoints(initial="none", sm="inline")),
        on_click=on_click,
        aria_label="Code panel",
        aria_expanded=rx.cond(is_open, "true", "false"),
        aria_controls=PANEL_ID,
        aria_keyshortcuts="Control+Shift+L Meta+Shift+L",
        title="Code panel (Ctrl+Shift+L)",
        variant=rx.cond(is_open, "solid", "soft"),
        type="button",
    )


def _data_url(text: rx.Var[str]) -> rx.Var[str]:
    """A ``data:`` URL of the text, built in the browser (percent-encoded UTF-8)."""
    encode = rx.Var("encodeURIComponent").to(FunctionVar)
    return rx.Var.create("data:text/plain;charset=utf-8,") + encode.call(text).to(str)


def _block_row(block: ObjectVar[CodeBlockItem], open_block: Callable[..., Any]) -> rx.Component:
    return rx.el.li(
        rx.el.button(
            rx.hstack(
                rx.badge(block.language, variant="soft", size="1"),
                rx.text(
                    block.file_name,
                    as_="span",
                    size="2",
                    weight="medium",
                    flex="1",
                    min_width="0",
                    overflow="hidden",
                    text_overflow="ellipsis",
                    white_space="nowrap",
                ),
                rx.text(
                    rx.cond(block.lines == 1, "1 line", f"{block.lines} lines"),
                    as_="span",
                    size="1",
                    color=rx.color("gray", 10),
                    white_space="nowrap",
                ),
                as_="span",  # a button holds phrasing content only
                align="center",
                spacing="2",
                width="100%",
            ),
            rx.code(
                block.summary,
                variant="ghost",
                size="1",
                display="block",
                overflow="hidden",
                text_overflow="ellipsis",
                white_space="nowrap",
                margin_top="0.35em",
                color=rx.color("gray", 11),
            ),
            rx.text(
                "From ",
                block.origin,
                rx.cond(block.closed, "", " (unfinished)"),
                as_="span",
                display="block",
                size="1",
                color=rx.color("gray", 10),
                margin_top="0.25em",
            ),
            on_click=open_block(block.key),
            type="button",
            aria_label=f"Open {block.file_name}",
            width="100%",
            text_align="left",
            padding="0.6em 0.75em",
            border_radius="8px",
            border=f"1px solid {rx.color('gray', 5)}",
            background=rx.color("gray", 1),
            cursor="pointer",
            _hover={"background": rx.color("accent", 2), "border_color": rx.color("accent", 7)},
            _focus_visible={"outline": f"2px solid {rx.color('accent', 8)}"},
        ),
        list_style="none",
        margin_bottom="0.5em",
    )


def _block_list(
    blocks: ArrayVar[Sequence[CodeBlockItem]], open_block: Callable[..., Any]
) -> rx.Component:
    return rx.box(
        rx.cond(
            blocks.length() > 0,
            rx.el.ul(
                rx.foreach(blocks, lambda block: _block_row(block, open_block)),
                aria_label="Code blocks",
                padding="0",
                margin="0",
            ),
            rx.text(
                "No code in this conversation yet. Code blocks in the messages appear here.",
                size="2",
                color=rx.color("gray", 10),
            ),
        ),
        flex="1",
        min_height="0",
        overflow_y="auto",
        padding="0.75em",
    )


def _block_view(selected: SelectedBlock, close_block: Handler) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.icon_button(
                rx.icon("arrow-left", size=16),
                on_click=close_block,
                aria_label="Back to code blocks",
                auto_focus=True,  # the Open button that had focus is gone
                variant="ghost",
                size="1",
                type="button",
            ),
            rx.heading(
                selected.file_name,
                as_="h3",
                size="2",
                flex="1",
                min_width="0",
                overflow="hidden",
                text_overflow="ellipsis",
                white_space="nowrap",
            ),
            rx.badge(selected.language, variant="soft", size="1"),
            align="center",
            spacing="2",
            width="100%",
        ),
        rx.hstack(
            rx.text("From ", selected.origin, size="1", color=rx.color("gray", 10), flex="1"),
            rx.button(
                rx.icon("copy", size=14),
                "Copy",
                on_click=[
                    rx.set_clipboard(selected.code),
                    rx.toast.success(f"Copied {selected.file_name}", duration=2000),
                ],
                size="1",
                variant="soft",
                type="button",
            ),
            rx.button(
                rx.icon("download", size=14),
                "Download",
                on_click=rx.download(data=_data_url(selected.code), filename=selected.file_name),
                size="1",
                variant="soft",
                type="button",
            ),
            align="center",
            spacing="2",
            width="100%",
            margin_top="0.5em",
        ),
        rx.box(
            rx.code_block(
                selected.code,
                language=selected.highlight,  # pyright: ignore[reportArgumentType]
                show_line_numbers=True,
                wrap_long_lines=False,
                margin="0",
                font_size="13px",
                min_height="100%",
            ),
            role="region",
            aria_label=f"Code of {selected.file_name}",
            tab_index=0,  # scrollable, so reachable by keyboard
            flex="1",
            min_height="0",
            overflow="auto",
            margin_top="0.75em",
            border_radius="8px",
            border=f"1px solid {rx.color('gray', 5)}",
        ),
        display="flex",
        flex_direction="column",
        flex="1",
        min_height="0",
        padding="0.75em",
    )


def code_panel(
    *,
    blocks: ArrayVar[Sequence[CodeBlockItem]],
    selected: SelectedBlock,
    width: NumberVar,
    min_width: int,
    max_width: int,
    actions: CodePanelActions,
) -> rx.Component:
    """The panel itself; the page shows it only while it is open."""
    return rx.el.aside(
        PanelResizer.create(
            panel_width=width,
            min=min_width,
            max=max_width,
            step=RESIZE_STEP,
            controls=PANEL_ID,
            label="Resize code panel",
            on_resize=actions.resize,
            display=rx.breakpoints(initial="none", sm="block"),
            position="absolute",
            left="-3px",
            top="0",
            bottom="0",
            width="7px",
            cursor="col-resize",
            z_index="2",
            touch_action="none",
            _hover={"background": rx.color("accent", 7)},
            _focus_visible={"background": rx.color("accent", 8), "outline": "none"},
        ),
        rx.hstack(
            rx.icon("code-xml", size=18),
            rx.heading("Code", as_="h2", size="3"),
            rx.badge(blocks.length(), variant="soft", color_scheme="gray", size="1"),
            rx.spacer(),
            rx.icon_button(
                rx.icon("x", size=16),
                on_click=actions.close,
                aria_label="Close code panel",
                variant="ghost",
                size="2",
                type="button",
            ),
            align="center",
            spacing="2",
            padding="0.75em 1em",
            border_bottom=f"1px solid {rx.color('gray', 5)}",
            width="100%",
        ),
        rx.cond(
            selected.key != "",
            _block_view(selected, actions.close_block),
            _block_list(blocks, actions.open_block),
        ),
        id=PANEL_ID,
        aria_label="Code panel",
        display="flex",
        flex_direction="column",
        # Wide screens (md, 62em, up): a panel beside the log, leaving the log (and the
        # sidebar) at least LOG_ROOM. Tablets (sm to md): a sheet over the log's right side.
        # Phones (below sm, 48em): a full-screen sheet.
        position=rx.breakpoints(initial="fixed", sm="fixed", md="relative"),
        inset=rx.breakpoints(initial="0", sm="0 0 0 auto", md="auto"),
        z_index=rx.breakpoints(initial="30", sm="30", md="auto"),
        width=rx.breakpoints(initial="100%", sm=f"{width}px"),
        max_width=rx.breakpoints(initial="100%", sm="100vw", md=f"calc(100vw - {LOG_ROOM}px)"),
        box_shadow=rx.breakpoints(initial="none", sm="-8px 0 24px rgba(0, 0, 0, 0.12)", md="none"),
        flex_shrink="0",
        height="100vh",
        background=rx.color("gray", 1),
        border_left=f"1px solid {rx.color('gray', 5)}",
    )
