"""The page's keyboard shell: shortcuts, command palette, shortcut help, scroll-follow, skip link.

Each piece that must react in the browser without a server round trip is a small React
module in ``assets/`` (one component per file), wrapped here; the rest is built here in
Python. They take Vars and event handlers, never a State.

- ``assets/shortcuts.jsx``: the one global keydown listener (a Reflex key handler would send
  every keystroke to the server).
- ``assets/command_palette.jsx``: filtering and arrow keys run per keystroke, in the browser.
- ``assets/modal_dialog.jsx`` (with the hook ``assets/use_modal.js``): a native modal dialog
  opened by a window event, giving focus back on close; the shortcut help's content is Python.
- ``assets/scroll_follow.jsx`` (with the hook ``assets/use_reply_announcer.jsx``): the message
  log's scroll-follow, "Jump to latest" and the streaming reply's screen-reader announcements.
- The skip link and the shortcut help are Python, with one-line browser handlers
  (``browser_handler``) where they move focus or close the dialog.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import reflex as rx
from reflex.vars import FunctionStringVar
from reflex_base.event import LiteralEventChainVar, passthrough_event_spec
from reflex_base.utils.imports import ImportVar
from reflex_base.vars.base import VarData
from reflex_components_core.el.elements.inline import A

from app.services.views import ModelOption
from components.shell_css import SHELL_CSS

Handler = Any  # an event handler or event spec, as Reflex accepts for on_* props

# The window events that open the palette and the help (assets/shell_events.js).
PALETTE_EVENT = "parley:palette"
HELP_EVENT = "parley:shortcuts"
OPEN_PALETTE = f"window.dispatchEvent(new Event('{PALETTE_EVENT}'))"
OPEN_SHORTCUT_HELP = f"window.dispatchEvent(new Event('{HELP_EVENT}'))"

# What the help dialog lists ("Mod" is ⌘ on macOS, Ctrl elsewhere); the README's table too.
SHORTCUTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("Mod", "K"), "Open the command palette"),
    (("Mod", "/"), "Show keyboard shortcuts"),
    (("Mod", "Shift", "O"), "New chat"),
    (("Mod", "Shift", "L"), "Show or hide the code panel"),
    (("Esc",), "Stop the reply while it streams; otherwise close a dialog"),
    (("Enter",), "Send the message"),
    (("Shift", "Enter"), "New line in the message"),
)

# "Mod" as the reader's platform names it (⌘ or Ctrl), worked out in the browser at render.
_MOD_KEY = rx.Var(
    _js_expr="modKey()",
    _var_type=str,
    _var_data=VarData(imports={"$/public/shell_events.js": [ImportVar(tag="modKey")]}),
)


def _library(name: str) -> str:
    return rx.asset(name).importable_path


def browser_handler(js_function: str) -> rx.Var[Any]:
    """An event handler that runs ``js_function`` (a JS function expression, given the DOM
    event) in the browser, at once: no server event, no place in Reflex's event queue."""
    chain = rx.EventChain(
        events=[FunctionStringVar.create(js_function)], args_spec=rx.event.no_args_event_spec
    )
    return LiteralEventChainVar.create(chain)


class Shortcuts(rx.Component):
    """The one global keydown listener (renders nothing)."""

    library = _library("shortcuts.jsx")
    tag = "Shortcuts"

    streaming: rx.Var[bool]
    on_stop: rx.EventHandler[rx.event.no_args_event_spec]
    on_new_chat: rx.EventHandler[rx.event.no_args_event_spec]
    on_toggle_panel: rx.EventHandler[rx.event.no_args_event_spec]


class CommandPalette(rx.Component):
    """Ctrl/Cmd+K: a modal dialog with a search box (combobox) over a listbox of commands
    and conversations."""

    library = _library("command_palette.jsx")
    tag = "CommandPalette"

    models: rx.Var[Sequence[ModelOption]]
    conversations: rx.Var[Sequence[dict[str, str]]]
    # The query ``conversations`` answer: until it is what the box holds, none are offered.
    conversations_for: rx.Var[str]
    on_query: rx.EventHandler[passthrough_event_spec(str)]
    on_open_conversation: rx.EventHandler[passthrough_event_spec(str)]
    on_new_chat: rx.EventHandler[rx.event.no_args_event_spec]
    on_set_model: rx.EventHandler[passthrough_event_spec(str)]
    on_toggle_theme: rx.EventHandler[rx.event.no_args_event_spec]
    on_toggle_panel: rx.EventHandler[rx.event.no_args_event_spec]


class ModalDialog(rx.Component):
    """A native modal <dialog> that opens on the window event ``event`` and mounts its
    children only while open."""

    library = _library("modal_dialog.jsx")
    tag = "ModalDialog"

    event: rx.Var[str]


class ScrollFollow(rx.Component):
    """A scroller that follows new content only while the reader is at the bottom, and
    otherwise shows a "Jump to latest" button."""

    library = _library("scroll_follow.jsx")
    tag = "ScrollFollow"

    # The reply streaming in this session (-1 for none): what has been read aloud of it
    # survives the page remounting mid-reply.
    live_id: rx.Var[int]


