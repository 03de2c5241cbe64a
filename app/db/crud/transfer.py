"""Import and export: conversations and messages paged by key, so an export of any size
holds a bounded number of rows at a time; imported rows written as given."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from app.db.models import Conversation, Message


def export_conversations(
    *,
    session: Session,
    project_id: str | None = None,
    user_id: str | None = None,
    conversation_id: str | None = None,
    after_id: str = "",
    limit: int = 50,
) -> Sequence[Conversation]:
    """A page of conversations not in the trash, by id: of one project, one user, or the one
    with ``conversation_id``. Pass the last row's id as ``after_id`` for the next page. With
    no filter at all nothing is returned (never everyone's)."""
    if project_id is None and user_id is None and conversation_id is None:
        return []
    query = (
        select(Conversation)
        .where(col(Conversation.deleted_at).is_(None), col(Conversation.id) > after_id)
        .order_by(col(Conversation.id))
        .limit(limit)
    )
    if project_id is not None:
        query = query.where(col(Conversation.project_id) == project_id)
    if user_id is not None:
        query = query.where(col(Conversation.user_id) == user_id)
    if conversation_id is not None:
        query = query.where(col(Conversation.id) == conversation_id)
    return session.exec(query).all()


def export_messages(
    *, session: Session, conversation_id: str, after_id: int = 0, limit: int = 500
) -> Sequence[Message]:
    """A page of a conversation's messages, every branch, by id (parents come first)."""
    query = (
        select(Message)
        .where(col(Message.conversation_id) == conversation_id, col(Message.id) > after_id)
        .order_by(col(Message.id))
        .limit(limit)
    )
    return session.exec(query).all()


def add_imported(*, session: Session, row: Conversation | Message) -> None:
    """Write an imported conversation or message (the caller fills every field, ids of
    parents included) and flush, so a message's id is known for its children."""
    session.add(row)
    session.flush()
