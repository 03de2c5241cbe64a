"""ChatGPT's and Claude's exports, one conversation at a time, into Parley's import shape
(see :mod:`app.services.transfer_formats` for the rules both follow)."""

from __future__ import annotations

from typing import Any

from app.services.transfer_formats import (
    ROLES,
    Incoming,
    IncomingMessage,
    Where,
    in_order,
    title,
    when,
)

# Claude's exports point a first message at this all-zero parent.
CLAUDE_ROOT = "00000000-0000-4000-8000-000000000000"


# ----- ChatGPT -------------------------------------------------------------------------------


def _chatgpt_text(content: object, where: Where, key: str) -> str | None:
    """The text of a message's content, or None for content that is not conversation
    (browsing displays, reasoning summaries, code sent to tools)."""
    if not isinstance(content, dict):
        raise where.fail("missing content", key)
    kind = content.get("content_type")
    if kind not in ("text", "multimodal_text"):
        return None
    parts = content.get("parts")
    if not isinstance(parts, list):
        raise where.fail("content has no parts", key)
    texts = [p if isinstance(p, str) else "[attachment not imported]" for p in parts]
    return "\n\n".join(t for t in texts if t)


def chatgpt(raw: dict[str, Any], where: Where) -> Incoming:
    mapping = raw.get("mapping")
    if not isinstance(mapping, dict):
        raise where.fail("mapping is not an object")
    kept: list[IncomingMessage] = []
    # Node id -> the id of the nearest kept message at or above it (None: the root).
    anchor: dict[str, str | None] = {}
    roots = [
        k for k, node in mapping.items() if isinstance(node, dict) and node.get("parent") is None
    ]
    if not roots and mapping:
        raise where.fail("its mapping has no root node")
    stack: list[tuple[str, str | None]] = [(k, None) for k in reversed(roots)]
    while stack:
        node_id, above = stack.pop()
        if node_id in anchor:
            raise where.fail("it is reached twice in the mapping", node_id)
        node = mapping.get(node_id)
        if not isinstance(node, dict):
            raise where.fail("a child that is not in the mapping", node_id)
        here = above
        message = node.get("message")
        if message is not None:
            if not isinstance(message, dict):
                raise where.fail("message is not an object", node_id)
            author = message.get("author")
            role = author.get("role") if isinstance(author, dict) else None
            if not isinstance(role, str):
                raise where.fail("missing author role", node_id)
            metadata = message.get("metadata") or {}
            hidden = isinstance(metadata, dict) and metadata.get(
                "is_visually_hidden_from_conversation"
            )
            to_user = message.get("recipient", "all") == "all"
            text = _chatgpt_text(message.get("content"), where, node_id)
            if role in ROLES and not hidden and to_user and text is not None:
                model = metadata.get("model_slug") if isinstance(metadata, dict) else None
                kept.append(
                    IncomingMessage(
                        key=node_id,
                        parent=above,
                        role=role,
                        content=text,
                        model=model if isinstance(model, str) and role == "assistant" else None,
                        created_at=when(message.get("create_time"), where, node_id),
                        updated_at=when(message.get("update_time"), where, node_id),
                    )
                )
                here = node_id
        anchor[node_id] = here
        children = node.get("children") or []
        if not isinstance(children, list):
            raise where.fail("children is not a list", node_id)
        stack.extend((str(c), here) for c in reversed(children))
    unreached = [k for k in mapping if k not in anchor]
    if unreached:
        raise where.fail("not reachable from the root (its parents form a loop)", unreached[0])
    current = raw.get("current_node")
    leaf = anchor.get(str(current)) if current is not None else None
    if current is not None and str(current) not in anchor:
        raise where.fail(f"current_node {current!r} is not in the mapping")
    created = when(raw.get("create_time"), where)
    return Incoming(
        title=title(raw.get("title")),
        model=str(raw.get("default_model_slug") or "")[:200],
        created_at=created,
        updated_at=when(raw.get("update_time"), where) or created,
        messages=kept,
        current=leaf,
    )


# ----- Claude --------------------------------------------------------------------------------


def claude(raw: dict[str, Any], where: Where) -> Incoming:
    items = raw.get("chat_messages")
    if not isinstance(items, list):
        raise where.fail("chat_messages is not a list")
    messages: list[IncomingMessage] = []
    threaded = any(isinstance(i, dict) and i.get("parent_message_uuid") for i in items)
    previous: str | None = None
    for index, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise where.fail("a message is not a JSON object")
        key = str(item.get("uuid") or f"#{index}")
        sender = item.get("sender")
        if sender is None:
            raise where.fail("missing author role (sender)", key)
        role = {"human": "user", "assistant": "assistant"}.get(sender)
        if role is None:
            raise where.fail(f"unknown sender {sender!r}", key)
        text = item.get("text")
        if not isinstance(text, str) or not text:
            blocks = item.get("content")
            if isinstance(blocks, list):
                text = "\n\n".join(
                    b["text"]
                    for b in blocks
                    if isinstance(b, dict)
                    and b.get("type") == "text"
                    and isinstance(b.get("text"), str)
                )
        if not isinstance(text, str):
            raise where.fail("missing text", key)
        if threaded:
            parent = item.get("parent_message_uuid")
            parent = None if parent in (None, "", CLAUDE_ROOT) else str(parent)
        else:
            parent = previous
        messages.append(
            IncomingMessage(
                key=key,
                parent=parent,
                role=role,
                content=text,
                created_at=when(item.get("created_at"), where, key),
                updated_at=when(item.get("updated_at"), where, key),
            )
        )
        previous = key
    ordered = in_order(messages, where)
    created = when(raw.get("created_at"), where)
    return Incoming(
        title=title(raw.get("name")),
        created_at=created,
        updated_at=when(raw.get("updated_at"), where) or created,
        messages=ordered,
        current=messages[-1].key if messages else None,
    )
