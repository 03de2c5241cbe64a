"""The page shell's state: the command palette's conversation results and the phone drawer.

Thin: it asks the conversation service and holds what the palette shows. Everything else the
shell does (shortcuts, theme, focus, scrolling) happens in the browser.
"""

from __future__ import annotations

import reflex as rx

from app.errors import ParleyError
from app.services import get_conversation_service
from state.access import principal_of

PALETTE_RECENT = 8  # conversations the palette offers before anything is typed
PALETTE_HITS = 10  # conversations it offers for a query


class UiState(rx.State):
    # The palette's conversations for palette_query: {"id", "title"}, best first.
    palette_query: rx.Field[str] = rx.field("")
    palette_conversations: rx.Field[list[dict[str, str]]] = rx.field(default_factory=list)
    # The sidebar as a drawer (phones only; wide screens always show it).
    drawer_open: rx.Field[bool] = rx.field(False)

    @rx.event
    async def search_palette(self, query: str) -> None:
        """Conversations for the palette: the latest when ``query`` is blank, else those
        whose title or messages match it (whole words, as the sidebar's search)."""
        query = query[:200]
        principal = await principal_of(self)
        if principal is None:  # nobody sees no conversations
            self.palette_query, self.palette_conversations = query, []
            return
        service = get_conversation_service()
        try:
            if query.strip():
                hits = await service.search(query, limit=PALETTE_HITS, scope=principal.scope)
                found = [{"id": h.id, "title": h.title} for h in hits]
            else:
                page = await service.sidebar(limit=PALETTE_RECENT, scope=principal.scope)
                rows = [*page.pinned, *page.conversations][:PALETTE_RECENT]
                found = [{"id": c.id, "title": c.title} for c in rows]
        except ParleyError:
            found = []  # the palette's commands still work; the sidebar shows the problem
        self.palette_query = query
        if found != self.palette_conversations:
            self.palette_conversations = found

    @rx.event
    async def set_drawer_open(self, value: bool) -> None:
        """Open or close the drawer: this tab's own view, for signed-in users only."""
        if await principal_of(self) is not None:
            self.drawer_open = value

    @rx.event
    async def close_drawer(self) -> None:
        if await principal_of(self) is not None:
            self.drawer_open = False
