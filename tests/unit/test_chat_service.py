"""The chat use-case against a real database (SQLite and PostgreSQL) with a scripted provider."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, update
from sqlmodel import col

from app.db import crud
from app.db.models import CallLog, Message, utcnow
from app.db.session import session_scope
from app.errors import InvalidInput, NotFound, ProviderOverloaded
from app.llm.base import ChatRequest, Finish, ModelUsed, Provider, StreamEvent, TextDelta
from app.llm.catalogue import CatalogueEntry, Timeouts
from app.llm.fake import ScriptedProvider, ScriptedReply
from app.llm.registry import ModelInfo, ModelRegistry
from app.llm.router import Router, Target
from app.services.calllog import DatabaseCallSink
from app.services.chat import ChatService
from app.services.conversations import ConversationService
from app.services.kernel import STALE_MARGIN
from app.services.stream_hub import StreamEnd
from app.services.views import HistoryPage, MessageView


def service_with(
    engine: Engine, *replies: ScriptedReply, **kwargs: float
) -> tuple[ChatService, ScriptedProvider]:
    provider = ScriptedProvider(list(replies))
    registry = ModelRegistry(default="fake")
    registry.register(ModelInfo("fake", "Fake", "fake", "fake-1"), provider)
    return ChatService(engine, registry, **kwargs), provider  # type: ignore[arg-type]


async def drain(service: ChatService, message_id: int) -> MessageView:
    return await service.stream_reply(message_id)


async def text_until(
    service: ChatService, message_id: int, chars: int
) -> tuple[asyncio.Task[MessageView], str]:
    """Start streaming reply ``message_id``; return its task once the live channel has
    carried at least ``chars`` characters, with that text."""
    reader = service.hub.subscribe(message_id)
    task = asyncio.create_task(service.stream_reply(message_id))
    seen = ""
    while len(seen) < chars:
        chunks, end = await asyncio.wait_for(reader.batch(), timeout=5)
        seen += "".join(chunks)
        assert end is None, f"the reply ended early: {end}"
    return task, seen


async def test_a_reply_streams_and_persists_complete(engine: Engine) -> None:
    service, provider = service_with(engine, ScriptedReply.of("Hello there, friend."))
    posted = await service.post_message(None, "  Hi!  ")
    assert posted.created and posted.user.content == "Hi!"
    assert posted.reply.status == "streaming"

    returned = await drain(service, posted.reply.id)

    assert service.hub.text(posted.reply.id) == "Hello there, friend."
    saved = await service.get_message(posted.reply.id)
    assert (saved.status, saved.content, saved.error) == ("complete", "Hello there, friend.", "")
    assert returned == saved  # the reply as saved comes back with the stream's end
    assert saved.output_tokens == 3 and saved.input_tokens == 1
    assert provider.requests[0].messages[-1].content == "Hi!"
    assert provider.requests[0].model == "fake-1"


async def test_each_text_reaches_the_live_channel_as_it_arrives(engine: Engine) -> None:
    reply = ScriptedReply.of("x" * 400, chunk_chars=1, delay=0.001)
    service, _ = service_with(engine, reply)
    posted = await service.post_message(None, "go")
    reader = service.hub.subscribe(posted.reply.id)
    loop = asyncio.get_running_loop()
    start = loop.time()
    task = asyncio.create_task(service.stream_reply(posted.reply.id))
    first, _ = await reader.batch()
    first_at = loop.time() - start
    await task
    rest = [chunk async for chunk in reader if isinstance(chunk, str)]
    assert "".join(first + rest) == "x" * 400
    assert len(first + rest) == 400  # one chunk per token: nothing waits for a batch
    assert first_at < 0.05


async def test_a_stop_keeps_the_partial_reply_as_stopped(engine: Engine) -> None:
    reply = ScriptedReply.of("one two three four five six", chunk_chars=4, delay=0.05)
    service, _ = service_with(engine, reply)
    posted = await service.post_message(None, "count")
    task, seen = await text_until(service, posted.reply.id, 8)
    service.request_stop(posted.reply.id)
    returned = await task
    saved = await service.get_message(posted.reply.id)
    assert saved.status == "stopped" and returned == saved
    assert saved.content.startswith(seen) and 8 <= len(saved.content) < 27
    assert service.hub.subscribe(posted.reply.id).ready()[1] == StreamEnd("stopped")


async def test_a_provider_error_keeps_user_message_and_partial_text(engine: Engine) -> None:
    reply = ScriptedReply.of("Half a ", error=ProviderOverloaded("Overloaded, try later."))
    service, _ = service_with(engine, reply)
    posted = await service.post_message(None, "hello")
    await drain(service, posted.reply.id)
    assert service.hub.text(posted.reply.id) == "Half a "
    saved = await service.get_message(posted.reply.id)
    assert (saved.status, saved.content, saved.error) == (
        "error",
        "Half a ",
        "Overloaded, try later.",
    )
    page = await service.history(posted.conversation.id, limit=10)
    assert [m.role for m in page.messages] == ["user", "assistant"]
    assert page.messages[0].content == "hello"


async def test_a_silent_provider_hits_the_first_token_timeout(engine: Engine) -> None:
    reply = ScriptedReply.of("late", first_delay=5)
    service, _ = service_with(engine, reply, first_token_timeout=0.2)
    posted = await service.post_message(None, "hello")
    loop = asyncio.get_running_loop()
    start = loop.time()
    await drain(service, posted.reply.id)
    assert 0.2 <= loop.time() - start < 1.0  # at the limit, not at the provider's 5 s
    saved = await service.get_message(posted.reply.id)
    assert saved.status == "error" and "first token" in saved.error


async def test_the_second_turn_sends_the_history(engine: Engine) -> None:
    service, provider = service_with(engine, ScriptedReply.of("A1"), ScriptedReply.of("A2"))
    first = await service.post_message(None, "Q1")
    await drain(service, first.reply.id)
    second = await service.post_message(first.conversation.id, "Q2")
    assert not second.created
    await drain(service, second.reply.id)
    contents = [(m.role, m.content) for m in provider.requests[1].messages]
    assert contents == [("user", "Q1"), ("assistant", "A1"), ("user", "Q2")]


async def test_a_question_left_without_its_reply_joins_the_next_one_in_one_turn(
    engine: Engine,
) -> None:
    """After its reply is deleted, a question stays on screen; the next question goes under
    it, and the model gets both as one user turn (providers expect turns to alternate)."""
    service, provider = service_with(engine, ScriptedReply.of("A1"), ScriptedReply.of("A2"))
    first = await service.post_message(None, "Q1")
    await drain(service, first.reply.id)
    await service.delete_message(first.reply.id)
    second = await service.post_message(first.conversation.id, "Q2")
    await drain(service, second.reply.id)
    assert [(m.role, m.content) for m in provider.requests[1].messages] == [("user", "Q1\n\nQ2")]


async def test_history_pages_newest_last(engine: Engine) -> None:
    service, _ = service_with(engine, *[ScriptedReply.of(f"A{i}") for i in range(3)])
    cid = None
    for i in range(3):
        posted = await service.post_message(cid, f"Q{i}")
        cid = posted.conversation.id
        await drain(service, posted.reply.id)
    assert cid is not None
    last = await service.history(cid, limit=2)
    assert [m.content for m in last.messages] == ["Q2", "A2"] and last.has_more
    earlier = await service.history(cid, limit=10, before_id=last.messages[0].id)
    assert [m.content for m in earlier.messages] == ["Q0", "A0", "Q1", "A1"]
    assert not earlier.has_more


async def test_bad_input_is_refused_with_a_clear_message(engine: Engine) -> None:
    service, _ = service_with(engine)
    service.max_message_chars = 10
    with pytest.raises(InvalidInput, match="Type a message"):
        await service.post_message(None, "   ")
    with pytest.raises(InvalidInput, match="limit is 10"):
        await service.post_message(None, "x" * 11)
    with pytest.raises(NotFound):
        await service.post_message("nope", "hello")
    assert (await ConversationService(engine).sidebar()).conversations == []


async def test_interrupted_replies_are_recovered_as_errors(engine: Engine) -> None:
    service, _ = service_with(engine)
    posted = await service.post_message(None, "hello")
    assert await service.recover_interrupted() == 1
    saved = await service.get_message(posted.reply.id)
    assert saved.status == "error" and "Interrupted" in saved.error


async def test_posted_conversations_page_newest_first_in_the_sidebar(engine: Engine) -> None:
    service, _ = service_with(engine, *[ScriptedReply.of("ok") for _ in range(3)])
    ids = []
    for i in range(3):
        posted = await service.post_message(None, f"topic {i}")
        await drain(service, posted.reply.id)
        ids.append(posted.conversation.id)
    conversations = ConversationService(engine)
    page = await conversations.sidebar(limit=2)
    assert [c.id for c in page.conversations] == [ids[2], ids[1]]
    assert page.next_before is not None
    rest = await conversations.sidebar(limit=2, updated_before=page.next_before)
    assert [c.id for c in rest.conversations] == [ids[0]] and rest.next_before is None
    assert page.conversations[0].title == "topic 2"


async def test_a_cancelled_stream_is_saved_as_interrupted_not_stopped(engine: Engine) -> None:
    reply = ScriptedReply.of("one two three four five six", chunk_chars=4, delay=0.05)
    service, _ = service_with(engine, reply)
    posted = await service.post_message(None, "count")
    task, _ = await text_until(service, posted.reply.id, 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    saved = await service.get_message(posted.reply.id)
    assert saved.status == "error" and "Interrupted" in saved.error
    assert saved.content and len(saved.content) < 27


class AnswersAs:
    """A provider that says another model answered (as the router does on failover)."""

    name = "router"

    def __init__(self, answered_by: str) -> None:
        self.answered_by = answered_by

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        yield ModelUsed(self.answered_by, "fake", "fake-2", fallback=True, requested="first")
        yield TextDelta("from the fallback")
        yield Finish("stop")


def two_model_service(engine: Engine, first: Provider, second: Provider) -> ChatService:
    registry = ModelRegistry(default="first")
    registry.register(ModelInfo("first", "First model", "fake", "fake-1"), first)
    registry.register(ModelInfo("second", "Second model", "fake", "fake-2"), second)
    return ChatService(engine, registry)


async def test_the_chosen_model_answers_and_becomes_the_conversations(engine: Engine) -> None:
    first = ScriptedProvider([ScriptedReply.of("one")])
    second = ScriptedProvider([ScriptedReply.of("two"), ScriptedReply.of("three")])
    service = two_model_service(engine, first, second)
    assert [(m.id, m.name) for m in service.available_models()] == [
        ("first", "First model"),
        ("second", "Second model"),
    ]
    posted = await service.post_message(None, "hi", model="second")
    await drain(service, posted.reply.id)
    assert posted.conversation.model == "second"
    follow = await service.post_message(posted.conversation.id, "again")
    await drain(service, follow.reply.id)
    saved = await service.get_message(follow.reply.id)
    assert (saved.content, saved.model, saved.model_name) == ("three", "second", "Second model")
    assert not saved.fallback and len(first.requests) == 0
    with pytest.raises(InvalidInput, match="not configured"):
        await service.post_message(None, "hi", model="nope")


async def test_a_reply_from_a_fallback_is_marked(engine: Engine) -> None:
    service = two_model_service(engine, AnswersAs("second"), ScriptedProvider([]))
    posted = await service.post_message(None, "hi")
    await drain(service, posted.reply.id)
    saved = await service.get_message(posted.reply.id)
    assert (saved.model, saved.model_name, saved.fallback) == ("second", "Second model", True)


async def test_retry_streams_a_failed_reply_again_from_the_requested_model(engine: Engine) -> None:
    failing = ScriptedReply.of("Half", error=ProviderOverloaded("Overloaded."))
    service, provider = service_with(engine, failing, ScriptedReply.of("Whole answer"))
    posted = await service.post_message(None, "hello")
    await drain(service, posted.reply.id)
    reset = await service.retry(posted.reply.id)
    assert (reset.id, reset.status, reset.content, reset.error) == (
        posted.reply.id,
        "streaming",
        "",
        "",
    )
    await drain(service, posted.reply.id)
    saved = await service.get_message(posted.reply.id)
    assert (saved.status, saved.content) == ("complete", "Whole answer")
    # The retried request carries the history without the failed partial reply.
    assert [m.content for m in provider.requests[1].messages] == ["hello"]
    with pytest.raises(InvalidInput, match="failed or stopped"):
        await service.retry(posted.reply.id)
    with pytest.raises(NotFound):
        await service.retry(posted.user.id)


async def test_only_the_latest_reply_can_be_retried(engine: Engine) -> None:
    failing = ScriptedReply.of("", error=ProviderOverloaded("Overloaded."))
    service, _ = service_with(engine, failing, ScriptedReply.of("ok"))
    first = await service.post_message(None, "one")
    await drain(service, first.reply.id)
    second = await service.post_message(first.conversation.id, "two")
    await drain(service, second.reply.id)
    with pytest.raises(InvalidInput, match="latest"):
        await service.retry(first.reply.id)


async def test_request_stop_ends_the_stream_as_stopped_with_the_text_so_far(
    engine: Engine,
) -> None:
    reply = ScriptedReply.of("one two three four five six", chunk_chars=4, delay=0.05)
    service, _ = service_with(engine, reply)
    posted = await service.post_message(None, "count")
    task, _ = await text_until(service, posted.reply.id, 8)
    service.request_stop(posted.reply.id)
    await task
    saved = await service.get_message(posted.reply.id)
    assert saved.status == "stopped"
    # What the live channel carried is what was saved: nothing after the Stop.
    assert saved.content == service.hub.text(posted.reply.id) and 8 <= len(saved.content) < 27


async def test_request_stop_acts_while_the_provider_is_silent(engine: Engine) -> None:
    service, _ = service_with(engine, ScriptedReply.of("late", first_delay=30))
    posted = await service.post_message(None, "hello")
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(service.stream_reply(posted.reply.id))
    await asyncio.sleep(0.05)  # streaming, and the provider silent
    stopped_at = loop.time()
    service.request_stop(posted.reply.id)
    saved = await task
    assert loop.time() - stopped_at < 0.5  # the save included; the provider waits 30 s
    assert (saved.status, saved.content) == ("stopped", "")


async def test_a_stop_before_the_stream_starts_ends_it_as_it_starts(engine: Engine) -> None:
    service, provider = service_with(engine, ScriptedReply.of("never"))
    posted = await service.post_message(None, "hello")
    service.request_stop(posted.reply.id)
    saved = await drain(service, posted.reply.id)
    assert (saved.status, saved.content) == ("stopped", "") and provider.requests == []


# ----- the message tree: regenerate, edit and resend, versions, delete ----------------------


def contents(page: HistoryPage) -> list[str]:
    return [m.content for m in page.messages]


async def conversation_of(service: ChatService, *turns: str) -> tuple[str, list[MessageView]]:
    """A conversation of (question, answer) turns, each reply streamed; returns the views."""
    cid: str | None = None
    for question in turns:
        posted = await service.post_message(cid, question)
        cid = posted.conversation.id
        await drain(service, posted.reply.id)
    assert cid is not None
    return cid, (await service.history(cid, limit=100)).messages


async def test_regenerate_keeps_the_old_reply_as_a_version_and_sends_only_the_branch(
    engine: Engine,
) -> None:
    service, provider = service_with(
        engine, ScriptedReply.of("A1"), ScriptedReply.of("A1 again"), ScriptedReply.of("A2")
    )
    cid, (q1, a1) = await conversation_of(service, "Q1")
    fresh = await service.regenerate(a1.id)
    assert (fresh.status, fresh.parent_id, fresh.version, fresh.versions) == (
        "streaming",
        q1.id,
        2,
        2,
    )
    assert fresh.previous_version == a1.id and fresh.next_version == -1
    await drain(service, fresh.id)
    # The model got the question, not the reply it replaces.
    assert [(m.role, m.content) for m in provider.requests[1].messages] == [("user", "Q1")]
    page = await service.history(cid, limit=10)
    assert contents(page) == ["Q1", "A1 again"]
    assert (page.messages[1].version, page.messages[1].versions) == (2, 2)

    await service.switch_version(a1.id)
    page = await service.history(cid, limit=10)
    assert contents(page) == ["Q1", "A1"]
    shown = page.messages[1]
    assert (shown.version, shown.versions, shown.previous_version, shown.next_version) == (
        1,
        2,
        -1,
        fresh.id,
    )
    # A message sent now follows the branch on screen.
    follow = await service.post_message(cid, "Q2")
    await drain(service, follow.reply.id)
    assert [m.content for m in provider.requests[2].messages] == ["Q1", "A1", "Q2"]
    assert contents(await service.history(cid, limit=10)) == ["Q1", "A1", "Q2", "A2"]
    await service.switch_version(fresh.id)
    assert contents(await service.history(cid, limit=10)) == ["Q1", "A1 again"]


async def test_edit_and_resend_starts_a_branch_and_the_old_one_stays_reachable(
    engine: Engine,
) -> None:
    replies = [ScriptedReply.of(text) for text in ("A1", "A2", "A2 edited", "A3")]
    service, provider = service_with(engine, *replies)
    cid, (_, _, q2, _) = await conversation_of(service, "Q1", "Q2")
    edited = await service.edit_and_resend(q2.id, "  Q2, better  ")
    assert not edited.created
    assert (edited.user.content, edited.user.version, edited.user.versions) == ("Q2, better", 2, 2)
    assert edited.user.previous_version == q2.id and edited.reply.parent_id == edited.user.id
    await drain(service, edited.reply.id)
    assert [m.content for m in provider.requests[2].messages] == ["Q1", "A1", "Q2, better"]
    assert contents(await service.history(cid, limit=10)) == ["Q1", "A1", "Q2, better", "A2 edited"]

    await service.switch_version(q2.id)  # the old question, with its old reply
    assert contents(await service.history(cid, limit=10)) == ["Q1", "A1", "Q2", "A2"]
    await service.switch_version(edited.user.id)
    follow = await service.post_message(cid, "Q3")
    await drain(service, follow.reply.id)
    assert [m.content for m in provider.requests[3].messages] == [
        "Q1",
        "A1",
        "Q2, better",
        "A2 edited",
        "Q3",
    ]
    with pytest.raises(InvalidInput, match="Type a message"):
        await service.edit_and_resend(q2.id, "  ")


async def test_editing_the_first_question_makes_a_new_root(engine: Engine) -> None:
    service, _ = service_with(engine, ScriptedReply.of("A1"), ScriptedReply.of("B1"))
    cid, (q1, _) = await conversation_of(service, "Q1")
    edited = await service.edit_and_resend(q1.id, "Other Q1")
    await drain(service, edited.reply.id)
    page = await service.history(cid, limit=10)
    assert contents(page) == ["Other Q1", "B1"]
    first = page.messages[0]
    assert (first.parent_id, first.version, first.versions, first.previous_version) == (
        -1,
        2,
        2,
        q1.id,
    )


async def test_delete_moves_the_screen_to_the_nearest_version_else_the_parent(
    engine: Engine,
) -> None:
    replies = [ScriptedReply.of(text) for text in ("A1", "A1 v2", "A2", "A2 v2", "A1 v3")]
    service, _ = service_with(engine, *replies)
    cid, (q1, a1) = await conversation_of(service, "Q1")
    v2 = await service.regenerate(a1.id)
    await drain(service, v2.id)
    follow = await service.post_message(cid, "Q2")  # under "A1 v2"
    await drain(service, follow.reply.id)
    edited = await service.edit_and_resend(follow.user.id, "Q2 v2")
    await drain(service, edited.reply.id)
    assert contents(await service.history(cid, limit=10)) == ["Q1", "A1 v2", "Q2 v2", "A2 v2"]

    # A question takes its reply; the screen moves to the older version of that question.
    await service.delete_message(edited.user.id)
    with pytest.raises(NotFound):
        await service.get_message(edited.reply.id)
    assert contents(await service.history(cid, limit=10)) == ["Q1", "A1 v2", "Q2", "A2"]
    # A reply with versions: the screen moves to the older one (A1), at its newest leaf.
    await service.delete_message(v2.id)
    page = await service.history(cid, limit=10)
    assert contents(page) == ["Q1", "A1"]
    assert (page.messages[1].version, page.messages[1].versions) == (1, 1)
    # A message on another branch: the screen stays.
    v3 = await service.regenerate(a1.id)
    await drain(service, v3.id)
    await service.switch_version(a1.id)
    await service.delete_message(v3.id)
    assert contents(await service.history(cid, limit=10)) == ["Q1", "A1"]
    # The only reply: the screen moves to its question; the only question: to nothing.
    await service.delete_message(a1.id)
    assert contents(await service.history(cid, limit=10)) == ["Q1"]
    await service.delete_message(q1.id)
    assert contents(await service.history(cid, limit=10)) == []
    with pytest.raises(NotFound):
        await service.delete_message(q1.id)


async def test_actions_are_refused_while_the_conversations_reply_streams(engine: Engine) -> None:
    service, _ = service_with(engine, ScriptedReply.of("A1"), ScriptedReply.of("A2"))
    cid, (q1, a1) = await conversation_of(service, "Q1")
    posted = await service.post_message(cid, "Q2")  # its reply is waiting to stream
    busy = "Wait for the current reply to finish"
    for action in (
        service.regenerate(a1.id),
        service.edit_and_resend(q1.id, "again"),
        service.switch_version(a1.id),
        service.delete_message(a1.id),
        service.post_message(cid, "Q3"),
    ):
        with pytest.raises(InvalidInput, match=busy):
            await action
    assert contents(await service.history(cid, limit=10)) == ["Q1", "A1", "Q2", ""]
    await drain(service, posted.reply.id)
    await service.switch_version(a1.id)  # free again
    # Another conversation is not held up meanwhile.
    other = await service.post_message(None, "elsewhere")
    assert other.created


async def test_a_reply_left_streaming_by_a_dead_process_does_not_block_forever(
    engine: Engine,
) -> None:
    service, _ = service_with(engine, ScriptedReply.of("A1"))
    cid, _ = await conversation_of(service, "Q1")
    posted = await service.post_message(cid, "Q2")
    long_ago = utcnow() - timedelta(seconds=service.call_timeout + STALE_MARGIN + 1)
    with session_scope(engine) as session:
        session.execute(
            update(Message).where(col(Message.id) == posted.reply.id).values(updated_at=long_ago)
        )
    await service.delete_message(posted.user.id)
    assert contents(await service.history(cid, limit=10)) == ["Q1", "A1"]


async def test_actions_on_missing_or_wrong_messages_say_what_is_wrong(engine: Engine) -> None:
    service, _ = service_with(engine, ScriptedReply.of("A1"))
    _, (q1, a1) = await conversation_of(service, "Q1")
    with pytest.raises(NotFound, match="reply does not exist"):
        await service.regenerate(q1.id)
    with pytest.raises(NotFound, match="message does not exist"):
        await service.edit_and_resend(a1.id, "text")
    with pytest.raises(NotFound, match="version does not exist"):
        await service.switch_version(10**9)
    with pytest.raises(InvalidInput, match="not configured"):
        await service.regenerate(a1.id, model="nope")


async def test_retry_acts_only_on_the_leaf_on_screen(engine: Engine) -> None:
    failing = ScriptedReply.of("", error=ProviderOverloaded("Overloaded."))
    service, _ = service_with(engine, failing, ScriptedReply.of("ok"), ScriptedReply.of("again"))
    cid, (_, a1) = await conversation_of(service, "Q1")
    fresh = await service.regenerate(a1.id)
    await drain(service, fresh.id)
    with pytest.raises(InvalidInput, match="latest"):
        await service.retry(a1.id)  # failed, but an older version
    await service.switch_version(a1.id)
    await service.retry(a1.id)
    await drain(service, a1.id)
    assert contents(await service.history(cid, limit=10)) == ["Q1", "again"]


async def test_history_pages_the_branch_on_screen(engine: Engine) -> None:
    service, _ = service_with(engine, *[ScriptedReply.of(f"A{i}") for i in range(4)])
    cid, messages = await conversation_of(service, "Q0", "Q1", "Q2")
    regenerated = await service.regenerate(messages[3].id)  # A1 -> A3, under Q1
    await drain(service, regenerated.id)
    last = await service.history(cid, limit=2)
    assert contents(last) == ["Q1", "A3"] and last.has_more
    earlier = await service.history(cid, limit=2, before_id=last.messages[0].id)
    assert contents(earlier) == ["Q0", "A0"] and not earlier.has_more


async def test_costs_per_reply_and_for_the_conversation_come_from_the_call_log(
    engine: Engine,
) -> None:
    """The scripted provider behind the real router and call-log sink: it is priced as free,
    known to be. Priced rows of another provider are added as the router would write them."""
    scripted = ScriptedProvider([ScriptedReply.of("A1"), ScriptedReply.of("A1 again")])
    entry = CatalogueEntry("fake", "fake", "fake-1", "Fake", 1000, (), Timeouts(5, 5, 5))
    registry = ModelRegistry(default="fake")
    router = Router([Target(entry, scripted)], sink=DatabaseCallSink(engine))
    registry.register(ModelInfo("fake", "Fake", "fake", "fake-1"), router)
    service = ChatService(engine, registry)
    cid, (_, a1) = await conversation_of(service, "Q1")
    assert (a1.cost, a1.cost_label) == ("free", "Cost nothing: a free model answered")
    assert (await service.spend(cid)).text == "$0 spent"

    fresh = await service.regenerate(a1.id)
    assert fresh.cost == ""  # nothing logged yet
    await drain(service, fresh.id)
    with session_scope(engine) as session:
        for cost in (Decimal("0.00042"), Decimal("0.0001")):
            row = {"conversation_id": cid, "message_id": fresh.id, "provider": "anthropic"}
            crud.add_call_log(
                session=session,
                call=CallLog.model_validate(
                    {**row, "model": "m", "status": "ok", "cost": cost, "ttft_ms": 5}
                ),
            )
        crud.add_call_log(
            session=session,
            call=CallLog.model_validate(
                {
                    "conversation_id": cid,
                    "provider": "anthropic",
                    "model": "m",
                    "status": "ok",
                    "feature": "title",
                    "cost": Decimal("0.01"),
                    "output_tokens": 4,
                }
            ),
        )
    shown = await service.get_message(fresh.id)
    assert shown.cost == "$0.0005" and "3 attempts" in shown.cost_label
    page = await service.history(cid, limit=10)
    assert [m.cost for m in page.messages] == ["", "$0.0005"]
    total = await service.spend(cid)
    assert total.text == "$0.0105 spent"  # both versions and the title
    # An unknown price is never shown as $0.
    with session_scope(engine) as session:
        crud.add_call_log(
            session=session,
            call=CallLog.model_validate(
                {
                    "conversation_id": cid,
                    "message_id": a1.id,
                    "provider": "x",
                    "model": "m",
                    "status": "ok",
                    "output_tokens": 9,
                    "ttft_ms": 5,
                }
            ),
        )
    await service.switch_version(a1.id)
    page = await service.history(cid, limit=10)
    assert page.messages[1].cost == "cost unknown"
    assert (await service.spend(cid)).text == "≥ $0.0105 spent"
