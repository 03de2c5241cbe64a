"""The page's keyboard shell: shortcuts, command palette, shortcut help, scroll-follow, skip link.

The behaviour lives in one small React module, ``assets/shell.jsx``; these are its Python
faces. They take Vars and event handlers, never a State.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import reflex as rx
from reflex_base.event import passthrough_event_spec

from app.services.views import ModelOption

Handler = Any  # an event handler or event spec, as Reflex accepts for on_* props

_LIBRARY = rx.asset("shell.jsx").importable_path

OPEN_PALETTE = "window.dispatchEvent(new Event('parley:palette'))"
OPEN_SHORTCUT_HELP = "window.dispatchEvent(new Event('parley:shortcuts'))"

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


class Shortcuts(rx.Component):
    """The one global keydown listener (renders nothing)."""

    library = _LIBRARY
    tag = "Shortcuts"

    streaming: rx.Var[bool]
    on_stop: rx.EventHandler[rx.event.no_args_event_spec]
    on_new_chat: rx.EventHandler[rx.event.no_args_event_spec]
    on_toggle_panel: rx.EventHandler[rx.event.no_args_event_spec]


class CommandPalette(rx.Component):
    """Ctrl/Cmd+K: a modal dialog with a search box (combobox) over a listbox of commands
    and conversations."""

    library = _LIBRARY
    tag = "CommandPalette"

    models: rx.Var[Sequence[ModelOption]]
    conversations: rx.Var[Sequence[dict[str, str]]]
    on_query: rx.EventHandler[passthrough_event_spec(str)]
    on_open_conversation: rx.EventHandler[passthrough_event_spec(str)]
    on_new_chat: rx.EventHandler[rx.event.no_args_event_spec]
    on_set_model: rx.EventHandler[passthrough_event_spec(str)]
    on_toggle_theme: rx.EventHandler[rx.event.no_args_event_spec]
    on_toggle_panel: rx.EventHandler[rx.event.no_args_event_spec]


class ShortcutHelp(rx.Component):
    """Ctrl/Cmd+/: a modal dialog listing every shortcut."""

    library = _LIBRARY
    tag = "ShortcutHelp"

    shortcuts: rx.Var[Sequence[dict[str, Any]]]


class ScrollFollow(rx.Component):
    """A scroller that follows new content only while the reader is at the bottom, and
    otherwise shows a "Jump to latest" button."""

    library = _LIBRARY
    tag = "ScrollFollow"

    # The reply streaming in this session (-1 for none): what has been read aloud of it
    # survives the page remounting mid-reply.
    live_id: rx.Var[int]


class SkipLink(rx.Component):
    library = _LIBRARY
    tag = "SkipLink"

    label: rx.Var[str]


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
        on_query=on_query,
        on_open_conversation=on_open_conversation,
        on_new_chat=on_new_chat,
        on_set_model=on_set_model,
        on_toggle_theme=on_toggle_theme,
        on_toggle_panel=on_toggle_panel,
    )


def shortcut_help() -> rx.Component:
    return ShortcutHelp.create(
        shortcuts=[{"keys": list(keys), "action": action} for keys, action in SHORTCUTS]
    )


def scroll_follow(*children: rx.Component, live_id: rx.Var[int], **attrs: Any) -> rx.Component:
    """``attrs`` (role, aria-*) go on the scrolling element; style props on its frame."""
    custom = {k.replace("_", "-"): v for k, v in attrs.items() if k.startswith(("aria_", "role"))}
    style = {k: v for k, v in attrs.items() if not k.startswith(("aria_", "role"))}
    return ScrollFollow.create(*children, live_id=live_id, custom_attrs=custom, **style)


def skip_link(label: str) -> rx.Component:
    return SkipLink.create(label=label)


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


# Page-wide CSS: visible focus everywhere, the native dialogs, the scroll-follow frame, the
# skip link, and the phone layout (below 768 px the sidebar becomes a drawer).
SHELL_CSS = """
:focus-visible { outline: 2px solid var(--accent-9); outline-offset: 2px; }
.rt-TextAreaRoot:has(:focus-visible), .rt-TextFieldRoot:has(:focus-visible) {
  outline: 2px solid var(--accent-9); outline-offset: 1px;
}
.parley-sr-only {
  position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; border: 0;
}
.parley-skip {
  position: absolute; left: 0.5em; top: -3em; z-index: 100; padding: 0.5em 1em;
  background: var(--accent-9); color: var(--accent-contrast); border-radius: 6px;
}
.parley-skip:focus { top: 0.5em; }
.parley-select {
  padding: 0.3em 0.5em; border-radius: 6px; border: 1px solid var(--gray-7);
  background: var(--gray-1); color: var(--gray-12); font-size: 0.9em; max-width: 9.5em;
}
.parley-button {
  font: inherit; font-size: 0.875rem; padding: 0.4em 0.9em; border-radius: 6px;
  border: 1px solid var(--accent-9); background: var(--accent-9);
  color: var(--accent-contrast); cursor: pointer;
}
.parley-button:hover { background: var(--accent-10); }
.parley-scroll-follow {
  position: relative; display: flex; flex-direction: column; min-height: 0; flex: 1;
}
.parley-scroller { flex: 1; min-height: 0; overflow-y: auto; overflow-x: hidden; }
.parley-scroller:focus-visible { outline-offset: -2px; }
.parley-jump {
  position: absolute; bottom: 0.75em; left: 50%; transform: translateX(-50%);
  box-shadow: 0 2px 8px var(--black-a5);
}
.parley-dialog {
  border: 1px solid var(--gray-6); border-radius: 12px; padding: 0;
  background: var(--color-panel-solid); color: var(--gray-12);
  width: min(560px, calc(100vw - 2em)); box-shadow: 0 12px 40px var(--black-a7);
}
.parley-header select { max-width: 12em; min-width: 0; text-overflow: ellipsis; }
.parley-dialog::backdrop { background: rgba(0, 0, 0, 0.45); }
.parley-dialog { margin: auto; }
.parley-palette { margin: 12vh auto auto; }
.parley-palette-body input {
  width: 100%; box-sizing: border-box; font: inherit; font-size: 1rem; padding: 0.85em 1em;
  border: 0; border-bottom: 1px solid var(--gray-6); background: transparent;
  color: var(--gray-12);
}
.parley-palette-body input:focus-visible { outline-offset: -2px; }
.parley-palette-body [role='listbox'] {
  max-height: min(50vh, 420px); overflow-y: auto; padding: 0.4em;
}
.parley-palette-group {
  font-size: 0.75rem; font-weight: 600; color: var(--gray-11); padding: 0.6em 0.6em 0.2em;
}
.parley-palette-option {
  padding: 0.5em 0.6em; border-radius: 6px; cursor: pointer; overflow: hidden;
  text-overflow: ellipsis; white-space: nowrap;
}
.parley-palette-option[aria-selected='true'] {
  background: var(--accent-4); outline: 2px solid var(--accent-9); outline-offset: -2px;
}
.parley-palette-empty { padding: 0.75em 1em; color: var(--gray-11); margin: 0; }
.parley-help-body { padding: 1.25em 1.5em; }
.parley-help-body h2 { margin: 0 0 0.75em; font-size: 1.15rem; }
.parley-help-body table { width: 100%; border-collapse: collapse; margin-bottom: 1em; }
.parley-help-body th, .parley-help-body td {
  text-align: left; padding: 0.4em 0.5em; border-bottom: 1px solid var(--gray-5);
  font-size: 0.9rem;
}
.parley-help-body td:first-child { white-space: nowrap; }
.parley-help-body kbd {
  font: inherit; font-size: 0.8rem; padding: 0.1em 0.4em; border: 1px solid var(--gray-7);
  border-radius: 4px; background: var(--gray-3);
}
/* Contrast (WCAG AA, checked by axe in tests/e2e/test_a11y.py): small grey captions one step
   darker, soft badges and callouts in their darkest shade, solid red (Stop) a deeper red. */
