"""Every state class is registered before any session's state tree is built, as the app does
by importing its pages: a substate imported later (e.g. lazily inside a handler) would be
missing from trees already made."""

import state.admin
import state.agent
import state.chat
import state.code_panel
import state.composer
import state.conversation
import state.extract
import state.keys
import state.messages
import state.prompts
import state.share
import state.sidebar
import state.transfer
import state.ui
import state.usage

STATE_MODULES = (
    state.conversation,
    state.sidebar,
    state.chat,
    state.composer,
    state.messages,
    state.code_panel,
    state.prompts,
    state.ui,
    state.usage,
    state.admin,
    state.keys,
    state.transfer,
    state.agent,
    state.extract,
    state.share,
)
