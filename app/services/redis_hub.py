"""The live-reply hub on Redis Streams: any worker, on any host, serves any reader of a reply.

Same interface as the in-process :class:`~app.services.stream_hub.StreamHub` (open, publish,
finish, subscribe, grant, resolve, text), which it extends: each process keeps a local copy
of the streams it publishes or reads, and Redis carries them between processes.

- **Publishing** stays synchronous and cheap: the text goes to the local copy (readers in this
  process see it at once) and to an outbox. One flusher task drains the outbox into a
  pipeline: the chunks of one stream that piled up while the previous round trip was in flight
  become one ``XADD`` (a frame batch), so Redis traffic adapts to the provider's rate.
- **Reading** a stream another process publishes: the first reader in this process opens a
  local copy and starts one follower task, which ``XREAD``\\s the Redis stream from its start
  and feeds the copy. So a process makes one Redis read per batch however many of its readers
  watch that reply, and every reader gets the in-process hub's guarantees: every chunk, in
  order, then the end.
- **Offsets**: an entry's id is ``<characters up to its end>-0`` and the end's is
  ``<characters>-1``, so a stream is addressed by character offset: ``XREAD`` from
  ``<n>-0`` returns exactly what follows character ``n`` (the first entry may straddle it;
  :meth:`RedisStreamHub.read_after` trims it).
- **Keys**: a reader's unguessable key (granted where the reply runs) is stored in Redis as
  ``key -> message id:generation``, so any process can resolve it.
- **Expiry**: an open stream after ``idle_timeout`` without a chunk, a finished one
  ``keep_finished`` seconds after its end; no MAXLEN trim (late readers would see a gap).

A Redis failure never fails a reply: the publisher logs it and carries on; a follower ends
its copy as "gone", which tells the browser to take the saved reply from the database.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.services.stream_hub import GONE, StreamEnd, StreamHub, Subscription, is_key

log = logging.getLogger(__name__)

RESTARTED = StreamEnd("error", "The reply was restarted.")
RESOLVE_POLL_S = 0.02  # how often a reader waiting for its key's grant looks again


@dataclass(slots=True)
class _Out:
    """A stream this process publishes: its generation and the characters sent so far."""

    gen: str
    chars: int = 0
    ended: bool = False


# Outbox operations, in publishing order.
@dataclass(frozen=True, slots=True)
class _Open:
    message_id: int
    gen: str


@dataclass(frozen=True, slots=True)
class _Text:
    message_id: int
    gen: str
    text: str
    chars: int  # characters in the stream once this text is added


@dataclass(frozen=True, slots=True)
class _End:
    message_id: int
    gen: str
    chars: int
    end: StreamEnd


@dataclass(frozen=True, slots=True)
class _Grant:
    key: str
    message_id: int
    gen: str


_Op = _Open | _Text | _End | _Grant


class RedisStreamHub(StreamHub):
    def __init__(
        self,
        client: Any,  # redis.asyncio.Redis with decode_responses=True
        *,
        prefix: str = "parley:live",
        keep_finished: float = 60.0,
        idle_timeout: float = 900.0,
        max_streams: int = 10_000,
        max_waiting: int = 10_000,
        block_ms: int = 5_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            keep_finished=keep_finished,
            idle_timeout=idle_timeout,
            max_streams=max_streams,
            max_waiting=max_waiting,
            clock=clock,
        )
        self.client = client
        self.prefix = prefix
        self.block_ms = block_ms
        self._out: dict[int, _Out] = {}  # streams published here
        self._ops: list[_Op] = []
        self._flusher: asyncio.Task[None] | None = None
        self._following: dict[int, asyncio.Task[None]] = {}  # streams followed from Redis
        self._copies: dict[int, str | None] = {}  # each local copy's generation, if known
        self._granted: dict[str, tuple[int, str | None]] = {}  # key -> (message id, gen)
        self._polling = 0  # readers polling Redis for a grant

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisStreamHub:
        import redis.asyncio

        # No socket timeout: a follower's XREAD blocks for block_ms by design.
        client = redis.asyncio.Redis.from_url(
            url, socket_connect_timeout=2.0, decode_responses=True
        )
        return cls(client, **kwargs)

    # ----- Redis names ---------------------------------------------------------------------

    def _gen_key(self, message_id: int) -> str:
        return f"{self.prefix}:gen:{message_id}"

    def _stream_key(self, message_id: int, gen: str) -> str:
        return f"{self.prefix}:s:{message_id}:{gen}"

    def _grant_key(self, key: str) -> str:
        return f"{self.prefix}:key:{key}"

    # ----- publishing (the process running the reply) --------------------------------------

    def open(self, message_id: int) -> None:
        out = self._out.get(message_id)
        if out is not None and not out.ended:
            self._send(_End(message_id, out.gen, out.chars, RESTARTED))
        self._stop_following(message_id)
        super().open(message_id)
        gen = secrets.token_hex(6)
        self._out[message_id] = _Out(gen)
        self._copies[message_id] = gen
        self._send(_Open(message_id, gen))

    def publish(self, message_id: int, text: str) -> None:
        if not text:
            return
        out = self._out.get(message_id)
        if out is None or out.ended:
            self.open(message_id)
            out = self._out[message_id]
        super().publish(message_id, text)
        out.chars += len(text)
        self._send(_Text(message_id, out.gen, text, out.chars))

    def finish(self, message_id: int, status: str, error: str | None = None) -> None:
        out = self._out.get(message_id)
        if out is None or out.ended:
            return
        super().finish(message_id, status, error)
        out.ended = True
        self._send(_End(message_id, out.gen, out.chars, StreamEnd(status, error or "")))

    def grant(self, key: str, message_id: int, *, follow: bool = False) -> None:
        """Let whoever holds ``key``, in any process, read ``message_id``'s stream; ``follow``:
        one that may stream elsewhere (a reader arriving mid-reply), whatever its generation."""
        if not is_key(key):
            raise ValueError("not a stream key")
        granted = self._granted.get(key)
        if granted is not None:
            if granted[0] == message_id:
                return
            raise ValueError("that stream key is already in use")
        if follow and message_id not in self._out:
            self._granted[key] = (message_id, None)
            return self._send(_Grant(key, message_id, ""))
        if message_id not in self._out:
            self.open(message_id)
        gen = self._out[message_id].gen
        self._granted[key] = (message_id, gen)
        self._send(_Grant(key, message_id, gen))

    def _send(self, op: _Op) -> None:
        self._ops.append(op)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        """Send the outbox, one pipeline per round trip, until it is empty."""
        while self._ops:
            ops, self._ops = self._ops, []
            pipe = self.client.pipeline(transaction=False)
            self._commands(pipe, ops)
            try:
                await pipe.execute()
            except Exception as exc:  # the reply goes on; readers here still have it
                log.warning("live-reply hub: Redis write failed (%s); %d ops lost", exc, len(ops))
        for message_id in [m for m, out in self._out.items() if out.ended]:
            del self._out[message_id]

    def _commands(self, pipe: Any, ops: list[_Op]) -> None:
        idle, kept = int(self.idle_timeout), max(int(self.keep_finished), 1)
        i = 0
        while i < len(ops):
            op = ops[i]
            if isinstance(op, _Text):  # this and the texts right after it: one entry
                parts = [op.text]
                while (
                    i + 1 < len(ops)
                    and isinstance(nxt := ops[i + 1], _Text)
                    and (nxt.message_id, nxt.gen) == (op.message_id, op.gen)
                ):
                    parts.append(nxt.text)
                    op = nxt
                    i += 1
                stream = self._stream_key(op.message_id, op.gen)
                pipe.xadd(stream, {"t": "".join(parts)}, id=f"{op.chars}-0")
                pipe.expire(stream, idle)
                pipe.expire(self._gen_key(op.message_id), idle)
            elif isinstance(op, _Open):
                pipe.set(self._gen_key(op.message_id), op.gen, ex=idle)
            elif isinstance(op, _End):
                stream = self._stream_key(op.message_id, op.gen)
                fields = {"e": op.end.status, "r": op.end.error}
                pipe.xadd(stream, fields, id=f"{op.chars}-1")
                pipe.expire(stream, kept)
                pipe.expire(self._gen_key(op.message_id), kept)
            else:
                pipe.set(self._grant_key(op.key), f"{op.message_id}:{op.gen}", ex=idle)
            i += 1

    # ----- reading (any process) -----------------------------------------------------------

    async def resolve(self, key: str, wait: float = 0.0) -> int | None:
        """The message id granted to ``key`` in any process, waiting up to ``wait`` seconds
        for the grant; None if it does not come (or too many readers wait already)."""
        granted = self._granted.get(key)
        if granted is not None or not is_key(key):
            return granted[0] if granted else None
        if self._polling >= self.max_waiting:
            return None
        self._polling += 1
        try:
            deadline = time.monotonic() + wait
            while True:
                try:
                    value = await self.client.get(self._grant_key(key))
                except Exception as exc:
                    log.warning("live-reply hub: Redis read failed (%s)", exc)
                    return None
                if value is not None:
                    message_id, _, gen = str(value).partition(":")
                    self._granted[key] = (int(message_id), gen or None)
                    return int(message_id)
                if time.monotonic() >= deadline:
                    return None
                await asyncio.sleep(RESOLVE_POLL_S)
        finally:
            self._polling -= 1

    def subscribe(self, message_id: int, from_chunk: int = 0) -> Subscription:
        """A reader of ``message_id``'s stream, wherever it is published. A stream this
        process does not publish is followed from Redis (one follower per stream)."""
        self._expire()
        if message_id not in self._out:
            wanted = self._wanted_gen(message_id)
            if message_id not in self._streams or wanted not in (
                None,
                self._copies.get(message_id),
            ):
                self._follow(message_id, wanted)
        return super().subscribe(message_id, from_chunk)

    def _wanted_gen(self, message_id: int) -> str | None:
        """The generation a key granted here named for ``message_id`` (the newest), if any."""
        gens = [gen for m, gen in self._granted.values() if m == message_id and gen]
        return gens[-1] if gens else None

    def _follow(self, message_id: int, gen: str | None) -> None:
        self._stop_following(message_id)
        StreamHub.open(self, message_id)
        if len(self._copies) > 2 * self.max_streams:  # forget the generations of dropped copies
            self._copies = {m: g for m, g in self._copies.items() if m in self._streams}
        self._copies[message_id] = gen
        task = asyncio.get_running_loop().create_task(self._feed(message_id, gen))
        self._following[message_id] = task

    def _stop_following(self, message_id: int) -> None:
        task = self._following.pop(message_id, None)
        if task is not None:
            task.cancel()

    async def _feed(self, message_id: int, gen: str | None) -> None:
        """Copy the Redis stream into this process's copy until its end (or until the copy
        is dropped or replaced)."""
        copy = self._streams[message_id]
        try:
            if gen is None:
                gen = await self.client.get(self._gen_key(message_id))
                if gen is None:
                    self._end_copy(message_id, copy, GONE)
                    return
                if self._streams.get(message_id) is copy:
                    self._copies[message_id] = gen
            stream, last = self._stream_key(message_id, gen), "0-0"
            while self._streams.get(message_id) is copy and copy.end is None:
                answer = await self.client.xread({stream: last}, count=1000, block=self.block_ms)
                if not answer:  # quiet: is the stream still open (not expired, not replaced)?
                    if await self.client.get(self._gen_key(message_id)) != gen:
                        self._end_copy(message_id, copy, GONE)
                    continue
                for entry_id, fields in answer[0][1]:
                    last = entry_id
                    if self._streams.get(message_id) is not copy:
                        return
                    if "t" in fields:
                        StreamHub.publish(self, message_id, fields["t"])
                    else:
                        end = StreamEnd(fields.get("e", "gone"), fields.get("r", ""))
                        self._end_copy(message_id, copy, end)
                        return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("live-reply hub: following reply %d failed (%s)", message_id, exc)
            self._end_copy(message_id, copy, GONE)
        finally:
            if self._following.get(message_id) is asyncio.current_task():
                del self._following[message_id]

    def _end_copy(self, message_id: int, copy: Any, end: StreamEnd) -> None:
        if self._streams.get(message_id) is copy:
            StreamHub.finish(self, message_id, end.status, end.error)

    async def read_after(
        self, message_id: int, chars: int, *, gen: str | None = None
    ) -> tuple[str, StreamEnd | None]:
        """What Redis holds of ``message_id``'s stream after character ``chars``, and its end
        if it has ended (GONE for a stream Redis does not hold): a reader that lost its
        place resumes here with no gap and no repeat, by the entries' offset ids."""
        gen = gen or await self.client.get(self._gen_key(message_id))
        if gen is None:
            return "", GONE
        entries = await self.client.xrange(self._stream_key(message_id, gen), f"{chars}-0", "+")
        if not entries:
            return "", GONE
        parts: list[str] = []
        end: StreamEnd | None = None
        for entry_id, fields in entries:
            upto = int(entry_id.partition("-")[0])
            if "t" in fields:
                text = fields["t"]
                if upto > chars:  # entry_id == "<chars>-0" adds nothing new
                    parts.append(text[max(0, len(text) - (upto - chars)) :])
            else:
                end = StreamEnd(fields.get("e", "gone"), fields.get("r", ""))
        return "".join(parts), end

    async def end_abandoned(self, message_id: int, status: str, error: str | None = None) -> None:
        """End, for readers in every process, a stream whose publishing process died: the
        end goes after the last text Redis holds (its offset), unless the stream has one."""
        if message_id in self._out:
            return self.finish(message_id, status, error)
        try:
            gen = await self.client.get(self._gen_key(message_id))
            stream = self._stream_key(message_id, gen) if gen is not None else ""
            last = await self.client.xrevrange(stream, count=1) if stream else []
            if stream and not (last and "t" not in last[0][1]):  # not ended yet
                chars, kept = int(last[0][0].partition("-")[0]) if last else 0, self.keep_finished
                pipe = self.client.pipeline(transaction=False)
                pipe.xadd(stream, {"e": status, "r": error or ""}, id=f"{chars}-1")
                pipe.expire(stream, max(int(kept), 1))
                pipe.expire(self._gen_key(message_id), max(int(kept), 1))
                await pipe.execute()
        except Exception as exc:  # its readers then wait for the stream's expiry
            log.warning("live-reply hub: ending reply %d failed (%s)", message_id, exc)
        return None

    async def aclose(self) -> None:
        """Send what is queued, stop following, close the connections."""
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        for message_id in list(self._following):
            self._stop_following(message_id)
        await self.client.aclose()


def hub_for(redis_url: str | None) -> StreamHub:
    """The live-reply hub: on Redis (shared by every worker) when a URL is set, else in
    this process."""
    return RedisStreamHub.from_url(redis_url) if redis_url else StreamHub()
