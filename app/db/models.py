"""Every SQLModel table Parley has. Schema changes go through Alembic (``app/db/migrations``).

Timestamps are timezone-aware UTC; sqlmodel's UTC type rejects naive datetimes.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import String, Text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


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


class Message(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(foreign_key="conversation.id", index=True, ondelete="CASCADE")
    role: str = Field(max_length=16)
    content: str = Field(default="", sa_type=Text)
    model: str | None = Field(default=None, max_length=200)
    provider: str | None = Field(default=None, max_length=50)
    input_tokens: int | None = None
    output_tokens: int | None = None
    status: MessageStatus = Field(default=MessageStatus.complete, sa_type=String(16))
    error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
