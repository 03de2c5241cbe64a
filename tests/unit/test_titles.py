"""Titles from the first exchange: cleaned, never over a user's rename, never fatal."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from app.db import crud
from app.db.session import session_scope
from app.errors import ProviderOverloaded
from app.llm.fake import ScriptedProvider, ScriptedReply
from app.llm.local import LocalProvider
from app.llm.registry import ModelInfo, ModelRegistry
from app.services.chat import ChatService
from app.services.titles import TitleService, clean_title
from app.settings import Settings


def services(
    engine: Engine, *replies: ScriptedReply
) -> tuple[ChatService, TitleService, ScriptedProvider]:
    provider = ScriptedProvider(list(replies))
    registry = ModelRegistry(default="fake")
    registry.register(ModelInfo("fake", "Fake", "fake", "fake-1"), provider)
    return ChatService(engine, registry), TitleService(engine, registry), provider


async def first_exchange(
    chat: ChatService, text: str = "How do I reverse a list in Python?"
) -> str:
    posted = await chat.post_message(None, text)
    await chat.stream_reply(posted.reply.id)
    return posted.conversation.id


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Reversing Python lists", "Reversing Python lists"),
        ('"Reversing Python lists."', "Reversing Python lists"),
        ("Title: **Reversing lists**\nMore text", "Reversing lists"),
        ("\n\n  “Lists in Python”  \n", "Lists in Python"),
        ("", ""),
        ("x" * 100, "x" * 59 + "…"),
    ],
)
def test_clean_title(raw: str, expected: str) -> None:
    assert clean_title(raw) == expected


async def test_the_first_exchange_gets_a_generated_title(engine: Engine) -> None:
    chat, titles, provider = services(
        engine,
        ScriptedReply.of("Use reversed() or slicing."),
        ScriptedReply.of('"Reversing lists."'),
    )
    conversation_id = await first_exchange(chat)
    assert await titles.generate(conversation_id) == "Reversing lists"
    assert (await chat.get_conversation(conversation_id)).title == "Reversing lists"
    request = provider.requests[-1]
    assert request.temperature == 0.0 and request.metadata["feature"] == "title"
    assert "How do I reverse a list" in request.messages[-1].content
    assert request.messages[0].role == "system"
    # Once generated, it is not generated again.
    assert await titles.generate(conversation_id) is None


async def test_a_users_rename_is_never_overwritten(engine: Engine) -> None:
    chat, titles, provider = services(engine, ScriptedReply.of("Answer."))
    conversation_id = await first_exchange(chat)
    with session_scope(engine) as session:
        crud.rename_conversation(session=session, conversation_id=conversation_id, title="Mine")
    assert await titles.generate(conversation_id) is None
    assert (await chat.get_conversation(conversation_id)).title == "Mine"
    assert len(provider.requests) == 1  # no title call was made


async def test_a_failing_model_leaves_the_provisional_title(engine: Engine) -> None:
    chat, titles, _ = services(
        engine,
        ScriptedReply.of("Answer."),
        ScriptedReply.of("", error=ProviderOverloaded("down")),
    )
    conversation_id = await first_exchange(chat, "What is a monad")
    assert await titles.generate(conversation_id) is None
    assert (await chat.get_conversation(conversation_id)).title == "What is a monad"


async def test_only_a_finished_first_exchange_is_titled(engine: Engine) -> None:
    chat, titles, provider = services(
        engine,
        ScriptedReply.of("Half", error=ProviderOverloaded("down")),
        ScriptedReply.of("A1"),
        ScriptedReply.of("A2"),
    )
    failed = await first_exchange(chat, "first")
    assert await titles.generate(failed) is None  # the reply failed: nothing to title from
    longer = await first_exchange(chat, "one")
    posted = await chat.post_message(longer, "two")
    await chat.stream_reply(posted.reply.id)
    assert await titles.generate(longer) is None  # past the first exchange
    assert await titles.generate("missing") is None
    assert len(provider.requests) == 3


@pytest.mark.local_model
async def test_the_built_in_model_writes_a_title(engine: Engine) -> None:
    local = LocalProvider(Settings().resolved_local_model_path, context=1024, max_tokens=64)
    registry = ModelRegistry(default="local")
    registry.register(ModelInfo("local", "SmolLM2", "local", "smollm2"), local)
    chat = ChatService(engine, registry)
    conversation_id = await first_exchange(chat, "Write a Python function that reverses a string.")
    title = await TitleService(engine, registry).generate(conversation_id)
    assert title and 0 < len(title) <= 60 and "\n" not in title
