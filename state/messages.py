"""The message actions' state: Retry, Regenerate, Edit and resend, Delete, and the version
switcher, under each message of the branch on screen.

A substate of :class:`ChatState`: it changes the chat's branch on screen (its vars are this
state's own, through Reflex's inherited fields) and, for the actions that start a reply,
hands it to the chat's background stream through :meth:`ChatState._begin_reply`, the one
deliberate link into the chat (documented there).

Wire cost: an action that replaces a message hides it and what follows (``_cut_at``) rather
than resending the loaded history; only a branch not on screen is reloaded.
"""

from __future__ import annotations

import reflex as rx

from app.errors import ParleyError
from app.services import get_chat_service
from app.services.views import MessageView
from state.access import Need, payer_of
from state.chat import ChatState, follow_conversation

NONE = -1  # editing_id / deleting_id when no message is being edited or deleted


class MessagesState(ChatState):
    # The message being edited and its draft; the one awaiting a confirmed delete.
    editing_id: rx.Field[int] = rx.field(NONE)
    edit_draft: rx.Field[str] = rx.field("")
    deleting_id: rx.Field[int] = rx.field(NONE)

    async def _follow_branch(self, branch: list[MessageView]) -> None:
        """An edit or a delete waits only for a message on screen (another conversation
        opened, or a new version replaced it: it is dropped)."""
        on_screen = {m.id for m in branch}
        if self.editing_id >= 0 and self.editing_id not in on_screen:
            self.editing_id, self.edit_draft = NONE, ""
        if self.deleting_id >= 0 and self.deleting_id not in on_screen:
            self.deleting_id = NONE

    # ----- what is on screen ----------------------------------------------------------------

    def _cut_at(self, message_id: int) -> bool:
        """Stop showing ``message_id`` and everything after it (a new version replaces it).
        Nothing long is sent: ``recent`` is short, and a tail of ``messages`` is hidden by
        index. False if the message is not on screen."""
        for index, message in enumerate(self.recent):
            if message.id == message_id:
                self._set_recent(self.recent[:index])
                return True
        visible = len(self.messages) if self.hidden_from < 0 else self.hidden_from
        for index, message in enumerate(self.messages[:visible]):
            if message.id == message_id:
                self.hidden_from = index
                self._set_recent([])
                return True
        return False

    async def _reload_branch(self) -> None:
        """Show the branch on screen afresh (after switching versions or deleting)."""
        service = get_chat_service()
        page = await service.history(self.current_id, limit=service.history_page_size)
        self._set_messages([m for m in page.messages if m.id != self.live_id])
        self.more_history = page.has_more
        await self._refresh_spend()
        await follow_conversation(self)

    # ----- actions that start a reply -------------------------------------------------------

    @rx.event
    async def retry(self, message_id: int) -> rx.event.EventType[()] | None:
        """Stream a failed reply again, from the model it first asked for."""
        if self._busy():
            return None
        principal = await self._allow(Need(message=message_id, write=True))
        if principal is None:
            return None
        try:
            payer = await payer_of(principal, message_id=message_id)
            reply = await get_chat_service().retry(message_id, payer=payer)
        except ParleyError as exc:
            self.notice = exc.message
            return None
        self.notice = ""
        self._cut_at(message_id)
        return self._begin_reply(reply.id, self.current_id).stream_reply

    @rx.event
    async def regenerate(self, reply_id: int) -> rx.event.EventType[()] | None:
        """Answer the reply's question again (with the picked model); the old reply stays as
        an earlier version."""
        if self._busy():
            return None
        principal = await self._allow(Need(message=reply_id, write=True))
        if principal is None:
            return None
        try:
            payer = await payer_of(principal, message_id=reply_id)
            reply = await get_chat_service().regenerate(
                reply_id, model=self.model or None, payer=payer
            )
        except ParleyError as exc:
            self.notice = exc.message
            return None
        self.notice = ""
        stream = self._begin_reply(reply.id, self.current_id).stream_reply
        if not self._cut_at(reply_id):
            await self._reload_branch()  # not on screen: show the new version's branch
        return stream

    @rx.event
    async def start_edit(self, message_id: int, text: str) -> None:
        if await self._allow(Need(message=message_id, write=True)) is None:
            return
        self.editing_id = message_id
        self.edit_draft = text

    @rx.event
    async def set_edit_draft(self, value: str) -> None:
        if await self._allow() is not None:
            self.edit_draft = value

    @rx.event
    async def cancel_edit(self) -> None:
        if await self._allow() is None:
            return
        self.editing_id = NONE
        self.edit_draft = ""

    @rx.event
    async def save_edit(self) -> rx.event.EventType[()] | None:
        """Send the edited question as a new version of it; the old branch stays."""
        if self.editing_id < 0 or self._busy():
            return None
        principal = await self._allow(Need(message=self.editing_id, write=True))
        if principal is None:
            return None
        message_id = self.editing_id
        try:
            payer = await payer_of(principal, message_id=message_id)
            posted = await get_chat_service().edit_and_resend(
                message_id, self.edit_draft, model=self.model or None, payer=payer
            )
        except ParleyError as exc:
            self.notice = exc.message  # the edit stays open with its text
            return None
        self.notice = ""
        self.editing_id = NONE
        self.edit_draft = ""
        stream = self._begin_reply(posted.reply.id, self.current_id).stream_reply
        if self._cut_at(message_id):
            self.recent = [*self.recent, posted.user]
        else:
            await self._reload_branch()  # not on screen: show the new version's branch
        return stream

    # ----- actions on the branch ------------------------------------------------------------

    @rx.event
    async def switch_version(self, message_id: int) -> None:
        """Show another version of a message, with the branch that follows it."""
        if message_id < 0 or self._busy():
            return
        if await self._allow(Need(message=message_id, write=True)) is None:
            return
        try:
            await get_chat_service().switch_version(message_id)
            await self._reload_branch()
        except ParleyError as exc:
            self.notice = exc.message
            return
        self.notice = ""

    @rx.event
    async def ask_delete(self, message_id: int) -> None:
        if await self._allow(Need(message=message_id, write=True)) is not None:
            self.deleting_id = message_id

    @rx.event
    async def cancel_delete(self) -> None:
        if await self._allow() is not None:
            self.deleting_id = NONE

    @rx.event
    async def confirm_delete(self, message_id: int) -> None:
        """Delete the message (and its replies) the dialog asked about. The id comes with
        the click, so the dialog's own closing (which cancels) may arrive first."""
        self.deleting_id = NONE
        if message_id < 0 or self._busy():
            return
        if await self._allow(Need(message=message_id, write=True)) is None:
            return
        try:
            await get_chat_service().delete_message(message_id)
            await self._reload_branch()
        except ParleyError as exc:
            self.notice = exc.message
            return
        self.notice = ""
