"""The live-reply channel: a websocket that appends a streaming reply's text in the browser.

``/_parley/stream/<message id>?from=<characters already received>``

Reflex resends a changed var's whole value on every update, so a growing reply sent through
state costs O(n²) bytes. This channel sends each piece of text once, with one byte of
framing per frame:

- ``d<text>``: more text, to append;
- ``e{"status": ..., "error": ...}``: the end (status "complete", "stopped", "error", or
  "gone" for a stream this process does not know); the server then closes.

Frames are coalesced: the first text goes out at once, then at most ``max_fps`` frames a
second (the app sets 25, from ``PARLEY_LIVE_FRAME_MS``), each carrying whatever arrived
meanwhile. So tokens share frames at any provider rate, a token waits at most one frame
interval, and the bytes stay within a small factor of the reply's own. ``from`` counts
Unicode code points, so a reconnecting client resumes exactly where it stopped.

Plain Starlette: the composition root mounts it on Reflex's backend (``api_transformer``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from app.services.stream_hub import GONE, StreamEnd, StreamHub

log = logging.getLogger(__name__)

PATH = "/_parley/stream/{message_id}"
MAX_ID = 2**63 - 1


def end_frame(end: StreamEnd) -> str:
    return "e" + json.dumps({"status": end.status, "error": end.error}, separators=(",", ":"))


def _parse_int(value: str | None, default: int) -> int | None:
    """A non-negative decimal integer, else None."""
    if value is None:
        return default
    if not (value.isascii() and value.isdecimal()) or len(value) > 19:
        return None
    number = int(value)
    return number if number <= MAX_ID else None


async def _pump(
    websocket: WebSocket, hub: StreamHub, message_id: int, skip: int, max_fps: float
) -> None:
    """Send the stream from code point ``skip`` on, coalescing, then the end frame."""
    subscription = hub.subscribe(message_id)
    interval = 1.0 / max_fps
    last_sent = -interval
    while True:
        chunks, end = await subscription.batch()
        wait = last_sent + interval - time.monotonic()
        if wait > 0 and end is None:  # at most max_fps frames: gather what comes meanwhile
            await asyncio.sleep(wait)
            more, end = subscription.ready()
            chunks += more
        text = "".join(chunks)
        if skip:
            dropped = min(skip, len(text))
            text, skip = text[dropped:], skip - dropped
        if text:
            await websocket.send_text("d" + text)
            last_sent = time.monotonic()
        if end is not None:
            await websocket.send_text(end_frame(end))
            return


async def _watch(websocket: WebSocket) -> None:
    """Returns when the client goes away (clients send nothing; anything sent is ignored)."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


def stream_app(hub: Callable[[], StreamHub], *, max_fps: float = 60.0) -> Starlette:
    """A Starlette app with the live-reply websocket; ``hub`` gives the current hub."""

    async def endpoint(websocket: WebSocket) -> None:
        message_id = _parse_int(websocket.path_params.get("message_id"), -1)
        skip = _parse_int(websocket.query_params.get("from"), 0)
        try:
            await websocket.accept()
            if message_id is None or message_id < 0 or skip is None:
                await websocket.send_text(end_frame(GONE))
                await websocket.close(code=1008)  # policy violation: a malformed request
                return
            pump = asyncio.create_task(_pump(websocket, hub(), message_id, skip, max_fps))
            watch = asyncio.create_task(_watch(websocket))
            try:
                await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                pump.cancel()
                watch.cancel()
                pumped, _ = await asyncio.gather(pump, watch, return_exceptions=True)
            if isinstance(pumped, Exception) and not _is_disconnect(pumped):
                log.error("live-reply stream %s failed", message_id, exc_info=pumped)
            elif pumped is None:  # the end frame went out: close politely
                await websocket.close()
        except Exception as exc:
            if not _is_disconnect(exc):
                raise

    return Starlette(routes=[WebSocketRoute(PATH, endpoint)])


def _is_disconnect(exc: BaseException) -> bool:
    """The client left mid-send: expected, not an error."""
    return isinstance(exc, WebSocketDisconnect | WebSocketDisconnected | OSError)
