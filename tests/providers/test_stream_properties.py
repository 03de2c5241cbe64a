"""Property: however the bytes of a stream are split on the wire, the text and usage are the same.

The loopback server writes the SSE bytes in the chunks Hypothesis chooses (one HTTP chunk each,
flushed separately), and the real SDKs parse them.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.llm.anthropic_api import AnthropicProvider
from app.llm.base import ChatMessage, ChatRequest, Finish, StreamEvent, TextDelta, Usage
from app.llm.openai_api import OpenAIProvider
from tests.providers.loopback import LoopbackServer, Reply, anthropic_events, openai_events

REQUEST = ChatRequest(model="claude-sonnet-5-5", messages=(ChatMessage("user", "hi"),))
PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

texts = st.lists(st.text(min_size=1, max_size=12), min_size=0, max_size=8)
counts = st.integers(min_value=0, max_value=100_000)


def split(blob: bytes, cuts: list[int]) -> list[bytes]:
    """``blob`` cut at the given offsets (taken modulo its length)."""
    points = sorted({c % (len(blob) + 1) for c in cuts} | {0, len(blob)})
    return [blob[a:b] for a, b in itertools.pairwise(points) if b > a]


async def run(provider: AnthropicProvider | OpenAIProvider) -> list[StreamEvent]:
    return [event async for event in provider.stream(REQUEST)]


@pytest.fixture
async def providers(
    loopback_server: LoopbackServer,
) -> AsyncIterator[tuple[AnthropicProvider, OpenAIProvider]]:
    loopback_server.reset()
    anthropic = AnthropicProvider(api_key="k", base_url=loopback_server.url, read_timeout=5)
    openai = OpenAIProvider(api_key="k", base_url=f"{loopback_server.url}/v1", read_timeout=5)
    yield anthropic, openai
    await anthropic.aclose()
    await openai.aclose()
    loopback_server.reset()


@PROPERTY
@given(
    parts=texts,
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=40),
    input_tokens=counts,
    output_tokens=counts,
    cache_read=counts,
    cache_write=counts,
)
async def test_anthropic_any_split_gives_the_same_text_and_usage(
    loopback_server: LoopbackServer,
    providers: tuple[AnthropicProvider, OpenAIProvider],
    parts: list[str],
    cuts: list[int],
    input_tokens: int,
    output_tokens: int,
    cache_read: int,
    cache_write: int,
) -> None:
    blob = b"".join(
        anthropic_events(
            parts,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read=cache_read,
            cache_write=cache_write,
        )
    )
    loopback_server.script(Reply(pieces=split(blob, cuts)))
    events = await run(providers[0])
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "".join(parts)
    assert events[-2:] == [
        Usage(
            input_tokens=input_tokens + cache_read + cache_write,
            output_tokens=output_tokens,
            cache_read_tokens=cache_read,
            cache_write_tokens=cache_write,
        ),
        Finish("stop"),
    ]


@PROPERTY
@given(
    parts=texts,
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=40),
    prompt=counts,
    completion=counts,
    cached=counts,
)
async def test_openai_any_split_gives_the_same_text_and_usage(
    loopback_server: LoopbackServer,
    providers: tuple[AnthropicProvider, OpenAIProvider],
    parts: list[str],
    cuts: list[int],
    prompt: int,
    completion: int,
    cached: int,
) -> None:
    blob = b"".join(
        openai_events(
            parts, prompt_tokens=prompt, completion_tokens=completion, cached_tokens=cached
        )
    )
    loopback_server.script(Reply(pieces=split(blob, cuts)))
    events = await run(providers[1])
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "".join(parts)
    assert events[-2:] == [
        Usage(input_tokens=prompt, output_tokens=completion, cache_read_tokens=cached),
        Finish("stop"),
    ]
