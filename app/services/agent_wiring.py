"""The agent and extraction services the chat uses, built on the configured chat service.

Built on first use from settings (:class:`AgentService`: tools, MCP servers, limits) over
the chat service's database and models; rebuilt if the chat service is replaced (tests
configure their own), or set outright with :func:`configure_agents`.
"""

from __future__ import annotations

from app import services
from app.services.agent import AgentService
from app.services.agent_chat import AgentChat
from app.services.chat import ChatService
from app.services.extract_chat import ExtractChat

_built: tuple[ChatService, AgentChat, ExtractChat] | None = None


def configure_agents(agents: AgentService | None) -> None:
    """Use ``agents`` with the configured chat service (None: build from settings anew)."""
    global _built
    if agents is None:
        _built = None
        return
    chat = services.get_chat_service()
    _built = (chat, AgentChat(chat, agents), ExtractChat(chat, agents))


def _current() -> tuple[AgentChat, ExtractChat]:
    chat = services.get_chat_service()
    if _built is None or _built[0] is not chat:
        from app.settings import get_settings

        configure_agents(AgentService(get_settings(), chat.engine, chat.models))
    assert _built is not None
    return _built[1], _built[2]


def get_agent_chat() -> AgentChat:
    return _current()[0]


def get_extract_chat() -> ExtractChat:
    return _current()[1]
