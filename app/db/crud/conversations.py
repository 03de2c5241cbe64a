"""Conversations: create, list and page, rename, pin, trash and restore, purge, and their
model, parameters and prompt."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from app.db.crud.scope import Scope, scoped
from app.db.models import Conversation, Message, utcnow


def create_conversation(
    *,
    session: Session,
    title: str,
    model: str,
    user_id: str | None = None,
    project_id: str | None = None,
) -> Conversation:
    conversation = Conversation(title=title, model=model, user_id=user_id, project_id=project_id)
    session.add(conversation)
    session.flush()
    return conversation


def get_conversation(
    *, session: Session, conversation_id: str, include_deleted: bool = False
) -> Conversation | None:
    """The conversation, or None. A deleted one (in the trash) only with ``include_deleted``."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or (conversation.deleted_at is not None and not include_deleted):
        return None
    return conversation


def list_conversations(
    *,
    session: Session,
    limit: int,
    updated_before: datetime | None = None,
    pinned: bool | None = None,
    scope: Scope | None = None,
) -> Sequence[Conversation]:
    """Conversations not deleted, newest first; pass the last row's ``updated_at`` to get the
    next page. ``pinned=False`` lists only unpinned ones and ``pinned=True`` only pinned ones;
    the sidebar shows :func:`list_pinned_conversations` above pages of ``pinned=False``.
    ``scope`` limits them to a reader's projects (None: every project, for maintenance).
    """
    query = (
        select(Conversation)
        .where(col(Conversation.deleted_at).is_(None))
        .order_by(col(Conversation.updated_at).desc(), col(Conversation.id).desc())
        .limit(limit)
    )
    if pinned is not None:
        query = query.where(col(Conversation.pinned).is_(pinned))
    if updated_before is not None:
        query = query.where(col(Conversation.updated_at) < updated_before)
    if scope is not None:
        query = scoped(query, Conversation, scope)
    return session.exec(query).all()


def list_pinned_conversations(
    *, session: Session, scope: Scope | None = None
) -> Sequence[Conversation]:
    """Every pinned conversation not deleted, newest first. Pins are few: no paging."""
    query = (
        select(Conversation)
        .where(col(Conversation.deleted_at).is_(None), col(Conversation.pinned).is_(True))
        .order_by(col(Conversation.updated_at).desc(), col(Conversation.id).desc())
    )
    if scope is not None:
        query = scoped(query, Conversation, scope)
    return session.exec(query).all()


def rename_conversation(
    *, session: Session, conversation_id: str, title: str
) -> Conversation | None:
    """Set the title (the caller validates it). None if missing or deleted.

    The order of the sidebar does not change: ``updated_at`` is left alone.
    """
    conversation = get_conversation(session=session, conversation_id=conversation_id)
    if conversation is not None:
        conversation.title = title
        session.add(conversation)
        session.flush()
    return conversation


def set_pinned(*, session: Session, conversation_id: str, pinned: bool) -> Conversation | None:
    """Pin or unpin. None if missing or deleted."""
    conversation = get_conversation(session=session, conversation_id=conversation_id)
    if conversation is not None:
        conversation.pinned = pinned
        session.add(conversation)
        session.flush()
    return conversation


def soft_delete_conversation(*, session: Session, conversation_id: str) -> Conversation | None:
    """Move to the trash: hidden from lists and search until restored or purged.

    Deleting a deleted conversation changes nothing. None if it does not exist.
    """
    conversation = get_conversation(
        session=session, conversation_id=conversation_id, include_deleted=True
    )
    if conversation is not None and conversation.deleted_at is None:
        conversation.deleted_at = utcnow()
        session.add(conversation)
        session.flush()
    return conversation


def restore_conversation(*, session: Session, conversation_id: str) -> Conversation | None:
    """Undo a delete. None if the conversation no longer exists (purged)."""
    conversation = get_conversation(
        session=session, conversation_id=conversation_id, include_deleted=True
    )
    if conversation is not None and conversation.deleted_at is not None:
        conversation.deleted_at = None
        session.add(conversation)
        session.flush()
    return conversation


def purge_deleted(*, session: Session, older_than: datetime) -> int:
    """Delete for good the conversations deleted before ``older_than``, with their messages.

    Their call log rows stay: spend history outlives conversations. Returns the count.
    """
    doomed = session.exec(
        select(Conversation.id)
        .where(col(Conversation.deleted_at) < older_than)
        .with_for_update()  # PostgreSQL: a concurrent undo waits, then finds nothing
    ).all()
    for start in range(0, len(doomed), 500):
        ids = doomed[start : start + 500]
        # Messages explicitly, not only by ON DELETE CASCADE, which SQLite honours only on
        # connections with PRAGMA foreign_keys on.
        session.execute(delete(Message).where(col(Message.conversation_id).in_(ids)))
        session.execute(delete(Conversation).where(col(Conversation.id).in_(ids)))
    session.expire_all()
    return len(doomed)


def touch_conversation(*, session: Session, conversation_id: str) -> None:
    session.execute(
        update(Conversation)
        .where(col(Conversation.id) == conversation_id)
        .values(updated_at=utcnow())
    )


def set_conversation_model(*, session: Session, conversation_id: str, model: str) -> None:
    session.execute(
        update(Conversation).where(col(Conversation.id) == conversation_id).values(model=model)
    )


def set_conversation_parameters(
    *, session: Session, conversation_id: str, temperature: float | None, max_tokens: int | None
) -> None:
    session.execute(
        update(Conversation)
        .where(col(Conversation.id) == conversation_id)
        .values(temperature=temperature, max_tokens=max_tokens)
    )


def set_conversation_prompt(
    *, session: Session, conversation_id: str, prompt_id: int | None
) -> None:
    session.execute(
        update(Conversation)
        .where(col(Conversation.id) == conversation_id)
        .values(prompt_id=prompt_id)
    )
