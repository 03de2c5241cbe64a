"""Live reply text, fanned out to any number of readers as it arrives. Pure asyncio.

The chat service publishes each piece of a reply's text here the moment the provider sends
it; the browser's live-reply channel reads it from here. A reader can join late or come
back after a dropped connection: it names the chunk to start from and gets every chunk
from there on, in order, then the end.

Memory is bounded: a finished stream is kept for ``keep_finished`` seconds (so a reader
that reconnects just after the end still learns how it ended), a stream nobody publishes
to for ``idle_timeout`` seconds is dropped, and at most ``max_streams`` are held, the
oldest going first. Expiry is checked whenever a stream is opened, so no timer task runs.

Readers never name a stream by its message id (sequential, so guessable): the session that
may read a reply is given an unguessable key (:func:`new_key`) and :meth:`StreamHub.grant`
binds it to the reply's stream. A reader may come with its key before the grant (the
browser opens the channel as it sends, before the server has posted the message):
:meth:`StreamHub.resolve` then waits for the grant, a bounded time, with a bounded number
of such waiters. A key lives as long as its stream.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """How a stream ended: a message status ("complete", "stopped", "error"), or "gone"
    for a stream the hub does not know (never opened, or long finished)."""

    status: str
    error: str = ""


GONE = StreamEnd("gone")

KEY_BYTES = 16  # 128 bits
_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")


def new_key() -> str:
    """An unguessable key for one reply's stream (URL-safe, 22 characters)."""
    return secrets.token_urlsafe(KEY_BYTES)


def is_key(text: str) -> bool:
    """Whether ``text`` has the shape of a stream key (not whether it was granted)."""
    return _KEY.fullmatch(text) is not None


@dataclass(eq=False, slots=True)
class _Stream:
    chunks: list[str] = field(default_factory=list)
    end: StreamEnd | None = None
    touched: float = 0.0  # monotonic time of the last publish, open or finish
    keys: list[str] = field(default_factory=list)  # granted to read it
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def wake(self) -> None:
        """Wake every reader waiting now; later waits need a new change."""
        self.changed.set()
        self.changed = asyncio.Event()


class Subscription:
    """One reader's position in a stream. Iterate for single chunks then the
    :class:`StreamEnd`, or call :meth:`batch` for everything that is ready at once."""

    def __init__(self, stream: _Stream | None, position: int) -> None:
        self._stream = stream
        self.position = position  # index of the next chunk to read
        self.end: StreamEnd | None = None if stream is not None else GONE

    @property
    def published_at(self) -> float:
        """When the stream last changed (the hub's clock): its latest chunk, or its end."""
        return self._stream.touched if self._stream is not None else 0.0

    async def batch(self) -> tuple[list[str], StreamEnd | None]:
        """Every chunk ready past the position (waiting for at least one, or the end),
        and the end once every chunk before it has been returned. After the end, only
        the end again."""
        while True:
            chunks, end = self.ready()
            if chunks or end is not None:
                return chunks, end
            assert self._stream is not None
            await self._stream.changed.wait()

    def ready(self) -> tuple[list[str], StreamEnd | None]:
        """Like :meth:`batch`, without waiting: possibly ``([], None)``."""
        stream = self._stream
        if stream is None or self.end is not None:
            return [], self.end
        chunks = stream.chunks[self.position :]
        self.position += len(chunks)
        self.end = stream.end
        return chunks, self.end

    def __aiter__(self) -> AsyncIterator[str | StreamEnd]:
        return self._items()

    async def _items(self) -> AsyncIterator[str | StreamEnd]:
        while True:
            chunks, end = await self.batch()
            for chunk in chunks:
                yield chunk
            if end is not None:
                yield end
                return


