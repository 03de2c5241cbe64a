"""The chat page, at ``/`` (a new chat) and ``/c/<id>`` (a saved one)."""

from __future__ import annotations

import reflex as rx

from components.chat import composer, message_log, model_picker, sidebar
from state.chat import ChatState


def chat_page() -> rx.Component:
    return rx.hstack(
        sidebar(
            ChatState.conversations,
            ChatState.current_id,
            ChatState.more_conversations,
            on_new_chat=ChatState.new_chat,
            on_load_more=ChatState.load_more_conversations,
        ),
        rx.el.main(
            rx.hstack(
                rx.heading(
                    rx.cond(ChatState.current_title != "", ChatState.current_title, "New chat"),
                    size="4",
                    flex="1",
                    min_width="0",
                    overflow="hidden",
                    text_overflow="ellipsis",
                    white_space="nowrap",
                ),
                model_picker(ChatState.models, ChatState.model, on_change=ChatState.set_model),
                align="center",
                padding="0.75em 1em",
                border_bottom=f"1px solid {rx.color('gray', 5)}",
                width="100%",
            ),
            message_log(
                ChatState.messages,
                ChatState.live_id,
                ChatState.streaming_here,
                ChatState.more_history,
                on_load_earlier=ChatState.load_earlier,
                on_retry=ChatState.retry,
            ),
            composer(
                ChatState.draft,
                ChatState.streaming,
                ChatState.notice,
                on_change=ChatState.set_draft,
                on_send=ChatState.send,
                on_stop=ChatState.stop,
            ),
            display="flex",
            flex_direction="column",
            flex="1",
            height="100vh",
            min_width="0",
        ),
        spacing="0",
        width="100%",
        height="100vh",
    )
