"""The sidebar's state: pinned and recent conversations (paged), search, rename, pin, delete
with Undo.

A substate of :class:`OpenConversationState`: it reads which conversation is open (for a
delete that must leave it) and sets its title (a rename) and the page's notice as its own
vars. It does not know the chat: the chat page's state refreshes it (``ChatState`` calls
:meth:`SidebarState._refresh` where a conversation starts, a reply ends or a title is
written), so imports go one way, state.chat -> state.sidebar.

Wire cost: Reflex resends a list whole whenever it is assigned, so a list is assigned only
when what it shows (ids and titles, in order) has changed; after most replies the sidebar
looks the same and nothing travels. A conversation that is new, moved to the top or retitled
goes in ``sidebar_top`` (and its row below is hidden by ``sidebar_hidden``), so a new chat
adds one row instead of sending the loaded list again.
"""

from __future__ import annotations

from collections.abc import Sequence

import reflex as rx

from app.errors import ParleyError
from app.services import get_conversation_service, get_sharing_service
from app.services.authz import Principal
from app.services.conversations import SearchHit, SidebarPage
from app.services.views import ConversationSummary
from state.access import Need, principal_of
from state.conversation import OpenConversationState


def _shown(rows: Sequence[ConversationSummary]) -> list[tuple[str, str, bool]]:
    return [(row.id, row.title, row.shared) for row in rows]


SIDEBAR_TOP_MAX = 10  # rows shown above the loaded list before it is sent again whole


def _overlay(
    loaded: Sequence[ConversationSummary], page: SidebarPage
) -> tuple[list[ConversationSummary], list[str]] | None:
    """How to show ``page`` (a fresh first page) without sending ``loaded`` again: the
    fewest rows to show above it (new, moved up or retitled conversations) and the ids of
    ``loaded`` rows to hide (moved up). Rows of ``loaded`` past the page stay only if the
    page is full (they are older ones). None if that takes more than SIDEBAR_TOP_MAX rows
    or ``loaded`` changed otherwise (a deletion): then the list is sent again."""
    rows = page.conversations
    if not loaded:
        return None
    for count in range(min(SIDEBAR_TOP_MAX, len(rows)) + 1):
        top = list(rows[:count])
        moved = {row.id for row in top}
        rest = [row for row in loaded if row.id not in moved]
        if page.next_before is None and len(rest) != len(rows) - count:
            continue
        if _shown(rest[: len(rows) - count]) == _shown(rows[count:]):
            return top, [row.id for row in loaded if row.id in moved]
    return None