.reply-caption .rt-Text { color: var(--gray-11); }
.message .rt-Badge.rt-variant-soft, .rt-CalloutText { color: var(--accent-12); }
.rt-Button.rt-variant-solid[data-accent-color='red'] { background-color: #c62a2f; color: #fff; }
.rt-Button.rt-variant-solid[data-accent-color='red']:hover { background-color: #a8191e; }
/* Dark theme: Radix's hover shade (accent 10) under white text is 4.3:1; a darker one. */
.dark .rt-BaseButton.rt-variant-solid:not([data-accent-color='red']):hover {
  background-color: var(--accent-8);
}
.parley-phone-only { display: none; }
@media (max-width: 767px) {
  .parley-desktop-sidebar { display: none !important; }
  .parley-phone-only { display: inline-flex; }
  .parley-wide-only { display: none !important; }
  /* The chat header in two rows: title and tools, then the settings (components/pages). */
  .parley-header { padding: 0.5em 0.75em !important; row-gap: 0.4em !important; }
  .parley-header-settings { flex: 1 1 100%; flex-wrap: nowrap !important; }
  .parley-header-options { flex: 1 1 3em; min-width: 0; flex-wrap: nowrap !important; }
  .parley-header-settings select:not(.parley-select) { flex: 1 1 0; min-width: 0; max-width: none; }
  .parley-header-settings .parley-select { flex: none; }
  .parley-phone-sr-only {
    position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
    clip: rect(0 0 0 0); white-space: nowrap; border: 0;
  }
}
"""


def shell_style() -> rx.Component:
    return rx.el.style(SHELL_CSS)
