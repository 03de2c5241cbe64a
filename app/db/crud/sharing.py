"""Keyword-only CRUD for sharing: a conversation's shares (with named users or with its
project's members) and its read-only links, and the share facts authorisation reads. Each
function takes a session."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from app.db.models import Conversation, ConversationShare, ShareLink, ShareRole, User, utcnow


@dataclass(frozen=True, slots=True)
class Shares:
    """What shares give one user on one conversation: by name, and to the project's members
    (the second counts only for members of the conversation's project: authz decides)."""

    user: ShareRole | None = None
    project: ShareRole | None = None


@dataclass(frozen=True, slots=True)
class ShareRow:
    """One share as the Share dialog lists it; ``user_id`` None: the project's members."""

    id: int
    user_id: str | None
    email: str
    display_name: str
    role: ShareRole


# ----- shares --------------------------------------------------------------------------------


def _share(session: Session, conversation_id: str, user_id: str | None) -> ConversationShare | None:
    owner = col(ConversationShare.user_id)
    return session.exec(
        select(ConversationShare).where(
            col(ConversationShare.conversation_id) == conversation_id,
            owner.is_(None) if user_id is None else owner == user_id,
        )
    ).first()


def set_share(
    *,
    session: Session,
    conversation_id: str,
    user_id: str | None,
    role: ShareRole,
    created_by: str | None,
) -> ConversationShare:
    """Share the conversation with ``user_id`` (None: its project's members) as ``role``,
    or change the role of the share that exists."""
    row = _share(session, conversation_id, user_id)
    if row is None:
        row = ConversationShare(
            conversation_id=conversation_id, user_id=user_id, role=role, created_by=created_by
        )
    else:
        row.role = role
        row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return row


def remove_share(*, session: Session, conversation_id: str, share_id: int) -> bool:
    """Revoke one share of the conversation; False if it had no such share."""
    result = session.execute(
        delete(ConversationShare).where(
            col(ConversationShare.id) == share_id,
            col(ConversationShare.conversation_id) == conversation_id,
        )
    )
    return bool(result.rowcount)  # pyright: ignore[reportAttributeAccessIssue]


def list_shares(*, session: Session, conversation_id: str) -> list[ShareRow]:
    """The conversation's shares: the project-wide one first, then named users by email."""
    rows = session.exec(
        select(ConversationShare, User)
        .outerjoin(User, col(User.id) == col(ConversationShare.user_id))
        .where(col(ConversationShare.conversation_id) == conversation_id)
        .order_by(col(ConversationShare.user_id).is_not(None), col(User.email))
    ).all()
    out: list[ShareRow] = []
    for share, user in rows:
        assert share.id is not None
        email, name = (user.email, user.display_name) if user is not None else ("", "")
        out.append(ShareRow(share.id, share.user_id, email, name, ShareRole(share.role)))
    return out


def shares_for(*, session: Session, conversation_id: str, user_id: str) -> Shares:
    """What the conversation's shares give ``user_id``: by name and to project members."""
    rows = session.exec(
        select(ConversationShare.user_id, ConversationShare.role).where(
            col(ConversationShare.conversation_id) == conversation_id,
            (col(ConversationShare.user_id) == user_id) | col(ConversationShare.user_id).is_(None),
        )
    ).all()
    named = next((ShareRole(r) for u, r in rows if u is not None), None)
    project = next((ShareRole(r) for u, r in rows if u is None), None)
    return Shares(named, project)


def shared_with_user(*, session: Session, user_id: str, limit: int = 50) -> Sequence[Conversation]:
    """Conversations shared with ``user_id`` by name, not in the trash, newest first."""
    return session.exec(
        select(Conversation)
        .join(ConversationShare, col(ConversationShare.conversation_id) == col(Conversation.id))
        .where(col(ConversationShare.user_id) == user_id, col(Conversation.deleted_at).is_(None))
        .order_by(col(Conversation.updated_at).desc(), col(Conversation.id))
        .limit(limit)
    ).all()


def shared_ids(*, session: Session, conversation_ids: Iterable[str]) -> set[str]:
    """Of these conversations, those with any share or live link (their badge)."""
    ids = list(conversation_ids)
    if not ids:
        return set()
    shared = session.exec(
        select(ConversationShare.conversation_id).where(
            col(ConversationShare.conversation_id).in_(ids)
        )
    ).all()
    linked = session.exec(
        select(ShareLink.conversation_id).where(
            col(ShareLink.conversation_id).in_(ids), col(ShareLink.revoked_at).is_(None)
        )
    ).all()
    return {*shared, *linked}


# ----- links ---------------------------------------------------------------------------------


def live_link(*, session: Session, conversation_id: str) -> ShareLink | None:
    """The conversation's link that is not revoked, if any (there is at most one)."""
    return session.exec(
        select(ShareLink).where(
            col(ShareLink.conversation_id) == conversation_id, col(ShareLink.revoked_at).is_(None)
        )
    ).first()


def create_link(
    *, session: Session, conversation_id: str, token: str, created_by: str | None
) -> ShareLink:
    """The conversation's live link: the one that exists, else a new one with ``token``."""
    existing = live_link(session=session, conversation_id=conversation_id)
    if existing is not None:
        return existing
    link = ShareLink(token=token, conversation_id=conversation_id, created_by=created_by)
    session.add(link)
    session.flush()
    return link


def revoke_link(*, session: Session, conversation_id: str, now: datetime) -> bool:
    """Revoke the conversation's live link for good; False if it had none."""
    result = session.execute(
        update(ShareLink)
        .where(
            col(ShareLink.conversation_id) == conversation_id, col(ShareLink.revoked_at).is_(None)
        )
        .values(revoked_at=now)
    )
    return bool(result.rowcount)  # pyright: ignore[reportAttributeAccessIssue]


def link_conversation(*, session: Session, token: str) -> str | None:
    """The id of the conversation a live link shows (None: unknown, revoked, or its
    conversation is in the trash)."""
    return session.exec(
        select(ShareLink.conversation_id)
        .join(Conversation, col(Conversation.id) == col(ShareLink.conversation_id))
        .where(
            col(ShareLink.token) == token,
            col(ShareLink.revoked_at).is_(None),
            col(Conversation.deleted_at).is_(None),
        )
    ).first()
