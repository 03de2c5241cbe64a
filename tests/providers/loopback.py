"""Loopback HTTP servers for tests and benchmarks, and the providers' wire formats.

:class:`LoopbackBase` is the scaffolding every such server shares: an asyncio server on
127.0.0.1 (a random port) in a thread with its own event loop, so any caller, sync or async,
can point a real SDK at it through ``base_url``, and a busy caller does not delay it. The
latency benchmark's paced stand-in (bench/_provider.py) builds on it too.

:class:`LoopbackServer` answers as scripted: each request takes the next scripted
:class:`Reply`; every request is recorded. Bodies go out with chunked transfer encoding, one
HTTP chunk per scripted piece, so a test controls exactly how the bytes are split.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections import deque
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Self


@dataclass
class Reply:
    status: int = 200
    pieces: Sequence[bytes] = ()  # body pieces; each is written and flushed on its own
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/event-stream"
    head_delay: float = 0.0  # before the status line
    first_delay: float = 0.0  # after the headers, before the first piece
    delay: float = 0.0  # between pieces
    hang: float = 0.0  # after the last piece, hold the connection open (until the client leaves)
    truncate: bool = False  # close without the chunked terminator (a broken connection)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


def json_reply(status: int, body: object, **kwargs: Any) -> Reply:
    return Reply(
        status=status,
        pieces=[json.dumps(body).encode()],
        content_type="application/json",
        **kwargs,
    )


async def read_request(reader: asyncio.StreamReader) -> Recorded:
    """One HTTP request off the socket; the body is JSON if it parses, else bytes."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {
        k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)
    }
    raw = await reader.readexactly(int(headers.get("content-length", "0")))
    try:
        body: Any = json.loads(raw) if raw else None
    except ValueError:
        body = raw
    return Recorded(method, path, headers, body)


def write_chunk(writer: asyncio.StreamWriter, data: bytes) -> None:
    """One piece of a chunked body (an empty piece would end the body, so it is skipped)."""
    if data:
        writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")


def status_head(status: int, content_type: str, headers: dict[str, str] | None = None) -> bytes:
    """The status line and headers of a chunked reply whose connection closes after it."""
    lines = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n",
        f"content-type: {content_type}\r\n",
        "transfer-encoding: chunked\r\n",
        "connection: close\r\n",
        *(f"{k}: {v}\r\n" for k, v in (headers or {}).items()),
        "\r\n",
    ]
    return "".join(lines).encode("latin-1")


END_OF_BODY = b"0\r\n\r\n"


