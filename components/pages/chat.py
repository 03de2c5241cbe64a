"""The chat page, at ``/`` (a new chat) and ``/c/<id>`` (a saved one).

Layout: a flex row of the sidebar (a drawer below 768 px) and the main column; the main
column is the header, then a flex row (the message column; side panels go to its right),
then nothing else. The keyboard shell (shortcuts, palette, help) sits alongside.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex_base.style import color_mode, set_color_mode

from components.agent_steps import agent_switch, live_steps, steps_of
from components.chat import (
    MessageControls,
    conversation_spend,
    delete_dialog,
    message_log,
    model_picker,
)
from components.composer import composer
from components.extract_result import extract_actions, extractions_of
from components.pages.code_panel import code_panel_toggle, code_panel_when_open
from components.pages.composer import attach, header_options, pending, prompt_library_link
from components.share import ShareDialog, read_only_note, share_dialog, shared_mark
from components.shell import (
    command_palette,
    help_button,
    palette_button,
    shell_style,
    shortcut_help,
    shortcuts,
    skip_link,
    theme_picker,
)
from components.sidebar import SidebarActions, sidebar
from state.agent import AgentState
from state.chat import ChatState
from state.code_panel import CodePanelState
from state.composer import ComposerState
from state.conversation import conversation_path
from state.extract import ExtractState
from state.messages import MessagesState
from state.share import ShareState
from state.sidebar import SidebarState
from state.ui import UiState


def _sidebar(*, in_drawer: bool = False) -> rx.Component:
    # In the drawer, choosing a conversation or New chat also closes it.
    then_close: list[Any] = [UiState.close_drawer] if in_drawer else []
    return sidebar(
        pinned=SidebarState.pinned,
        conversations=SidebarState.conversations,
        top=SidebarState.sidebar_top,
        hidden=SidebarState.sidebar_hidden,
        current_id=ChatState.current_id,
        more=SidebarState.more_conversations,
        search_query=SidebarState.search_query,
        search_results=SidebarState.search_results,
        renaming_id=SidebarState.renaming_id,
        rename_value=SidebarState.rename_value,
        undo_id=SidebarState.undo_id,
        undo_title=SidebarState.undo_title,
        shared_with_me=SidebarState.shared_with_me,
        actions=SidebarActions(
            new_chat=[ChatState.new_chat, *then_close] if in_drawer else ChatState.new_chat,
            open=(
                (lambda cid: [ChatState.open_conversation(cid), *then_close])
                if in_drawer
                else ChatState.open_conversation
            ),
            load_more=SidebarState.load_more_conversations,
            search=SidebarState.set_search,
            clear_search=SidebarState.clear_search,
            set_pinned=SidebarState.set_pinned,
            start_rename=SidebarState.start_rename,
            set_rename_value=SidebarState.set_rename_value,
            save_rename=SidebarState.save_rename,
            cancel_rename=SidebarState.cancel_rename,
            delete=SidebarState.delete_conversation,
            undo_delete=SidebarState.undo_delete,
        ),
        in_drawer=in_drawer,
    )


def _drawer() -> rx.Component:
    """Phones: the sidebar in a modal drawer from the left (Esc, Close or a choice closes it)."""
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.icon_button(
                rx.icon("panel-left", size=18),
                variant="ghost",
                color_scheme="gray",
                aria_label="Conversations",
                class_name="parley-phone-only",
                type="button",
            )
        ),
        rx.dialog.content(
            rx.hstack(
                rx.dialog.title("Conversations", size="3", margin="0"),
                rx.dialog.close(
                    rx.icon_button(
                        rx.icon("x", size=18),
                        variant="ghost",
                        color_scheme="gray",
                        aria_label="Close conversations",
                        type="button",
                    )
                ),
                justify="between",
                align="center",
                padding="0.75em 1em",
                border_bottom=f"1px solid {rx.color('gray', 5)}",
            ),
            rx.dialog.description("Your conversations", class_name="parley-sr-only"),
            _sidebar(in_drawer=True),
            position="fixed",
            top="0",
            left="0",
            bottom="0",
            width="min(320px, 88vw)",
            max_width="none",
            height="100dvh",
            max_height="none",
            margin="0",
            padding="0",
            border_radius="0",
            display="flex",
            flex_direction="column",
            overflow="hidden",
        ),
        open=UiState.drawer_open,
        on_open_change=UiState.set_drawer_open,
    )


def _header() -> rx.Component:
    # Two groups after the title: tools (prompt library, code panel, palette, help, new chat)
    # and settings (spend, model, system prompt, parameters, theme). Wide screens: one row.
    # Phones: the title and the tools on the first row, the settings on a second (the
    # shell's phone CSS), so the header stays two rows high and every control stays on it.
    return rx.el.header(
        _drawer(),
        rx.heading(
            rx.cond(ChatState.current_title != "", ChatState.current_title, "New chat"),
            as_="h1",
            size="4",
            flex="1 1 8em",
            min_width="0",
            overflow="hidden",
            text_overflow="ellipsis",
            white_space="nowrap",
        ),
        shared_mark(ShareState.shared_role, ShareState.is_shared),
        rx.box(
            _share(),
            prompt_library_link(),
            code_panel_toggle(),
            palette_button(),
            rx.box(help_button(), class_name="parley-wide-only"),
            # Phones: New chat without opening the drawer (wide screens have the sidebar's).
            rx.icon_button(
                rx.icon("square-pen", size=18),
                on_click=ChatState.new_chat,
                variant="ghost",
                aria_label="New chat",
                class_name="parley-phone-only",
                type="button",
            ),
            display="flex",
            align_items="center",
            gap="0.5em",
            class_name="parley-header-tools",
        ),
        rx.box(
            conversation_spend(ChatState.spent, ChatState.spent_label),
            model_picker(ChatState.models, ChatState.model, on_change=ChatState.set_model),
            header_options(),
            agent_switch(AgentState.agent_mode, AgentState.set_agent_mode),
            theme_picker(color_mode, lambda mode: set_color_mode(mode)),
            display="flex",
            flex_wrap="wrap",
            justify_content="flex-end",
            align_items="center",
            gap="0.5em",
            min_width="0",
            max_width="100%",
            class_name="parley-header-settings",
        ),
        display="flex",
        flex_wrap="wrap",
        align_items="center",
        gap="0.5em",
        padding="0.75em 1em",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        width="100%",
        class_name="parley-header",
    )


def _share() -> rx.Component:
    """The Share dialog's button, for the conversation's owners (issue 13)."""
    dialog = ShareDialog(
        open=ShareState.share_open,
        shares=ShareState.shares,
        link_url=ShareState.link_url,
        error=ShareState.share_error,
        on_open_change=ShareState.set_share_open,
        on_add=ShareState.add_share,
        on_share_with_project=ShareState.share_with_project,
        on_change_role=ShareState.change_share_role,
        on_remove=ShareState.remove_share,
        on_create_link=ShareState.create_link,
        on_revoke_link=ShareState.revoke_link,
    )
    return rx.cond(
        ShareState.can_manage & (ChatState.current_id != ""),
        share_dialog(dialog, title=ChatState.current_title),
    )


def message_extras(message: Any, busy: rx.Var[bool]) -> rx.Component:
    """Under a message: the agent steps that led to it, its extraction results, and (when
    nothing streams) the actions that run an extractor on it (issue 12)."""
    return rx.fragment(
        steps_of(message.id, AgentState.steps),
        extractions_of(message.id, ExtractState.extractions),
        rx.cond(
            busy,
            rx.fragment(),
            extract_actions(message.id, ExtractState.extract, ExtractState.extracting_id >= 0),
        ),
    )


def _message_column() -> rx.Component:
    return rx.box(
        message_log(
            ChatState.messages,
            ChatState.recent,
            ChatState.hidden_from,
            ChatState.live_id,
            ChatState.live_key,
            ChatState.next_key,
            ChatState.streaming_here,
            ChatState.more_history,
            on_load_earlier=ChatState.load_earlier,
            controls=MessageControls(
                editing_id=MessagesState.editing_id,
                edit_draft=MessagesState.edit_draft,
                retry=MessagesState.retry,
                regenerate=MessagesState.regenerate,
                start_edit=MessagesState.start_edit,
                set_edit_draft=MessagesState.set_edit_draft,
                save_edit=MessagesState.save_edit,
                cancel_edit=MessagesState.cancel_edit,
                ask_delete=MessagesState.ask_delete,
                switch_version=MessagesState.switch_version,
                extra=message_extras,  # issue 12: agent steps and extractions
                live_extra=live_steps(AgentState.live_steps),
                settle=ChatState.settle_live,
            ),
            # A reader who may not send here (a viewer) gets no actions that change it.
            busy=ChatState.streaming | ~ShareState.can_send,
        ),
        delete_dialog(
            MessagesState.deleting_id,
            on_confirm=MessagesState.confirm_delete,
            on_cancel=MessagesState.cancel_delete,
        ),
        rx.box(
            rx.cond(
                ShareState.can_send,
                composer(
                    ChatState.streaming,
                    ChatState.notice,
                    on_send=ComposerState.send,
                    on_stop=ChatState.stop,
                    attach=attach(),
                    pending=pending(),
                ),
                read_only_note(ChatState.notice),
            ),
            id="composer",
        ),
        display="flex",
        flex_direction="column",
        flex="1",
        min_width="0",
        min_height="0",
    )


def _shell() -> rx.Component:
    return rx.fragment(
        shell_style(),
        shortcuts(
            streaming=ChatState.streaming,
            on_stop=ChatState.stop,
            on_new_chat=ChatState.new_chat,
            on_toggle_panel=CodePanelState.toggle,
        ),
        command_palette(
            models=ChatState.models,
            conversations=UiState.palette_conversations,
            conversations_for=UiState.palette_query,
            on_query=UiState.search_palette,
            on_open_conversation=lambda cid: [
                ChatState.open_conversation(cid),
                rx.redirect(conversation_path(cid)),
            ],
            on_new_chat=ChatState.new_chat,
            on_set_model=ChatState.set_model,
            on_toggle_theme=rx.toggle_color_mode,
            on_toggle_panel=CodePanelState.toggle,
        ),
        shortcut_help(),
    )


def chat_page() -> rx.Component:
    return rx.box(
        skip_link("Skip to the message box"),
        _shell(),
        _sidebar(),
        rx.el.main(
            _header(),
            # The page's working area: the messages and composer, and (to their right)
            # any side panel.
            rx.box(
                _message_column(),
                code_panel_when_open(),
                display="flex",
                flex_direction="row",
                flex="1",
                min_height="0",
                width="100%",
            ),
            display="flex",
            flex_direction="column",
            flex="1",
            height="100dvh",
            min_width="0",
        ),
        display="flex",
        width="100%",
        height="100dvh",
        overflow="hidden",
    )
