"""The chat page, at ``/`` (a new chat) and ``/c/<id>`` (a saved one)."""

from __future__ import annotations

import reflex as rx

from components.chat import composer, message_log, model_picker
from components.pages.code_panel import code_panel_toggle, code_panel_when_open
from components.sidebar import SidebarActions, sidebar
from state.chat import ChatState


def chat_page() -> rx.Component:
    return rx.hstack(
        sidebar(
            pinned=ChatState.pinned,
            conversations=ChatState.conversations,
            current_id=ChatState.current_id,
            more=ChatState.more_conversations,
            search_query=ChatState.search_query,
            search_results=ChatState.search_results,
            renaming_id=ChatState.renaming_id,
            rename_value=ChatState.rename_value,
            undo_id=ChatState.undo_id,
            undo_title=ChatState.undo_title,
            actions=SidebarActions(
                new_chat=ChatState.new_chat,
                open=ChatState.open_conversation,
                load_more=ChatState.load_more_conversations,
                search=ChatState.set_search,
                clear_search=ChatState.clear_search,
                set_pinned=ChatState.set_pinned,
                start_rename=ChatState.start_rename,
                set_rename_value=ChatState.set_rename_value,
                save_rename=ChatState.save_rename,
                cancel_rename=ChatState.cancel_rename,
                delete=ChatState.delete_conversation,
                undo_delete=ChatState.undo_delete,
            ),
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
                code_panel_toggle(),
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
        code_panel_when_open(),
        spacing="0",
        width="100%",
        height="100vh",
    )
