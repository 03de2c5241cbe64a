"""The code panel and its header button, bound to CodePanelState for the chat page."""

from __future__ import annotations

import reflex as rx

from components.code_panel import CodePanelActions, SelectedBlock, code_panel, code_panel_button
from state.code_panel import MAX_WIDTH, MIN_WIDTH, CodePanelState


def code_panel_toggle() -> rx.Component:
    return code_panel_button(CodePanelState.is_open, CodePanelState.toggle)


def code_panel_when_open() -> rx.Component:
    """Rendered only while open: a closed panel is no DOM and no traffic."""
    return rx.cond(
        CodePanelState.is_open,
        code_panel(
            blocks=CodePanelState.blocks,
            selected=SelectedBlock(
                key=CodePanelState.selected_key,
                code=CodePanelState.selected_code,
                file_name=CodePanelState.selected_name,
                language=CodePanelState.selected_language,
                highlight=CodePanelState.selected_highlight,
                origin=CodePanelState.selected_origin,
            ),
            width=CodePanelState.width,
            min_width=MIN_WIDTH,
            max_width=MAX_WIDTH,
            actions=CodePanelActions(
                close=CodePanelState.close,
                open_block=CodePanelState.open_block,
                close_block=CodePanelState.close_block,
                resize=CodePanelState.resize,
            ),
        ),
    )
