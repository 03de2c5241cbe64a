"""The code panel's state: open or closed and its width (remembered in the browser), the
list of the open conversation's code blocks, and the block being looked at.

The palette and the keyboard shortcut call :meth:`CodePanelState.toggle`.

Wire cost (issue 5): Reflex resends a var whole when it is assigned, so the panel is kept
off the wire unless it is open, and off it entirely while a reply streams:

- The list is not a computed var over ``ChatState.messages``. Reflex 0.10 sends a cached
  computed var whenever a var it depends on changed (reflex/istate/delta.py, build_delta),
  so it would travel with every change of ``messages``, open or not, including the user's
  message at the start of each reply; an uncached one is sent only when its value changed,
  but is recomputed, here re-parsing every message, for every delta. Instead the chat
  calls :meth:`CodePanelState._follow_branch` (through ``state.chat.follow_conversation``)
  at the points where its finished messages change (a conversation opened, a reply
  finished, earlier history loaded), inside the same event, so the new list rides in the
  update that carries the messages and costs no extra frame. While the panel is closed
  that call returns at once, and opening the panel builds the list then.
- The list is assigned only when it changed, and carries no code (file name, language,
  summary, origin): a block's code travels once, when it is opened. Copy and Download use
  that code in the browser, so they cost nothing on the wire.
- A reply's text streams over the live-reply channel and is not in ``messages`` until it is
  finished, so nothing here runs while it streams.
"""

from __future__ import annotations

from collections.abc import Sequence

import reflex as rx

from app.services.code_blocks import CodeBlock, CodeBlockItem, conversation_blocks
from app.services.code_names import prism_language
from app.services.views import MessageView
from state.access import Need
from state.chat import ChatState

DEFAULT_WIDTH = 480
MIN_WIDTH = 280
MAX_WIDTH = 960


def clamp_width(value: int | float | str) -> int:
    """A panel width in pixels within the bounds; the default for anything unreadable."""
    try:
        width = round(float(value))
    except (TypeError, ValueError, OverflowError):
        return DEFAULT_WIDTH
    return max(MIN_WIDTH, min(MAX_WIDTH, width))


class CodePanelState(ChatState):
    """A substate of the chat: it reads the branch on screen as its own (``_shown``)."""

    # "1" when open. Local storage, so the choice survives reloads in this browser. Not
    # synced live to other tabs: a tab opened that way would show a list it never built
    # (the list is built by this tab's events), so each tab reads the choice when it loads.
    open_flag: str = rx.LocalStorage("0", name="parley.code_panel.open")
    # The panel's width in pixels, as text (local storage holds strings).
    width_setting: str = rx.LocalStorage(
        str(DEFAULT_WIDTH), name="parley.code_panel.width", sync=True
    )
    # The open conversation's blocks, without their code (see the module docstring).
    blocks: rx.Field[list[CodeBlockItem]] = rx.field(default_factory=list)
    # The block being looked at ("" for the list) and what showing it needs.
    selected_key: rx.Field[str] = rx.field("")
    selected_code: rx.Field[str] = rx.field("")
    selected_name: rx.Field[str] = rx.field("")
    selected_language: rx.Field[str] = rx.field("")  # the label, as the reply wrote it
    selected_highlight: rx.Field[str] = rx.field("")  # the highlighter's name for it
    selected_origin: rx.Field[str] = rx.field("")

    @rx.var
    def is_open(self) -> bool:
        return self.open_flag == "1"

    @rx.var
    def width(self) -> int:
        return clamp_width(self.width_setting)

    # ----- following the conversation -------------------------------------------------------

    def _show(self, messages: Sequence[MessageView]) -> list[CodeBlock]:
        """List the blocks of these messages, assigning only what changed."""
        blocks = conversation_blocks(messages)
        items = [block.item for block in blocks]
        if items != list(self.blocks):
            self.blocks = items
        if self.selected_key:
            selected = next((b for b in blocks if b.item.key == self.selected_key), None)
            if selected is None:
                self._select(None)  # its message is gone (another conversation, a retry)
            elif selected.code != self.selected_code or selected.item.file_name != (
                self.selected_name
            ):
                self._select(selected)
        return blocks

    def _select(self, block: CodeBlock | None) -> None:
        self.selected_key = block.item.key if block else ""
        self.selected_code = block.code if block else ""
        self.selected_name = block.item.file_name if block else ""
        self.selected_language = block.item.language if block else ""
        self.selected_highlight = prism_language(block.item.language) if block else ""
        self.selected_origin = block.item.origin if block else ""

    async def _follow_branch(self, branch: list[MessageView]) -> None:
        """The chat's finished messages changed: update the list if the panel is open."""
        if self.open_flag == "1":
            self._show(branch)

    # ----- events ---------------------------------------------------------------------------

    def _reads(self) -> Need:
        """The panel shows the open conversation's blocks: reading it is what it needs."""
        return Need(conversation=self.current_id or None)

    @rx.event
    async def toggle(self) -> None:
        """Open or close the panel; opening lists the blocks of the conversation shown."""
        if await self._allow(self._reads()) is None:
            return
        if self.open_flag == "1":
            self.open_flag = "0"
            return
        self.open_flag = "1"
        self._show(self._shown())

    @rx.event
    async def close(self) -> None:
        if await self._allow() is not None:
            self.open_flag = "0"

    @rx.event
    async def open_block(self, key: str) -> None:
        """Show one block large: its code travels now, once."""
        if await self._allow(self._reads()) is None:
            return
        blocks = self._show(self._shown())
        self._select(next((b for b in blocks if b.item.key == key), None))

    @rx.event
    async def close_block(self) -> None:
        """Back to the list."""
        if await self._allow() is not None:
            self._select(None)

    @rx.event
    async def resize(self, width: int | float | str) -> None:
        """Set the panel's width in pixels (the drag handle and its arrow keys send it)."""
        if await self._allow() is None:
            return
        value = str(clamp_width(width))
        if value != self.width_setting:
            self.width_setting = value
