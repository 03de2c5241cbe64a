"""Keyword-only CRUD over the tables in :mod:`app.db.models`. Each function takes a session."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.db.models import CallLog, Conversation, Message, MessageStatus, utcnow


def create_conversation(*, session: Session, title: str, model: str) -> Conversation:
    conversation = Conversation(title=title, model=model)
    session.add(conversation)
    session.flush()
    return conversation


def get_conversation(*, session: Session, conversation_id: str) -> Conversation | None:
    return session.get(Conversation, conversation_id)


def list_conversations(
    *, session: Session, limit: int, updated_before: datetime | None = None
) -> Sequence[Conversation]:
    """Newest first; pass the last row's ``updated_at`` to get the next page."""
    query = select(Conversation).order_by(col(Conversation.updated_at).desc()).limit(limit)
    if updated_before is not None:
        query = query.where(col(Conversation.updated_at) < updated_before)
    return session.exec(query).all()


def touch_conversation(*, session: Session, conversation_id: str) -> None:
    session.execute(
        update(Conversation)
        .where(col(Conversation.id) == conversation_id)
        .values(updated_at=utcnow())
    )


def add_message(
    *,
    session: Session,
    conversation_id: str,
    role: str,
    content: str,
    status: MessageStatus = MessageStatus.complete,
    model: str | None = None,
    provider: str | None = None,
) -> Message:
    message = Message(
        conversation_id=conversation_id,
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


def set_conversation_model(*, session: Session, conversation_id: str, model: str) -> None:
    session.execute(
        update(Conversation).where(col(Conversation.id) == conversation_id).values(model=model)
    )


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
    """The newest ``limit`` messages (older than ``before_id`` if given), oldest first."""
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


def mark_interrupted(*, session: Session) -> int:
    """Messages left 'streaming' by a process that died become errors. Returns the count."""
    result = session.execute(
        update(Message)
        .where(col(Message.status) == MessageStatus.streaming)
        .values(
            status=MessageStatus.error,
            error=INTERRUPTED,
            updated_at=utcnow(),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def set_message_model(*, session: Session, message_id: int, model: str, provider: str) -> None:
    """Record which model actually answered (a fallback, perhaps)."""
    session.execute(
        update(Message)
        .where(col(Message.id) == message_id)
        .values(model=model, provider=provider, updated_at=utcnow())
    )


def add_call_log(*, session: Session, call: CallLog) -> CallLog:
    session.add(call)
    session.flush()
    return call


def list_call_logs(
    *,
    session: Session,
    limit: int = 100,
    conversation_id: str | None = None,
    message_id: int | None = None,
) -> Sequence[CallLog]:
    """Oldest first, optionally for one conversation or one message."""
    query = select(CallLog).order_by(col(CallLog.id)).limit(limit)
    if conversation_id is not None:
        query = query.where(col(CallLog.conversation_id) == conversation_id)
    if message_id is not None:
        query = query.where(col(CallLog.message_id) == message_id)
    return session.exec(query).all()
