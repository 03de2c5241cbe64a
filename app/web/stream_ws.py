"""The live-reply channel: a websocket that appends a streaming reply's text in the browser.

``/_parley/stream/<key>?from=<characters already received>``

The key is the reply's unguessable stream key (:func:`app.services.stream_hub.new_key`),
given only to the session that may read it; never the message id. A browser may connect with
the key before the server has granted it (it opens the channel as it sends): the endpoint
waits for the grant up to ``grant_wait`` seconds, then ends the stream as "gone".

Reflex resends a changed var's whole value on every update, so a growing reply sent through
state costs O(n²) bytes. This channel sends each piece of text once, with one byte of
framing per frame:

- ``d<text>``: more text, to append;
- ``e{"status": ..., "error": ...}``: the end (status "complete", "stopped", "error", or
  "gone" for a stream this process does not know); the server then closes.

Frames adapt to the provider's rate (:class:`FramePacer`): text that comes after a quiet
spell of one frame interval (the app sets 40 ms, ``PARLEY_LIVE_FRAME_MS``) goes out at once,
so a slow provider's tokens are never held back; text that comes in a burst waits for the
interval since the previous frame and shares one frame with whatever arrives meanwhile. So a
token waits at most one interval, frames stay under about two per interval, and the bytes
stay within a small factor of the reply's own. ``from`` counts
Unicode code points, so a reconnecting client resumes exactly where it stopped.

Plain Starlette: the composition root mounts it on Reflex's backend (``api_transformer``).

Authorisation (issue 10): the composition root passes ``authorize``
(``app.web.access.stream_guard``): the handshake's session cookie must belong to someone who
may read the message's conversation. It is asked once the key resolves to its message, so a
key that leaked to someone else still reads nothing. Nobody, a foreign reader and an
unknown key get the same answer, the "gone" end frame, before a byte of the reply.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import HTTPConnection
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from app.services.stream_hub import GONE, StreamEnd, StreamHub, is_key

log = logging.getLogger(__name__)

PATH = "/_parley/stream/{key}"
MAX_CHARS = 2**63 - 1
GRANT_WAIT_S = 10.0  # how long a reader who came before its key was granted may wait
# May this connection read this message's live reply? (app.web.access.stream_guard)
StreamCheck = Callable[[HTTPConnection, int], Awaitable[bool]]


def end_frame(end: StreamEnd) -> str:
    return "e" + json.dumps({"status": end.status, "error": end.error}, separators=(",", ":"))


def _parse_int(value: str | None, default: int) -> int | None:
    """A non-negative decimal integer, else None."""
    if value is None:
        return default
    if not (value.isascii() and value.isdecimal()) or len(value) > 19:
        return None
    number = int(value)
    return number if number <= MAX_CHARS else None


_TICK = 1e-6  # seconds; differences below this are clock rounding, not waits


class FramePacer:
    """When to send text: at once after a quiet spell, else at most one frame per interval.

    Text that arrives after a gap of at least ``interval`` since the previous text (or the
    first text) goes out at once: a slow provider's tokens are never held back. Text that
    arrives sooner is part of a burst: it waits until ``interval`` after the previous frame,
    and whatever else arrives meanwhile shares its frame. So frames track the provider's rate
    up to ``1 / interval`` per second, and coalesce above it.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last_sent = -math.inf
        self._last_arrival = -math.inf

    def hold(self, arrived: float, now: float) -> float:
        """Seconds to hold text that arrived at ``arrived`` (0: send it at ``now``)."""
        quiet = arrived - self._last_arrival >= self.interval - _TICK
        self._last_arrival = arrived
        if quiet:
            return 0.0
        wait = self._last_sent + self.interval - now
        return wait if wait > _TICK else 0.0

    def arrived(self, at: float) -> None:
        """More text came in while holding, at ``at``."""
        self._last_arrival = max(self._last_arrival, at)

    def sent(self, at: float) -> None:
        self._last_sent = at


async def _pump(
    websocket: WebSocket,
    hub: StreamHub,
    key: str,
    skip: int,
    max_fps: float,
    *,
    grant_wait: float = GRANT_WAIT_S,
    authorize: StreamCheck | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Send the stream granted to ``key`` from code point ``skip`` on, paced by
    :class:`FramePacer`, then the end frame. ``clock`` must be the hub's clock (both
    default to ``time.monotonic``).

    Holding the key is not enough (issue 10): once the key resolves to its message, the
    connection's principal must also be allowed to read that message. A key never
    granted, and a reader who may not read the reply, get the same "gone" end."""
    message_id = await hub.resolve(key, grant_wait)
    if message_id is None or (authorize is not None and not await authorize(websocket, message_id)):
        await websocket.send_text(end_frame(GONE))
        return
    subscription = hub.subscribe(message_id)
    pacer = FramePacer(1.0 / max_fps)
    while True:
        chunks, end = await subscription.batch()
        if chunks:
            wait = pacer.hold(subscription.published_at, clock())
            if wait > 0 and end is None:  # a burst: gather what comes meanwhile
                await sleep(wait)
                more, end = subscription.ready()
                if more:
                    chunks += more
                    pacer.arrived(subscription.published_at)
        text = "".join(chunks)
        if skip:
            dropped = min(skip, len(text))
            text, skip = text[dropped:], skip - dropped
        if text:
            await websocket.send_text("d" + text)
            pacer.sent(clock())
        if end is not None:
            await websocket.send_text(end_frame(end))
            return


async def _watch(websocket: WebSocket) -> None:
    """Returns when the client goes away (clients send nothing; anything sent is ignored)."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


def stream_app(
    hub: Callable[[], StreamHub],
    *,
    max_fps: float = 60.0,
    grant_wait: float = GRANT_WAIT_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    authorize: StreamCheck | None = None,
) -> Starlette:
    """A Starlette app with the live-reply websocket; ``hub`` gives the current hub.
    ``clock`` and ``sleep`` pace the frames (a test passes a fake clock, the hub's too).
    ``authorize`` decides who may read a reply; the app always passes one (None: no check,
    for the framing's own tests)."""

    async def endpoint(websocket: WebSocket) -> None:
        key = str(websocket.path_params.get("key", ""))
        skip = _parse_int(websocket.query_params.get("from"), 0)
        try:
            await websocket.accept()
            if not is_key(key) or skip is None:
                await websocket.send_text(end_frame(GONE))
                await websocket.close(code=1008)  # policy violation: a malformed request
                return
            pump = asyncio.create_task(
                _pump(
                    websocket,
                    hub(),
                    key,
                    skip,
                    max_fps,
                    grant_wait=grant_wait,
                    authorize=authorize,
                    clock=clock,
                    sleep=sleep,
                )
            )
            watch = asyncio.create_task(_watch(websocket))
            try:
                await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                pump.cancel()
                watch.cancel()
                pumped, _ = await asyncio.gather(pump, watch, return_exceptions=True)
            if isinstance(pumped, Exception) and not _is_disconnect(pumped):
                log.error("a live-reply stream failed", exc_info=pumped)
            elif pumped is None:  # the end frame went out: close politely
                await websocket.close()
        except Exception as exc:
            if not _is_disconnect(exc):
                raise

    return Starlette(routes=[WebSocketRoute(PATH, endpoint)])


def _is_disconnect(exc: BaseException) -> bool:
    """The client left mid-send: expected, not an error."""
    return isinstance(exc, WebSocketDisconnect | WebSocketDisconnected | OSError)
