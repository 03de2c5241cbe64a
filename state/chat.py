"""The chat page's state: the sidebar, the open conversation, and the reply streaming in.

While a reply streams, its text never travels through this state: the browser appends it
from the live-reply channel (app/web/stream_ws.py, components/live_reply.py), so Reflex
sends one update when the reply starts (``live_id``) and one when it ends (the finished
message). Streaming runs as a background event, so Stop and navigation stay live while it
runs.

The branch on screen is two lists, because Reflex resends a list whole whenever it is
assigned: ``messages``, the history loaded when the conversation opened (or the branch
changed), and ``recent``, the few messages added in this session since. Sending and a
reply's end append to ``recent`` only, so finished history never travels again; actions
that reload anyway (open, switch version, delete, load earlier) fold ``recent`` back in.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import aclosing

import reflex as rx

from app.errors import ParleyError
from app.services import get_chat_service, get_conversation_service, get_title_service
from app.services.chat import BUSY, ConversationSummary, MessageView, ModelOption
from app.services.conversations import SearchHit, SidebarPage
from state.code_panel import follow_conversation

log = logging.getLogger(__name__)


def conversation_path(conversation_id: str) -> str:
    return f"/c/{conversation_id}"


def _id_from_path(path: str) -> str | None:
    """``/`` -> "" (a new chat), ``/c/<id>`` -> the id, any other path -> None (no page):
    the one chat route (app/app.py) matches every path of up to two segments."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return ""
    return parts[1] if len(parts) == 2 and parts[0] == "c" else None


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
    recent: rx.Field[list[MessageView]] = rx.field(default_factory=list)  # added since loading
    # Messages from this index of ``messages`` on are hidden (-1: none): a new version of one
    # replaces them on screen without sending the list again.
    hidden_from: rx.Field[int] = rx.field(-1)
    more_history: rx.Field[bool] = rx.field(False)
    # Message actions: the message being edited and its draft; the one awaiting a confirmed
    # delete (-1: none); what the conversation has cost so far (text, and words for its label).
    editing_id: rx.Field[int] = rx.field(-1)
    edit_draft: rx.Field[str] = rx.field("")
    deleting_id: rx.Field[int] = rx.field(-1)
    spent: rx.Field[str] = rx.field("")
    spent_label: rx.Field[str] = rx.field("")
    models: rx.Field[list[ModelOption]] = rx.field(default_factory=list)
    model: rx.Field[str] = rx.field("")  # the model the next message goes to
    draft: rx.Field[str] = rx.field("")
    notice: rx.Field[str] = rx.field("")  # a readable problem with the last action

    # New chat was asked for, and the page has not moved to ``/`` yet (backend only: the
    # screen keeps the conversation until the address changes; see ``new_chat``).
    _new_chat_asked: bool = False

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
        path = self.router.url.path
        conversation_id = _id_from_path(path)
        self._new_chat_asked = False  # the screen follows the address from here
        self.notice = "" if conversation_id is not None else f"There is no page at {path}."
        conversation_id = conversation_id or ""
        settled = await self._settle_orphaned_reply()
        await self._refresh_sidebar()
        # ?m=<message id>: a search hit; its branch goes on screen if another one is.
        hit = self.router.url.query_parameters.get("m", "")
        moved = bool(
            conversation_id
            and hit.isdigit()
            and await get_chat_service().show_message(conversation_id, int(hit))
        )
        same = (
            conversation_id
            and conversation_id == self.current_id
            and (self.messages or self.recent)
        )
        if same and not settled and not moved:
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
        self._set_messages([m for m in page.messages if m.id != self.live_id])
        await self._refresh_spend()
        await follow_conversation(self)

    @rx.event
    async def load_earlier(self) -> None:
        shown = self._shown()
        if not self.current_id or not shown:
            return
        service = get_chat_service()
        page = await service.history(
            self.current_id, limit=service.history_page_size, before_id=shown[0].id
        )
        self._set_messages(page.messages + shown)  # a reload anyway: recent folds in
        self.more_history = page.has_more
        await follow_conversation(self)

    async def _reload_branch(self) -> None:
        """Show the branch on screen afresh (after switching versions or deleting)."""
        service = get_chat_service()
        page = await service.history(self.current_id, limit=service.history_page_size)
        self._set_messages([m for m in page.messages if m.id != self.live_id])
        self.more_history = page.has_more
        await self._refresh_spend()
        await follow_conversation(self)

    def branch_on_screen(self) -> list[MessageView]:
        """The finished messages the screen shows, oldest first (for the code panel)."""
        return self._shown()

    def _shown(self) -> list[MessageView]:
        """The branch as the screen shows it: loaded history (less any hidden tail), then
        the messages added since."""
        loaded = self.messages if self.hidden_from < 0 else self.messages[: self.hidden_from]
        return loaded + self.recent

    def _set_messages(self, messages: list[MessageView]) -> None:
        """Show ``messages`` as the whole branch: ``recent`` and any hidden tail fold away."""
        self.messages = messages
        self._set_recent([])
        if self.hidden_from >= 0:
            self.hidden_from = -1

    def _set_recent(self, recent: list[MessageView]) -> None:
        if recent or self.recent:  # an empty list stays put: nothing to send
            self.recent = recent

    def _cut_at(self, message_id: int) -> bool:
        """Stop showing ``message_id`` and everything after it (a new version replaces it).
        Nothing long is sent: ``recent`` is short, and a tail of ``messages`` is hidden by
        index. False if the message is not on screen."""
        for index, message in enumerate(self.recent):
            if message.id == message_id:
                self.recent = self.recent[:index]
                return True
        visible = len(self.messages) if self.hidden_from < 0 else self.hidden_from
        for index, message in enumerate(self.messages[:visible]):
            if message.id == message_id:
                self.hidden_from = index
                self._set_recent([])
                return True
        return False

    async def _refresh_spend(self) -> None:
        """The conversation's running total, assigned only when its text changed."""
        spend = await get_chat_service().spend(self.current_id) if self.current_id else None
        text, label = (spend.text, spend.label) if spend else ("", "")
        if text != self.spent or label != self.spent_label:
            self.spent, self.spent_label = text, label

    # ----- composing and sending -------------------------------------------------------------

    @rx.event
    def set_draft(self, value: str) -> None:
        self.draft = value

    @rx.event
    def set_model(self, value: str) -> None:
        self.model = value

    def _close_conversation(self) -> None:
        self._new_chat_asked = False
        self.current_id = ""
        self.current_title = ""
        self._set_messages([])
        self.more_history = False
        self.editing_id = -1
        self.deleting_id = -1
        self.spent, self.spent_label = "", ""

    @rx.event
    def open_conversation(self, conversation_id: str) -> None:
        """A link to a conversation was clicked: switch at once, so a message sent before the
        page's on_load has loaded the history goes to this conversation, not the last one."""
        self._new_chat_asked = False
        if conversation_id != self.current_id:
            self._close_conversation()
            self.current_id = conversation_id

    @rx.event
    def new_chat(self) -> rx.event.EventSpec:
        """Go to ``/``; its on_load closes the conversation. Nothing on screen changes before
        the address does: emptying the log here reached the browser ahead of the redirect,
        so Back in between left the app instead of returning to this conversation. A
        message sent before that on_load still starts a new conversation (``send``)."""
        self._new_chat_asked = True
        return rx.redirect("/")

    @rx.event
    async def send(self) -> rx.event.EventType[()] | None:
        if self._busy():
            return None
        if self._new_chat_asked:
            self._close_conversation()
        from state.composer import ComposerState  # a substate of this one

        composer = await self.get_state(ComposerState)
        try:
            posted = await get_chat_service().post_message(
                self.current_id or None,
                self.draft,
                model=self.model or None,
                extras=composer.extras(),
            )
        except ParleyError as exc:
            self.notice = exc.message
            return None
        composer.sent()
        self.notice = ""
        self.draft = ""
        self.current_id = posted.conversation.id
        self.current_title = posted.conversation.title
        self.recent = [*self.recent, posted.user]  # history stays where it is: not resent
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
        if self._busy():
            return None
        try:
            reply = await get_chat_service().retry(message_id)
        except ParleyError as exc:
            self.notice = exc.message
            return None
        self.notice = ""
        self._cut_at(message_id)
        self.live_id = reply.id
        self.live_conversation_id = self.current_id
        return ChatState.stream_reply

    # ----- message actions ------------------------------------------------------------------

    def _busy(self) -> bool:
        """True (saying why) while this tab's reply streams: it takes one at a time."""
        if self.streaming:
            self.notice = BUSY
        return self.streaming

    @rx.event
    async def regenerate(self, reply_id: int) -> rx.event.EventType[()] | None:
        """Answer the reply's question again (with the picked model); the old reply stays as
        an earlier version."""
        if self._busy():
            return None
        try:
            reply = await get_chat_service().regenerate(reply_id, model=self.model or None)
        except ParleyError as exc:
            self.notice = exc.message
            return None
        self.notice = ""
        self.live_id = reply.id
        self.live_conversation_id = self.current_id
        if not self._cut_at(reply_id):
            await self._reload_branch()  # not on screen: show the new version's branch
        return ChatState.stream_reply

    @rx.event
    def start_edit(self, message_id: int, text: str) -> None:
        self.editing_id = message_id
        self.edit_draft = text

    @rx.event
    def set_edit_draft(self, value: str) -> None:
        self.edit_draft = value

    @rx.event
    def cancel_edit(self) -> None:
        self.editing_id = -1
        self.edit_draft = ""

    @rx.event
    async def save_edit(self) -> rx.event.EventType[()] | None:
        """Send the edited question as a new version of it; the old branch stays."""
        if self.editing_id < 0 or self._busy():
            return None
        message_id = self.editing_id
        try:
            posted = await get_chat_service().edit_and_resend(
                message_id, self.edit_draft, model=self.model or None
            )
        except ParleyError as exc:
            self.notice = exc.message  # the edit stays open with its text
            return None
        self.notice = ""
        self.editing_id = -1
        self.edit_draft = ""
        self.live_id = posted.reply.id
        self.live_conversation_id = self.current_id
        if self._cut_at(message_id):
            self.recent = [*self.recent, posted.user]
        else:
            await self._reload_branch()  # not on screen: show the new version's branch
        return ChatState.stream_reply

    @rx.event
    async def switch_version(self, message_id: int) -> None:
        """Show another version of a message, with the branch that follows it."""
        if message_id < 0 or self._busy():
            return
        service = get_chat_service()
        try:
            await service.switch_version(message_id)
            await self._reload_branch()
        except ParleyError as exc:
            self.notice = exc.message
            return
        self.notice = ""

    @rx.event
    def ask_delete(self, message_id: int) -> None:
        self.deleting_id = message_id

    @rx.event
    def cancel_delete(self) -> None:
        self.deleting_id = -1

    @rx.event
    async def confirm_delete(self, message_id: int) -> None:
        """Delete the message (and its replies) the dialog asked about. The id comes with
        the click, so the dialog's own closing (which cancels) may arrive first."""
        self.deleting_id = -1
        if message_id < 0 or self._busy():
            return
        try:
            await get_chat_service().delete_message(message_id)
            await self._reload_branch()
        except ParleyError as exc:
            self.notice = exc.message
            return
        self.notice = ""

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
                    # Appended to the short list only: the history is not sent again.
                    self.recent = [*self.recent, final]
                    await self._refresh_spend_quietly()
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
                await self._refresh_spend_quietly()  # the title's call counts too
            await self._refresh_sidebar_quietly()

    async def _refresh_spend_quietly(self) -> None:
        try:
            await self._refresh_spend()
        except Exception:
            log.exception("reading the conversation's spend failed")

    async def _refresh_sidebar_quietly(self) -> None:
        """Refresh the sidebar from a background task: a failure is logged, not shown."""
        try:
            await self._refresh_sidebar()
        except Exception:
            log.exception("refreshing the sidebar failed")
