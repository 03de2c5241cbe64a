"""Rate limits and concurrency on real ``limits`` storages: in memory, and on a real Redis."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import pytest
from limits.aio.storage import Storage

from app.errors import LimitExceeded, ProviderError, Refused
from app.guards.context import CallContext
from app.guards.ratelimit import LimitRules, RateLimiter, close_storage, limits_storage
from tests.redis_server import REDIS_URL, require_redis


@pytest.fixture(params=["memory", "redis"])
async def storage(request: pytest.FixtureRequest) -> AsyncIterator[Storage]:
    if request.param == "memory":
        yield limits_storage(None)
        return
    require_redis()
    prefix = f"parley-test-limits-{uuid.uuid4().hex}"
    store = limits_storage(REDIS_URL, prefix=prefix)
    yield store
    await close_storage(store)
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(REDIS_URL)
    keys = [k async for k in client.scan_iter(f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


ALICE = CallContext(user_id="alice", project_id="p1", client_ip="10.0.0.1")
BOB = CallContext(user_id="bob", project_id="p1", client_ip="10.0.0.2")


async def test_requests_per_user_refuse_with_retry_after(storage: Storage) -> None:
    limiter = RateLimiter(LimitRules(requests={"user": "3/minute"}), storage)
    for _ in range(3):
        await limiter.check_requests(ALICE)
    started = time.time()
    with pytest.raises(LimitExceeded) as caught:
        await limiter.check_requests(ALICE)
    error = caught.value
    assert isinstance(error, Refused) and isinstance(error, ProviderError)
    assert not error.retryable
    assert error.retry_after is not None and 1 <= error.retry_after <= 61
    assert "per user" in error.limit and f"{error.retry_after:.0f} s" in error.message
    assert time.time() - started < 1  # refused at once
    await limiter.check_requests(BOB)  # another user has their own window


async def test_a_project_refusal_spends_none_of_the_users_allowance(storage: Storage) -> None:
    rules = LimitRules(requests={"user": "2/minute", "project": "2/minute"})
    limiter = RateLimiter(rules, storage)
    await limiter.check_requests(ALICE)
    await limiter.check_requests(BOB)  # the project's window is now full
    with pytest.raises(LimitExceeded, match="per project"):
        await limiter.check_requests(ALICE)
    alone = CallContext(user_id="alice", project_id="p2")
    await limiter.check_requests(alone)  # alice had used 1 of 2; the refusal counted nothing
    with pytest.raises(LimitExceeded, match="per user"):
        await limiter.check_requests(alone)


async def test_requests_per_ip(storage: Storage) -> None:
    limiter = RateLimiter(LimitRules(requests={"ip": "1/minute"}), storage)
    await limiter.check_requests(CallContext(client_ip="10.9.9.9"))
    with pytest.raises(LimitExceeded, match="per ip"):
        await limiter.check_requests(CallContext(user_id="someone", client_ip="10.9.9.9"))


async def test_tokens_are_charged_after_the_call_and_checked_before(storage: Storage) -> None:
    limiter = RateLimiter(LimitRules(tokens={"user": "1000/hour"}), storage)
    await limiter.check_tokens(ALICE, 900)
    await limiter.charge_tokens(ALICE, 900)
    await limiter.check_tokens(ALICE, 100)
    with pytest.raises(LimitExceeded, match="tokens"):
        await limiter.check_tokens(ALICE, 101)
    await limiter.check_tokens(BOB, 1000)


async def test_concurrent_streams_per_user(storage: Storage) -> None:
    limiter = RateLimiter(LimitRules(concurrent_streams=2), storage)
    first = await limiter.acquire(ALICE)
    second = await limiter.acquire(ALICE)
    with pytest.raises(LimitExceeded) as caught:
        await limiter.acquire(ALICE)
    assert caught.value.retry_after and caught.value.limit == "concurrent streams per user"
    assert await limiter.streams_in_flight(ALICE) == 2  # the refused one gave its slot back
    await limiter.acquire(BOB)
    await limiter.release(first)
    await limiter.release(first)  # releasing twice frees one slot, not two
    third = await limiter.acquire(ALICE)
    with pytest.raises(LimitExceeded):
        await limiter.acquire(ALICE)
    await limiter.release(second)
    await limiter.release(third)
    assert await limiter.streams_in_flight(ALICE) == 0


async def test_no_rules_means_no_limits(storage: Storage) -> None:
    limiter = RateLimiter(LimitRules(), storage)
    for _ in range(50):
        slot = await limiter.acquire(ALICE)
        await limiter.check_requests(ALICE)
        await limiter.check_tokens(ALICE, 10**9)
        assert slot.key is None
