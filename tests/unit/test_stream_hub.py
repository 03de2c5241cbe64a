"""The stream hub: order, no loss, resuming, many readers, and bounded memory."""

from __future__ import annotations

import asyncio

import pytest

from app.services.stream_hub import GONE, StreamEnd, StreamHub, is_key, new_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def read_all(hub: StreamHub, message_id: int, from_chunk: int = 0) -> list[str | StreamEnd]:
    return [item async for item in hub.subscribe(message_id, from_chunk)]


async def test_a_reader_gets_every_chunk_in_order_then_the_end() -> None:
    hub = StreamHub()
    hub.open(1)
    reader = asyncio.create_task(read_all(hub, 1))
    await asyncio.sleep(0)  # the reader is waiting before anything is published
    for i in range(100):
        hub.publish(1, f"t{i} ")
        if i % 7 == 0:
            await asyncio.sleep(0)
    hub.finish(1, "complete")
    items = await asyncio.wait_for(reader, 1)
    assert items == [*(f"t{i} " for i in range(100)), StreamEnd("complete")]
    assert hub.text(1) == "".join(f"t{i} " for i in range(100))


async def test_a_late_reader_gets_what_was_published_before_it_came() -> None:
    hub = StreamHub()
    hub.publish(2, "a")
    hub.publish(2, "b")
    hub.finish(2, "error", "Overloaded.")
    assert await read_all(hub, 2) == ["a", "b", StreamEnd("error", "Overloaded.")]


async def test_a_reader_resumes_from_a_chunk_index() -> None:
    hub = StreamHub()
    for piece in "abcdef":
        hub.publish(3, piece)
    hub.finish(3, "stopped")
    assert await read_all(hub, 3, from_chunk=4) == ["e", "f", StreamEnd("stopped")]
    assert await read_all(hub, 3, from_chunk=99) == [StreamEnd("stopped")]


async def test_batch_returns_everything_ready_at_once() -> None:
    hub = StreamHub()
    hub.open(4)
    sub = hub.subscribe(4)
    waiting = asyncio.create_task(sub.batch())
    await asyncio.sleep(0)
    assert not waiting.done()  # nothing yet: it waits
    hub.publish(4, "x")
    hub.publish(4, "y")
    assert await asyncio.wait_for(waiting, 1) == (["x", "y"], None)
    hub.publish(4, "z")
    hub.finish(4, "complete")
    assert await sub.batch() == (["z"], StreamEnd("complete"))
    assert await sub.batch() == ([], StreamEnd("complete"))
    assert sub.position == 3


async def test_many_readers_each_get_the_whole_stream() -> None:
    hub = StreamHub()
    hub.open(5)
    readers = [asyncio.create_task(read_all(hub, 5)) for _ in range(50)]
    await asyncio.sleep(0)
    for i in range(200):
        hub.publish(5, str(i))
        if i % 10 == 0:
            await asyncio.sleep(0)
    hub.finish(5, "complete")
    expected = [*(str(i) for i in range(200)), StreamEnd("complete")]
    for items in await asyncio.wait_for(asyncio.gather(*readers), 2):
        assert items == expected


async def test_an_unknown_stream_ends_at_once_as_gone() -> None:
    hub = StreamHub()
    assert await read_all(hub, 404) == [GONE]


async def test_empty_chunks_are_not_published() -> None:
    hub = StreamHub()
    hub.publish(6, "")
    assert len(hub) == 0
    hub.publish(6, "a")
    hub.publish(6, "")
    hub.finish(6, "complete")
    assert await read_all(hub, 6) == ["a", StreamEnd("complete")]


async def test_finished_streams_are_kept_a_while_then_dropped() -> None:
    clock = Clock()
    hub = StreamHub(keep_finished=60, clock=clock)
    hub.publish(7, "done")
    hub.finish(7, "complete")
    clock.now += 59
    assert await read_all(hub, 7) == ["done", StreamEnd("complete")]
    clock.now += 2
    assert await read_all(hub, 7) == [GONE]
    assert len(hub) == 0


async def test_an_idle_open_stream_is_dropped_and_its_readers_told() -> None:
    clock = Clock()
    hub = StreamHub(idle_timeout=30, clock=clock)
    hub.publish(8, "half")
    reader = asyncio.create_task(read_all(hub, 8))
    await asyncio.sleep(0)
    clock.now += 31
    hub.open(9)  # any open checks for expired streams
    assert await asyncio.wait_for(reader, 1) == ["half", GONE]
    assert len(hub) == 1


