"""Agent mode and steps, extractions, and sharing."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from app.db.models.base import utcnow


class AgentMode(SQLModel, table=True):
    """A conversation in agent mode (a row: on), where a send runs the tool loop instead of
    a plain reply. A table of its own, so the conversation table is never altered for it."""

    __tablename__ = "agent_mode"  # pyright: ignore[reportAssignmentType]

    conversation_id: str = Field(
        foreign_key="conversation.id", primary_key=True, ondelete="CASCADE", max_length=32
    )
    updated_at: datetime = Field(default_factory=utcnow)


class AgentStep(SQLModel, table=True):
    """One tool call of an agent run, kept with the reply it led to (shown after a reload)."""

    __tablename__ = "agent_step"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (UniqueConstraint("message_id", "index"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True, ondelete="CASCADE")
    index: int  # 1-based over the run
    tool: str = Field(max_length=200)
    arguments: str = Field(default="", sa_type=Text)  # JSON text, as the model sent it
    status: str = Field(max_length=16)  # ok, error, cancelled
    result: str = Field(default="", sa_type=Text)
    error: str | None = Field(default=None, sa_type=Text)
    duration_ms: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class Extraction(SQLModel, table=True):
    """A structured extraction run over a message: the validated value, or why it failed."""

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True, ondelete="CASCADE")
    extractor: str = Field(max_length=64)
    data: str | None = Field(default=None, sa_type=Text)  # the value as JSON; None: failed
    error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)


# ----- sharing (issue 13) ---------------------------------------------------------------------


class ShareRole(StrEnum):
    """What a share lets its people do with one conversation (app/services/authz.py)."""

    viewer = "viewer"  # open it, page its history, watch its live reply
    participant = "participant"  # also send, regenerate, edit; the sender pays


class ConversationShare(SQLModel, table=True):
    """A conversation shared by its owner with one named user (``user_id``) or, when
    ``user_id`` is NULL, with every member of the conversation's project. One row per
    (conversation, audience): changing the role updates it, revoking deletes it. A
    project-wide share is unique per conversation in code (NULLs never conflict in a unique
    key); the user shares are unique in the key below."""

    __tablename__ = "conversation_share"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (UniqueConstraint("conversation_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(
        foreign_key="conversation.id", index=True, ondelete="CASCADE", max_length=32
    )
    user_id: str | None = Field(
        default=None, foreign_key="user.id", index=True, ondelete="CASCADE", max_length=32
    )
    role: ShareRole = Field(sa_type=String(16))
    created_by: str | None = Field(
        default=None, foreign_key="user.id", ondelete="SET NULL", max_length=32
    )
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ShareLink(SQLModel, table=True):
    """A read-only link to a conversation: ``/s/<token>``, the token 43 random URL-safe
    characters (256 bits). It shows the conversation as it is when opened, so its address
    never changes as the conversation does. Revoking stamps ``revoked_at`` (the token is dead
    for good; a new link gets a new token). The token is stored as is, not hashed: the owner
    copies the link again from the Share dialog, and it grants reading one conversation only.
    Who may open it: signed-in accounts, and anyone when ``PUBLIC_SHARE_LINKS`` is on."""

    __tablename__ = "share_link"  # pyright: ignore[reportAssignmentType]

    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(max_length=64, unique=True)
    conversation_id: str = Field(
        foreign_key="conversation.id", index=True, ondelete="CASCADE", max_length=32
    )
    created_by: str | None = Field(
        default=None, foreign_key="user.id", ondelete="SET NULL", max_length=32
    )
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = Field(default=None)
