"""The gateway through the official ``openai`` SDK: Parley's /v1 on a loopback port, its
upstream models on the loopback provider server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import openai
import pytest
from openai.types.chat import ChatCompletionMessageFunctionToolCall
from sqlalchemy import Engine
from sqlmodel import select

from app.db.models import CallLog
from app.db.session import session_scope
from app.settings import Settings
from tests.providers.gateway_harness import Env, running_gateway
from tests.providers.loopback import LoopbackServer, Reply, openai_error, openai_events, sse


@pytest.fixture
def env(server: LoopbackServer, tmp_path: object) -> Iterator[Env]:
    from app.db.session import get_engine, migrate

    url = f"sqlite:///{tmp_path}/gw.db"
    migrate(url)
    engine: Engine = get_engine(url)
    settings = Settings(moderation_mode="off", rate_requests_per_user="1000/minute")
    with running_gateway(engine, server, settings) as running:
        yield running
    engine.dispose()


def client(env: Env, token: str | None = None) -> openai.OpenAI:
    made = openai.OpenAI(base_url=f"{env.url}/v1", api_key=token or env.token, max_retries=0)
    env.closers.append(made.close)
    return made


def test_non_streaming_completion_with_usage(env: Env) -> None:
    env.upstream.script(
        Reply(pieces=openai_events(["Hel", "lo"], prompt_tokens=11, completion_tokens=2))
    )
    reply = client(env).chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.choices[0].message.content == "Hello"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.model == "gpt-test"
    assert reply.usage is not None and (
        reply.usage.prompt_tokens,
        reply.usage.completion_tokens,
    ) == (11, 2)
    sent = env.upstream.requests[0].body
    assert sent["model"] == "gpt-4.1" and sent["messages"] == [{"role": "user", "content": "hi"}]


def test_streaming_completion(env: Env) -> None:
    env.upstream.script(Reply(pieces=openai_events(["a", "b", "c"], completion_tokens=3)))
    stream = client(env).chat.completions.create(
        model="gpt-test",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "abc"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3


def _tool_call_stream() -> list[bytes]:
    def chunk(delta: dict[str, object], finish: str | None = None) -> dict[str, object]:
        return {
            "id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }  # fmt: skip

    call = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "weather", "arguments": ""},
    }
    return [
        sse(None, chunk({"role": "assistant", "tool_calls": [call]})),
        sse(None, chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]})),
        sse(None, chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Oslo"}'}}]})),
        sse(None, chunk({}, "tool_calls")),
        b"data: [DONE]\n\n",
    ]


T = TypeVar("T")

TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": "weather",
            "description": "The weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


def test_tool_calls_pass_through_both_ways(env: Env) -> None:
    env.upstream.script(Reply(pieces=_tool_call_stream()), Reply(pieces=_tool_call_stream()))
    messages: Any = [{"role": "user", "content": "Weather in Oslo?"}]
    reply = client(env).chat.completions.create(model="gpt-test", messages=messages, tools=TOOLS)
    calls_made = reply.choices[0].message.tool_calls or []
    call = calls_made[0]
    assert isinstance(call, ChatCompletionMessageFunctionToolCall)
    assert reply.choices[0].finish_reason == "tool_calls"
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == (
        "call_1", "weather", {"city": "Oslo"},
    )  # fmt: skip
    assert env.upstream.requests[0].body["tools"][0]["function"]["name"] == "weather"
    # streamed, with the tool's result sent back: the upstream sees the whole exchange
    history: Any = [
        *messages,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    stream = client(env).chat.completions.create(
        model="gpt-test",
        messages=history,
        tools=TOOLS,
        stream=True,
    )
    deltas = [c.choices[0].delta for c in stream if c.choices]
    calls = [t for d in deltas for t in d.tool_calls or []]
    assert [(t.id, t.function and t.function.name) for t in calls] == [("call_1", "weather")]
    upstream = env.upstream.requests[1].body["messages"]
    assert upstream[-1] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
    assert upstream[-2]["tool_calls"][0]["function"]["name"] == "weather"


def test_models_lists_what_the_key_may_use(env: Env) -> None:
    assert {m.id for m in client(env).models.list()} == {"gpt-test", "gpt-backup", "claude-test"}
    narrow = env.new_key(models=("gpt-test",))
    assert [m.id for m in client(env, narrow).models.list()] == ["gpt-test"]
    with pytest.raises(openai.PermissionDeniedError):
        client(env, narrow).chat.completions.create(
            model="gpt-backup", messages=[{"role": "user", "content": "hi"}]
        )


def test_unknown_model_is_404(env: Env) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client(env).chat.completions.create(
            model="gpt-9", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.code == "model_not_found"
    assert env.upstream.requests == []


def test_bad_revoked_and_expired_keys_are_401(env: Env) -> None:
    ask: Any = {"model": "gpt-test", "messages": [{"role": "user", "content": "x"}]}
    with pytest.raises(openai.AuthenticationError):
        client(env, "pk-not-a-key").chat.completions.create(**ask)
    token = env.new_key()
    views = asyncio_run(env.keys.list_keys(env.owner))
    key_id = next(v.id for v in views if token.startswith(v.prefix) and v.revoked_at is None)
    asyncio_run(env.keys.revoke(env.owner, key_id))
    with pytest.raises(openai.AuthenticationError) as caught:
        client(env, token).chat.completions.create(**ask)
    assert "revoked" in caught.value.message
    assert env.upstream.requests == []


def asyncio_run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def test_upstream_429_after_retries_is_429_with_retry_after(env: Env) -> None:
    env.upstream.script(
        openai_error(429, "rate_limit_error", "rate_limit_exceeded", headers={"retry-after": "30"})
    )
    with pytest.raises(openai.RateLimitError) as caught:
        client(env).chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.response.headers["retry-after"] == "30"


def test_upstream_down_is_5xx(env: Env) -> None:
    env.upstream.script(openai_error(500, "server_error"))
    with pytest.raises(openai.InternalServerError) as caught:
        client(env).chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.status_code == 503


def test_body_too_large_is_413(env: Env) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client(env).chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "x" * 70_000}]
        )
    assert caught.value.status_code == 413


def test_call_lands_in_the_call_log_as_api(env: Env) -> None:
    env.upstream.script(
        Reply(pieces=openai_events(["ok"], prompt_tokens=1000, completion_tokens=500))
    )
    client(env).chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "hi"}]
    )
    with session_scope(env.engine) as session:
        rows = session.exec(select(CallLog)).all()
    assert len(rows) == 1
    row = rows[0]
    assert (row.feature, row.user_id, row.project_id) == (
        "api",
        env.owner.user_id,
        env.owner_project,
    )
    assert (row.input_tokens, row.output_tokens, row.status) == (1000, 500, "ok")
    assert row.cost is not None and row.cost > 0
    keys = asyncio_run(env.keys.list_keys(env.owner))
    assert any(v.last_used_at is not None for v in keys)
    assert datetime.now(UTC) - timedelta(minutes=1) < max(
        v.last_used_at for v in keys if v.last_used_at
    )
