"""The guards as wired into the chat service: a send refused before anything is saved, the
call's context in the request and the call log, budget warnings, secrets kept out of logs."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from app.db.models import Conversation, Message, Project, User
from app.errors import AuthenticationFailed, BudgetExceeded, LimitExceeded
from app.guards import Guards, ModelLimits, guard, redact
from app.guards.budgets import BudgetGuard, Limits
from app.guards.ratelimit import LimitRules, RateLimiter
from app.guards.store import DatabaseGuardStore
from app.llm.fake import ScriptedProvider, ScriptedReply
from app.llm.registry import ModelInfo, ModelRegistry
from app.services.calllog import DatabaseCallSink
from app.services.chat import ChatService
from app.services.options import PostExtras, parse_parameters


def service(
    engine: Engine, guards: Guards, *replies: ScriptedReply
) -> tuple[ChatService, ScriptedProvider]:
    inner = ScriptedProvider(list(replies) or [ScriptedReply.of("ok")] * 20)
    registry = ModelRegistry(default="m")
    registry.register(
        ModelInfo("m", "Model", "fake", "fake", max_output_tokens=100),
        guard(inner, [ModelLimits("m", "fake", "fake", 100)], guards),
    )
    calls = DatabaseCallSink(engine)
    return ChatService(engine, registry, calls=calls), inner


def rows(engine: Engine) -> tuple[int, int]:
    with Session(engine) as session:
        return (
            len(session.exec(select(Conversation)).all()),
            len(session.exec(select(Message)).all()),
        )


async def test_a_rate_limited_send_saves_nothing_and_says_when(engine: Engine) -> None:
    limiter = RateLimiter(LimitRules(requests={"ip": "1/minute"}))
    chat, inner = service(engine, Guards(limiter=limiter))
    posted = await chat.post_message(None, "first", client_ip="10.0.0.9")
    await chat.stream_reply(posted.reply.id)
    before = rows(engine)
    with pytest.raises(LimitExceeded) as refused:
        await chat.post_message(posted.conversation.id, "second", client_ip="10.0.0.9")
    assert rows(engine) == before  # nothing saved
    assert 0 < (refused.value.retry_after or 0) <= 60 and "Try again in" in refused.value.message
    assert inner.requests[0].metadata["client_ip"] == "10.0.0.9"
    # Another address has its own window.
    other = await chat.post_message(posted.conversation.id, "third", client_ip="10.0.0.8")
    await chat.stream_reply(other.reply.id)
    assert len(inner.requests) == 2


async def test_a_budget_refusal_carries_its_figures_and_saves_nothing(engine: Engine) -> None:
    store = DatabaseGuardStore(engine)
    budgets = BudgetGuard(store, defaults={"project": Limits(tokens=150)}, warn_at=(0.5,))
    chat, inner = service(engine, Guards(budgets=budgets, default_max_tokens=100))
    with Session(engine) as session:
        session.add(User(id="u1", email="u1@example.org"))
        session.add(Project(id="p1", name="P1"))
        session.flush()
        conversation = Conversation(title="t", model="m", user_id="u1", project_id="p1")
        second = Conversation(title="t2", model="m", user_id="u1", project_id="p1")
        session.add_all([conversation, second])
        session.commit()
        cid, cid2 = conversation.id, second.id
    other = await chat.post_message(None, "elsewhere")  # no project: no project budget
    posted = await chat.post_message(cid, "hello")
    assert posted.warnings and "50%" in posted.warnings[0]  # ~105 of 150 tokens
    before = rows(engine)
    # The first reply has not streamed yet: its worst case is reserved, so a send in the
    # same project could cross the budget.
    with pytest.raises(BudgetExceeded) as refused:
        await chat.post_message(cid2, "again")
    assert rows(engine) == before
    error = refused.value
    assert (error.scope, error.unit, error.limit) == ("project", "tokens", Decimal(150))
    assert error.spent > 100 and error.worst_case > 100
    assert f"{int(error.spent):,} tokens spent of 150 tokens" in error.message
    for reply in (other.reply.id, posted.reply.id):
        await chat.stream_reply(reply)
    # The call's metadata (which the call log copies) names the conversation's owners.
    assert inner.requests[1].metadata["project_id"] == "p1"
    assert inner.requests[1].metadata["user_id"] == "u1"
    assert "project_id" not in inner.requests[0].metadata
    again = await chat.post_message(cid, "again")  # the reservation was given back
    await chat.stream_reply(again.reply.id)


async def test_a_refused_send_keeps_its_files_pending(engine: Engine) -> None:
    limiter = RateLimiter(LimitRules(concurrent_streams=1))
    chat, _ = service(engine, Guards(limiter=limiter))
    first = await chat.post_message(None, "one", client_ip="10.0.0.1")  # holds the slot
    added = await chat.attachments.add_many([("a.txt", 3, _reader(b"abc"))], pending=0)
    (file,) = added.added
    with pytest.raises(LimitExceeded):
        await chat.post_message(
            None, "two", extras=PostExtras(attachment_ids=(file.id,)), client_ip="10.0.0.1"
        )
    await chat.stream_reply(first.reply.id)  # gives the slot back
    posted = await chat.post_message(
        None, "two", extras=PostExtras(attachment_ids=(file.id,)), client_ip="10.0.0.1"
    )
    view = await chat.stream_reply(posted.reply.id)
    assert view.status == "complete"


def _reader(data: bytes):
    async def read() -> bytes:
        return data

    return read


def test_max_tokens_is_capped_at_the_output_limit() -> None:
    info = ModelInfo(
        "m", "Model", "anthropic", "x", context_window=200_000, max_output_tokens=64_000
    )
    assert parse_parameters("", "64000", info).max_tokens == 64_000
    with pytest.raises(Exception, match="between 1 and 64,000"):
        parse_parameters("", "100000", info)


async def test_a_provider_error_carrying_the_key_never_logs_it(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    key = "sk-test-0123456789abcdefSECRET"
    redact.install([key])
    failing = ScriptedReply.of("", error=AuthenticationFailed(f"Incorrect API key: {key}"))
    chat, _ = service(engine, Guards(), failing)
    caplog.set_level(logging.DEBUG)
    posted = await chat.post_message(None, "hi")
    await chat.stream_reply(posted.reply.id)
    try:
        raise RuntimeError(f"boom with {key}")
    except RuntimeError:
        logging.getLogger("parley.test").exception("failed: %s", key)
    assert caplog.records and key not in caplog.text
    assert redact.MASK in caplog.text
