"""The gateway through the official ``anthropic`` SDK, and its guards: rate limits and
budgets on API calls, and a client that leaves mid-stream cancelling the upstream call."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest
from sqlmodel import select

from app.db.models import CallLog
from app.db.session import get_engine, migrate, session_scope
from app.settings import Settings
from tests.providers.gateway_harness import Env, running_gateway
from tests.providers.loopback import LoopbackServer, Reply, anthropic_events, openai_events, sse


def _env(server: LoopbackServer, tmp_path: Path, settings: Settings) -> Iterator[Env]:
    url = f"sqlite:///{tmp_path}/gw.db"
    migrate(url)
    engine = get_engine(url)
    with running_gateway(engine, server, settings) as running:
        yield running
    engine.dispose()


@pytest.fixture
def env(server: LoopbackServer, tmp_path: Path) -> Iterator[Env]:
    yield from _env(server, tmp_path, Settings(moderation_mode="off"))


def client(env: Env, token: str | None = None) -> anthropic.Anthropic:
    made = anthropic.Anthropic(base_url=env.url, api_key=token or env.token, max_retries=0)
    env.closers.append(made.close)
    return made


def test_non_streaming_message(env: Env) -> None:
    env.upstream.script(
        Reply(pieces=anthropic_events(["Hi ", "there"], input_tokens=9, output_tokens=2))
    )
    reply = client(env).messages.create(
        model="claude-test",
        max_tokens=100,
        system="Be brief.",
        messages=[{"role": "user", "content": "hello"}],
    )
    assert [b.type for b in reply.content] == ["text"]
    assert [getattr(b, "text", None) for b in reply.content] == ["Hi there"]
    assert (reply.stop_reason, reply.usage.input_tokens, reply.usage.output_tokens) == (
        "end_turn",
        9,
        2,
    )
    sent = env.upstream.requests[0].body
    assert sent["model"] == "claude-sonnet-4-5" and sent["system"] == "Be brief."


def test_streaming_message_from_an_openai_model(env: Env) -> None:
    """Anthropic's format in, OpenAI's upstream: the gateway translates both ways."""
    env.upstream.script(
        Reply(pieces=openai_events(["x", "y"], prompt_tokens=5, completion_tokens=2))
    )
    with client(env).messages.stream(
        model="gpt-test", max_tokens=50, messages=[{"role": "user", "content": "go"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "xy"
    assert (final.usage.input_tokens, final.usage.output_tokens, final.stop_reason) == (
        5,
        2,
        "end_turn",
    )


def test_tool_use_and_tool_result(env: Env) -> None:
    start = {
        "type": "message",
        "id": "m",
        "role": "assistant",
        "model": "c",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": 1},
    }
    block = {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}}
    args = {"type": "input_json_delta", "partial_json": '{"city": "Oslo"}'}
    stop = {"stop_reason": "tool_use", "stop_sequence": None}
    tool_stream = [
        sse("message_start", {"type": "message_start", "message": start}),
        sse(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": block},
        ),
        sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": args}),
        sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
        sse(
            "message_delta", {"type": "message_delta", "delta": stop, "usage": {"output_tokens": 8}}
        ),
        sse("message_stop", {"type": "message_stop"}),
    ]
    env.upstream.script(Reply(pieces=tool_stream), Reply(pieces=anthropic_events(["Sunny."])))
    tools: Any = [{"name": "weather", "description": "Weather", "input_schema": {"type": "object"}}]
    ask: Any = [{"role": "user", "content": "Weather in Oslo?"}]
    reply = client(env).messages.create(
        model="claude-test", max_tokens=100, tools=tools, messages=ask
    )
    assert reply.stop_reason == "tool_use"
    use = reply.content[0]
    assert isinstance(use, anthropic.types.ToolUseBlock)
    assert (use.type, use.id, use.name, use.input) == (
        "tool_use",
        "toolu_1",
        "weather",
        {"city": "Oslo"},
    )
    assert env.upstream.requests[0].body["tools"][0]["name"] == "weather"
    history: Any = [
        *ask,
        {"role": "assistant", "content": [use.model_dump()]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}],
        },
    ]
    again = client(env).messages.create(
        model="claude-test", max_tokens=100, tools=tools, messages=history
    )
    assert [getattr(b, "text", None) for b in again.content] == ["Sunny."]
    upstream = env.upstream.requests[1].body["messages"]
    assert upstream[1]["content"][0]["type"] == "tool_use"
    assert upstream[2]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": "toolu_1",
        "content": "sunny",
    } or (upstream[2]["content"][0]["tool_use_id"] == "toolu_1")


def test_errors_in_anthropic_shape(env: Env) -> None:
    with pytest.raises(anthropic.NotFoundError) as missing:
        client(env).messages.create(
            model="nope", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    body: Any = missing.value.body
    assert body["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.AuthenticationError):
        client(env, "pk-wrong").messages.create(
            model="claude-test", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(anthropic.BadRequestError):
        client(env).messages.create(model="claude-test", max_tokens=5, messages=[])
    assert {m.id for m in client(env).models.list()} == {"gpt-test", "gpt-backup", "claude-test"}


def test_rate_limit_is_429_with_retry_after(server: LoopbackServer, tmp_path: Path) -> None:
    settings = Settings(moderation_mode="off", rate_requests_per_user="1/minute")
    for env in _env(server, tmp_path, settings):
        env.upstream.script(Reply(pieces=anthropic_events(["ok"])))
        ask = {
            "model": "claude-test",
            "max_tokens": 5,
            "messages": [{"role": "user", "content": "x"}],
        }
        client(env).messages.create(**ask)
        with pytest.raises(anthropic.RateLimitError) as caught:
            client(env).messages.create(**ask)
        assert 1 <= int(caught.value.response.headers["retry-after"]) <= 60
        assert len(env.upstream.requests) == 1


def test_api_calls_count_against_the_budget(server: LoopbackServer, tmp_path: Path) -> None:
    """A call's tokens land in the call log; the next call that could cross the user's
    monthly token budget is refused (429, OpenAI's insufficient_quota / Anthropic's shape)."""
    settings = Settings(moderation_mode="off", budget_user_tokens=1500)
    for env in _env(server, tmp_path, settings):
        env.upstream.script(
            Reply(pieces=anthropic_events(["ok"], input_tokens=900, output_tokens=400))
        )
        ask = {
            "model": "claude-test",
            "max_tokens": 300,
            "messages": [{"role": "user", "content": "x"}],
        }
        client(env).messages.create(**ask)
        with session_scope(env.engine) as session:
            row = session.exec(select(CallLog)).one()
        assert (row.feature, row.input_tokens, row.output_tokens) == ("api", 900, 400)
        assert row.cost is not None and row.cost > 0
        with pytest.raises(anthropic.RateLimitError) as caught:
            client(env).messages.create(**ask)
        assert "budget" in str(caught.value.message)
        assert len(env.upstream.requests) == 1


def test_client_leaving_mid_stream_cancels_the_upstream_call(env: Env) -> None:
    slow = Reply(pieces=anthropic_events([f"t{i} " for i in range(200)]), delay=0.05)
    env.upstream.script(slow)
    body = {
        "model": "claude-test",
        "max_tokens": 500,
        "stream": True,
        "messages": [{"role": "user", "content": "x"}],
    }
    headers = {"x-api-key": env.token, "anthropic-version": "2023-06-01"}
    with (
        httpx.Client(base_url=env.url, timeout=10) as http,
        http.stream("POST", "/v1/messages", json=body, headers=headers) as response,
    ):
        assert response.status_code == 200
        for line in response.iter_lines():
            if "text_delta" in line:
                break  # one token, then leave
    deadline = time.monotonic() + 5
    rows: Sequence[CallLog] = []
    while time.monotonic() < deadline:
        with session_scope(env.engine) as session:
            rows = session.exec(select(CallLog)).all()
        if rows:
            break
        time.sleep(0.05)
    assert [r.status for r in rows] == ["cancelled"]
    assert rows[0].latency_ms < 3000  # the upstream would have taken 10 s
