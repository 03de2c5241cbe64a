"""The live-reply hub on a real Redis: two hub instances stand for two workers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from app.services.redis_hub import RESTARTED, RedisStreamHub, hub_for
from app.services.stream_hub import GONE, StreamEnd, StreamHub, Subscription
from tests.redis_server import REDIS_URL, require_redis

KEY = "k" * 22


@pytest.fixture
async def workers() -> AsyncIterator[tuple[RedisStreamHub, RedisStreamHub]]:
    """Two hubs on one Redis, sharing a prefix no other test uses."""
    require_redis()
    prefix = f"parley-test:{uuid.uuid4().hex[:10]}"
    a = RedisStreamHub.from_url(REDIS_URL, prefix=prefix, keep_finished=30, block_ms=200)
    b = RedisStreamHub.from_url(REDIS_URL, prefix=prefix, keep_finished=30, block_ms=200)
    yield a, b
    await a.aclose()
    await b.aclose()


async def read_all(sub: Subscription, skip: int = 0) -> tuple[list[str], StreamEnd]:
    """Every chunk to the end, dropping the first ``skip`` characters (as the live-reply
    channel does for a reader resuming at a character offset)."""
    chunks: list[str] = []
    while True:
        batch, end = await asyncio.wait_for(sub.batch(), timeout=5)
        chunks.extend(batch)
        if end is not None:
            text = "".join(chunks)[skip:]
            return [text] if text else [], end


async def test_a_reader_on_another_worker_sees_every_chunk_in_order_then_the_end(
    workers: tuple[RedisStreamHub, RedisStreamHub],
) -> None:
    a, b = workers
    a.open(7)
    a.grant(KEY, 7)
    await asyncio.sleep(0.05)  # let the open and the grant reach Redis
    assert await b.resolve(KEY, wait=1) == 7
    reader = b.subscribe(7)
    local = a.subscribe(7)
    words = [f"w{i} " for i in range(300)]
    for i, word in enumerate(words):
        a.publish(7, word)
        if i % 25 == 0:
            await asyncio.sleep(0.005)  # a provider's pace: several batches
    a.finish(7, "complete")

    seen: list[str] = []
    async for item in reader:
        if isinstance(item, StreamEnd):
            assert item == StreamEnd("complete")
            break
        seen.append(item)
    assert "".join(seen) == "".join(words)
    assert 1 < len(seen) < len(words)  # batched, not one entry per chunk, nor one in all
    assert (await read_all(local))[0] == ["".join(words)]  # the publisher's own readers too


async def test_a_reader_joining_mid_stream_from_an_offset_has_no_gap_and_no_repeat(
    workers: tuple[RedisStreamHub, RedisStreamHub],
) -> None:
    a, b = workers
    text = "".join(f"<{i}>" for i in range(200))
    cut = 137  # characters the reader already had before its connection dropped
    for i in range(0, 300, 3):
        a.publish(8, text[i : i + 3])
    await asyncio.sleep(0.05)
    joined = b.subscribe(8)  # mid-stream, on the other worker
    for i in range(300, len(text), 3):
        a.publish(8, text[i : i + 3])
        await asyncio.sleep(0)
    a.finish(8, "stopped")
    got, end = await read_all(joined, skip=cut)
    assert got == [text[cut:]]
    assert end == StreamEnd("stopped")
    # The same from Redis by character offset (the entries' ids), for every cut.
    for at in (0, 1, cut, 299, 300, len(text) - 1, len(text)):
        assert await b.read_after(8, at) == (text[at:], StreamEnd("stopped"))


async def test_a_reader_before_the_grant_waits_for_it(
    workers: tuple[RedisStreamHub, RedisStreamHub],
) -> None:
    a, b = workers
    waiting = asyncio.create_task(b.resolve(KEY, wait=2))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    a.grant(KEY, 9)
    assert await waiting == 9
    with pytest.raises(ValueError, match="already in use"):
        a.grant(KEY, 10)  # a key cannot move to another reply
    assert await b.resolve("x" * 22, wait=0.05) is None  # never granted
    assert await b.resolve("../bad", wait=1) is None  # not a key at all


async def test_an_unknown_stream_is_gone_and_a_finished_one_expires(
    workers: tuple[RedisStreamHub, RedisStreamHub],
) -> None:
    a, b = workers
    assert await read_all(b.subscribe(404)) == ([], GONE)
    a.publish(11, "short")
    a.finish(11, "complete")
    await asyncio.sleep(0.05)
    ttl = await a.client.ttl(f"{a.prefix}:gen:11")
    assert 0 < ttl <= 30  # keep_finished, not the open stream's idle timeout
    streams = [k async for k in a.client.scan_iter(f"{a.prefix}:s:11:*")]
    assert len(streams) == 1 and 0 < await a.client.ttl(streams[0]) <= 30


async def test_a_restarted_reply_ends_the_old_stream_and_readers_follow_the_new_key(
    workers: tuple[RedisStreamHub, RedisStreamHub],
) -> None:
    a, b = workers
    a.grant(KEY, 12)
    a.publish(12, "first try")
    await asyncio.sleep(0.05)
    assert await b.resolve(KEY) == 12
    old = b.subscribe(12)
    a.open(12)  # the reply is retried
    second = "L" * 22
    a.grant(second, 12)
    a.publish(12, "second try")
    a.finish(12, "complete")
    assert await read_all(old) == (["first try"], RESTARTED)
    await asyncio.sleep(0.05)
    assert await b.resolve(second) == 12
    assert await read_all(b.subscribe(12)) == (["second try"], StreamEnd("complete"))


async def test_redis_down_never_fails_the_reply() -> None:
    hub = RedisStreamHub.from_url("redis://127.0.0.1:1/0", block_ms=100)
    reader = hub.subscribe(1)  # followed from Redis, which is not there
    hub.publish(2, "still ")
    hub.publish(2, "streams")
    hub.finish(2, "complete")
    assert await read_all(hub.subscribe(2)) == (["still streams"], StreamEnd("complete"))
    assert await read_all(reader) == ([], GONE)
    await hub.aclose()


def test_the_hub_is_on_redis_only_with_a_url() -> None:
    assert type(hub_for(None)) is StreamHub
    assert isinstance(hub_for(REDIS_URL), RedisStreamHub)


async def test_a_dead_publishers_stream_is_ended_for_readers_in_every_worker(
    workers: tuple[RedisStreamHub, RedisStreamHub],
) -> None:
    """A worker that dies mid-reply never ends its stream; the worker that later marks the
    reply interrupted ends it in Redis, so readers elsewhere stop waiting (after every chunk
    the dead worker sent, in order), instead of waiting for the stream's expiry."""
    a, b = workers
    for word in ("partial ", "reply ", "so far"):
        a.publish(11, word)
    await asyncio.sleep(0.05)  # the chunks reach Redis; then "a" dies, ending nothing
    reader = b.subscribe(11)
    interrupted = StreamEnd("error", "Interrupted")

    await b.end_abandoned(11, interrupted.status, interrupted.error)

    assert await read_all(reader) == (["partial reply so far"], interrupted)
    assert await b.read_after(11, 8) == ("reply so far", interrupted)
    await b.end_abandoned(11, "error", "again")  # ended already: nothing added
    assert await b.read_after(11, 0) == ("partial reply so far", interrupted)
    await b.end_abandoned(404, "error", "none")  # a reply Redis never had: nothing to end
    assert await b.read_after(404, 0) == ("", GONE)


async def test_a_reader_arriving_mid_reply_on_another_worker_follows_the_publishers_stream(
    workers: tuple[RedisStreamHub, RedisStreamHub],
) -> None:
    """A page that opens a conversation while its reply streams elsewhere is granted a key
    by its own worker: the key must follow the publisher's stream, not open an empty one
    there (which also took over the reply's generation in Redis)."""
    a, b = workers
    a.open(13)
    a.publish(13, "already ")
    await asyncio.sleep(0.05)
    b.grant(KEY, 13, follow=True)  # in the reader's worker, which does not publish it
    await asyncio.sleep(0.05)
    assert await b.resolve(KEY) == 13
    reader = b.subscribe(13)
    a.publish(13, "streamed")
    a.finish(13, "complete")
    assert await read_all(reader) == (["already streamed"], StreamEnd("complete"))
