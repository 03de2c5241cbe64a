"""The vendor-neutral provider interface: request types, stream events, and the Protocol.

A provider turns a :class:`ChatRequest` into an async stream of :data:`StreamEvent`. It raises
errors from :mod:`app.errors` (mapped from its SDK inside its own module). Consumers that prefer
one stream of events without ``try`` can wrap a stream with :func:`with_error_event`, which ends
it with an :class:`ErrorEvent` instead of raising.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from app.errors import ProviderError, StreamInterrupted, public_error

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_use", "content_filter", "error", "cancelled"]


ImageMediaType = Literal["image/png", "image/jpeg", "image/gif", "image/webp"]


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image sent with a user message, to models that can see (``vision`` in the
    catalogue). ``data`` is the file's bytes; adapters encode them as their API wants."""

    media_type: ImageMediaType
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model asks for (a stream event), and part of the assistant turn that made
    it when the conversation goes back to the model."""

    id: str
    name: str
    arguments: str  # JSON text


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One turn. ``tool_calls``: on an assistant turn, the calls it made. A ``tool`` turn
    carries one call's result in ``content``, and names the call in ``tool_call_id``."""

    role: Role
    content: str
    images: tuple[ImagePart, ...] = ()  # user messages only
    tool_calls: tuple[ToolCall, ...] = ()  # assistant messages only
    tool_call_id: str = ""  # tool messages only
    is_error: bool = False  # tool messages only: the tool failed


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool offered to the model: its name, what it does, and its arguments' JSON Schema."""

    name: str
    description: str
    parameters: dict[str, object] = field(hash=False, compare=False)


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """``tools`` are offered to models with native tool calling; ``tool_choice`` names one
    the model must call (structured extraction). ``response_schema`` asks for a JSON reply
    matching that schema (a grammar on the built-in model, JSON-schema mode on OpenAI)."""

    model: str
    messages: tuple[ChatMessage, ...]
    temperature: float | None = None
    max_tokens: int | None = None
    metadata: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str | None = None
    response_schema: dict[str, object] | None = field(default=None, hash=False, compare=False)


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts for one call. ``input_tokens`` counts every prompt token, including the
    ones read from or written to the provider's prompt cache (OpenAI's ``prompt_tokens``;
    for Anthropic, ``input_tokens + cache_read_input_tokens + cache_creation_input_tokens``).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Finish:
    reason: FinishReason


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    error: ProviderError


@dataclass(frozen=True, slots=True)
class ModelUsed:
    """Which model actually answered. The router yields it once, before the reply's first
    event; ``fallback`` is true when it is not the model that was asked for."""

    model: str  # catalogue id, e.g. "claude-sonnet-4-5"
    provider: str  # e.g. "anthropic"
    provider_model: str  # the id the provider's API was sent
    fallback: bool = False
    requested: str = ""  # the catalogue id that was asked for
    attempt: int = 1  # 1-based count of attempts this reply took, over all models


StreamEvent = TextDelta | ToolCall | Usage | Finish | ErrorEvent | ModelUsed


@runtime_checkable
class Provider(Protocol):
    """Something that streams a chat reply. One class per vendor API."""

    name: str

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Stream the reply. Raises :class:`app.errors.ProviderError` subclasses."""
        ...


async def with_error_event(events: AsyncIterator[StreamEvent]) -> AsyncIterator[StreamEvent]:
    """Re-yield ``events``; a provider error becomes a final :class:`ErrorEvent`.

    Any other exception escaping a provider is a bug in that provider; it is reported as a
    :class:`StreamInterrupted` so one broken adapter cannot take a session down with it.
    """
    try:
        async for event in events:
            yield event
    except ProviderError as exc:
        yield ErrorEvent(exc)
    except Exception as exc:  # a provider bug must not crash the caller's session
        yield ErrorEvent(StreamInterrupted(public_error(exc)))


async def closing_events(events: AsyncIterator[StreamEvent]) -> AsyncGenerator[StreamEvent, None]:
    """Any async iterator of events as an async generator, so ``aclosing`` can close it
    (closing the generator closes the iterator it wraps)."""
    try:
        async for event in events:
            yield event
    finally:
        close = getattr(events, "aclose", None)
        if close is not None:
            await close()
