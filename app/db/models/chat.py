"""Conversations, messages, prompts and attachments."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlmodel import Field, SQLModel

from app.db.models.base import new_id, utcnow


class MessageStatus(StrEnum):
    streaming = "streaming"  # being generated right now
    complete = "complete"
    stopped = "stopped"  # the user pressed Stop; content is the partial reply
    error = "error"  # the provider failed; content is whatever arrived first


class Conversation(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    title: str = Field(default="New chat", max_length=200)
    model: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow, index=True)
    # Pinned conversations head the sidebar. The server default fills existing rows.
    pinned: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # Set by delete (soft: undo clears it); purged for good once old enough.
    deleted_at: datetime | None = Field(default=None, index=True)
    # The last message of the branch on screen: messages form a tree (regenerate adds a
    # sibling reply, edit-and-resend a sibling question), and the path from this leaf up to
    # the root is what the user sees and what the model gets as context.
    current_leaf_id: int | None = Field(default=None)
    # Generation parameters for this conversation; None means the model's default.
    temperature: float | None = Field(default=None)
    max_tokens: int | None = Field(default=None)
    # The system prompt from the library, if any. Each reply records the version it used.
    prompt_id: int | None = Field(default=None, foreign_key="prompt.id", ondelete="SET NULL")
    # The project it belongs to (authorisation goes by the project's memberships) and the
    # user who started it. Nullable until every creator passes them (issue 10's wiring):
    # a row without a project is readable by admins only (app/services/authz.py).
    project_id: str | None = Field(
        default=None, foreign_key="project.id", index=True, ondelete="CASCADE", max_length=32
    )
    user_id: str | None = Field(
        default=None, foreign_key="user.id", index=True, ondelete="SET NULL", max_length=32
    )


class Message(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(foreign_key="conversation.id", index=True, ondelete="CASCADE")
    # The message this one answers or follows; None for a conversation's first message(s).
    # Siblings (same parent) are versions: regenerated replies, edited questions.
    parent_id: int | None = Field(
        default=None, foreign_key="message.id", index=True, ondelete="CASCADE"
    )
    role: str = Field(max_length=16)
    content: str = Field(default="", sa_type=Text)
    model: str | None = Field(default=None, max_length=200)  # the model that answered
    provider: str | None = Field(default=None, max_length=50)
    requested_model: str | None = Field(default=None, max_length=200)  # the model asked for
    input_tokens: int | None = None
    output_tokens: int | None = None
    status: MessageStatus = Field(default=MessageStatus.complete, sa_type=String(16))
    error: str | None = Field(default=None, sa_type=Text)
    # The system prompt version this reply was generated with (None: no system prompt).
    prompt_version_id: int | None = Field(
        default=None, foreign_key="prompt_version.id", ondelete="SET NULL"
    )
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Prompt(SQLModel, table=True):
    """A named system prompt in the library. Its text lives in versions, never edited."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    archived_at: datetime | None = Field(default=None)  # hidden from the picker; kept for history
    project_id: str | None = Field(
        default=None, foreign_key="project.id", index=True, ondelete="CASCADE", max_length=32
    )
    user_id: str | None = Field(
        default=None, foreign_key="user.id", index=True, ondelete="SET NULL", max_length=32
    )


class PromptVersion(SQLModel, table=True):
    """One immutable text of a prompt. Saving a changed prompt adds a version."""

    __tablename__ = "prompt_version"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (UniqueConstraint("prompt_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    prompt_id: int = Field(foreign_key="prompt.id", index=True, ondelete="CASCADE")
    version: int  # 1, 2, 3 ... per prompt
    body: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)


class AttachmentKind(StrEnum):
    text = "text"  # text or code: its content goes into the model's context
    image = "image"  # sent to vision-capable models


class Attachment(SQLModel, table=True):
    """A file a user attached. Stored under the upload root by ``stored_name`` (generated by
    the server, never the user's file name); ``filename`` is only for display."""

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    # Both None while the file waits in the composer; set when the message is sent.
    conversation_id: str | None = Field(
        default=None, foreign_key="conversation.id", index=True, ondelete="CASCADE"
    )
    message_id: int | None = Field(
        default=None, foreign_key="message.id", index=True, ondelete="CASCADE"
    )
    filename: str = Field(max_length=255)
    stored_name: str = Field(max_length=64, unique=True)
    media_type: str = Field(max_length=100)
    kind: AttachmentKind = Field(sa_type=String(16))
    size: int  # bytes
    created_at: datetime = Field(default_factory=utcnow)
    # Who uploaded it, into which project: a file still waiting in the composer belongs to
    # its uploader alone; once sent, readers of its conversation may read it.
    project_id: str | None = Field(
        default=None, foreign_key="project.id", index=True, ondelete="CASCADE", max_length=32
    )
    user_id: str | None = Field(
        default=None, foreign_key="user.id", index=True, ondelete="SET NULL", max_length=32
    )
