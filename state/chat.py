"""The chat page's state: the sidebar, the open conversation, and the reply streaming in.

While a reply streams, its text never travels through this state: the browser appends it
from the live-reply channel (app/web/stream_ws.py, components/live_reply.py), so Reflex
sends one update when the reply starts (``live_id``) and one when it ends (the finished
message). Streaming runs as a background event, so Stop and navigation stay live while it
runs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import aclosing

import reflex as rx

from app.errors import ParleyError
from app.services import get_chat_service, get_conversation_service, get_title_service
from app.services.chat import ConversationSummary, MessageView, ModelOption
from app.services.conversations import SearchHit, SidebarPage
from state.code_panel import follow_conversation

log = logging.getLogger(__name__)


def conversation_path(conversation_id: str) -> str:
    return f"/c/{conversation_id}"


def _id_from_path(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    return parts[1] if len(parts) == 2 and parts[0] == "c" else ""


def _shown(rows: Sequence[ConversationSummary]) -> list[tuple[str, str]]:
    return [(row.id, row.title) for row in rows]


class ChatState(rx.State):
    # The sidebar: pinned conversations, then pages of the others, newest first.
    pinned: rx.Field[list[ConversationSummary]] = rx.field(default_factory=list)
    conversations: rx.Field[list[ConversationSummary]] = rx.field(default_factory=list)
    more_conversations: rx.Field[bool] = rx.field(False)
    sidebar_next: rx.Field[str] = rx.field("")  # where the next page starts
    search_query: rx.Field[str] = rx.field("")
    search_results: rx.Field[list[SearchHit]] = rx.field(default_factory=list)
    renaming_id: rx.Field[str] = rx.field("")
    rename_value: rx.Field[str] = rx.field("")
    undo_id: rx.Field[str] = rx.field("")  # the conversation just deleted, for Undo
    undo_title: rx.Field[str] = rx.field("")
    current_id: rx.Field[str] = rx.field("")
    current_title: rx.Field[str] = rx.field("")
    messages: rx.Field[list[MessageView]] = rx.field(default_factory=list)
    more_history: rx.Field[bool] = rx.field(False)
    models: rx.Field[list[ModelOption]] = rx.field(default_factory=list)
    model: rx.Field[str] = rx.field("")  # the model the next message goes to
    draft: rx.Field[str] = rx.field("")
    notice: rx.Field[str] = rx.field("")  # a readable problem with the last action

    # The reply being streamed in this session (one at a time).
    live_id: rx.Field[int] = rx.field(-1)
    live_conversation_id: rx.Field[str] = rx.field("")

    @rx.var
    def streaming(self) -> bool:
        return self.live_id >= 0

    @rx.var
    def streaming_here(self) -> bool:
        return self.live_id >= 0 and self.live_conversation_id == self.current_id

    # ----- loading ------------------------------------------------------------------------

    def _show_sidebar(self, page: SidebarPage, *, append: bool = False) -> None:
        """Show a sidebar page. Reflex resends a list whole whenever it is assigned, so a
        list is assigned only when what it shows (ids and titles, in order) has changed:
        after most replies the sidebar looks the same and nothing travels."""
        if append:
            self.conversations = self.conversations + page.conversations
        else:
            if _shown(page.pinned) != _shown(self.pinned):
                self.pinned = page.pinned
            if _shown(page.conversations) != _shown(self.conversations):
                self.conversations = page.conversations
        next_before = page.next_before or ""
        if next_before != self.sidebar_next:
            self.sidebar_next = next_before
        if self.more_conversations != (page.next_before is not None):
            self.more_conversations = page.next_before is not None

    async def _refresh_sidebar(self) -> None:
        self._show_sidebar(await get_conversation_service().sidebar())

    @rx.event
    async def load_more_conversations(self) -> None:
        if not self.sidebar_next:
            return
        page = await get_conversation_service().sidebar(updated_before=self.sidebar_next)
        self._show_sidebar(page, append=True)

    # ----- managing conversations ---------------------------------------------------------

    @rx.event
    async def set_search(self, value: str) -> None:
        self.search_query = value
        try:
            self.search_results = (
                await get_conversation_service().search(value) if value.strip() else []
            )
        except ParleyError as exc:
            self.notice = exc.message

    @rx.event
    def clear_search(self) -> None:
        self.search_query = ""
        self.search_results = []

    @rx.event
    async def set_pinned(self, conversation_id: str, pinned: bool) -> None:
        try:
            await get_conversation_service().set_pinned(conversation_id, pinned)
        except ParleyError as exc:
            self.notice = exc.message
        await self._refresh_sidebar()

    @rx.event
    def start_rename(self, conversation_id: str, title: str) -> None:
        self.renaming_id = conversation_id
        self.rename_value = title

    @rx.event
    def set_rename_value(self, value: str) -> None:
        self.rename_value = value

    @rx.event
    def cancel_rename(self) -> None:
        self.renaming_id = ""

    @rx.event
    async def save_rename(self) -> None:
        if not self.renaming_id:
            return
        try:
            renamed = await get_conversation_service().rename(self.renaming_id, self.rename_value)
        except ParleyError as exc:
            self.notice = exc.message
            return
        self.renaming_id = ""
        self.notice = ""
        if renamed.id == self.current_id:
            self.current_title = renamed.title
        await self._refresh_sidebar()

    @rx.event
    async def delete_conversation(self, conversation_id: str) -> rx.event.EventType[()] | None:
        try:
            deleted = await get_conversation_service().delete(conversation_id)
        except ParleyError as exc:
            self.notice = exc.message
            return None
        self.undo_id = deleted.conversation.id
        self.undo_title = deleted.conversation.title
        self.search_results = [h for h in self.search_results if h.id != conversation_id]
        await self._refresh_sidebar()
        if conversation_id == self.current_id:
            return rx.redirect("/")
        return None

    @rx.event
    async def undo_delete(self) -> None:
        if not self.undo_id:
            return
        try:
            await get_conversation_service().undo_delete(self.undo_id)
        except ParleyError as exc:
            self.notice = exc.message
        self.undo_id = ""
        self.undo_title = ""
        await self._refresh_sidebar()

    def _clear_live(self) -> None:
        self.live_id = -1
        self.live_conversation_id = ""

    async def _settle_orphaned_reply(self) -> bool:
        """Forget a reply whose stream is gone. True if there was one.

        With Redis, session state outlives the process that was streaming; start-up marks
        such a reply as an error, and this lets the session carry on.
        """
        if self.live_id < 0:
            return False
        try:
            saved = await get_chat_service().get_message(self.live_id)
        except ParleyError:
            saved = None
        if saved is not None and saved.status == "streaming":
            return False
        self._clear_live()
        return True

    @rx.event
    async def load_page(self) -> None:
        """on_load for every chat route: ``/`` is a new chat, ``/c/<id>`` a saved one."""
        conversation_id = _id_from_path(self.router.url.path)
        self.notice = ""
        settled = await self._settle_orphaned_reply()
        await self._refresh_sidebar()
        same = conversation_id and conversation_id == self.current_id and self.messages
        if same and not settled:
            return  # already showing it (e.g. the redirect after the first message)
        service = get_chat_service()
        self.models = service.available_models()
        if self.model not in {m.id for m in self.models}:
            self.model = service.default_model()
        self._close_conversation()
        self.current_id = conversation_id
        await follow_conversation(self)  # the code panel, if open: empty until loaded
        if not conversation_id:
            return
        try:
            conversation = await service.get_conversation(conversation_id)
            page = await service.history(conversation_id, limit=service.history_page_size)
        except ParleyError as exc:
            self.notice = exc.message
            self.current_id = ""
            return
        self.current_title = conversation.title
        if conversation.model in {m.id for m in self.models}:
            self.model = conversation.model
        self.more_history = page.has_more
        # A reply still streaming in this session is shown by the live-reply channel.
        self.messages = [m for m in page.messages if m.id != self.live_id]
        await follow_conversation(self)

    @rx.event
    async def load_earlier(self) -> None:
        if not self.current_id or not self.messages:
            return
        service = get_chat_service()
        page = await service.history(
            self.current_id, limit=service.history_page_size, before_id=self.messages[0].id
        )
        self.messages = page.messages + self.messages
        self.more_history = page.has_more
        await follow_conversation(self)

    # ----- composing and sending -------------------------------------------------------------

    @rx.event
    def set_draft(self, value: str) -> None:
        self.draft = value

    @rx.event
    def set_model(self, value: str) -> None:
        self.model = value

    def _close_conversation(self) -> None:
        self.current_id = ""
        self.current_title = ""
        self.messages = []
        self.more_history = False

    @rx.event
    def open_conversation(self, conversation_id: str) -> None:
        """A link to a conversation was clicked: switch at once, so a message sent before the
        page's on_load has loaded the history goes to this conversation, not the last one."""
        if conversation_id != self.current_id:
            self._close_conversation()
            self.current_id = conversation_id

    @rx.event
    def new_chat(self) -> rx.event.EventSpec:
        # Close the conversation here rather than in the page's on_load: a message sent
        # before that runs must start a new conversation, not join the old one.
        self._close_conversation()
        return rx.redirect("/")

    @rx.event
    async def send(self) -> rx.event.EventType[()] | None:
        if self.streaming:
            self.notice = "Wait for the current reply to finish, or press Stop."
            return None
        try:
            posted = await get_chat_service().post_message(
                self.current_id or None, self.draft, model=self.model or None
            )
        except ParleyError as exc:
            self.notice = exc.message
            return None
        self.notice = ""
        self.draft = ""
        self.current_id = posted.conversation.id
        self.current_title = posted.conversation.title
        self.messages = [*self.messages, posted.user]
        self.live_id = posted.reply.id
        self.live_conversation_id = posted.conversation.id
        events: list[rx.event.IndividualEventType[()]] = []
        if posted.created:
            # A new conversation joins the sidebar now; otherwise the reply's end refreshes it.
            await self._refresh_sidebar()
            events.append(rx.redirect(conversation_path(posted.conversation.id), replace=True))
        events.append(ChatState.stream_reply)
        return events

    @rx.event
    async def retry(self, message_id: int) -> rx.event.EventType[()] | None:
        """Stream a failed reply again, from the model it first asked for."""
        if self.streaming:
            self.notice = "Wait for the current reply to finish, or press Stop."
            return None
        try:
            reply = await get_chat_service().retry(message_id)
        except ParleyError as exc:
            self.notice = exc.message
            return None
        self.notice = ""
        self.messages = [m for m in self.messages if m.id != message_id]
        self.live_id = reply.id
        self.live_conversation_id = self.current_id
        return ChatState.stream_reply

    @rx.event
    async def stop(self) -> None:
        if self.streaming and not await self._settle_orphaned_reply():
            get_chat_service().request_stop(self.live_id)

    @rx.event(background=True)
    async def stream_reply(self) -> None:
        async with self:
            message_id = self.live_id
            conversation_id = self.live_conversation_id
        if message_id < 0:
            return
        service = get_chat_service()
        final: MessageView | None = None
        problem = ""
        try:
            # The text reaches the browser over the live-reply channel, and Stop reaches the
            # service directly, so streaming takes no state lock and sends nothing.
            async with aclosing(service.stream_reply(message_id)) as batches:
                async for _ in batches:
                    pass
            # The generator is closed: the reply is saved (complete, stopped or error).
            final = await service.get_message(message_id)
        except Exception as exc:  # never leave this session stuck in "streaming"
            log.exception("streaming reply %s failed", message_id)
            problem = (
                exc.message if isinstance(exc, ParleyError) else "The reply failed unexpectedly."
            )
        async with self:
            if self.live_id == message_id:  # else a reload already settled this reply
                if final is not None and self.current_id == self.live_conversation_id:
                    self.messages = [*self.messages, final]
                    await follow_conversation(self)  # in the update that ends the reply
                self.notice = problem
                self._clear_live()
            # Read under the lock, so a rename or delete this tab made meanwhile is seen.
            await self._refresh_sidebar_quietly()
        if final is not None and final.status == "complete":
            await self._name_conversation(conversation_id)

    async def _name_conversation(self, conversation_id: str) -> None:
        """After the first reply, the model titles the conversation (a no-op afterwards)."""
        titles = get_title_service()
        if titles is None:
            return
        try:
            title = await titles.generate(conversation_id)
        except Exception:  # a title is a nicety: never let it disturb the chat
            log.exception("naming conversation %s failed", conversation_id)
            return
        if title is None:
            return
        async with self:
            if self.current_id == conversation_id:
                # From the database, under the lock: a rename made since the title was
                # written must win over it.
                try:
                    conversation = await get_chat_service().get_conversation(conversation_id)
                    self.current_title = conversation.title
                except ParleyError:
                    pass  # deleted meanwhile
            await self._refresh_sidebar_quietly()

    async def _refresh_sidebar_quietly(self) -> None:
        """Refresh the sidebar from a background task: a failure is logged, not shown."""
        try:
            await self._refresh_sidebar()
        except Exception:
            log.exception("refreshing the sidebar failed")
