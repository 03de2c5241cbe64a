"""An agent turn behind the guards, as the wiring puts them: the send is admitted before
anything is saved, like a plain one, and then every model call of the loop goes through the
guarded provider from the registry (the admission of the send is given back first, so a
user allowed one reply at a time is not refused by their own agent)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import Engine

from app.guards import Guards, ModelLimits, guard
from app.guards.ratelimit import LimitRules, RateLimiter, close_storage, limits_storage
from app.llm.base import ToolCall
from app.llm.fake import ScriptedReply
from app.llm.registry import ModelInfo, ModelRegistry
from app.services.agent import AgentService
from app.services.agent_wiring import configure_agents
from app.settings import Settings
from state.agent import AgentState
from state.extract import ExtractState
from tests.redis_server import require_redis
from tests.state import harness
from tests.state.harness import Backend, Tab, backend, send, shown, tab
from tests.state.test_guarded_send import conversations

__all__ = ["backend", "tab"]  # fixtures


@pytest.fixture
async def limiter() -> AsyncIterator[RateLimiter]:
    """One reply at a time per user, on Redis (a fresh key prefix)."""
    storage = limits_storage(require_redis(), prefix=f"parley-test-{uuid.uuid4().hex}")
    yield RateLimiter(LimitRules(requests={"user": "20/minute"}, concurrent_streams=1), storage)
    await close_storage(storage)


@pytest.fixture(autouse=True)
def guarded_agents(
    backend: Backend, limiter: RateLimiter, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    page = harness.CHAT_PAGE | {AgentState.get_full_name(), ExtractState.get_full_name()}
    monkeypatch.setattr(harness, "CHAT_PAGE", page)
    registry = ModelRegistry(default="fake")
    registry.register(
        ModelInfo("fake", "Fake", "fake", "fake-1", max_output_tokens=500),
        guard(backend.provider, [ModelLimits("fake", "fake", "fake-1", 500)], Guards(limiter)),
    )
    service = backend.service
    service.models = registry
    configure_agents(AgentService(Settings(), service.engine, registry))
    yield
    configure_agents(None)


async def test_an_agent_turn_goes_through_the_guards_and_gives_its_slot_back(
    tab: Tab, backend: Backend, engine: Engine
) -> None:
    (cid,) = conversations(engine, "agent-user", 1)
    six_times_seven = ToolCall("c1", "calculate", '{"expression": "6*7"}')
    backend.script(
        ScriptedReply(chunks=(), tool_calls=(six_times_seven,)),
        ScriptedReply.of("It is 42."),
        ScriptedReply.of("Plain again."),
    )
    await tab.visit(f"/c/{cid}")
    await tab.run(AgentState.set_agent_mode(True))
    await tab.run(send("What is 6 times 7?"))

    chat = await tab.chat()
    assert chat.notice == ""
    reply = shown(chat)[-1]
    assert (reply.content, reply.status, reply.error) == ("It is 42.", "complete", "")
    # Both of the loop's calls went through the guard: it set max tokens to the model's limit.
    assert [r.max_tokens for r in backend.provider.requests] == [500, 500]
    assert [r.metadata["feature"] for r in backend.provider.requests] == ["agent", "agent"]
    assert "calculate" in {t.name for t in backend.provider.requests[0].tools}

    # The one slot is free again: the next send (agent mode off) is admitted and answered.
    await tab.run(AgentState.set_agent_mode(False))
    await tab.run(send("And now?"))
    chat = await tab.chat()
    assert chat.notice == ""
    assert shown(chat)[-1].content == "Plain again."


async def test_an_extraction_is_guarded_and_charged_to_the_conversation_s_owner(
    tab: Tab, backend: Backend, engine: Engine
) -> None:
    (cid,) = conversations(engine, "extract-user", 1)
    verdict = {"sentiment": "positive", "confidence": 0.8, "reasoning": "Glad."}
    backend.script(
        ScriptedReply(chunks=(), tool_calls=(ToolCall("c1", "sentiment", json.dumps(verdict)),))
    )
    await tab.visit(f"/c/{cid}")
    await tab.run(send("/sentiment So glad this works"))

    (view,) = (await tab.state(ExtractState)).extractions
    assert (view.kind, view.error) == ("card", "")
    (request,) = backend.provider.requests
    assert request.max_tokens == 500  # through the guard
    assert (request.metadata["feature"], request.metadata["user_id"]) == (
        "extract",
        "extract-user",
    )
