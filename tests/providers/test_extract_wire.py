"""Extraction with Instructor (app/llm/structured.py) through the real SDKs against the loopback
server: Anthropic's forced ``tool_use``, OpenAI's forced ``tool_calls`` and its JSON-schema
``response_format``. The first answer fails validation; Instructor's re-ask goes over the wire
as each vendor wants it (a ``tool_result`` marked as an error; a ``tool`` message), and the
second answer is the extraction."""

from __future__ import annotations

import json

from app.extract import extract
from app.extract.schemas import Sentiment
from app.llm.anthropic_api import AnthropicProvider
from app.llm.openai_api import OpenAIProvider
from tests.providers.loopback import LoopbackServer, Reply, openai_events
from tests.providers.tool_wire import anthropic_tool_events, json_text, openai_tool_events

GOOD = {"sentiment": "negative", "confidence": 0.8, "reasoning": "It broke."}
BAD = {**GOOD, "confidence": 8}


async def test_anthropic_tool_use_is_re_asked_with_a_tool_result_error(
    server: LoopbackServer, anthropic: AnthropicProvider
) -> None:
    server.script(
        Reply(pieces=anthropic_tool_events("", "toolu_1", "Sentiment", [json_text(BAD)])),
        Reply(pieces=anthropic_tool_events("", "toolu_2", "Sentiment", [json_text(GOOD)])),
    )
    result = await extract(
        anthropic, model="claude-sonnet-5-5", extractor="sentiment", text="It broke again."
    )
    assert (result.value, result.attempts) == (Sentiment(**GOOD), 2)
    first, second = (r.body for r in server.requests)
    assert first["tool_choice"] == {"type": "tool", "name": "Sentiment"}
    assert (
        first["tools"][0]["input_schema"]["properties"]
        == (Sentiment.model_json_schema()["properties"])
    )
    assert "Extract structured data" in str(first["system"])
    call, answer = second["messages"][-2:]
    assert call["content"] == [
        {"type": "tool_use", "id": "toolu_1", "name": "Sentiment", "input": BAD}
    ]
    (result_block,) = answer["content"]
    assert (result_block["type"], result_block["tool_use_id"]) == ("tool_result", "toolu_1")
    assert result_block["is_error"] is True
    assert "confidence" in result_block["content"]
    assert "Recall the function correctly" in result_block["content"]


async def test_openai_tool_calls_are_re_asked_with_a_tool_message(
    server: LoopbackServer, openai_provider: OpenAIProvider
) -> None:
    server.script(
        Reply(pieces=openai_tool_events([("call_1", "Sentiment", [json_text(BAD)])])),
        Reply(pieces=openai_tool_events([("call_2", "Sentiment", [json_text(GOOD)])])),
    )
    result = await extract(openai_provider, model="gpt-4.1", extractor="sentiment", text="x")
    assert (result.value, result.attempts) == (Sentiment(**GOOD), 2)
    first, second = (r.body for r in server.requests)
    assert first["tool_choice"] == {"type": "function", "function": {"name": "Sentiment"}}
    assert first["temperature"] == 0
    call, answer = second["messages"][-2:]
    assert call["tool_calls"][0]["id"] == "call_1"
    assert json.loads(call["tool_calls"][0]["function"]["arguments"]) == BAD
    assert (answer["role"], answer["tool_call_id"]) == ("tool", "call_1")
    assert "Input should be less than or equal to 1" in answer["content"]


async def test_openai_json_schema_mode_is_re_asked_with_the_errors(
    server: LoopbackServer, openai_provider: OpenAIProvider
) -> None:
    server.script(
        Reply(pieces=openai_events(['{"sentiment": "meh"}'])),
        Reply(pieces=openai_events([json_text(GOOD)])),
    )
    result = await extract(
        openai_provider, model="gpt-4.1", extractor="sentiment", text="x", mode="json_schema"
    )
    assert (result.value, result.attempts) == (Sentiment(**GOOD), 2)
    first, second = (r.body for r in server.requests)
    assert first["response_format"]["json_schema"]["schema"] == Sentiment.model_json_schema()
    assert "tools" not in first
    reply, correction = second["messages"][-2:]
    assert reply == {"role": "assistant", "content": '{"sentiment": "meh"}'}
    assert correction["role"] == "user"
    assert "Correct your JSON ONLY RESPONSE" in correction["content"]
    assert "sentiment" in correction["content"] and "confidence" in correction["content"]
