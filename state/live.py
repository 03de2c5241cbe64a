"""The reply streaming in this session, as the live-reply channel knows it: which reply, under
which key, and the finished texts the browser already holds. A Reflex mixin of
:class:`state.chat.ChatState` (its fields become the chat's own; no state of its own).

A reply's text never travels through Reflex state in the session that streamed it: the
browser appends it from the live-reply channel (components/live_reply.py). Reflex sends one
update when the reply starts (``live_id``) and one when it ends: the finished message with
its saved metadata but without its text, which the browser already has
(``MessageView.live_key``; the server keeps the text in ``_live_texts``).

The browser reads a reply's text from ``/_parley/stream/<key>`` (app/web/stream_ws.py), never
by message id: the key of the next reply (``next_key``) is handed to this session's browser
ahead, so it opens the channel as it sends, and :meth:`_go_live` grants it on the server
(``StreamHub.grant``) when the reply is saved. The channel still asks, once the key resolves,
whether the connection's user may read that reply (``app.web.access.stream_guard``).
"""

from __future__ import annotations

from dataclasses import replace

import reflex as rx

from app.services import get_chat_service
from app.services.status import NO_REPLY, is_streaming
from app.services.stream_hub import new_key
from app.services.views import MessageView, has_code_block


class LiveReplyMixin(rx.State, mixin=True):
    # The reply being streamed in this session (one at a time), and its stream key.
    live_id: rx.Field[int] = rx.field(NO_REPLY)
    live_conversation_id: rx.Field[str] = rx.field("")
    live_key: rx.Field[str] = rx.field("")
    next_key: rx.Field[str] = rx.field(default_factory=new_key)  # for the next reply
    # The text of finished replies in ``recent`` that were sent without it (by message id).
    _live_texts: rx.Field[dict[int, str]] = rx.field(default_factory=dict)  # backend only
    _live_page: rx.Field[str] = rx.field("")  # the page (socket session) that holds them
    _streaming_id: int = NO_REPLY  # the reply stream_reply is streaming (server only)

    def _go_live(self, reply_id: int, conversation_id: str) -> None:
        """Stream ``reply_id`` to this session under the key its browser already holds
        (it may have opened the channel with it already), and give it the next one."""
        key = self.next_key or new_key()
        get_chat_service().hub.grant(key, reply_id)
        self.live_id = reply_id
        self.live_conversation_id = conversation_id
        self.live_key = key
        self.next_key = new_key()

    def _watch(self, loaded: list[MessageView]) -> list[MessageView]:
        """Loaded history as this session shows it: a reply still streaming that this
        session did not start (another tab's, another participant's: issue 13) is watched
        from the live-reply channel under a key granted to this session now, from its first
        character on, so a reader who arrives mid-stream sees the partial reply at once and
        then follows it. This session's own streaming reply is left out (the live item
        shows it). The channel still asks whether the reader may read it."""
        shown: list[MessageView] = []
        hub = get_chat_service().hub
        for message in loaded:
            if message.id == self.live_id:
                continue
            if is_streaming(message.status) and not message.live_key:
                key = new_key()
                hub.grant(key, message.id, follow=True)  # it may stream in another worker
                message = replace(message, content="", live_key=key)
            shown.append(message)
        return shown

    def _clear_live(self) -> None:
        self.live_id = NO_REPLY
        self.live_conversation_id = ""
        self.live_key = ""

    def _without_text(self, final: MessageView) -> MessageView:
        """The finished reply as this session's browser needs it: without the text, when the
        browser has exactly that text from the live channel (the server keeps it) and its
        live renderer shows it as the finished message would (no code block)."""
        text = final.content
        if text and not has_code_block(text) and text == get_chat_service().hub.text(final.id):
            self._live_texts = {**self._live_texts, final.id: text}
            self._live_page = self.router.session.session_id
            return replace(final, content="", live_key=self.live_key)
        return final
