"""Builds the services from settings: which providers exist, which database, which timeouts."""

from __future__ import annotations

from app.db.session import get_engine
from app.llm.fake import load_rules, rule_provider
from app.llm.local import LocalProvider
from app.llm.registry import ModelInfo, ModelRegistry
from app.services.chat import ChatService
from app.settings import Settings


def build_registry(settings: Settings) -> ModelRegistry:
    registry = ModelRegistry(default=settings.default_model)
    registry.register(
        ModelInfo("local", "SmolLM2 135M (built-in)", "local", "smollm2-135m-instruct"),
        LocalProvider(
            settings.resolved_local_model_path,
            context=settings.local_context,
            threads=settings.local_threads,
            max_tokens=settings.local_max_tokens,
        ),
    )
    if settings.fake_script is not None:
        registry.register(
            ModelInfo("fake", "Scripted (tests and demos)", "fake", "fake"),
            rule_provider(load_rules(settings.fake_script)),
        )
    return registry


def build_chat_service(settings: Settings) -> ChatService:
    return ChatService(
        get_engine(settings.resolved_database_url),
        build_registry(settings),
        flush_interval=settings.stream_flush_ms / 1000,
        first_token_timeout=settings.first_token_timeout,
        call_timeout=settings.call_timeout,
        max_message_chars=settings.max_message_chars,
    )
