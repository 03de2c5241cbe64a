"""Extraction's state: an extractor run from a message's actions, or from a slash command in
the composer (``/contacts <text>``), its result kept with the message and shown as a card or
a table. A substate of :class:`ChatState`.

Both run the model in a background event, so the page stays live meanwhile. Results of the
branch on screen are read back (:meth:`_follow_branch`), so they stay after a reload.
"""

from __future__ import annotations

import logging

import reflex as rx

from app.errors import ParleyError
from app.services.agent_wiring import get_extract_chat
from app.services.authz import owner_of
from app.services.extract_chat import ExtractionView
from app.services.views import MessageView
from state.access import Need
from state.chat import ChatState
from state.composer_box import clear_sent
from state.conversation import conversation_path

log = logging.getLogger(__name__)
NONE = -1


class ExtractState(ChatState):
    extractions: rx.Field[list[ExtractionView]] = rx.field(default_factory=list)
    extracting_id: rx.Field[int] = rx.field(NONE)  # the message being extracted from

    async def _follow_branch(self, branch: list[MessageView]) -> None:
        ids = [m.id for m in branch]
        results = await get_extract_chat().results(ids) if ids else []
        if results != self.extractions:
            self.extractions = results

    @rx.event(background=True)
    async def extract(self, message_id: int, extractor: str) -> None:
        """Run ``extractor`` over message ``message_id``; its result joins the message."""
        async with self:
            # The conversation's owners only: an extraction's call is billed to the
            # conversation (a share's participant may not spend it).
            if await self._allow(Need(message=int(message_id), manage=True)) is None:
                return
            if self.extracting_id >= 0:
                self.notice = "An extraction is already running."
                return
            self.extracting_id = message_id
            model = self.model
        view: ExtractionView | None = None
        problem = ""
        try:
            view = await get_extract_chat().run(message_id, extractor, model=model)
        except ParleyError as exc:
            problem = exc.message
        except Exception:
            log.exception("extraction %s on message %s failed", extractor, message_id)
            problem = "The extraction failed unexpectedly."
        async with self:
            self.extracting_id = NONE
            self.notice = problem
            if view is not None:
                self.extractions = [*self.extractions, view]

    @rx.event
    async def send_command(self, text: str, extractor: str) -> rx.event.EventType[()] | None:
        """A slash command from the composer: saved as the user's message, then extracted.
        Refused, it says why and the box keeps its text."""
        need = Need(conversation=self.current_id or None, manage=True, create=not self.current_id)
        principal = await self._allow(need)
        if principal is None or self._busy():
            return None
        try:
            posted = await get_extract_chat().post_command(
                self.current_id or None,
                text,
                model=self.model or None,
                owner=None if self.current_id else owner_of(principal),
            )
        except ParleyError as exc:
            self.notice = exc.message
            return None
        self.notice = ""
        self.current_id = posted.conversation.id
        self.current_title = posted.conversation.title
        self.recent = [*self.recent, posted.user]
        events: list[rx.event.IndividualEventType[()]] = [clear_sent(text)]
        if posted.created:
            await self._refresh_sidebar()
            events.append(rx.redirect(conversation_path(posted.conversation.id), replace=True))
        events.append(ExtractState.extract(posted.user.id, extractor))
        return events
