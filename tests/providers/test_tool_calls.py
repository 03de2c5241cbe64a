"""Tool calling through the real SDKs against the loopback server: the tools in the request,
tool_use / tool_calls in the stream, and the results in the next request."""

from __future__ import annotations

import asyncio
import itertools
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.llm.anthropic_api import AnthropicProvider
from app.llm.base import ChatMessage, ChatRequest, Finish, StreamEvent, ToolCall, ToolSpec
from app.llm.openai_api import OpenAIProvider
from tests.providers.loopback import LoopbackServer, Reply
from tests.providers.tool_wire import anthropic_tool_events, cut, json_text, openai_tool_events

SPEC = ToolSpec(
    "calculate",
    "Evaluate arithmetic.",
    {
        "type": "object",
        "properties": {"expression": {"type": "string"}},
        "required": ["expression"],
    },
)
ARGS = {"expression": "6 * 7", "note": 'é€ "quoted"'}


def request(*messages: ChatMessage, choice: str | None = None) -> ChatRequest:
    return ChatRequest(
        model="claude-sonnet-5-5",
        messages=(ChatMessage("user", "What is 6 * 7?"), *messages),
        max_tokens=100,
        tools=(SPEC,),
        tool_choice=choice,
    )


FOLLOW_UP = (
    ChatMessage(
        "assistant",
        "Let me calculate.",
        tool_calls=(ToolCall("t1", "calculate", json.dumps(ARGS)),),
    ),
    ChatMessage("tool", "42", tool_call_id="t1"),
)


async def test_anthropic_tool_use_with_input_json_delta(
    server: LoopbackServer, anthropic: AnthropicProvider
) -> None:
    text = json_text(ARGS)
    pieces = [text[i : i + 3] for i in range(0, len(text), 3)]
    server.script(
        Reply(pieces=anthropic_tool_events("Let me calculate.", "toolu_1", "calculate", pieces))
    )
    events = [e async for e in anthropic.stream(request(choice="calculate"))]
    calls = [e for e in events if isinstance(e, ToolCall)]
    assert calls == [ToolCall("toolu_1", "calculate", text)]
    assert json.loads(calls[0].arguments) == ARGS
    assert events[-1] == Finish("tool_use")
    body = server.requests[0].body
    assert body["tools"] == [
        {
            "name": "calculate",
            "description": "Evaluate arithmetic.",
            "input_schema": SPEC.parameters,
        }
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "calculate"}


async def test_anthropic_tool_results_go_back_as_tool_result_blocks(
    server: LoopbackServer, anthropic: AnthropicProvider
) -> None:
    server.script(Reply(pieces=anthropic_tool_events("", "toolu_2", "calculate", ["{}"])))
    failed = ChatMessage("tool", "boom", tool_call_id="t2", is_error=True)
    two_calls = (
        ChatMessage(
            "assistant",
            "",
            tool_calls=(
                ToolCall("t1", "calculate", json.dumps(ARGS)),
                ToolCall("t2", "calculate", "{}"),
            ),
        ),
        ChatMessage("tool", "42", tool_call_id="t1"),
        failed,
    )
    [e async for e in anthropic.stream(request(*two_calls))]
    turns = server.requests[0].body["messages"]
    assert turns[1] == {
        "role": "assistant",
        "content": [
            {"type": "tool_use", "id": "t1", "name": "calculate", "input": ARGS},
            {"type": "tool_use", "id": "t2", "name": "calculate", "input": {}},
        ],
    }
    assert turns[2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": "42"},
            {"type": "tool_result", "tool_use_id": "t2", "content": "boom", "is_error": True},
        ],
    }
    assert "tool_choice" not in server.requests[0].body


async def test_openai_tools_and_results_in_the_request(
    server: LoopbackServer, openai_provider: OpenAIProvider
) -> None:
    server.script(Reply(pieces=openai_tool_events([("call_9", "calculate", ["{}"])])))
    events = [e async for e in openai_provider.stream(request(*FOLLOW_UP, choice="calculate"))]
    assert ToolCall("call_9", "calculate", "{}") in events and events[-1] == Finish("tool_use")
    body = server.requests[0].body
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "calculate",
                "description": "Evaluate arithmetic.",
                "parameters": SPEC.parameters,
            },
        }
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "calculate"}}
    assistant, tool = body["messages"][1:]
    assert assistant == {
        "role": "assistant",
        "content": "Let me calculate.",
        "tool_calls": [
            {
                "id": "t1",
                "type": "function",
                "function": {"name": "calculate", "arguments": json.dumps(ARGS)},
            }
        ],
    }
    assert tool == {"role": "tool", "tool_call_id": "t1", "content": "42"}


async def test_openai_json_schema_replies(
    server: LoopbackServer, openai_provider: OpenAIProvider
) -> None:
    server.script(Reply(pieces=openai_tool_events([])))
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    [
        e
        async for e in openai_provider.stream(
            ChatRequest("gpt-4.1", (ChatMessage("user", "x"),), response_schema=schema)
        )
    ]
    assert server.requests[0].body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "reply", "schema": schema},
    }


async def _openai_events(url: str) -> list[StreamEvent]:
    provider = OpenAIProvider(api_key="k", base_url=f"{url}/v1", connect_timeout=2, read_timeout=10)
    try:
        return [e async for e in provider.stream(request())]
    finally:
        await provider.aclose()


@st.composite
def split_text(draw: st.DrawFn, text: str) -> list[str]:
    cuts = draw(st.sets(st.integers(1, max(1, len(text) - 1)), max_size=len(text)))
    edges = [0, *sorted(c for c in cuts if c < len(text)), len(text)]
    return [text[a:b] for a, b in itertools.pairwise(edges)]


@given(data=st.data())
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_openai_tool_call_deltas_survive_any_split(
    loopback_server: LoopbackServer, data: st.DataObject
) -> None:
    """Two calls whose arguments arrive in any number of deltas (down to one character each),
    in a body cut into HTTP chunks at any bytes (through multi-byte UTF-8 too)."""
    first, second = json_text(ARGS), json_text({"expression": "1/3"})
    calls = [
        ("call_a", "calculate", data.draw(split_text(first))),
        ("call_b", "calculate", data.draw(split_text(second))),
    ]
    body = b"".join(openai_tool_events(calls))
    positions = data.draw(st.lists(st.integers(1, len(body) - 1), max_size=60))
    loopback_server.reset()
    loopback_server.script(Reply(pieces=cut(body, positions)))
    events = asyncio.run(_openai_events(loopback_server.url))
    assert [e for e in events if isinstance(e, ToolCall)] == [
        ToolCall("call_a", "calculate", first),
        ToolCall("call_b", "calculate", second),
    ]
    assert events[-1] == Finish("tool_use")


def test_every_single_byte_split() -> None:
    """The extreme case, deterministically: one HTTP chunk per byte, one delta per char."""
    text = json_text(ARGS)
    body = b"".join(openai_tool_events([("call_a", "calculate", list(text))]))
    server = LoopbackServer().start()
    try:
        server.script(Reply(pieces=[body[i : i + 1] for i in range(len(body))]))
        events = asyncio.run(_openai_events(server.url))
    finally:
        server.stop()
    assert [e for e in events if isinstance(e, ToolCall)] == [ToolCall("call_a", "calculate", text)]
