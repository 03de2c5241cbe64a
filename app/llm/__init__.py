"""Providers behind one interface (:mod:`app.llm.base`)."""

from app.llm.base import (
    ChatMessage,
    ChatRequest,
    ErrorEvent,
    Finish,
    ModelUsed,
    Provider,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolSpec,
    Usage,
    with_error_event,
)

__all__ = [
    "ChatMessage",
    "ChatRequest",
    "ErrorEvent",
    "Finish",
    "ModelUsed",
    "Provider",
    "StreamEvent",
    "TextDelta",
    "ToolCall",
    "ToolSpec",
    "Usage",
    "with_error_event",
]
