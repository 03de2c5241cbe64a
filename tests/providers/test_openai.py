"""The OpenAI adapter through the real SDK, against the loopback server's Chat Completions."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest

from app.errors import (
    AuthenticationFailed,
    BadRequest,
    ProviderConnectionError,
    ProviderError,
    ProviderOverloaded,
    ProviderTimeout,
    RateLimited,
    StreamInterrupted,
)
from app.llm.base import ChatMessage, ChatRequest, Finish, StreamEvent, TextDelta, ToolCall, Usage
from app.llm.openai_api import OpenAIProvider
from tests.providers.conftest import OPENAI_KEY
from tests.providers.loopback import LoopbackServer, Reply, openai_error, openai_events, sse

REQUEST = ChatRequest(
    model="gpt-4.1",
    messages=(ChatMessage("system", "Be brief."), ChatMessage("user", "Hi")),
    temperature=0.0,
    max_tokens=50,
)


async def drain_into(events: AsyncIterator[StreamEvent], seen: list[StreamEvent]) -> None:
    async for event in events:
        seen.append(event)


async def collect(provider: OpenAIProvider, request: ChatRequest = REQUEST) -> list[StreamEvent]:
    return [event async for event in provider.stream(request)]


async def test_text_and_the_usage_chunk_stream_through(
    server: LoopbackServer, openai_provider: OpenAIProvider
) -> None:
    server.script(
        Reply(
            pieces=openai_events(
                ["Hel", "lo"], prompt_tokens=30, completion_tokens=4, cached_tokens=16
            )
        )
    )
    events = await collect(openai_provider)
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo"]
    assert events[-2:] == [
        Usage(input_tokens=30, output_tokens=4, cache_read_tokens=16),
        Finish("stop"),
    ]
    sent = server.requests[0]
    assert (sent.method, sent.path) == ("POST", "/v1/chat/completions")
    assert sent.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert (sent.body["temperature"], sent.body["max_completion_tokens"]) == (0.0, 50)


async def test_a_compatible_server_gets_max_tokens_and_no_key_is_needed(
    server: LoopbackServer,
) -> None:
    provider = OpenAIProvider(
        api_key=None, base_url=f"{server.url}/v1", name="openai-compatible", label="Ollama"
    )
    server.script(Reply(pieces=openai_events(["ok"], usage=False)))
    try:
        events = await collect(provider)
    finally:
        await provider.aclose()
    assert events[-2:] == [Usage(), Finish("stop")]  # no usage chunk: zero, not a failure
    assert server.requests[0].body["max_tokens"] == 50


async def test_tool_calls_are_assembled(
    server: LoopbackServer, openai_provider: OpenAIProvider
) -> None:
    def chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
        return sse(
            None,
            {
                "id": "c",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "gpt-4.1",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            },
        )

    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "lookup"}}
    pieces = [
        chunk({"role": "assistant", "tool_calls": [{**call, "function": {"name": "lookup"}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"q": '}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"x"}'}}]}),
        chunk({}, "tool_calls"),
        b"data: [DONE]\n\n",
    ]
    server.script(Reply(pieces=pieces))
    events = await collect(openai_provider)
    assert ToolCall("call_1", "lookup", '{"q": "x"}') in events
    assert events[-1] == Finish("tool_use")


@pytest.mark.parametrize(
    ("reply", "error", "retry_after"),
    [
        (openai_error(429, "requests", headers={"retry-after": "3"}), RateLimited, 3.0),
        (openai_error(429, "requests", headers={"retry-after-ms": "250"}), RateLimited, 0.25),
        (openai_error(500, "server_error"), ProviderOverloaded, None),
        (openai_error(503, "server_error"), ProviderOverloaded, None),
        (openai_error(408, "timeout"), ProviderTimeout, None),
        (openai_error(401, "invalid_request_error", "invalid_api_key"), AuthenticationFailed, None),
        (openai_error(400, "invalid_request_error"), BadRequest, None),
        (openai_error(404, "invalid_request_error", "model_not_found"), BadRequest, None),
        (openai_error(429, "insufficient_quota", "insufficient_quota"), BadRequest, None),
    ],
)
async def test_http_errors_map_onto_the_error_tree(
    server: LoopbackServer,
    openai_provider: OpenAIProvider,
    reply: Reply,
    error: type[ProviderError],
    retry_after: float | None,
) -> None:
    server.script(reply)
    with pytest.raises(error) as caught:
        await collect(openai_provider)
    assert type(caught.value) is error
    assert (caught.value.status_code, caught.value.retry_after) == (reply.status, retry_after)
    assert len(server.requests) == 1  # the SDK itself never retries


async def test_an_error_chunk_mid_stream(
    server: LoopbackServer, openai_provider: OpenAIProvider
) -> None:
    error = {"type": "server_error", "message": "The server had an error"}
    server.script(Reply(pieces=openai_events(["Half"], error=error)))
    seen: list[StreamEvent] = []
    with pytest.raises(ProviderOverloaded, match="server had an error"):
        await drain_into(openai_provider.stream(REQUEST), seen)
    assert seen == [TextDelta("Half")]


@pytest.mark.parametrize(
    "reply",
    [
        Reply(pieces=openai_events(["Half"], complete=False)),  # no finish_reason, no [DONE]
        Reply(pieces=openai_events(["Half"], complete=False), truncate=True),  # broken chunking
        Reply(pieces=[*openai_events(["Half"], complete=False), b"data: {nope\n\n"]),  # bad JSON
    ],
    ids=["truncated", "broken-connection", "malformed-json"],
)
async def test_broken_streams_are_interrupted(
    server: LoopbackServer, openai_provider: OpenAIProvider, reply: Reply
) -> None:
    server.script(reply)
    with pytest.raises(StreamInterrupted):
        await collect(openai_provider)


async def test_a_closed_port_is_a_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = OpenAIProvider(api_key="k", base_url=f"http://127.0.0.1:{port}/v1")
    try:
        with pytest.raises(ProviderConnectionError):
            await collect(provider)
    finally:
        await provider.aclose()