class LoopbackBase:
    """An HTTP server on 127.0.0.1 in its own thread and event loop; subclasses answer
    each connection in :meth:`_serve`. ``stop`` ends any connection still being answered."""

    TIMEOUT = 10.0  # seconds to start or stop

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self._thread.start()
        self._call(self._start())
        return self

    def stop(self) -> None:
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(self.TIMEOUT)
        self._loop.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` on the server's loop and wait for it."""
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(self.TIMEOUT)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _stop(self) -> None:
        await self._cancel_handlers()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _cancel_handlers(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client left
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


class LoopbackServer(LoopbackBase):
    """Answers each request with the next scripted :class:`Reply`, and records it."""

    TIMEOUT = 5.0

    def __init__(self) -> None:
        super().__init__()
        self.replies: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Forget scripts and requests; end any handler still holding a connection."""
        self._call(self._cancel_handlers())
        with self._lock:
            self.replies.clear()
            self.requests.clear()

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self.replies)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await read_request(reader)
        with self._lock:
            self.requests.append(request)
            reply = self.replies.popleft() if self.replies else None
        if reply is None:
            reply = json_reply(
                500, {"error": {"type": "api_error", "message": "no scripted reply left"}}
            )
        if reply.head_delay:
            await _wait_or_leave(reader, reply.head_delay)
        writer.write(status_head(reply.status, reply.content_type, reply.headers))
        await writer.drain()
        if reply.first_delay:
            await _wait_or_leave(reader, reply.first_delay)
        for i, piece in enumerate(reply.pieces):
            if i and reply.delay:
                await asyncio.sleep(reply.delay)
            if piece:
                write_chunk(writer, piece)
                await writer.drain()
        if reply.hang:
            await _wait_or_leave(reader, reply.hang)
        if not reply.truncate:
            writer.write(END_OF_BODY)
            await writer.drain()


async def _wait_or_leave(reader: asyncio.StreamReader, seconds: float) -> None:
    """Sleep up to ``seconds``, or less if the client closes the connection."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(reader.read(1), seconds)


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
    529: "Overloaded",
}


# ----- wire formats --------------------------------------------------------------------------


def sse(event: str | None, data: object) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data)
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {payload}\n\n".encode()


def anthropic_events(
    texts: Iterable[str],
    *,
    model: str = "claude-sonnet-5-5",
    input_tokens: int = 12,
    output_tokens: int = 7,
    cache_read: int = 0,
    cache_write: int = 0,
    stop_reason: str = "end_turn",
    ping: bool = True,
    error: dict[str, str] | None = None,
    complete: bool = True,
) -> list[bytes]:
    """One SSE event per list item: message_start ... message_stop, as the Messages API sends.

    With ``error``, an ``event: error`` follows the text; with ``complete=False`` the stream
    stops after the text (no message_delta / message_stop).
    """
    events = [
        sse(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_01",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": input_tokens,
                        "output_tokens": 1,
                        "cache_read_input_tokens": cache_read,
                        "cache_creation_input_tokens": cache_write,
                    },
                },
            },
        ),
        sse(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
    ]
    if ping:
        events.append(sse("ping", {"type": "ping"}))
    for text in texts:
        events.append(
            sse(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": text},
                },
            )
        )
    if error is not None:
        events.append(sse("error", {"type": "error", "error": error}))
        return events
    if not complete:
        return events
    events += [
        sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
        sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
        ),
        sse("message_stop", {"type": "message_stop"}),
    ]
    return events


def openai_events(
    texts: Iterable[str],
    *,
    model: str = "gpt-4.1",
    prompt_tokens: int = 12,
    completion_tokens: int = 7,
    cached_tokens: int = 0,
    finish_reason: str = "stop",
    usage: bool = True,
    done: bool = True,
    error: dict[str, str] | None = None,
    complete: bool = True,
) -> list[bytes]:
    """Chat Completions chunks as ``data:`` lines, the usage chunk, and ``[DONE]``."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    events = [sse(None, chunk({"role": "assistant", "content": ""}))]
    events += [sse(None, chunk({"content": t})) for t in texts]
    if error is not None:
        events.append(sse(None, {"error": error}))
        return events
    if not complete:
        return events
    events.append(sse(None, chunk({}, finish_reason)))
    if usage:
        events.append(
            sse(
                None,
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion.chunk",
                    "created": 1700000000,
                    "model": model,
                    "choices": [],
                    "usage": {
                        "prompt_tokens": prompt_tokens,
                        "completion_tokens": completion_tokens,
                        "total_tokens": prompt_tokens + completion_tokens,
                        "prompt_tokens_details": {"cached_tokens": cached_tokens},
                    },
                },
            )
        )
    if done:
        events.append(b"data: [DONE]\n\n")
    return events


def anthropic_error(status: int, kind: str, message: str = "", **kwargs: Any) -> Reply:
    body = {"type": "error", "error": {"type": kind, "message": message or kind}}
    return json_reply(status, body, **kwargs)


def openai_error(status: int, kind: str, code: str | None = None, **kwargs: Any) -> Reply:
    body = {"error": {"type": kind, "code": code, "message": f"{kind} ({status})", "param": None}}
    return json_reply(status, body, **kwargs)


MODERATION_CATEGORIES = (
    "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit",
    "illicit/violent", "self-harm", "self-harm/instructions", "self-harm/intent", "sexual",
    "sexual/minors", "violence", "violence/graphic",
)  # fmt: skip


def openai_moderation(scores: dict[str, float], *, threshold: float = 0.5) -> Reply:
    """A ``POST /v1/moderations`` answer: one result, flagged where a score reaches
    ``threshold`` (categories not given score 0)."""
    all_scores = {name: scores.get(name, 0.0) for name in MODERATION_CATEGORIES}
    flags = {name: score >= threshold for name, score in all_scores.items()}
    result = {
        "flagged": any(flags.values()),
        "categories": flags,
        "category_scores": all_scores,
        "category_applied_input_types": {name: ["text"] for name in MODERATION_CATEGORIES},
    }
    body = {"id": "modr-loopback", "model": "omni-moderation-latest", "results": [result]}
    return json_reply(200, body)
