"""Cooldown of failing providers: in this process, and shared through a real Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from app.llm.cooldown import Cooldown, LocalCooldown, RedisCooldown
from tests.redis_server import REDIS_URL, require_redis


@pytest.fixture
async def redis_cooldown() -> AsyncIterator[RedisCooldown]:
    require_redis()
    prefix = f"parley-test:{uuid.uuid4().hex}"
    cooldown = RedisCooldown.from_url(REDIS_URL, prefix=prefix, failures=3, period=0.4, window=5)
    yield cooldown
    keys = [k async for k in cooldown.client.scan_iter(f"{prefix}:*")]
    if keys:
        await cooldown.client.delete(*keys)
    await cooldown.aclose()


async def test_local_cooldown_after_repeated_failures() -> None:
    now = [0.0]
    cooldown = LocalCooldown(failures=3, period=30, window=60, clock=lambda: now[0])
    assert [await cooldown.failed("anthropic") for _ in range(3)] == [False, False, True]
    assert not await cooldown.available("anthropic")
    assert await cooldown.available("openai")  # per provider
    now[0] = 29.9
    assert not await cooldown.available("anthropic")
    now[0] = 30.0
    assert await cooldown.available("anthropic")


async def test_local_success_resets_and_old_failures_expire() -> None:
    now = [0.0]
    cooldown = LocalCooldown(failures=2, period=30, window=10, clock=lambda: now[0])
    assert not await cooldown.failed("p")
    await cooldown.succeeded("p")
    assert not await cooldown.failed("p")  # the count started again
    now[0] = 11  # outside the window: the first failure no longer counts
    assert not await cooldown.failed("p")
    assert await cooldown.failed("p")
    assert not await cooldown.available("p")


async def _exercise(cooldown: Cooldown) -> None:
    assert await cooldown.available("anthropic")
    assert not await cooldown.failed("anthropic")
    await cooldown.succeeded("anthropic")
    assert [await cooldown.failed("anthropic") for _ in range(3)] == [False, False, True]
    assert not await cooldown.available("anthropic")
    assert await cooldown.available("openai")


async def test_redis_cooldown_counts_and_expires(redis_cooldown: RedisCooldown) -> None:
    await _exercise(redis_cooldown)
    await asyncio.sleep(0.5)  # the period is 0.4 s
    assert await redis_cooldown.available("anthropic")


async def test_redis_cooldown_is_shared_between_processes(redis_cooldown: RedisCooldown) -> None:
    other = RedisCooldown.from_url(REDIS_URL, prefix=redis_cooldown.prefix, failures=3, period=0.4)
    try:
        for _ in range(3):
            await redis_cooldown.failed("openai")
        assert not await other.available("openai")
    finally:
        await other.aclose()


async def test_an_unreachable_redis_never_blocks_a_call() -> None:
    cooldown = RedisCooldown.from_url("redis://127.0.0.1:9/0", failures=1)
    try:
        assert not await cooldown.failed("anthropic")
        assert await cooldown.available("anthropic")
        await cooldown.succeeded("anthropic")
    finally:
        await cooldown.aclose()
