"""The authorisation table: every public event of every state and what it touches, and what
each caller is refused with. tests/state/test_authorization.py runs it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reflex.state import BaseState

from app.errors import Forbidden, NotFound, NotSignedIn, ParleyError
from state.admin import AdminState
from state.agent import AgentState
from state.auth import AuthState
from state.chat import ChatState
from state.code_panel import CodePanelState
from state.composer import ComposerState
from state.extract import ExtractState
from state.keys import KeysState
from state.messages import MessagesState
from state.prompts import PromptsState
from state.share import LinkState, ShareState
from state.sidebar import SidebarState
from state.transfer import TransferState
from state.ui import UiState
from state.usage import UsageState
from tests.state.harness import send

# ----- the table ----------------------------------------------------------------------------

# What an event needs: "public" (anyone: the login pages), "signed_in" (only this tab's own
# view), "read" or "write" (a conversation, message or prompt of the owner's project),
# "private" (a file still in its uploader's composer), "create" (adds to one's own project).
Ids = dict[str, Any]
Row = tuple[str, Callable[[Ids], Any], dict[str, Any]]  # need, the event, state to seed

TABLE: dict[tuple[type[BaseState], str], Row] = {
    (AuthState, "load_form"): ("public", lambda i: AuthState.load_form, {}),
    (AuthState, "load_account"): ("public", lambda i: AuthState.load_account, {}),
    (AuthState, "require_login"): ("public", lambda i: AuthState.require_login, {}),
    # the sidebar
    (SidebarState, "load_more_conversations"): (
        "signed_in",
        lambda i: SidebarState.load_more_conversations,
        {"sidebar_next": "2999-01-01T00:00:00+00:00"},
    ),
    (SidebarState, "set_search"): ("signed_in", lambda i: SidebarState.set_search("secret"), {}),
    (SidebarState, "clear_search"): ("signed_in", lambda i: SidebarState.clear_search, {}),
    (SidebarState, "set_pinned"): (
        "manage",
        lambda i: SidebarState.set_pinned(i["conversation"], True),
        {},
    ),
    (SidebarState, "start_rename"): (
        "manage",
        lambda i: SidebarState.start_rename(i["conversation"], "x"),
        {},
    ),
    (SidebarState, "set_rename_value"): (
        "signed_in",
        lambda i: SidebarState.set_rename_value("x"),
        {},
    ),
    (SidebarState, "cancel_rename"): ("signed_in", lambda i: SidebarState.cancel_rename, {}),
    (SidebarState, "save_rename"): (
        "manage",
        lambda i: SidebarState.save_rename,
        {"renaming_id": "{conversation}", "rename_value": "Stolen"},
    ),
    (SidebarState, "delete_conversation"): (
        "manage",
        lambda i: SidebarState.delete_conversation(i["conversation"]),
        {},
    ),
    (SidebarState, "undo_delete"): (
        "manage",
        lambda i: SidebarState.undo_delete,
        {"undo_id": "{conversation}"},
    ),
    # the chat
    (ChatState, "load_page"): ("read", lambda i: ChatState.load_page, {}),
    (ChatState, "load_earlier"): (
        "read",
        lambda i: ChatState.load_earlier,
        {"current_id": "{conversation}", "recent": "{shown}"},
    ),
    (ChatState, "set_model"): ("signed_in", lambda i: ChatState.set_model("fake"), {}),
    (ChatState, "open_conversation"): (
        "read",
        lambda i: ChatState.open_conversation(i["conversation"]),
        {},
    ),
    (ChatState, "new_chat"): ("signed_in", lambda i: ChatState.new_chat, {}),
    (ChatState, "stop"): ("write", lambda i: ChatState.stop, {"live_id": "{reply}"}),
    (ChatState, "settle_live"): (
        "read",
        lambda i: ChatState.settle_live,
        {"current_id": "{conversation}", "live_id": "{reply}"},
    ),
    (ChatState, "stream_reply"): (
        "write",
        lambda i: ChatState.stream_reply,
        {"live_id": "{reply}"},
    ),
    # the composer
    (ComposerState, "upload"): ("create", lambda i: ComposerState.upload([]), {}),
    (ComposerState, "remove_attachment"): (
        "private",
        lambda i: ComposerState.remove_attachment(i["attachment"]),
        {},
    ),
    (ComposerState, "refuse_files"): (
        "signed_in",
        lambda i: ComposerState.refuse_files([{"name": "a.bin", "size": 9, "errors": ["x"]}]),
        {},
    ),
    (ComposerState, "dismiss_upload_errors"): (
        "signed_in",
        lambda i: ComposerState.dismiss_upload_errors,
        {},
    ),
    (ComposerState, "send"): ("write", lambda i: send("hello"), {"current_id": "{conversation}"}),
    (ComposerState, "load_options"): (
        "read",
        lambda i: ComposerState.load_options,
        {"current_id": "{conversation}"},
    ),
    (ComposerState, "set_params_open"): (
        "signed_in",
        lambda i: ComposerState.set_params_open(True),
        {},
    ),
    (ComposerState, "set_temperature"): (
        "signed_in",
        lambda i: ComposerState.set_temperature("1"),
        {},
    ),
    (ComposerState, "set_max_tokens"): (
        "signed_in",
        lambda i: ComposerState.set_max_tokens("9"),
        {},
    ),
    (ComposerState, "save_params"): (
        "manage",
        lambda i: ComposerState.save_params,
        {"current_id": "{conversation}", "temperature": "0.5"},
    ),
    (ComposerState, "reset_params"): ("manage", lambda i: ComposerState.reset_params, {}),
    (ComposerState, "set_prompt"): (
        "manage",
        lambda i: ComposerState.set_prompt(str(i["prompt"])),
        {"current_id": "{conversation}"},
    ),
    # the message actions
    (MessagesState, "retry"): ("write", lambda i: MessagesState.retry(i["reply"]), {}),
    (MessagesState, "regenerate"): ("write", lambda i: MessagesState.regenerate(i["reply"]), {}),
    (MessagesState, "start_edit"): (
        "write",
        lambda i: MessagesState.start_edit(i["question"], "x"),
        {},
    ),
    (MessagesState, "set_edit_draft"): (
        "signed_in",
        lambda i: MessagesState.set_edit_draft("x"),
        {},
    ),
    (MessagesState, "cancel_edit"): ("signed_in", lambda i: MessagesState.cancel_edit, {}),
    (MessagesState, "save_edit"): (
        "write",
        lambda i: MessagesState.save_edit,
        {"editing_id": "{question}", "edit_draft": "forged"},
    ),
    (MessagesState, "switch_version"): (
        "write",
        lambda i: MessagesState.switch_version(i["question"]),
        {},
    ),
    (MessagesState, "ask_delete"): ("write", lambda i: MessagesState.ask_delete(i["reply"]), {}),
    (MessagesState, "cancel_delete"): ("signed_in", lambda i: MessagesState.cancel_delete, {}),
    (MessagesState, "confirm_delete"): (
        "write",
        lambda i: MessagesState.confirm_delete(i["reply"]),
        {},
    ),
    # the code panel (it shows the open conversation's blocks)
    (CodePanelState, "toggle"): (
        "read",
        lambda i: CodePanelState.toggle,
        {"current_id": "{conversation}"},
    ),
    (CodePanelState, "close"): ("signed_in", lambda i: CodePanelState.close, {}),
    (CodePanelState, "open_block"): (
        "read",
        lambda i: CodePanelState.open_block("k"),
        {"current_id": "{conversation}"},
    ),
    (CodePanelState, "close_block"): ("signed_in", lambda i: CodePanelState.close_block, {}),
    (CodePanelState, "resize"): ("signed_in", lambda i: CodePanelState.resize(500), {}),
    # the prompt library
    (PromptsState, "load"): ("signed_in", lambda i: PromptsState.load, {}),
    (PromptsState, "set_show_archived"): (
        "signed_in",
        lambda i: PromptsState.set_show_archived(True),
        {},
    ),
    (PromptsState, "start_new"): ("create", lambda i: PromptsState.start_new, {}),
    (PromptsState, "start_edit"): (
        "prompt_read",
        lambda i: PromptsState.start_edit(i["prompt"]),
        {},
    ),
    (PromptsState, "cancel_edit"): ("signed_in", lambda i: PromptsState.cancel_edit, {}),
    (PromptsState, "set_name"): ("signed_in", lambda i: PromptsState.set_name("x"), {}),
    (PromptsState, "set_body"): ("signed_in", lambda i: PromptsState.set_body("x"), {}),
    (PromptsState, "save"): (
        "prompt_write",
        lambda i: PromptsState.save,
        {"editing_id": "{prompt}", "name": "Stolen", "body": "forged"},
    ),
    (PromptsState, "set_archived"): (
        "prompt_write",
        lambda i: PromptsState.set_archived(i["prompt"], True),
        {},
    ),
    (PromptsState, "show_history"): (
        "prompt_read",
        lambda i: PromptsState.show_history(i["prompt"]),
        {},
    ),
    (PromptsState, "close_history"): ("signed_in", lambda i: PromptsState.close_history, {}),
    # the shell (no data but the user's own conversations; nobody gets nothing)
    (UiState, "search_palette"): ("signed_in", lambda i: UiState.search_palette(""), {}),
    (UiState, "set_drawer_open"): ("signed_in", lambda i: UiState.set_drawer_open(True), {}),
    (UiState, "close_drawer"): ("signed_in", lambda i: UiState.close_drawer, {}),
    # the usage dashboard (what it shows is scoped to the caller: tests/unit/test_usage_access)
    (UsageState, "load"): ("signed_in", lambda i: UsageState.load, {}),
    (UsageState, "set_filter"): ("signed_in", lambda i: UsageState.set_filter("model", "x"), {}),
    (UsageState, "show_table"): ("signed_in", lambda i: UsageState.show_table("model"), {}),
    (UsageState, "sort_table"): ("signed_in", lambda i: UsageState.sort_table("cost"), {}),
    (UsageState, "table_to"): ("signed_in", lambda i: UsageState.table_to(1), {}),
    (UsageState, "calls_to"): ("signed_in", lambda i: UsageState.calls_to(1), {}),
    (UsageState, "open_call"): ("signed_in", lambda i: UsageState.open_call(1), {}),
    (UsageState, "close_call"): ("signed_in", lambda i: UsageState.close_call, {}),
    # the admin page: only admins (none of the table's callers is one; tests/state/
    # test_admin_state.py tries an admin)
    (AdminState, "load"): ("admin", lambda i: AdminState.load, {}),
    (AdminState, "set_disabled"): ("admin", lambda i: AdminState.set_disabled("x", True), {}),
    (AdminState, "set_admin"): ("admin", lambda i: AdminState.set_admin("x", True), {}),
    (AdminState, "create_invitation"): ("admin", lambda i: AdminState.create_invitation, {}),
    (AdminState, "create_project"): (
        "admin",
        lambda i: AdminState.create_project({"name": "Stolen"}),
        {},
    ),
    (AdminState, "open_project"): ("admin", lambda i: AdminState.open_project("x"), {}),
    (AdminState, "set_role"): ("admin", lambda i: AdminState.set_role("x", "owner"), {}),
    (AdminState, "add_member"): (
        "admin",
        lambda i: AdminState.add_member({"email": "other@example.com", "role": "owner"}),
        {},
    ),
    (AdminState, "set_moderation"): ("admin", lambda i: AdminState.set_moderation("x", "off"), {}),
    (AdminState, "set_mcp_tool"): ("admin", lambda i: AdminState.set_mcp_tool("lab", True), {}),
    (AdminState, "allow_every_mcp_server"): (
        "admin",
        lambda i: AdminState.allow_every_mcp_server,
        {},
    ),
    (AdminState, "save_budget"): ("admin", lambda i: AdminState.save_budget({}), {}),
    (AdminState, "show_log_page"): ("admin", lambda i: AdminState.show_log_page(1), {}),
    # API keys and data in/out: the caller's own (the services check each key and project)
    (KeysState, "load"): ("signed_in", lambda i: KeysState.load, {}),
    (KeysState, "create"): ("signed_in", lambda i: KeysState.create({"name": "stolen"}), {}),
    (KeysState, "revoke"): ("signed_in", lambda i: KeysState.revoke("x"), {}),
    (KeysState, "dismiss_token"): ("signed_in", lambda i: KeysState.dismiss_token, {}),
    (TransferState, "load"): ("signed_in", lambda i: TransferState.load, {}),
    (TransferState, "upload_progress"): (
        "signed_in",
        lambda i: TransferState.upload_progress({"progress": 0.5}),
        {},
    ),
    (TransferState, "receive"): ("signed_in", lambda i: TransferState.receive([]), {}),
    (TransferState, "run_import"): ("signed_in", lambda i: TransferState.run_import, {}),
    # agent mode and extraction (issue 12)
    (AgentState, "set_agent_mode"): ("manage", lambda i: AgentState.set_agent_mode(True), {}),
    (AgentState, "stream_agent"): (
        "write",
        lambda i: AgentState.stream_agent,
        {"live_id": "{reply}"},
    ),
    (ExtractState, "extract"): (
        "manage",
        lambda i: ExtractState.extract(i["reply"], "sentiment"),
        {},
    ),
    (ExtractState, "send_command"): (
        "manage",
        lambda i: ExtractState.send_command("/sentiment I love it", "sentiment"),
        {},
    ),
    # sharing (issue 13): the Share dialog is the conversation's owners'; a link's page is
    # for anyone signed in (and nobody too when public links are allowed: tested apart)
    (ShareState, "load_access"): ("read", lambda i: ShareState.load_access, {}),
    (ShareState, "open_share"): ("manage", lambda i: ShareState.open_share, {}),
    (ShareState, "set_share_open"): ("manage", lambda i: ShareState.set_share_open(True), {}),
    (ShareState, "add_share"): (
        "manage",
        lambda i: ShareState.add_share({"email": "other@example.com", "role": "participant"}),
        {},
    ),
    (ShareState, "share_with_project"): (
        "manage",
        lambda i: ShareState.share_with_project("participant"),
        {},
    ),
    (ShareState, "change_share_role"): (
        "manage",
        lambda i: ShareState.change_share_role(i["share"], "participant"),
        {},
    ),
    (ShareState, "remove_share"): (
        "manage",
        lambda i: ShareState.remove_share(i["share"]),
        {},
    ),
    (ShareState, "create_link"): ("manage", lambda i: ShareState.create_link, {}),
    (ShareState, "revoke_link"): ("manage", lambda i: ShareState.revoke_link, {}),
    (LinkState, "load"): ("link", lambda i: LinkState.load, {}),
}
# Reflex's own ``setvar`` (every state has it) only calls the state's ``set_<var>`` method,
# and each of those is an event in the table above: it adds no way in.
BUILTIN = {"setvar"}

# What each caller is refused with, per need (None: allowed). The callers: the conversation's
# owner; another user; a viewer of its project; nobody; a user it is shared with by name as
# viewer and as participant (neither in its project); and a link visitor (a user who opened
# its read-only link: the link grants nothing else). "read"/"write"/"manage" are on the
# conversation (and its messages): read it, send in it, change it as its owner; prompts
# are not shared ("prompt_read"/"prompt_write"); "link" opens the conversation's link.
_ALONE: dict[str, type[ParleyError] | None] = {
    "signed_in": None,
    "read": NotFound,
    "write": NotFound,
    "manage": NotFound,
    "prompt_read": NotFound,
    "prompt_write": NotFound,
    "create": None,
    "private": NotFound,
    "admin": Forbidden,
    "link": None,
}
EXPECTED: dict[str, dict[str, type[ParleyError] | None]] = {
    "owner": {
        "signed_in": None,
        "read": None,
        "write": None,
        "manage": None,
        "prompt_read": None,
        "prompt_write": None,
        "create": None,
        "private": None,
        "admin": Forbidden,
        "link": None,
    },
    "other": _ALONE,
    "viewer": {
        "signed_in": None,
        "read": None,
        "write": Forbidden,
        "manage": Forbidden,
        "prompt_read": None,
        "prompt_write": Forbidden,
        "create": None,
        "private": NotFound,
        "admin": Forbidden,
        "link": None,
    },
    "nobody": {
        "private": NotSignedIn,
        "signed_in": NotSignedIn,
        "read": NotSignedIn,
        "write": NotSignedIn,
        "manage": NotSignedIn,
        "prompt_read": NotSignedIn,
        "prompt_write": NotSignedIn,
        "create": NotSignedIn,
        "admin": NotSignedIn,
        "link": NotSignedIn,
    },
    "shared_viewer": {**_ALONE, "read": None, "write": Forbidden, "manage": Forbidden},
    "shared_participant": {**_ALONE, "read": None, "write": None, "manage": Forbidden},
    "link_visitor": _ALONE,
}
# Callers whose allowed events change things: each event gets fresh rows of its own.
WRITERS = ("owner", "shared_participant")