def shortcuts(
    *, streaming: rx.Var[bool], on_stop: Handler, on_new_chat: Handler, on_toggle_panel: Handler
) -> rx.Component:
    return Shortcuts.create(
        streaming=streaming,
        on_stop=on_stop,
        on_new_chat=on_new_chat,
        on_toggle_panel=on_toggle_panel,
    )


def command_palette(
    *,
    models: rx.Var[Sequence[ModelOption]],
    conversations: rx.Var[Sequence[dict[str, str]]],
    conversations_for: rx.Var[str],
    on_query: Handler,
    on_open_conversation: Handler,
    on_new_chat: Handler,
    on_set_model: Handler,
    on_toggle_theme: Handler,
    on_toggle_panel: Handler,
) -> rx.Component:
    return CommandPalette.create(
        models=models,
        conversations=conversations,
        conversations_for=conversations_for,
        on_query=on_query,
        on_open_conversation=on_open_conversation,
        on_new_chat=on_new_chat,
        on_set_model=on_set_model,
        on_toggle_theme=on_toggle_theme,
        on_toggle_panel=on_toggle_panel,
    )


def _keys(keys: tuple[str, ...]) -> rx.Component:
    parts: list[rx.Component | str] = []
    for index, key in enumerate(keys):
        parts.append(
            rx.el.span(*([" + "] if index else []), rx.el.kbd(_MOD_KEY if key == "Mod" else key))
        )
    return rx.el.td(*parts)


def shortcut_help() -> rx.Component:
    """Ctrl/Cmd+/: a modal dialog with every shortcut in a table; its Close button has focus."""
    title = "shortcut-help-title"
    return ModalDialog.create(
        rx.el.div(
            # The id as a plain attribute: an rx `id` would add a React ref it does not need.
            rx.el.h2("Keyboard shortcuts", custom_attrs={"id": title}),
            rx.el.table(
                rx.el.thead(
                    rx.el.tr(rx.el.th("Keys", scope="col"), rx.el.th("Action", scope="col"))
                ),
                rx.el.tbody(
                    *(rx.el.tr(_keys(keys), rx.el.td(action)) for keys, action in SHORTCUTS)
                ),
            ),
            rx.el.button(
                "Close",
                type="button",
                class_name="parley-button",
                auto_focus=True,
                on_click=browser_handler(
                    f"(() => document.getElementById('{title}')?.closest('dialog')?.close())"
                ),
            ),
            class_name="parley-help-body",
        ),
        event=HELP_EVENT,
        class_name="parley-dialog parley-help",
        custom_attrs={"aria-labelledby": title},
    )


def scroll_follow(*children: rx.Component, live_id: rx.Var[int], **attrs: Any) -> rx.Component:
    """``attrs`` (role, aria-*) go on the scrolling element; style props on its frame."""
    custom = {k.replace("_", "-"): v for k, v in attrs.items() if k.startswith(("aria_", "role"))}
    style = {k: v for k, v in attrs.items() if not k.startswith(("aria_", "role"))}
    return ScrollFollow.create(*children, live_id=live_id, custom_attrs=custom, **style)


def skip_link(label: str) -> rx.Component:
    """The first thing Tab reaches: straight to the message box (a plain link, not a router
    link: it moves focus and leaves the address alone)."""
    return A.create(
        label,
        href="#composer",
        class_name="parley-skip",
        on_click=browser_handler(
            "((event) => { const box = document.querySelector(\"textarea[name='message']\");"
            " if (!box) return; event.preventDefault(); box.focus(); })"
        ),
    )


def palette_button() -> rx.Component:
    return rx.icon_button(
        rx.icon("command", size=16),
        on_click=rx.call_script(OPEN_PALETTE),
        variant="ghost",
        color_scheme="gray",
        aria_label="Command palette",
        aria_keyshortcuts="Control+K Meta+K",
        title="Command palette (Ctrl/⌘ K)",
        type="button",
    )


def help_button() -> rx.Component:
    return rx.icon_button(
        rx.icon("keyboard", size=16),
        on_click=rx.call_script(OPEN_SHORTCUT_HELP),
        variant="ghost",
        color_scheme="gray",
        aria_label="Keyboard shortcuts",
        aria_keyshortcuts="Control+/ Meta+/",
        title="Keyboard shortcuts (Ctrl/⌘ /)",
        type="button",
    )


def theme_picker(value: rx.Var[str], on_change: Handler) -> rx.Component:
    """A native select labelled "Theme": Light, Dark or System (the browser remembers it)."""
    return rx.el.select(
        rx.el.option("System", value="system"),
        rx.el.option("Light", value="light"),
        rx.el.option("Dark", value="dark"),
        value=value,
        on_change=on_change,
        aria_label="Theme",
        title="Theme",
        class_name="parley-select",
    )


def shell_style() -> rx.Component:
    return rx.el.style(SHELL_CSS)
