"""Reading import files: Parley's own JSON, ChatGPT's ``conversations.json`` and Claude's
export, one conversation at a time, into one neutral shape.

- The file is parsed incrementally (``ijson`` over the top-level array, or over Parley's
  ``conversations`` array), so only one conversation is ever in memory.
- Each conversation comes out as an :class:`Incoming`: messages parents first, siblings in
  version order (the order they get ids in, which is what Parley's tree sorts versions by),
  and the leaf of the branch that was on screen.
- Anything wrong raises :class:`InvalidImport` naming the record:
  ``conversation 3, message 'abc': missing author role``. Nothing here touches a database.

The formats:

1. Parley: ``{"format": "parley.export", "version": 1, "conversations": [...]}`` as
   :mod:`app.services.transfer` writes it; every message has an ``id`` and ``parent_id``.
2. ChatGPT: an array of conversations, each with a ``mapping`` of nodes (``parent``,
   ``children``, ``message``) and ``current_node``. System, tool and hidden messages are left
   out; their children hang from the nearest message kept, so the tree stays a tree.
3. Claude: an array of conversations with ``chat_messages`` (``sender`` human/assistant).
   With ``parent_message_uuid`` on the messages the tree is kept; without, they form one
   branch in their order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO

import ijson

from app.db.models import MessageStatus
from app.errors import InvalidInput

FORMAT = "parley.export"
VERSION = 1
ROLES = ("user", "assistant")
# Claude's exports point a first message at this all-zero parent.
CLAUDE_ROOT = "00000000-0000-4000-8000-000000000000"
MAX_TITLE = 200


class InvalidImport(InvalidInput):
    user_message = "That file cannot be imported."


@dataclass(slots=True)
class IncomingMessage:
    key: str  # the id in the source file
    parent: str | None
    role: str
    content: str
    status: MessageStatus = MessageStatus.complete
    model: str | None = None
    provider: str | None = None
    requested_model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    error: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(slots=True)
class Incoming:
    """One conversation to import."""

    title: str
    model: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    pinned: bool = False
    temperature: float | None = None
    max_tokens: int | None = None
    messages: list[IncomingMessage] = field(default_factory=list)
    current: str | None = None  # key of the leaf on screen


class _Where:
    """Builds the error prefix: ``conversation 3, message 'abc'``."""

    def __init__(self, number: int) -> None:
        self.number = number

    def fail(self, problem: str, message: object = None) -> InvalidImport:
        where = f"conversation {self.number}"
        if message is not None:
            where += f", message {str(message)[:60]!r}"
        return InvalidImport(f"{where}: {problem}")


# ----- reading the file ----------------------------------------------------------------------


def detect(stream: BinaryIO) -> str:
    """``"parley"`` or ``"list"`` (ChatGPT or Claude, told apart per conversation). Reads only
    the start of the file; the caller rewinds."""
    try:
        events = ijson.parse(stream)
        prefix, event, _ = next(events)
        if (prefix, event) == ("", "start_array"):
            return "list"
        if (prefix, event) != ("", "start_map"):
            raise InvalidImport("The file is not an export: expected a JSON array or object.")
        seen: dict[str, Any] = {}
        for prefix, event, value in events:
            if prefix in ("format", "version") and event in ("string", "number"):
                seen[prefix] = value
            if "format" in seen and "version" in seen:
                break
            if prefix == "conversations":
                break
    except ijson.JSONError as exc:
        raise InvalidImport(f"The file is not valid JSON: {exc}") from None
    except StopIteration:
        raise InvalidImport("The file is empty.") from None
    if seen.get("format") != FORMAT:
        raise InvalidImport(f'A JSON object must be a Parley export ("format": "{FORMAT}").')
    if seen.get("version") != VERSION:
        raise InvalidImport(
            f"This Parley export is version {seen.get('version')}; {VERSION} is read."
        )
    return "parley"


def read_conversations(stream: BinaryIO) -> Iterator[Incoming]:
    """Every conversation in the file, parsed and checked, one at a time."""
    kind = detect(stream)
    stream.seek(0)
    prefix = "conversations.item" if kind == "parley" else "item"
    number = 0
    try:
        for raw in ijson.items(stream, prefix, use_float=True):
            number += 1
            yield parse(kind, raw, number)
    except ijson.JSONError as exc:
        raise InvalidImport(f"After conversation {number}: the file is not valid JSON: {exc}")


def parse(kind: str, raw: object, number: int) -> Incoming:
    where = _Where(number)
    if not isinstance(raw, dict):
        raise where.fail("not a JSON object")
    if kind == "parley":
        return _parley(raw, where)
    if "mapping" in raw:
        return _chatgpt(raw, where)
    if "chat_messages" in raw:
        return _claude(raw, where)
    raise where.fail("neither a ChatGPT conversation (mapping) nor a Claude one (chat_messages)")


# ----- field helpers -------------------------------------------------------------------------


def _title(value: object) -> str:
    title = " ".join(str(value or "").split())[:MAX_TITLE]
    return title or "Imported chat"


def _when(value: object, where: _Where, key: object = None) -> datetime | None:
    """An ISO 8601 string or Unix seconds; naive times are taken as UTC."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(float(value), UTC)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise where.fail(f"bad timestamp {str(value)[:40]!r}", key)