async def test_the_number_of_streams_is_capped_oldest_first() -> None:
    hub = StreamHub(max_streams=3)
    for message_id in range(10):
        hub.publish(message_id, "x")
    assert len(hub) == 3
    assert [hub.text(i) for i in range(10)] == [""] * 7 + ["x"] * 3


async def test_reopening_a_stream_starts_it_afresh() -> None:
    """A retried reply streams into the same message id."""
    hub = StreamHub()
    hub.publish(10, "first try")
    hub.finish(10, "error", "Overloaded.")
    hub.open(10)
    hub.publish(10, "second")
    hub.finish(10, "complete")
    assert await read_all(hub, 10) == ["second", StreamEnd("complete")]


async def test_publishing_after_the_end_starts_a_new_stream() -> None:
    hub = StreamHub()
    hub.publish(11, "a")
    hub.finish(11, "complete")
    hub.finish(11, "error")  # a second finish changes nothing
    assert await read_all(hub, 11) == ["a", StreamEnd("complete")]
    hub.publish(11, "b")
    hub.finish(11, "complete")
    assert await read_all(hub, 11) == ["b", StreamEnd("complete")]


async def test_ready_never_waits() -> None:
    hub = StreamHub()
    hub.open(12)
    sub = hub.subscribe(12)
    assert sub.ready() == ([], None)
    hub.publish(12, "a")
    assert sub.ready() == (["a"], None)
    hub.finish(12, "complete")
    assert sub.ready() == ([], StreamEnd("complete"))
    assert hub.subscribe(13).ready() == ([], GONE)


# ----- keys: who may read a stream -----------------------------------------------------------


def test_keys_are_unguessable_and_url_safe() -> None:
    keys = {new_key() for _ in range(1000)}
    assert len(keys) == 1000
    assert all(is_key(k) and len(k) == 22 for k in keys)
    assert not is_key("42") and not is_key("a/b" * 8) and not is_key("A" * 65)


async def test_a_granted_key_resolves_to_its_stream_at_once() -> None:
    hub = StreamHub()
    hub.open(20)
    key = new_key()
    hub.grant(key, 20)
    hub.grant(key, 20)  # granting the same again changes nothing
    assert await hub.resolve(key) == 20
    assert await hub.resolve(new_key()) is None  # never granted, and not waited for


async def test_a_reader_with_a_key_not_yet_granted_waits_for_the_grant() -> None:
    hub = StreamHub()
    key = new_key()
    waiting = asyncio.create_task(hub.resolve(key, wait=5))
    await asyncio.sleep(0)
    assert not waiting.done()
    hub.open(21)
    hub.grant(key, 21)
    assert await asyncio.wait_for(waiting, 1) == 21


async def test_a_grant_that_does_not_come_ends_the_wait() -> None:
    hub = StreamHub()
    assert await hub.resolve(new_key(), wait=0.01) is None


async def test_waiting_readers_are_capped() -> None:
    hub = StreamHub(max_waiting=2)
    first, second = new_key(), new_key()
    waits = [asyncio.create_task(hub.resolve(k, wait=5)) for k in (first, second)]
    await asyncio.sleep(0)
    assert await hub.resolve(new_key(), wait=5) is None  # the third is refused at once
    hub.grant(first, 1)
    hub.grant(second, 2)
    assert await asyncio.gather(*waits) == [1, 2]


def test_a_key_cannot_be_moved_to_another_reply_nor_be_malformed() -> None:
    hub = StreamHub()
    key = new_key()
    hub.grant(key, 22)
    with pytest.raises(ValueError, match="already in use"):
        hub.grant(key, 23)
    with pytest.raises(ValueError, match="not a stream key"):
        hub.grant("23", 23)


async def test_a_key_lives_as_long_as_its_stream() -> None:
    clock = Clock()
    hub = StreamHub(keep_finished=60, clock=clock)
    key = new_key()
    hub.grant(key, 24)
    hub.publish(24, "x")
    hub.finish(24, "complete")
    clock.now += 61
    hub.open(25)  # expiry is checked on open
    assert await hub.resolve(key) is None


async def test_a_restarted_reply_revokes_its_old_key() -> None:
    """A retry streams into the same message id under a new key."""
    hub = StreamHub()
    old, new = new_key(), new_key()
    hub.grant(old, 26)
    hub.open(26)
    hub.grant(new, 26)
    assert await hub.resolve(old) is None
    assert await hub.resolve(new) == 26
