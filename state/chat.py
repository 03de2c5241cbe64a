"""The chat page's state: the open conversation's branch on screen and the reply streaming in.

The chat page's states, and which way they point (imports go one way, no circle):

    OpenConversationState  (state/conversation.py)  open id, title, the page's notice
    ├── SidebarState       (state/sidebar.py)       conversation list, search, rename, delete
    └── ChatState          (this module)            branch on screen, live reply, model
        ├── ComposerState  (state/composer.py)      send, attachments, parameters, prompt
        ├── MessagesState  (state/messages.py)      retry, regenerate, edit, delete, versions
        └── CodePanelState (state/code_panel.py)    the branch's code blocks

A substate reads and sets its parents' vars as its own (Reflex binds an inherited field to the
parent's instance), and Reflex loads a state's substates with it. The links that cross
between states, each documented where it lives:

- a substate that starts a reply (send, retry, regenerate, edit) calls :meth:`_begin_reply`
  and returns ``ChatState.stream_reply``, the chat's background stream: the one deliberate
  link from a view's state into the chat;
- the chat refreshes its sibling sidebar (:meth:`_refresh_sidebar`), one way;
- the chat tells its substates that show part of the branch that it changed
  (:func:`follow_conversation`), without importing them.

A reply's text never travels through this state in the session that streamed it (see
state/live.py). Streaming runs as a background event, so Stop and navigation stay live.

The branch on screen is two lists, because Reflex resends a list whole whenever it is
assigned: ``messages``, the history loaded when the conversation opened (or the branch
changed), and ``recent``, the few messages added in this session since. Sending and a
reply's end append to ``recent`` only, so finished history never travels again; actions
that reload anyway (open, switch version, delete, load earlier) fold ``recent`` back in.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Protocol, cast

import reflex as rx

from app.errors import ParleyError
from app.guards.params import parse_row_id
from app.services import get_chat_service, get_title_service
from app.services.agent_wiring import get_agent_chat
from app.services.status import NO_REPLY, busy_notice, has_live_reply, is_complete, is_orphaned
from app.services.views import MessageView, ModelOption
from state.access import Need
from state.conversation import OpenConversationState, id_from_path
from state.live import LiveReplyMixin
from state.settle import settle_ended
from state.sidebar import SidebarState

log = logging.getLogger(__name__)


class BranchView(Protocol):
    """A substate of the chat that shows something derived from the branch on screen."""

    async def _follow_branch(self, branch: list[MessageView]) -> None: ...


async def follow_conversation(chat: ChatState) -> None:
    """The finished messages on screen changed: each substate of the chat that shows part of
    them (one defining ``_follow_branch``: the code panel, the message actions) follows.

    Called inside the event (or ``async with self`` block) that changed them, so what the
    view shows travels in the same update. The chat finds these views among its own
    substates (``get_substates``, which Reflex loads with it), so it never imports them.
    """
    for view in ChatState.get_substates():
        if callable(getattr(view, "_follow_branch", None)):
            state = cast(BranchView, await chat.get_state(view))
            await state._follow_branch(chat._shown())


class ChatState(LiveReplyMixin, OpenConversationState):
    messages: rx.Field[list[MessageView]] = rx.field(default_factory=list)
    recent: rx.Field[list[MessageView]] = rx.field(default_factory=list)  # added since loading
    # Messages from this index of ``messages`` on are hidden (-1: none): a new version of one
    # replaces them on screen without sending the list again.
    hidden_from: rx.Field[int] = rx.field(-1)
    more_history: rx.Field[bool] = rx.field(False)
    # What the conversation has cost so far (text, and words for its label).
    spent: rx.Field[str] = rx.field("")
    spent_label: rx.Field[str] = rx.field("")
    models: rx.Field[list[ModelOption]] = rx.field(default_factory=list)
    model: rx.Field[str] = rx.field("")  # the model the next message goes to

    # New chat was asked for, and the page has not moved to ``/`` yet (backend only: the
    # screen keeps the conversation until the address changes; see ``new_chat``).
    _new_chat_asked: bool = False

    @rx.var
    def streaming(self) -> bool:
        return has_live_reply(self.live_id)

    @rx.var
    def streaming_here(self) -> bool:
        return has_live_reply(self.live_id) and self.live_conversation_id == self.current_id

    # ----- the reply streaming in (what substates that start one use) ---------------------

    def _busy(self) -> bool:
        """True (saying why) while this tab's reply streams: it takes one at a time."""
        notice = busy_notice(self.live_id)
        if notice:
            self.notice = notice
        return bool(notice)

    def _begin_reply(self, reply_id: int, conversation_id: str) -> type[ChatState]:
        """Follow reply ``reply_id`` (just saved, streaming) and return the event that
        streams it: ``return self._begin_reply(...).stream_reply`` ends a handler that
        starts a reply. The one deliberate link from a view's state (the composer's send,
        the message actions) into the chat's background stream."""
        self._go_live(reply_id, conversation_id)
        return ChatState

    def _lost_live_texts(self) -> bool:
        """Whether ``recent`` shows replies from texts a page no longer holds: the page
        was reloaded (a new socket session), so it must be sent them."""
        return any(m.live_key for m in self.recent) and (
            self.router.session.session_id != self._live_page
        )

    async def _settle_orphaned_reply(self) -> bool:
        """Forget a reply whose stream is gone. True if there was one.

        With Redis, session state outlives the process that was streaming; start-up marks
        such a reply as an error, and this lets the session carry on.
        """
        if not has_live_reply(self.live_id):
            return False
        try:
            saved = await get_chat_service().get_message(self.live_id)
        except ParleyError:
            saved = None
        if not is_orphaned(saved.status if saved is not None else None):
            return False
        self._clear_live()
        return True

    # ----- loading ------------------------------------------------------------------------

    async def _refresh_sidebar(self) -> None:
        """The conversation list may have changed (a conversation started, a reply ended, a
        title was written): the sidebar shows it afresh. The chat's one link to its sibling,
        one way: state.sidebar never imports this module."""
        sidebar = await self.get_state(SidebarState)
        await sidebar._refresh()

    @rx.event
    async def load_page(self) -> None:
        """on_load for every chat route (after ``AuthState.require_login``): ``/`` is a new
        chat, ``/c/<id>`` a saved one, shown only to those who may read it."""
        path = self.router.url.path
        conversation_id = id_from_path(path)
        self._new_chat_asked = False  # the screen follows the address from here
        self.notice = "" if conversation_id is not None else f"There is no page at {path}."
        conversation_id = conversation_id or ""
        if await self._allow() is None:
            self._close_conversation()  # nobody: the page shows nothing (and goes to /login)
            await self._refresh_sidebar()
            return
        settled = await self._settle_orphaned_reply()
        await self._refresh_sidebar()
        # Checked before anything touches it (``?m=`` below changes its visible branch).
        readable = bool(conversation_id) and (
            await self._allow(Need(conversation=conversation_id)) is not None
        )
        # ?m=<message id>: a search hit; its branch goes on screen if another one is.
        hit = parse_row_id(self.router.url.query_parameters.get("m", ""))
        moved = bool(
            readable
            and hit is not None
            and await get_chat_service().show_message(conversation_id, hit)
        )
        shown = self._shown()
        same = (
            readable
            and conversation_id == self.current_id
            and shown
            # A reloaded page lost the texts its replies were shown from: load them.
            and not self._lost_live_texts()
            # Nobody else (a participant, another tab) added to it since it was loaded.
            and await get_chat_service().current_leaf(conversation_id)
            in (shown[-1].id, self.live_id)
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
        if not readable:  # unknown and foreign alike: the notice says it was not found
            self.current_id = ""
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
        # A reply still streaming is shown by the live-reply channel (state/live.py).
        self._set_messages(self._watch(page.messages))
        await self._refresh_spend()
        await follow_conversation(self)

    @rx.event
    async def load_earlier(self) -> None:
        shown = self._shown()
        if not self.current_id or not shown:
            return
        if await self._allow(Need(conversation=self.current_id)) is None:
            return
        service = get_chat_service()
        page = await service.history(
            self.current_id, limit=service.history_page_size, before_id=shown[0].id
        )
        self._set_messages(page.messages + shown)  # a reload anyway: recent folds in
        self.more_history = page.has_more
        await follow_conversation(self)

    def _shown(self) -> list[MessageView]:
        """The branch as the screen shows it, oldest first: loaded history (less any hidden
        tail), then the messages added since."""
        loaded = self.messages if self.hidden_from < 0 else self.messages[: self.hidden_from]
        texts = self._live_texts
        return loaded + [
            replace(m, content=texts.get(m.id, m.content), live_key="") if m.live_key else m
            for m in self.recent
        ]

    def _set_messages(self, messages: list[MessageView]) -> None:
        """Show ``messages`` as the whole branch: ``recent`` and any hidden tail fold away."""
        self.messages = messages
        self._set_recent([])
        if self.hidden_from >= 0:
            self.hidden_from = -1

    def _set_recent(self, recent: list[MessageView]) -> None:
        if recent or self.recent:  # an empty list stays put: nothing to send
            self.recent = recent
        if self._live_texts:
            kept = {m.id for m in recent}
            self._live_texts = {i: t for i, t in self._live_texts.items() if i in kept}

    async def _refresh_spend(self) -> None:
        """The conversation's running total, assigned only when its text changed."""
        spend = await get_chat_service().spend(self.current_id) if self.current_id else None
        text, label = (spend.text, spend.label) if spend else ("", "")
        if text != self.spent or label != self.spent_label:
            self.spent, self.spent_label = text, label

    # ----- switching conversations and models ----------------------------------------------

    @rx.event
    async def set_model(self, value: str) -> None:
        if await self._allow() is not None:
            self.model = value  # checked against the catalogue where it is used

    def _close_conversation(self) -> None:
        self._new_chat_asked = False
        self.current_id = ""
        self.current_title = ""
        self._set_messages([])
        self.more_history = False
        self.spent, self.spent_label = "", ""

    @rx.event
    async def open_conversation(self, conversation_id: str) -> None:
        """A link to a conversation was clicked: switch at once, so a message sent before the
        page's on_load has loaded the history goes to this conversation, not the last one."""
        self._new_chat_asked = False
        if await self._allow(Need(conversation=conversation_id)) is None:
            return
        if conversation_id != self.current_id:
            self._close_conversation()
            self.current_id = conversation_id

    @rx.event
    async def new_chat(self) -> rx.event.EventSpec:
        """Go to ``/``; its on_load closes the conversation. Nothing on screen changes before
        the address does: emptying the log here reached the browser ahead of the redirect,
        so Back in between left the app instead of returning to this conversation. A
        message sent before that on_load still starts a new conversation
        (``ComposerState.send`` closes it first). Nobody is sent home too, where the page's
        on_load sends them to log in."""
        await self._allow()
        self._new_chat_asked = True
        return rx.redirect("/")

    # ----- the reply's stream ---------------------------------------------------------------

    @rx.event
    async def stop(self) -> None:
        if not self.streaming or await self._allow(Need(message=self.live_id, write=True)) is None:
            return
        if not await self._settle_orphaned_reply():
            get_chat_service().request_stop(self.live_id)
            get_agent_chat().stop(self.live_id)  # an agent run answering it (issue 12)

    @rx.event(background=True)
    async def stream_reply(self) -> None:
        async with self:
            message_id = self.live_id
            conversation_id = self.live_conversation_id
            # Started by the event that saved the reply; a forged second call for the same
            # reply would stream (and spend) it twice.
            if message_id < 0 or message_id == self._streaming_id:
                return
            if await self._allow(Need(message=message_id, write=True)) is None:
                self._clear_live()
                return
            self._streaming_id = message_id
        service = get_chat_service()
        final: MessageView | None = None
        problem = ""
        try:
            # The text reaches the browser over the live-reply channel, and Stop reaches the
            # service directly, so streaming takes no state lock and sends nothing. It
            # returns the reply as saved (complete, stopped or error).
            final = await service.stream_reply(message_id)
        except Exception as exc:  # never leave this session stuck in "streaming"
            log.exception("streaming reply %s failed", message_id)
            problem = (
                exc.message if isinstance(exc, ParleyError) else "The reply failed unexpectedly."
            )
        async with self:
            self._streaming_id = NO_REPLY
            if self.live_id == message_id:  # else a reload already settled this reply
                if final is not None and self.current_id == self.live_conversation_id:
                    # Appended to the short list only: the history is not sent again, nor
                    # the reply's text, which this browser has from the live channel.
                    self.recent = [*self.recent, self._without_text(final)]
                    await self._refresh_spend_quietly()
                    await follow_conversation(self)  # in the update that ends the reply
                self.notice = problem
                self._clear_live()
            # Read under the lock, so a rename or delete this tab made meanwhile is seen.
            await self._refresh_sidebar_quietly()
        if final is not None and is_complete(final.status):
            await self._name_conversation(conversation_id)

    @rx.event
    async def settle_live(self) -> None:
        """A live channel this page follows ended: show replies a dead worker left."""
        if not (self.current_id and await self._allow(Need(conversation=self.current_id))):
            return
        here = self.live_conversation_id == self.current_id
        done = await settle_ended(self.live_id, here, self.messages, self.recent)
        if done.clear_live:
            self._clear_live()
        if done.changed:
            self.messages, self.recent = done.messages, done.recent
            await follow_conversation(self)

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
                # From the database, under the lock: a rename since the title must win.
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
        try:
            await self._refresh_sidebar()
        except Exception:
            log.exception("refreshing the sidebar failed")
