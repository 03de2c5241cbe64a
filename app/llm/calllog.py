"""One record per model call attempt, for the call log and the structured log.

The router (and the cache, for hits) builds a :class:`CallRecord` per attempt and hands it to a
:class:`CallSink`; the database sink lives in :mod:`app.services.calllog` (``app.llm`` never
imports ``app.db``). Every record is also written to the ``parley.llm.calls`` logger with the
OpenTelemetry GenAI attribute names (``gen_ai.request.model``, ``gen_ai.usage.input_tokens``
...) as ``extra`` fields.

Records hold no request headers, keys, prompts or provider error texts: only ids, counts,
timings and the error's class name. That is what keeps secrets out of the log.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal, Protocol

from app.llm.base import Usage
from app.llm.pricing import price

log = logging.getLogger("parley.llm.calls")

CallStatus = Literal["ok", "error", "cancelled"]

# request.metadata keys that the call log copies
CONTEXT_KEYS = (
    "user_id",
    "project_id",
    "conversation_id",
    "message_id",
    "feature",
    "prompt_version",
)


@dataclass(frozen=True, slots=True)
class CallRecord:
    provider: str
    model: str  # catalogue id
    provider_model: str
    status: CallStatus
    attempt: int = 1
    feature: str = "chat"
    prompt_version: str | None = None
    user_id: str | None = None
    project_id: str | None = None
    conversation_id: str | None = None
    message_id: int | None = None
    requested_model: str | None = None
    failover_from: str | None = None
    cache_hit: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost: Decimal | None = None  # None: unknown price
    price_version: str | None = None
    latency_ms: int = 0
    ttft_ms: int | None = None
    error_type: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class CallSink(Protocol):
    """Receives every call record. Must not raise; it is awaited in the stream's path."""

    async def __call__(self, record: CallRecord) -> None: ...


class ListSink:
    """Keeps records in memory (tests, and a default when no database is wired)."""

    def __init__(self) -> None:
        self.records: list[CallRecord] = []

    async def __call__(self, record: CallRecord) -> None:
        self.records.append(record)


def make_record(
    *,
    metadata: Mapping[str, str],
    provider: str,
    model: str,
    provider_model: str,
    status: CallStatus,
    usage: Usage | None,
    latency: float,
    ttft: float | None,
    attempt: int = 1,
    requested_model: str | None = None,
    failover_from: str | None = None,
    error: BaseException | None = None,
    cache_hit: bool = False,
) -> CallRecord:
    """A record with its cost: 0 for a cache hit, unknown when no usage came back."""
    usage = usage or Usage()
    if cache_hit:
        cost, version = Decimal(0), None
    elif usage == Usage() and status != "ok":
        cost, version = None, None  # nothing was reported; unknown, not free
    else:
        priced = price(provider, provider_model, usage)
        cost, version = priced.cost, priced.version
    message_id = metadata.get("message_id")
    return CallRecord(
        provider=provider,
        model=model,
        provider_model=provider_model,
        status=status,
        attempt=attempt,
        feature=metadata.get("feature") or "chat",
        prompt_version=metadata.get("prompt_version"),
        user_id=metadata.get("user_id"),
        project_id=metadata.get("project_id"),
        conversation_id=metadata.get("conversation_id"),
        message_id=int(message_id) if message_id and message_id.isdigit() else None,
        requested_model=requested_model,
        failover_from=failover_from,
        cache_hit=cache_hit,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        cost=cost,
        price_version=version,
        latency_ms=round(latency * 1000),
        ttft_ms=None if ttft is None else round(ttft * 1000),
        error_type=error_type(error) if error is not None else None,
    )


def error_type(error: BaseException) -> str:
    """The name of the error's class in :mod:`app.errors` (or its own class name)."""
    for cls in type(error).__mro__:
        if cls.__module__ == "app.errors":
            return cls.__name__
    return type(error).__name__


def otel_attributes(record: CallRecord) -> dict[str, str | int | float | bool]:
    """The record as OpenTelemetry GenAI semantic-convention attributes (plus parley.*)."""
    attrs: dict[str, str | int | float | bool] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": record.provider,
        "gen_ai.request.model": record.provider_model,
        "gen_ai.usage.input_tokens": record.input_tokens,
        "gen_ai.usage.output_tokens": record.output_tokens,
        "gen_ai.usage.cache_read.input_tokens": record.cache_read_tokens,
        "gen_ai.usage.cache_creation.input_tokens": record.cache_write_tokens,
        "parley.model": record.model,
        "parley.feature": record.feature,
        "parley.status": record.status,
        "parley.attempt": record.attempt,
        "parley.cache_hit": record.cache_hit,
        "parley.latency_ms": record.latency_ms,
    }
    if record.conversation_id:
        attrs["gen_ai.conversation.id"] = record.conversation_id
    if record.error_type:
        attrs["error.type"] = record.error_type
    if record.ttft_ms is not None:
        attrs["parley.ttft_ms"] = record.ttft_ms
    if record.cost is not None:
        attrs["parley.cost_usd"] = str(record.cost)
    if record.failover_from:
        attrs["parley.failover_from"] = record.failover_from
    if record.prompt_version:
        attrs["parley.prompt_version"] = record.prompt_version
    return attrs


def log_record(record: CallRecord) -> None:
    """Write the record to the ``parley.llm.calls`` logger as structured fields."""
    attrs = otel_attributes(record)
    level = logging.INFO if record.status != "error" else logging.WARNING
    log.log(
        level,
        "gen_ai call %s",
        " ".join(f"{k}={v}" for k, v in attrs.items()),
        extra=attrs,
    )


async def emit(sink: CallSink | None, record: CallRecord) -> None:
    """Log the record and hand it to the sink; a failing sink is logged, never raised."""
    log_record(record)
    if sink is None:
        return
    try:
        await sink(record)
    except Exception as exc:
        log.error("the call log sink failed: %r", exc)
