"""The agent service: the toolbox a user gets, search over their own conversations only, and
one agent turn and one extraction through the model registry (scripted provider)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from app.agent import AgentDone, StepFinished
from app.db import crud
from app.db.session import session_scope
from app.extract.schemas import Sentiment
from app.llm.base import ChatMessage, ToolCall
from app.llm.fake import ScriptedProvider, ScriptedReply
from app.llm.registry import ModelInfo, ModelRegistry
from app.services.agent import AgentService, load_mcp_servers, owns, search_tool
from app.settings import Settings


def seed(engine: Engine) -> str:
    with session_scope(engine) as session:
        tides = crud.create_conversation(session=session, title="Tide tables", model="m")
        crud.add_message(
            session=session, conversation_id=tides.id, role="user", content="high tide at noon"
        )
        other = crud.create_conversation(session=session, title="Groceries", model="m")
        crud.add_message(
            session=session, conversation_id=other.id, role="user", content="milk and eggs"
        )
        return tides.id


async def test_search_finds_the_owners_conversations_through_the_index(engine: Engine) -> None:
    tides = seed(engine)
    tool = search_tool(engine, owner_id=None)
    found = await tool.call({"query": "tide"})
    assert f"Tide tables (id {tides})" in found
    assert "**tide**" in found.lower()
    assert "Groceries" not in found
    assert await tool.call({"query": "volcano"}) == "No conversation matches."


async def test_search_never_shows_another_users_conversations(engine: Engine) -> None:
    seed(engine)
    # Rows without an owner belong to the single local user, never to a named account.
    assert await search_tool(engine, owner_id="mallory").call({"query": "tide"}) == (
        "No conversation matches."
    )


def test_ownership_rule() -> None:
    class Row:
        def __init__(self, user_id: str | None) -> None:
            self.user_id = user_id

    assert owns(Row("alice"), "alice")
    assert not owns(Row("alice"), "bob")
    assert not owns(Row(None), "bob")
    assert not owns(Row("alice"), None)


def registry(provider: ScriptedProvider, provider_name: str = "anthropic") -> ModelRegistry:
    reg = ModelRegistry("m")
    reg.register(ModelInfo("m", "M", provider_name, "m-1"), provider)
    return reg


async def test_a_turn_runs_the_loop_with_the_built_in_tools(engine: Engine) -> None:
    provider = ScriptedProvider(
        [
            ScriptedReply(
                chunks=(), tool_calls=(ToolCall("1", "calculate", '{"expression": "2**10"}'),)
            ),
            ScriptedReply.of("1024"),
        ]
    )
    service = AgentService(Settings(), engine, registry(provider))
    events = [
        e
        async for e in service.run(
            model_id="m", messages=(ChatMessage("user", "2^10?"),), owner_id=None
        )
    ]
    step = next(e for e in events if isinstance(e, StepFinished))
    assert (step.tool, step.result) == ("calculate", "1024")
    assert isinstance(events[-1], AgentDone) and events[-1].answer == "1024"
    names = [t.name for t in provider.requests[0].tools]
    assert names == ["calculate", "search_conversations"]  # fetch_url is off by default
    assert provider.requests[0].model == "m-1"


async def test_fetch_url_only_when_an_admin_turns_it_on(engine: Engine) -> None:
    service = AgentService(Settings(agent_fetch_url=True), engine, registry(ScriptedProvider([])))
    assert (await service.toolbox(None)).names == ["calculate", "fetch_url", "search_conversations"]


async def test_the_built_in_model_gets_the_text_protocol(engine: Engine) -> None:
    provider = ScriptedProvider([ScriptedReply.of("Hello.")])
    service = AgentService(Settings(), engine, registry(provider, "local"))
    [
        e
        async for e in service.run(
            model_id="m", messages=(ChatMessage("user", "hi"),), owner_id=None
        )
    ]
    assert provider.requests[0].tools == ()
    assert "TOOL_CALL" in provider.requests[0].messages[0].content


async def test_extract_picks_tools_or_json_schema_by_provider(engine: Engine) -> None:
    good = {"sentiment": "neutral", "confidence": 0.5, "reasoning": "Plain."}
    local = ScriptedProvider([ScriptedReply.of(json.dumps(good))])
    result = await AgentService(Settings(), engine, registry(local, "local")).extract(
        model_id="m", extractor="sentiment", text="It is a table."
    )
    assert result.value == Sentiment(**good)
    assert local.requests[0].response_schema is not None and local.requests[0].tools == ()


def test_mcp_servers_come_from_the_admins_file(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(
        json.dumps(
            [
                {"name": "lab", "command": [sys.executable, "server.py"], "tools": ["add"]},
                {"name": "web", "url": "http://127.0.0.1:9/mcp", "headers": {"x-api-key": "k"}},
            ]
        )
    )
    lab, web = load_mcp_servers(path)
    assert lab.command == (sys.executable, "server.py") and lab.allowed_tools == frozenset({"add"})
    assert web.url == "http://127.0.0.1:9/mcp" and dict(web.headers) == {"x-api-key": "k"}
    assert load_mcp_servers(None) == []
    with pytest.raises(ValueError, match="either a command or a url"):
        load_mcp_servers_from(tmp_path, [{"name": "bad"}])


def load_mcp_servers_from(tmp_path: Path, items: list[dict[str, object]]) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(items))
    load_mcp_servers(path)
