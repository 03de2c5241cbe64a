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

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.db.models import MessageStatus
from app.errors import InvalidInput

FORMAT = "parley.export"
VERSION = 1
ROLES = ("user", "assistant")
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


class Where:
    """Builds the error prefix: ``conversation 3, message 'abc'``."""

    def __init__(self, number: int) -> None:
        self.number = number

    def fail(self, problem: str, message: object = None) -> InvalidImport:
        where = f"conversation {self.number}"
        if message is not None:
            where += f", message {str(message)[:60]!r}"
        return InvalidImport(f"{where}: {problem}")


# ----- field helpers -------------------------------------------------------------------------


def title(value: object) -> str:
    title = " ".join(str(value or "").split())[:MAX_TITLE]
    return title or "Imported chat"


def when(value: object, where: Where, key: object = None) -> datetime | None:
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


def opt_str(raw: dict[str, Any], name: str, where: Where, key: object) -> str | None:
    value = raw.get(name)
    if value is not None and not isinstance(value, str):
        raise where.fail(f"{name} must be a string", key)
    return value


def opt_int(raw: dict[str, Any], name: str, where: Where, key: object) -> int | None:
    value = raw.get(name)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise where.fail(f"{name} must be a whole number", key)
    return value


def in_order(messages: list[IncomingMessage], where: Where) -> list[IncomingMessage]:
    """Parents before children, siblings in source order (the file's own order when it
    already puts parents first); refuses unknown parents, repeated ids and cycles."""
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
    seen: set[str] = set()
    for message in messages:
        if message.parent is not None and message.parent not in seen:
            break
        seen.add(message.key)
    else:  # parents already come first (Parley's own exports): keep the file's order
        return messages
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


def parley(raw: dict[str, Any], where: Where) -> Incoming:
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
                model=opt_str(item, "model", where, key),
                provider=opt_str(item, "provider", where, key),
                requested_model=opt_str(item, "requested_model", where, key),
                input_tokens=opt_int(item, "input_tokens", where, key),
                output_tokens=opt_int(item, "output_tokens", where, key),
                error=opt_str(item, "error", where, key),
                created_at=when(item.get("created_at"), where, key),
                updated_at=when(item.get("updated_at"), where, key),
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
        title=title(raw.get("title")),
        model=str(raw.get("model") or "")[:200],
        created_at=when(raw.get("created_at"), where),
        updated_at=when(raw.get("updated_at"), where),
        pinned=bool(raw.get("pinned", False)),
        temperature=None if temperature is None else float(temperature),
        max_tokens=opt_int(raw, "max_tokens", where, None),
        messages=in_order(messages, where),
        current=current_key,
    )
