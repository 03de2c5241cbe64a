"""The built-in model on its own thread: sessions waiting for it never take the default
thread pool (which database calls use), and a full queue answers "busy" at once."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest

from app.errors import ModelBusy, ProviderOverloaded
from app.llm.base import ChatMessage, ChatRequest, Finish, TextDelta, Usage
from app.llm.local import _DONE, LocalProvider
from app.settings import Settings


@pytest.fixture(scope="module")
def model_path() -> object:
    path = Settings().resolved_local_model_path
    assert path is not None and path.is_file()
    return path


def ask(text: str) -> ChatRequest:
    return ChatRequest("local", (ChatMessage("user", text),), temperature=0.0)


@pytest.mark.local_model
async def test_six_sessions_leave_the_default_pool_free(model_path: object) -> None:
    provider = LocalProvider(model_path, context=1024, threads=1, max_tokens=24, max_waiting=5)  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    # The default pool's size on this machine: what six sessions used to fill.
    pool_size = min(32, (os.cpu_count() or 1) + 4)

    async def session(n: int) -> bool:
        events = [e async for e in provider.stream(ask(f"Count to {n + 5}."))]
        return isinstance(events[-1], Finish)

    sessions = [asyncio.create_task(session(n)) for n in range(6)]
    await asyncio.sleep(0.3)  # all six are generating or waiting now
    assert provider.admitted == 6
    started = time.monotonic()
    # As many small jobs as the pool has threads, like database calls: none waits for the model.
    await asyncio.gather(*(loop.run_in_executor(None, time.sleep, 0.01) for _ in range(pool_size)))
    waited = time.monotonic() - started
    assert waited < 0.5, f"the default pool was busy for {waited:.2f} s"
    assert all(await asyncio.gather(*sessions))
    assert provider.admitted == 0
    provider.close()


@pytest.mark.local_model
async def test_a_full_queue_answers_busy_at_once(model_path: object) -> None:
    provider = LocalProvider(model_path, context=1024, threads=1, max_tokens=24, max_waiting=1)  # type: ignore[arg-type]
    first = asyncio.create_task(_drain(provider, "Say one."))
    second = asyncio.create_task(_drain(provider, "Say two."))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    with pytest.raises(ModelBusy) as caught:
        await _drain(provider, "Say three.")
    assert time.monotonic() - started < 0.1
    assert isinstance(caught.value, ProviderOverloaded) and "busy" in caught.value.message
    assert await first and await second  # the admitted ones still finish
    assert await _drain(provider, "Say four.")  # and the queue has room again
    provider.close()


@pytest.mark.local_model
async def test_a_caller_that_leaves_while_waiting_frees_its_place(model_path: object) -> None:
    provider = LocalProvider(model_path, context=1024, threads=1, max_tokens=24, max_waiting=1)  # type: ignore[arg-type]
    running = asyncio.create_task(_drain(provider, "Tell me a story."))
    waiting = asyncio.create_task(_drain(provider, "Say hi."))
    await asyncio.sleep(0.05)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    assert await running
    assert provider.admitted == 0
    provider.close()


async def _drain(provider: LocalProvider, text: str) -> bool:
    events = [e async for e in provider.stream(ask(text))]
    return isinstance(events[-1], Finish)


class TimedModel(LocalProvider):
    """The built-in provider with its llama.cpp run replaced by a thread that spends
    ``token_seconds`` per token, so the executor and queue are tested without the model."""

    def __init__(self, *, max_waiting: int, token_seconds: float = 0.02) -> None:
        super().__init__(None, max_waiting=max_waiting)
        self.token_seconds = token_seconds

    def _generate(
        self,
        request: ChatRequest,
        loop: asyncio.AbstractEventLoop,
        queue: asyncio.Queue[object],
        cancelled: threading.Event,
    ) -> None:
        def put(item: object) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        try:
            if cancelled.is_set():
                return
            with self._run_lock:  # one generation at a time, as with the real model
                for _ in range(5):
                    if cancelled.is_set():
                        break
                    time.sleep(self.token_seconds)  # holds this thread, as generation does
                    put(TextDelta("x"))
            put(Usage(3, 5))
            put(Finish("stop"))
        finally:
            put(_DONE)


async def test_waiting_sessions_hold_no_default_pool_thread() -> None:
    provider = TimedModel(max_waiting=8)
    loop = asyncio.get_running_loop()
    pool_size = min(32, (os.cpu_count() or 1) + 4)
    sessions = [asyncio.create_task(_drain(provider, "hi")) for _ in range(9)]
    await asyncio.sleep(0.05)
    assert provider.admitted == 9
    started = time.monotonic()
    await asyncio.gather(*(loop.run_in_executor(None, time.sleep, 0.01) for _ in range(pool_size)))
    waited = time.monotonic() - started
    # 9 replies take 9 x 0.1 s one after another. Had each waited in a default-pool thread
    # (as before), the pool's jobs would have queued behind them for most of that.
    assert waited < 0.25, f"the default pool was busy for {waited:.2f} s"
    assert all(await asyncio.gather(*sessions))
    provider.close()


async def test_the_queue_bound_answers_busy_without_waiting() -> None:
    provider = TimedModel(max_waiting=2, token_seconds=0.05)
    admitted = [asyncio.create_task(_drain(provider, "hi")) for _ in range(3)]
    await asyncio.sleep(0.02)
    started = time.monotonic()
    with pytest.raises(ModelBusy):
        await _drain(provider, "one too many")
    assert time.monotonic() - started < 0.05
    assert all(await asyncio.gather(*admitted)) and provider.admitted == 0
    waiting = [asyncio.create_task(_drain(provider, "hi")) for _ in range(3)]
    await asyncio.sleep(0.02)
    waiting[2].cancel()  # leaves while waiting: its place is freed, its run skipped
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert results[:2] == [True, True] and isinstance(results[2], asyncio.CancelledError)
    assert provider.admitted == 0
    provider.close()