class SidebarState(OpenConversationState):
    # Pinned conversations, then pages of the others, newest first.
    pinned: rx.Field[list[ConversationSummary]] = rx.field(default_factory=list)
    conversations: rx.Field[list[ConversationSummary]] = rx.field(default_factory=list)
    # Shown above ``conversations`` / hidden in it: the changes since it was loaded, so a new
    # conversation adds one row instead of sending the whole list again.
    sidebar_top: rx.Field[list[ConversationSummary]] = rx.field(default_factory=list)
    sidebar_hidden: rx.Field[list[str]] = rx.field(default_factory=list)
    more_conversations: rx.Field[bool] = rx.field(False)
    sidebar_next: rx.Field[str] = rx.field("")  # where the next page starts
    search_query: rx.Field[str] = rx.field("")
    search_results: rx.Field[list[SearchHit]] = rx.field(default_factory=list)
    renaming_id: rx.Field[str] = rx.field("")
    rename_value: rx.Field[str] = rx.field("")
    # Conversations others shared with this user by name, outside their own projects.
    shared_with_me: rx.Field[list[ConversationSummary]] = rx.field(default_factory=list)
    undo_id: rx.Field[str] = rx.field("")  # the conversation just deleted, for Undo
    undo_title: rx.Field[str] = rx.field("")

    # ----- showing pages --------------------------------------------------------------------

    def _show(self, page: SidebarPage, *, append: bool = False, whole: bool = False) -> None:
        """Show a sidebar page, assigning only the lists whose rows changed; a first page
        that differs from the loaded list by a few rows on top goes in ``sidebar_top``.
        ``whole``: show the page afresh (after the user changed the list: delete, rename...)."""
        if append:
            self.conversations = self.conversations + page.conversations
        else:
            if _shown(page.pinned) != _shown(self.pinned):
                self.pinned = page.pinned
            overlay = None if whole else _overlay(self.conversations, page)
            if overlay is not None:
                top, hidden = overlay
                if _shown(top) != _shown(self.sidebar_top):
                    self.sidebar_top = top
                if hidden != self.sidebar_hidden:
                    self.sidebar_hidden = hidden
                return  # the loaded list, and where its next page starts, are unchanged
            if _shown(page.conversations) != _shown(self.conversations):
                self.conversations = page.conversations
            if self.sidebar_top:
                self.sidebar_top = []
            if self.sidebar_hidden:
                self.sidebar_hidden = []
        next_before = page.next_before or ""
        if next_before != self.sidebar_next:
            self.sidebar_next = next_before
        if self.more_conversations != (page.next_before is not None):
            self.more_conversations = page.next_before is not None

    async def _refresh(self, principal: Principal | None = None, *, whole: bool = False) -> None:
        """Show the first page afresh (the chat calls this when the list may have changed):
        what the principal may read, nothing for nobody."""
        principal = principal or await principal_of(self)
        shared: list[ConversationSummary] = []
        if principal is None:
            self._show(SidebarPage([], [], None), whole=True)
        else:
            page = await get_conversation_service().sidebar(scope=principal.scope)
            self._show(page, whole=whole)
            shared = await get_sharing_service().shared_with_me(principal)
        if _shown(shared) != _shown(self.shared_with_me):
            self.shared_with_me = shared

    @rx.event
    async def load_more_conversations(self) -> None:
        principal = await self._allow()
        if principal is None or not self.sidebar_next:
            return
        page = await get_conversation_service().sidebar(
            updated_before=self.sidebar_next, scope=principal.scope
        )
        self._show(page, append=True)

    # ----- search ---------------------------------------------------------------------------

    @rx.event
    async def set_search(self, value: str) -> None:
        principal = await self._allow()
        if principal is None:
            return
        self.search_query = value
        try:
            self.search_results = (
                await get_conversation_service().search(value, scope=principal.scope)
                if value.strip()
                else []
            )
        except ParleyError as exc:
            self.notice = exc.message

    @rx.event
    async def clear_search(self) -> None:
        if await self._allow() is None:
            return
        self.search_query = ""
        self.search_results = []

    # ----- managing conversations -----------------------------------------------------------

    @rx.event
    async def set_pinned(self, conversation_id: str, pinned: bool) -> None:
        if await self._allow(Need(conversation=conversation_id, manage=True)) is None:
            return
        try:
            await get_conversation_service().set_pinned(conversation_id, pinned)
        except ParleyError as exc:
            self.notice = exc.message
        await self._refresh(whole=True)

    @rx.event
    async def start_rename(self, conversation_id: str, title: str) -> None:
        if await self._allow(Need(conversation=conversation_id, manage=True)) is None:
            return
        self.renaming_id = conversation_id
        self.rename_value = title

    @rx.event
    async def set_rename_value(self, value: str) -> None:
        if await self._allow() is not None:
            self.rename_value = value

    @rx.event
    async def cancel_rename(self) -> None:
        if await self._allow() is not None:
            self.renaming_id = ""

    @rx.event
    async def save_rename(self) -> None:
        if not self.renaming_id:
            return
        if await self._allow(Need(conversation=self.renaming_id, manage=True)) is None:
            return
        try:
            renamed = await get_conversation_service().rename(self.renaming_id, self.rename_value)
        except ParleyError as exc:
            self.notice = exc.message
            return
        self.renaming_id = ""
        self.notice = ""
        if renamed.id == self.current_id:
            self.current_title = renamed.title  # the chat's heading
        await self._refresh(whole=True)

    @rx.event
    async def delete_conversation(self, conversation_id: str) -> rx.event.EventType[()] | None:
        if await self._allow(Need(conversation=conversation_id, manage=True)) is None:
            return None
        try:
            deleted = await get_conversation_service().delete(conversation_id)
        except ParleyError as exc:
            self.notice = exc.message
            return None
        self.undo_id = deleted.conversation.id
        self.undo_title = deleted.conversation.title
        self.search_results = [h for h in self.search_results if h.id != conversation_id]
        await self._refresh(whole=True)
        if conversation_id == self.current_id:
            return rx.redirect("/")  # the open one is gone: its page's on_load closes it
        return None

    @rx.event
    async def undo_delete(self) -> None:
        if not self.undo_id:
            return
        if await self._allow(Need(conversation=self.undo_id, manage=True)) is None:
            return
        try:
            await get_conversation_service().undo_delete(self.undo_id)
        except ParleyError as exc:
            self.notice = exc.message
        self.undo_id = ""
        self.undo_title = ""
        await self._refresh(whole=True)
