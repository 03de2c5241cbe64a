"""The prompt library, and replies recording the prompt version they used, on SQLite and
PostgreSQL: a changed prompt never rewrites history, and a retry uses the recorded version."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from app.db.models import Message
from app.errors import InvalidInput, NotFound, ProviderOverloaded
from app.llm.fake import ScriptedProvider, ScriptedReply
from app.llm.registry import ModelInfo, ModelRegistry
from app.services.chat import ChatService
from app.services.options import ConversationOptions, PostExtras
from app.services.prompts import PromptService


async def test_create_edit_versions_and_archive(engine: Engine) -> None:
    prompts = PromptService(engine)
    reviewer = await prompts.create("  Code   reviewer ", "  Review the code.  ")
    assert (reviewer.name, reviewer.version, reviewer.body) == (
        "Code reviewer",
        1,
        "Review the code.",
    )

    same = await prompts.save(reviewer.id, "Code reviewer", "Review the code.")
    assert same.version == 1  # unchanged text: no new version
    changed = await prompts.save(reviewer.id, "Reviewer", "Review the code, harshly.")
    assert (changed.name, changed.version, changed.body) == (
        "Reviewer",
        2,
        "Review the code, harshly.",
    )
    history = await prompts.history(reviewer.id)
    assert [(v.version, v.body) for v in history] == [
        (2, "Review the code, harshly."),
        (1, "Review the code."),
    ]

    other = await prompts.create("Translator", "Translate to French.")
    assert [o.name for o in await prompts.options()] == ["Reviewer", "Translator"]
    await prompts.set_archived(other.id, True)
    assert [o.name for o in await prompts.options()] == ["Reviewer"]
    listed = await prompts.list(include_archived=True)
    assert [(p.name, p.archived) for p in listed] == [("Reviewer", False), ("Translator", True)]
    await prompts.set_archived(other.id, False)
    assert len(await prompts.options()) == 2


async def test_bad_input_gets_clear_errors(engine: Engine) -> None:
    prompts = PromptService(engine)
    with pytest.raises(InvalidInput, match="Give the prompt a name"):
        await prompts.create("   ", "text")
    with pytest.raises(InvalidInput, match="Write the prompt's text first"):
        await prompts.create("Name", "  \n ")
    with pytest.raises(InvalidInput, match="limit is 100"):
        await prompts.create("n" * 101, "text")
    await prompts.create("Reviewer", "text")
    with pytest.raises(InvalidInput, match="already exists"):
        await prompts.create("reviewer", "other")
    with pytest.raises(NotFound):
        await prompts.save(9999, "X", "text")


def chat_with(engine: Engine, *replies: ScriptedReply) -> tuple[ChatService, ScriptedProvider]:
    provider = ScriptedProvider(list(replies))
    registry = ModelRegistry(default="fake")
    registry.register(ModelInfo("fake", "Fake", "fake", "fake-1", context_window=4096), provider)
    return ChatService(engine, registry), provider


async def drain(chat: ChatService, message_id: int) -> None:
    await chat.stream_reply(message_id)


async def test_replies_record_their_version_and_retry_uses_it(engine: Engine) -> None:
    prompts = PromptService(engine)
    reviewer = await prompts.create("Reviewer", "Be kind.")
    chat, provider = chat_with(
        engine,
        ScriptedReply.of("first"),
        ScriptedReply.of("half", error=ProviderOverloaded("scripted")),
        ScriptedReply.of("retried"),
    )
    first = await chat.post_message(None, "hello", extras=PostExtras(prompt_id=reviewer.id))
    await drain(chat, first.reply.id)
    assert provider.requests[0].messages[0].role == "system"
    assert provider.requests[0].messages[0].content == "Be kind."
    assert provider.requests[0].metadata["prompt_version"]
    assert (await chat.get_message(first.reply.id)).prompt_label == "Reviewer v1"

    # Editing the prompt does not touch the reply already made with v1.
    await prompts.save(reviewer.id, "Reviewer", "Be blunt.")
    assert (await chat.get_message(first.reply.id)).prompt_label == "Reviewer v1"

    second = await chat.post_message(first.conversation.id, "again")
    assert second.reply.prompt_label == "Reviewer v2"
    await drain(chat, second.reply.id)
    assert provider.requests[1].messages[0].content == "Be blunt."

    # A v3 appears before the retry: the retried reply still uses its recorded v2.
    await prompts.save(reviewer.id, "Reviewer", "Be terse.")
    await chat.retry(second.reply.id)
    await drain(chat, second.reply.id)
    assert provider.requests[2].messages[0].content == "Be blunt."
    with Session(engine) as session:
        row = session.get(Message, second.reply.id)
        assert row is not None and row.content == "retried"
    page = await chat.history(first.conversation.id, limit=10)
    assert [m.prompt_label for m in page.messages] == ["", "Reviewer v1", "", "Reviewer v2"]


async def test_parameters_are_checked_per_provider_and_sent(engine: Engine) -> None:
    provider = ScriptedProvider(
        [ScriptedReply.of("a b c d e f", chunk_chars=2), ScriptedReply.of("x")]
    )
    registry = ModelRegistry(default="fake")
    registry.register(ModelInfo("fake", "Fake", "fake", "f", context_window=4096), provider)
    registry.register(
        ModelInfo("claude", "Claude", "anthropic", "c", context_window=200_000), provider
    )
    registry.register(ModelInfo("gpt", "GPT", "openai", "g", context_window=400_000), provider)
    chat = ChatService(engine, registry)
    options = ConversationOptions(engine, registry)

    assert options.check_parameters("gpt", "2", "400000").temperature == 2.0
    with pytest.raises(InvalidInput, match="between 0 and 2"):
        options.check_parameters("gpt", "2.1", "")
    with pytest.raises(InvalidInput, match="Claude takes no temperature"):
        options.check_parameters("claude", "0.5", "")
    with pytest.raises(InvalidInput, match="must be a number"):
        options.check_parameters("gpt", "warm", "")
    with pytest.raises(InvalidInput, match="between 1 and 4,096"):
        options.check_parameters("fake", "", "5000")
    with pytest.raises(InvalidInput, match="whole number"):
        options.check_parameters("fake", "", "1.5")
    with pytest.raises(InvalidInput, match="between 0 and 2"):
        options.check_parameters("fake", "nan", "")

    # A new chat's parameters travel with its first message; then they are the conversation's.
    params = options.check_parameters("fake", "0.3", "4")
    posted = await chat.post_message(None, "go", extras=PostExtras(parameters=params))
    await drain(chat, posted.reply.id)
    assert (provider.requests[0].temperature, provider.requests[0].max_tokens) == (0.3, 4)
    assert (await chat.get_message(posted.reply.id)).content == "a b c d "  # cut at 4 chunks
    saved = await options.get(posted.conversation.id)
    assert (saved.temperature, saved.max_tokens) == (0.3, 4)

    await options.set_parameters(posted.conversation.id, options.check_parameters("fake", "", ""))
    second = await chat.post_message(posted.conversation.id, "more")
    await drain(chat, second.reply.id)
    assert (provider.requests[1].temperature, provider.requests[1].max_tokens) == (None, None)

    with pytest.raises(NotFound):
        await options.set_prompt("missing", None)
    with pytest.raises(InvalidInput, match="no longer exists"):
        await options.set_prompt(posted.conversation.id, 12345)
