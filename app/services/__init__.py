"""Use-cases, and the process-wide service container the composition root fills."""

from __future__ import annotations

from app.services.chat import ChatService
from app.services.titles import TitleService

_chat: ChatService | None = None
_titles: TitleService | None = None


def configure(chat: ChatService, *, titles: TitleService | None = None) -> None:
    """Install the services this process uses (the composition root and tests call this).

    Without ``titles``, conversations keep the provisional title from their first message.
    """
    global _chat, _titles
    _chat, _titles = chat, titles


def get_chat_service() -> ChatService:
    """The configured chat service; built from settings on first use if none was set."""
    if _chat is None:
        from app.services.wiring import build_chat_service
        from app.settings import get_settings

        chat = build_chat_service(get_settings())
        configure(chat, titles=TitleService(chat.engine, chat.models))
    assert _chat is not None
    return _chat


def get_title_service() -> TitleService | None:
    get_chat_service()
    return _titles


__all__ = ["ChatService", "TitleService", "configure", "get_chat_service", "get_title_service"]
