"""The call log: one row per attempt of every LLM call, with its cost and price version."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Numeric,
)
from sqlmodel import Field, SQLModel

from app.db.models.base import utcnow


class CallLog(SQLModel, table=True):
    """One row per model call attempt (including failed attempts and cache hits).

    ``cost`` is in US dollars from genai-prices (``price_version`` says which data); NULL means
    the price is unknown, never free. No keys, prompts or provider error texts are stored.
    """

    __tablename__ = "call_log"  # pyright: ignore[reportAssignmentType]

    id: int | None = Field(default=None, primary_key=True)
    user_id: str | None = Field(default=None, max_length=64, index=True)
    project_id: str | None = Field(default=None, max_length=64, index=True)
    conversation_id: str | None = Field(default=None, max_length=32, index=True)
    message_id: int | None = Field(default=None)
    feature: str = Field(default="chat", max_length=32)  # chat, extract, agent, title ...
    prompt_version: str | None = Field(default=None, max_length=64)
    provider: str = Field(max_length=50)
    model: str = Field(max_length=200)  # catalogue id
    provider_model: str = Field(default="", max_length=200)
    requested_model: str | None = Field(default=None, max_length=200)
    input_tokens: int = 0  # all prompt tokens, cache reads and writes included
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost: Decimal | None = Field(default=None, sa_type=Numeric(18, 9))
    price_version: str | None = Field(default=None, max_length=64)
    latency_ms: int = 0
    ttft_ms: int | None = None
    status: str = Field(max_length=16)  # ok, error, cancelled
    error_type: str | None = Field(default=None, max_length=64)
    attempt: int = 1
    failover_from: str | None = Field(default=None, max_length=200)
    cache_hit: bool = False
    created_at: datetime = Field(default_factory=utcnow, index=True)


# ----- accounts and projects (issue 10) ------------------------------------------------------
