"""The response cache: what it caches, its key, replay as a stream, TTL and size, logging."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.llm.base import ChatMessage, ChatRequest, Finish, ModelUsed, StreamEvent, TextDelta, Usage
from app.llm.cache import CachingProvider, ResponseCache, cache_key, cacheable
from app.llm.calllog import ListSink
from app.llm.fake import ScriptedProvider, ScriptedReply


def request(text: str = "Hi", **kwargs: object) -> ChatRequest:
    return ChatRequest(model="m-1", messages=(ChatMessage("user", text),), **kwargs)  # type: ignore[arg-type]


async def collect(provider: CachingProvider, req: ChatRequest) -> list[StreamEvent]:
    return [event async for event in provider.stream(req)]


def setup(
    *replies: ScriptedReply, maxsize: int = 8, ttl: float = 60, now: list[float] | None = None
) -> tuple[CachingProvider, ScriptedProvider, ListSink]:
    clock = now or [0.0]
    inner = ScriptedProvider(list(replies), name="anthropic")
    sink = ListSink()
    cache = ResponseCache(maxsize=maxsize, ttl=ttl, timer=lambda: clock[0])
    return CachingProvider(inner, cache, model_id="m", provider="anthropic", sink=sink), inner, sink


def test_only_deterministic_or_opted_in_requests_are_cacheable() -> None:
    assert cacheable(request(temperature=0.0))
    assert cacheable(request(metadata={"cache": "1"}))
    assert not cacheable(request())
    assert not cacheable(request(temperature=0.7))
    assert not cacheable(request(temperature=0.0, metadata={"cache": "0"}))


def test_the_key_covers_model_messages_and_parameters() -> None:
    base = cache_key("m", request(temperature=0.0))
    assert base == cache_key("m", request(temperature=0.0, metadata={"user_id": "u"}))
    assert base != cache_key("other", request(temperature=0.0))
    assert base != cache_key("m", request("Hello", temperature=0.0))
    assert base != cache_key("m", request(temperature=0.0, max_tokens=5))
    assert base != cache_key("m", request(metadata={"cache": "1"}))  # temperature differs


async def test_a_hit_replays_the_stream_and_is_logged_as_a_free_hit() -> None:
    reply = ScriptedReply.of("Cached words", chunk_chars=3, usage=Usage(10, 4))
    provider, inner, sink = setup(reply)
    first = await collect(provider, request(temperature=0.0))
    second = await collect(provider, request(temperature=0.0))
    assert second == first
    assert [e.text for e in second if isinstance(e, TextDelta)] == ["Cac", "hed", " wo", "rds"]
    assert len(inner.requests) == 1
    [hit] = sink.records  # the miss is logged by the router, not by the cache
    assert (hit.cache_hit, hit.cost, hit.status, hit.input_tokens) == (True, Decimal(0), "ok", 10)


async def test_a_hit_keeps_the_model_that_answered() -> None:
    class Answered(ScriptedProvider):
        async def stream(self, request: ChatRequest):  # type: ignore[override]
            yield ModelUsed("fallback", "openai", "gpt-x", fallback=True, requested="m")
            async for event in super().stream(request):
                yield event

    inner = Answered([ScriptedReply.of("x")], name="anthropic")
    sink = ListSink()
    provider = CachingProvider(
        inner, ResponseCache(), model_id="m", provider="anthropic", sink=sink
    )
    await collect(provider, request(temperature=0.0))
    replay = await collect(provider, request(temperature=0.0))
    assert isinstance(replay[0], ModelUsed) and replay[0].model == "fallback"
    assert (sink.records[0].model, sink.records[0].provider) == ("fallback", "openai")


async def test_uncacheable_requests_and_failures_are_not_stored() -> None:
    from app.errors import ProviderOverloaded

    provider, inner, _ = setup(
        ScriptedReply.of("one"),
        ScriptedReply.of("two"),
        ScriptedReply.of("half", error=ProviderOverloaded()),
        ScriptedReply.of("three"),
    )
    await collect(provider, request())
    await collect(provider, request())
    assert len(inner.requests) == 2
    with pytest.raises(ProviderOverloaded):
        await collect(provider, request(temperature=0.0))
    events = await collect(provider, request(temperature=0.0))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "three"
    assert len(provider.cache) == 1


async def test_entries_expire_after_the_ttl_and_the_size_is_bounded() -> None:
    now = [0.0]
    provider, inner, _ = setup(
        *[ScriptedReply.of(f"r{i}") for i in range(5)], ttl=10, now=now, maxsize=2
    )
    await collect(provider, request(temperature=0.0))
    now[0] = 9.9
    await collect(provider, request(temperature=0.0))
    assert len(inner.requests) == 1
    now[0] = 10.1
    await collect(provider, request(temperature=0.0))
    assert len(inner.requests) == 2
    for text in ("a", "b", "c"):
        await collect(provider, request(text, temperature=0.0))
    assert len(provider.cache) == 2
    assert isinstance((await collect(provider, request("c", temperature=0.0)))[-1], Finish)
    assert len(inner.requests) == 5
