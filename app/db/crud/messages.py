"""Messages: add, read, page, stream into and finish, and the interrupted-stream sweep.

Walking the message tree is :mod:`app.db.crud.tree`'s."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.db.models import Message, MessageStatus, utcnow


def add_message(
    *,
    session: Session,
    conversation_id: str,
    role: str,
    content: str,
    status: MessageStatus = MessageStatus.complete,
    model: str | None = None,
    provider: str | None = None,
    parent_id: int | None = None,
) -> Message:
    message = Message(
        conversation_id=conversation_id,
        parent_id=parent_id,
        role=role,
        content=content,
        status=status,
        model=model,
        provider=provider,
        requested_model=model,
    )
    session.add(message)
    session.flush()
    return message


def reset_reply(*, session: Session, message_id: int) -> Message:
    """Empty a finished reply so it can stream again, asking its originally requested model."""
    message = session.get(Message, message_id)
    if message is None:
        raise LookupError(f"message {message_id} does not exist")
    message.content = ""
    message.error = None
    message.status = MessageStatus.streaming
    message.model = message.requested_model or message.model
    message.input_tokens = None
    message.output_tokens = None
    message.updated_at = utcnow()
    session.add(message)
    session.flush()
    return message


def get_message(*, session: Session, message_id: int) -> Message | None:
    return session.get(Message, message_id)


def finish_message(
    *,
    session: Session,
    message_id: int,
    content: str,
    status: MessageStatus,
    error: str | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
) -> Message:
    message = session.get(Message, message_id)
    if message is None:
        raise LookupError(f"message {message_id} does not exist")
    message.content = content
    message.status = status
    message.error = error
    message.input_tokens = input_tokens
    message.output_tokens = output_tokens
    message.updated_at = utcnow()
    session.add(message)
    session.flush()
    return message


def list_messages(
    *, session: Session, conversation_id: str, limit: int, before_id: int | None = None
) -> Sequence[Message]:
    """The newest ``limit`` messages (older than ``before_id`` if given), oldest first.

    Every branch's messages, interleaved by age: what the user sees is one path through the
    tree, :func:`list_path`.
    """
    query = (
        select(Message)
        .where(col(Message.conversation_id) == conversation_id)
        .order_by(col(Message.id).desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(col(Message.id) < before_id)
    return list(reversed(session.exec(query).all()))


INTERRUPTED = "Interrupted: the server stopped while this reply was streaming."


def checkpoint_message(*, session: Session, message_id: int, content: str) -> bool:
    """Save a streaming reply's text so far (a crash then loses only what came after).
    Writes only while the reply is still streaming, so it never overwrites the final save.
    True if it wrote."""
    result = session.execute(
        update(Message)
        .where(col(Message.id) == message_id, col(Message.status) == MessageStatus.streaming)
        .values(content=content, updated_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


def renew_lease(*, session: Session, message_id: int) -> bool:
    """A live process still streams this reply: its row says so by its ``updated_at``."""
    result = session.execute(
        update(Message)
        .where(col(Message.id) == message_id, col(Message.status) == MessageStatus.streaming)
        .values(updated_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


def mark_interrupted(*, session: Session, stale_before: datetime | None = None) -> list[int]:
    """Messages left 'streaming' by a process that died become errors, keeping the text
    their last checkpoint saved: all of them, or (several workers sharing the database) only
    those whose last write, the lease a live worker renews, is older than ``stale_before``.
    Returns their ids."""
    streaming = col(Message.status) == MessageStatus.streaming
    where = (
        streaming if stale_before is None else streaming & (col(Message.updated_at) < stale_before)
    )
    ids = [i for i in session.exec(select(Message.id).where(where)).all() if i is not None]
    if ids:
        session.execute(
            update(Message)
            .where(col(Message.id).in_(ids), streaming)
            .values(status=MessageStatus.error, error=INTERRUPTED, updated_at=utcnow())
        )
    return ids


def set_message_model(*, session: Session, message_id: int, model: str, provider: str) -> None:
    """Record which model actually answered (a fallback, perhaps)."""
    session.execute(
        update(Message)
        .where(col(Message.id) == message_id)
        .values(model=model, provider=provider, updated_at=utcnow())
    )


def set_message_prompt_version(
    *, session: Session, message_id: int, prompt_version_id: int | None
) -> None:
    session.execute(
        update(Message)
        .where(col(Message.id) == message_id)
        .values(prompt_version_id=prompt_version_id)
    )


def streaming_reply(*, session: Session, conversation_id: str, since: datetime) -> int | None:
    """A reply of the conversation streaming now (started or reset after ``since``), if any."""
    return session.exec(
        select(Message.id)
        .where(
            col(Message.conversation_id) == conversation_id,
            col(Message.status) == MessageStatus.streaming,
            col(Message.updated_at) > since,
        )
        .limit(1)
    ).first()