class StreamHub:
    def __init__(
        self,
        *,
        keep_finished: float = 60.0,
        idle_timeout: float = 900.0,
        max_streams: int = 10_000,
        max_waiting: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keep_finished = keep_finished
        self.idle_timeout = idle_timeout
        self.max_streams = max_streams
        self.max_waiting = max_waiting
        self._clock = clock
        self._streams: dict[int, _Stream] = {}  # oldest first: insertion order
        self._keys: dict[str, int] = {}  # granted key -> message id
        self._waiting: dict[str, asyncio.Event] = {}  # keys readers wait to be granted

    def __len__(self) -> int:
        return len(self._streams)

    def open(self, message_id: int) -> None:
        """Start (or restart, for a retried reply) the stream for ``message_id``, so
        readers who arrive before its first chunk wait for it instead of being told
        it is gone."""
        self._expire()
        old = self._streams.pop(message_id, None)
        if old is not None:
            old.end = old.end or StreamEnd("error", "The reply was restarted.")
            old.wake()
            self._revoke(old)  # a restarted reply gets a new key
        while len(self._streams) >= self.max_streams:
            oldest = next(iter(self._streams))
            self._drop(oldest)
        self._streams[message_id] = _Stream(touched=self._clock())

    def publish(self, message_id: int, text: str) -> None:
        """Append a chunk to an open stream (opening it if need be)."""
        if not text:
            return
        stream = self._streams.get(message_id)
        if stream is None or stream.end is not None:
            self.open(message_id)
            stream = self._streams[message_id]
        stream.chunks.append(text)
        stream.touched = self._clock()
        stream.wake()

    def finish(self, message_id: int, status: str, error: str | None = None) -> None:
        """End the stream; readers get their remaining chunks, then the end."""
        stream = self._streams.get(message_id)
        if stream is None or stream.end is not None:
            return
        stream.end = StreamEnd(status, error or "")
        stream.touched = self._clock()
        stream.wake()

    async def end_abandoned(self, message_id: int, status: str, error: str | None = None) -> None:
        """End a stream whose publisher is gone (a dead worker's, for the Redis hub): its
        readers get what it had, then this end."""
        self.finish(message_id, status, error)

    def subscribe(self, message_id: int, from_chunk: int = 0) -> Subscription:
        """A reader starting at chunk ``from_chunk`` (0: the beginning). An unknown
        stream gives only :data:`GONE`."""
        self._expire()
        return Subscription(self._streams.get(message_id), max(from_chunk, 0))

    def grant(self, key: str, message_id: int, *, follow: bool = False) -> None:
        """Let whoever holds ``key`` read ``message_id``'s stream (waking readers already
        waiting with it). A key is granted once: granting it again is refused, so a key
        cannot be moved to another reply. (``follow`` matters to the Redis hub only.)"""
        if not is_key(key):
            raise ValueError("not a stream key")
        if key in self._keys:
            if self._keys[key] == message_id:
                return
            raise ValueError("that stream key is already in use")
        stream = self._streams.get(message_id)
        if stream is None:
            self.open(message_id)
            stream = self._streams[message_id]
        stream.keys.append(key)
        self._keys[key] = message_id
        waiting = self._waiting.pop(key, None)
        if waiting is not None:
            waiting.set()

    async def resolve(self, key: str, wait: float = 0.0) -> int | None:
        """The message id granted to ``key``, waiting up to ``wait`` seconds for the grant;
        None if it does not come (or too many readers are waiting already)."""
        message_id = self._keys.get(key)
        if message_id is not None or wait <= 0 or not is_key(key):
            return message_id
        event = self._waiting.get(key)
        if event is None:
            if len(self._waiting) >= self.max_waiting:
                return None
            event = self._waiting[key] = asyncio.Event()
        try:
            await asyncio.wait_for(event.wait(), wait)
        except TimeoutError:
            if self._waiting.get(key) is event:
                del self._waiting[key]
        return self._keys.get(key)

    def text(self, message_id: int) -> str:
        """Everything published so far (for tests and diagnostics)."""
        stream = self._streams.get(message_id)
        return "".join(stream.chunks) if stream else ""

    def _drop(self, message_id: int) -> None:
        stream = self._streams.pop(message_id)
        self._revoke(stream)
        if stream.end is None:
            stream.end = GONE
            stream.wake()

    def _revoke(self, stream: _Stream) -> None:
        for key in stream.keys:
            self._keys.pop(key, None)
        stream.keys.clear()

    def _expire(self) -> None:
        now = self._clock()
        for message_id, stream in list(self._streams.items()):
            limit = self.keep_finished if stream.end is not None else self.idle_timeout
            if now - stream.touched >= limit:
                self._drop(message_id)