def _opt_str(raw: dict[str, Any], name: str, where: _Where, key: object) -> str | None:
    value = raw.get(name)
    if value is not None and not isinstance(value, str):
        raise where.fail(f"{name} must be a string", key)
    return value


def _opt_int(raw: dict[str, Any], name: str, where: _Where, key: object) -> int | None:
    value = raw.get(name)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise where.fail(f"{name} must be a whole number", key)
    return value


def _in_order(messages: list[IncomingMessage], where: _Where) -> list[IncomingMessage]:
    """Parents before children, siblings in source order; refuses unknown parents, repeated
    ids and cycles."""
    children: dict[str | None, list[IncomingMessage]] = {}
    keys: set[str] = set()
    for message in messages:
        if message.key in keys:
            raise where.fail("the id appears twice", message.key)
        keys.add(message.key)
    for message in messages:
        if message.parent is not None and message.parent not in keys:
            raise where.fail(
                f"its parent {message.parent!r} is not in the conversation", message.key
            )
        children.setdefault(message.parent, []).append(message)
    ordered: list[IncomingMessage] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        message = stack.pop()
        ordered.append(message)
        stack.extend(reversed(children.get(message.key, [])))
    if len(ordered) != len(messages):
        placed = {m.key for m in ordered}
        stray = next(m for m in messages if m.key not in placed)
        raise where.fail("its parents form a loop", stray.key)
    return ordered


# ----- Parley --------------------------------------------------------------------------------


def _parley(raw: dict[str, Any], where: _Where) -> Incoming:
    messages_raw = raw.get("messages")
    if not isinstance(messages_raw, list):
        raise where.fail("missing its messages list")
    messages: list[IncomingMessage] = []
    for item in messages_raw:
        if not isinstance(item, dict):
            raise where.fail("a message is not a JSON object")
        key = item.get("id")
        if not isinstance(key, int | str) or isinstance(key, bool):
            raise where.fail("a message has no id")
        role = item.get("role")
        if role not in ROLES:
            raise where.fail(
                "missing author role" if role is None else f"unknown role {role!r}", key
            )
        content = item.get("content")
        if not isinstance(content, str):
            raise where.fail("missing content", key)
        try:
            status = MessageStatus(item.get("status") or "complete")
        except ValueError:
            raise where.fail(f"unknown status {item.get('status')!r}", key) from None
        if status is MessageStatus.streaming:  # cut off mid-stream where it came from
            status = MessageStatus.error
        parent = item.get("parent_id")
        messages.append(
            IncomingMessage(
                key=str(key),
                parent=None if parent is None else str(parent),
                role=role,
                content=content,
                status=status,
                model=_opt_str(item, "model", where, key),
                provider=_opt_str(item, "provider", where, key),
                requested_model=_opt_str(item, "requested_model", where, key),
                input_tokens=_opt_int(item, "input_tokens", where, key),
                output_tokens=_opt_int(item, "output_tokens", where, key),
                error=_opt_str(item, "error", where, key),
                created_at=_when(item.get("created_at"), where, key),
                updated_at=_when(item.get("updated_at"), where, key),
            )
        )
    current = raw.get("current_leaf_id")
    current_key = None if current is None else str(current)
    if current_key is not None and current_key not in {m.key for m in messages}:
        raise where.fail(f"current_leaf_id {current!r} is not one of its messages")
    temperature = raw.get("temperature")
    if temperature is not None and not isinstance(temperature, int | float):
        raise where.fail("temperature must be a number")
    return Incoming(
        title=_title(raw.get("title")),
        model=str(raw.get("model") or "")[:200],
        created_at=_when(raw.get("created_at"), where),
        updated_at=_when(raw.get("updated_at"), where),
        pinned=bool(raw.get("pinned", False)),
        temperature=None if temperature is None else float(temperature),
        max_tokens=_opt_int(raw, "max_tokens", where, None),
        messages=_in_order(messages, where),
        current=current_key,
    )


# ----- ChatGPT -------------------------------------------------------------------------------


def _chatgpt_text(content: object, where: _Where, key: str) -> str | None:
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


def _chatgpt(raw: dict[str, Any], where: _Where) -> Incoming:
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
                        created_at=_when(message.get("create_time"), where, node_id),
                        updated_at=_when(message.get("update_time"), where, node_id),
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
    created = _when(raw.get("create_time"), where)
    return Incoming(
        title=_title(raw.get("title")),
        model=str(raw.get("default_model_slug") or "")[:200],
        created_at=created,
        updated_at=_when(raw.get("update_time"), where) or created,
        messages=kept,
        current=leaf,
    )


# ----- Claude --------------------------------------------------------------------------------


def _claude(raw: dict[str, Any], where: _Where) -> Incoming:
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
                created_at=_when(item.get("created_at"), where, key),
                updated_at=_when(item.get("updated_at"), where, key),
            )
        )
        previous = key
    ordered = _in_order(messages, where)
    created = _when(raw.get("created_at"), where)
    return Incoming(
        title=_title(raw.get("name")),
        created_at=created,
        updated_at=_when(raw.get("updated_at"), where) or created,
        messages=ordered,
        current=messages[-1].key if messages else None,
    )
