"""The Anthropic adapter through the real SDK, against the loopback server's Messages API."""

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
from app.llm.anthropic_api import AnthropicProvider
from app.llm.base import ChatMessage, ChatRequest, Finish, StreamEvent, TextDelta, ToolCall, Usage
from tests.providers.conftest import ANTHROPIC_KEY
from tests.providers.loopback import (
    LoopbackServer,
    Reply,
    anthropic_error,
    anthropic_events,
    json_reply,
    sse,
)

REQUEST = ChatRequest(
    model="claude-sonnet-5-5",
    messages=(
        ChatMessage("system", "Be brief."),
        ChatMessage("user", "Hi"),
        ChatMessage("assistant", "Hello."),
        ChatMessage("user", "Again"),
    ),
    temperature=0.0,
    max_tokens=100,
)


async def drain_into(events: AsyncIterator[StreamEvent], seen: list[StreamEvent]) -> None:
    async for event in events:
        seen.append(event)


async def collect(provider: AnthropicProvider, request: ChatRequest = REQUEST) -> list[StreamEvent]:
    return [event async for event in provider.stream(request)]


async def test_text_usage_and_cache_tokens_stream_through(
    server: LoopbackServer, anthropic: AnthropicProvider
) -> None:
    server.script(
        Reply(
            pieces=anthropic_events(
                ["Hel", "lo", " there"],
                input_tokens=20,
                output_tokens=9,
                cache_read=100,
                cache_write=30,
                stop_reason="max_tokens",
            )
        )
    )
    events = await collect(anthropic)
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo", " there"]
    assert events[-2:] == [
        Usage(input_tokens=150, output_tokens=9, cache_read_tokens=100, cache_write_tokens=30),
        Finish("length"),
    ]


async def test_the_request_has_the_messages_api_shape(
    server: LoopbackServer, anthropic: AnthropicProvider
) -> None:
    server.script(Reply(pieces=anthropic_events(["ok"])))
    await collect(anthropic)
    sent = server.requests[0]
    assert (sent.method, sent.path) == ("POST", "/v1/messages")
    assert ANTHROPIC_KEY in (
        sent.headers.get("x-api-key"),
        sent.headers.get("authorization", "")[7:],
    )
    assert sent.headers["x-stainless-retry-count"] == "0"
    assert sent.body["system"] == "Be brief."
    assert sent.body["messages"] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "Again"},
    ]
    assert (sent.body["stream"], sent.body["max_tokens"]) == (True, 100)
    assert "temperature" not in sent.body  # this API generation takes none


async def test_a_tool_call_is_assembled_from_json_deltas(
    server: LoopbackServer, anthropic: AnthropicProvider
) -> None:
    pieces = anthropic_events([], complete=False)
    pieces += [
        sse(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "tool_use", "id": "tu_1", "name": "lookup", "input": {}},
            },
        ),
        *(
            sse(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 1,
                    "delta": {"type": "input_json_delta", "partial_json": part},
                },
            )
            for part in ['{"q": ', '"par', 'ley"}']
        ),
        sse("content_block_stop", {"type": "content_block_stop", "index": 1}),
        sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use"},
                "usage": {"output_tokens": 4},
            },
        ),
        sse("message_stop", {"type": "message_stop"}),
    ]
    server.script(Reply(pieces=pieces))
    events = await collect(anthropic)
    assert ToolCall("tu_1", "lookup", '{"q": "parley"}') in events
    assert events[-1] == Finish("tool_use")


@pytest.mark.parametrize(
    ("reply", "error", "retry_after"),
    [
        (anthropic_error(429, "rate_limit_error", headers={"retry-after": "7"}), RateLimited, 7.0),
        (
            anthropic_error(429, "rate_limit_error", headers={"retry-after-ms": "1500"}),
            RateLimited,
            1.5,
        ),
        (anthropic_error(529, "overloaded_error"), ProviderOverloaded, None),
        (anthropic_error(500, "api_error"), ProviderOverloaded, None),
        (anthropic_error(503, "api_error", headers={"retry-after": "2"}), ProviderOverloaded, 2.0),
        (anthropic_error(408, "timeout_error"), ProviderTimeout, None),
        (anthropic_error(401, "authentication_error"), AuthenticationFailed, None),
        (anthropic_error(400, "invalid_request_error"), BadRequest, None),
        (anthropic_error(403, "permission_error"), BadRequest, None),
        (anthropic_error(404, "not_found_error"), BadRequest, None),
    ],
)
async def test_http_errors_map_onto_the_error_tree(
    server: LoopbackServer,
    anthropic: AnthropicProvider,
    reply: Reply,
    error: type[ProviderError],
    retry_after: float | None,
) -> None:
    server.script(reply)
    with pytest.raises(error) as caught:
        await collect(anthropic)
    assert type(caught.value) is error
    assert caught.value.status_code == reply.status
    assert caught.value.retry_after == retry_after
    assert caught.value.provider == "anthropic"
    assert len(server.requests) == 1  # the SDK itself never retries


async def test_a_spend_limit_is_final(server: LoopbackServer, anthropic: AnthropicProvider) -> None:
    body = {
        "type": "error",
        "error": {
            "type": "rate_limit_error",
            "message": "Monthly spend limit reached.",
            "details": {"error_code": "enforced_spend_limit_reached"},
        },
    }
    server.script(json_reply(429, body))
    with pytest.raises(BadRequest, match="spend or billing limit") as caught:
        await collect(anthropic)
    assert not caught.value.retryable


async def test_an_overloaded_error_event_inside_a_200_stream(
    server: LoopbackServer, anthropic: AnthropicProvider
) -> None:
    error = {"type": "overloaded_error", "message": "Overloaded"}
    server.script(Reply(pieces=anthropic_events(["Half"], error=error)))
    seen: list[StreamEvent] = []
    with pytest.raises(ProviderOverloaded, match="Overloaded"):
        await drain_into(anthropic.stream(REQUEST), seen)
    assert seen == [TextDelta("Half")]


async def test_a_stream_without_message_stop_is_interrupted(
    server: LoopbackServer, anthropic: AnthropicProvider
) -> None:
    server.script(Reply(pieces=anthropic_events(["Half"], complete=False)))
    with pytest.raises(StreamInterrupted, match="message_stop"):
        await collect(anthropic)


async def test_a_broken_connection_is_interrupted(
    server: LoopbackServer, anthropic: AnthropicProvider
) -> None:
    server.script(Reply(pieces=anthropic_events(["Half"], complete=False), truncate=True))
    with pytest.raises(StreamInterrupted):
        await collect(anthropic)


async def test_malformed_json_is_interrupted(
    server: LoopbackServer, anthropic: AnthropicProvider
) -> None:
    pieces = [*anthropic_events([], complete=False), b"event: content_block_delta\ndata: {oops\n\n"]
    server.script(Reply(pieces=pieces))
    with pytest.raises(StreamInterrupted, match="malformed"):
        await collect(anthropic)


async def test_a_closed_port_is_a_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = AnthropicProvider(api_key="k", base_url=f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(ProviderConnectionError):
            await collect(provider)
    finally:
        await provider.aclose()


async def test_the_sdk_read_timeout_becomes_a_provider_timeout(server: LoopbackServer) -> None:
    server.script(Reply(pieces=anthropic_events(["late"]), head_delay=2))
    provider = AnthropicProvider(
        api_key="k", base_url=server.url, connect_timeout=1, read_timeout=0.2
    )
    try:
        with pytest.raises(ProviderTimeout):
            await collect(provider)
    finally:
        await provider.aclose()
