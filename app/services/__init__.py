"""Use-cases, and the process-wide service container the composition root fills."""

from __future__ import annotations

from app.services.attachments import AttachmentService
from app.services.chat import ChatService
from app.services.conversations import ConversationService
from app.services.options import ConversationOptions
from app.services.prompts import PromptService
from app.services.sharing import SharingService
from app.services.titles import TitleService

_chat: ChatService | None = None
_titles: TitleService | None = None
_conversations: ConversationService | None = None


def configure(
    chat: ChatService,
    *,
    titles: TitleService | None = None,
    conversations: ConversationService | None = None,
) -> None:
    """Install the services this process uses (the composition root and tests call this).

    Without ``titles``, conversations keep the provisional title from their first message.
    Without ``conversations``, one is made on the chat service's database.
    """
    global _chat, _titles, _conversations
    _chat, _titles = chat, titles
    _conversations = conversations or ConversationService(chat.engine, page_size=chat.page_size)


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


def get_conversation_service() -> ConversationService:
    get_chat_service()
    assert _conversations is not None
    return _conversations


def get_attachment_service() -> AttachmentService:
    return get_chat_service().attachments


def get_prompt_service() -> PromptService:
    return PromptService(get_chat_service().engine)


def get_conversation_options() -> ConversationOptions:
    chat = get_chat_service()
    return ConversationOptions(chat.engine, chat.models)


def get_sharing_service() -> SharingService:
    """Sharing on the chat's database; whether links are public is read from settings at
    each call (a test or an admin's restart changes it)."""
    from app.settings import get_settings

    return SharingService(get_chat_service().engine, public_links=get_settings().public_share_links)


__all__ = [
    "AttachmentService",
    "ChatService",
    "ConversationOptions",
    "ConversationService",
    "PromptService",
    "SharingService",
    "TitleService",
    "configure",
    "get_attachment_service",
    "get_chat_service",
    "get_conversation_options",
    "get_conversation_service",
    "get_prompt_service",
    "get_sharing_service",
    "get_title_service",
]
