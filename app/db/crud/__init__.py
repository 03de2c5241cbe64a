"""Keyword-only CRUD over the tables in :mod:`app.db.models`, one module per aggregate.

Each function takes a session. Everything is re-exported here, so ``from app.db import crud``
then ``crud.add_message(session=..., ...)`` works whichever module a function lives in:

- :mod:`.conversations`: create, list, rename, pin, trash, restore, purge, settings
- :mod:`.messages`: add, read, page, stream into and finish messages
- :mod:`.tree`: the message tree (recursive CTEs): paths, versions, leaves, subtrees
- :mod:`.search`: full-text search (FTS5 on SQLite, tsvector on PostgreSQL)
- :mod:`.spend`: what replies cost, summed from the call log
- :mod:`.calllog`: the call log's rows
- :mod:`.rollups`: the hourly usage rollup, kept exact by the call-log writes
- :mod:`.usage`, :mod:`.usage_calls`: the dashboard's aggregates and raw-row reads
- :mod:`.attachments`: uploads, claimed by a message or swept
- :mod:`.prompts`: prompts and their versions
"""

from __future__ import annotations

from app.db.crud.attachments import (
    add_attachment,
    claim_attachment,
    delete_pending_attachment,
    delete_pending_attachments,
    get_attachment,
    list_attachment_stored_names,
    list_message_attachments,
)
from app.db.crud.calllog import (
    add_call_log,
    list_call_logs,
)
from app.db.crud.conversations import (
    create_conversation,
    get_conversation,
    list_conversations,
    list_pinned_conversations,
    purge_deleted,
    rename_conversation,
    restore_conversation,
    set_conversation_model,
    set_conversation_parameters,
    set_conversation_prompt,
    set_pinned,
    soft_delete_conversation,
    touch_conversation,
)
from app.db.crud.messages import (
    INTERRUPTED,
    add_message,
    finish_message,
    get_message,
    list_messages,
    mark_interrupted,
    reset_reply,
    set_message_model,
    set_message_prompt_version,
    streaming_reply,
)
from app.db.crud.prompts import (
    add_prompt_version,
    create_prompt,
    get_prompt,
    get_prompt_version,
    latest_prompt_version,
    list_prompt_versions,
    list_prompts,
    prompt_version_labels,
    update_prompt,
)
from app.db.crud.rollups import add_to_rollup, rebuild_usage_rollups
from app.db.crud.search import (
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    MAX_QUERY_CHARS,
    MAX_QUERY_TERMS,
    MAX_RANKED_MESSAGES,
    SNIPPET_WORDS,
    ConversationMatch,
    SearchTerm,
    parse_search_query,
    search_conversations,
)
from app.db.crud.spend import (
    Spend,
    conversation_spend,
    spend_by_message,
)
from app.db.crud.tree import (
    Versions,
    delete_subtree,
    list_path,
    newest_leaf,
    on_path,
    set_current_leaf,
    sibling_versions,
)

__all__ = [
    "HIGHLIGHT_END",
    "HIGHLIGHT_START",
    "INTERRUPTED",
    "MAX_QUERY_CHARS",
    "MAX_QUERY_TERMS",
    "MAX_RANKED_MESSAGES",
    "SNIPPET_WORDS",
    "ConversationMatch",
    "SearchTerm",
    "Spend",
    "Versions",
    "add_attachment",
    "add_call_log",
    "add_message",
    "add_prompt_version",
    "add_to_rollup",
    "claim_attachment",
    "conversation_spend",
    "create_conversation",
    "create_prompt",
    "delete_pending_attachment",
    "delete_pending_attachments",
    "delete_subtree",
    "finish_message",
    "get_attachment",
    "get_conversation",
    "get_message",
    "get_prompt",
    "get_prompt_version",
    "latest_prompt_version",
    "list_attachment_stored_names",
    "list_call_logs",
    "list_conversations",
    "list_message_attachments",
    "list_messages",
    "list_path",
    "list_pinned_conversations",
    "list_prompt_versions",
    "list_prompts",
    "mark_interrupted",
    "newest_leaf",
    "on_path",
    "parse_search_query",
    "prompt_version_labels",
    "purge_deleted",
    "rebuild_usage_rollups",
    "rename_conversation",
    "reset_reply",
    "restore_conversation",
    "search_conversations",
    "set_conversation_model",
    "set_conversation_parameters",
    "set_conversation_prompt",
    "set_current_leaf",
    "set_message_model",
    "set_message_prompt_version",
    "set_pinned",
    "sibling_versions",
    "soft_delete_conversation",
    "spend_by_message",
    "streaming_reply",
    "touch_conversation",
    "update_prompt",
]
