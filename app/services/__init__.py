"""Use-cases, and the process-wide service container the composition root fills."""

from __future__ import annotations

from app.services.chat import ChatService

_chat: ChatService | None = None


def configure(chat: ChatService) -> None:
    """Install the services this process uses (the composition root and tests call this)."""
    global _chat
    _chat = chat


def get_chat_service() -> ChatService:
    """The configured chat service; built from settings on first use if none was set."""
    global _chat
    if _chat is None:
        from app.services.wiring import build_chat_service
        from app.settings import get_settings

        _chat = build_chat_service(get_settings())
    return _chat


__all__ = ["ChatService", "configure", "get_chat_service"]
