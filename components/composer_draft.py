"""The composer's text, kept by the browser: see assets/composer_draft.jsx.

The message box is an uncontrolled textarea (no value from state, no change events), so
nothing the server sends can replace what is being typed. This component renders nothing; it
keeps the box's text across page changes and reloads and lets the server remove text it has
posted (``window.parleyComposer.sent``).
"""

from __future__ import annotations

import reflex as rx


class ComposerDraft(rx.Component):
    """Keeps the text of the textarea whose id is ``target``."""

    library = rx.asset("composer_draft.jsx").importable_path
    tag = "ComposerDraft"

    target: rx.Var[str]


def composer_draft(target: str) -> rx.Component:
    return ComposerDraft.create(target=target)
