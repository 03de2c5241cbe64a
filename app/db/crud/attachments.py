"""Attachments: uploaded, then claimed by the message they are sent with, or swept."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from app.db.models import Attachment


def add_attachment(*, session: Session, attachment: Attachment) -> Attachment:
    session.add(attachment)
    session.flush()
    session.refresh(attachment)
    return attachment


def get_attachment(*, session: Session, attachment_id: str) -> Attachment | None:
    return session.get(Attachment, attachment_id)


def delete_pending_attachment(*, session: Session, attachment_id: str) -> Attachment | None:
    """Delete an attachment not yet sent with a message; returns the deleted row."""
    row = session.get(Attachment, attachment_id)
    if row is None or row.message_id is not None:
        return None
    session.delete(row)
    session.flush()
    return row


def delete_pending_attachments(*, session: Session, older_than: datetime) -> list[Attachment]:
    """Delete attachments never sent with a message, uploaded before ``older_than``."""
    rows = list(
        session.exec(
            select(Attachment).where(
                col(Attachment.message_id).is_(None), col(Attachment.created_at) < older_than
            )
        ).all()
    )
    for row in rows:
        session.delete(row)
    session.flush()
    return rows


def list_attachment_stored_names(*, session: Session) -> list[str]:
    return list(session.exec(select(Attachment.stored_name)).all())


def claim_attachment(
    *, session: Session, attachment_id: str, conversation_id: str, message_id: int
) -> None:
    session.execute(
        update(Attachment)
        .where(col(Attachment.id) == attachment_id)
        .values(conversation_id=conversation_id, message_id=message_id)
    )


def list_message_attachments(
    *, session: Session, message_ids: Sequence[int]
) -> Sequence[Attachment]:
    """The attachments of these messages, in the order they were attached."""
    if not message_ids:
        return []
    query = (
        select(Attachment)
        .where(col(Attachment.message_id).in_(list(message_ids)))
        .order_by(col(Attachment.created_at), col(Attachment.id))
    )
    return session.exec(query).all()


def pending_attachment_bytes(*, session: Session, user_id: str | None) -> int:
    """The bytes of files ``user_id`` uploaded that wait, unsent, in a composer (files with
    no uploader, from before accounts or a single-user install, count as one pool)."""
    who = (
        col(Attachment.user_id).is_(None) if user_id is None else col(Attachment.user_id) == user_id
    )
    query = select(func.coalesce(func.sum(Attachment.size), 0)).where(
        col(Attachment.message_id).is_(None), who
    )
    return int(session.exec(query).one())
