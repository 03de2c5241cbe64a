"""A stand-in for Anthropic's Messages API on 127.0.0.1 that streams on an absolute schedule
and records when each token left it.

The app reaches it through ``ANTHROPIC_BASE_URL`` with its real Anthropic provider (the SDK
parses the server-sent events as it would Anthropic's). Each request is answered by
``script(prompt)``, a function of the conversation's last user text: a :class:`Plan` (the
reply and its rate) or None for a short immediate reply (the app's title requests).

Token ``k`` of a reply is due at ``t0 + k / rate``; the server sleeps until the next token
is due and then writes every token that is due, each as its own ``content_block_delta``
event. So the rate is exact on average even where an asyncio sleep overshoots (above about
250 tokens/s several tokens go out in one write, as a real provider's network does). Just
before each write, ``time.time()`` is recorded for every token in it: the moment the token
leaves the provider, on the same clock a browser on this machine reads as
``performance.timeOrigin + performance.now()``.

The server runs in its own thread and event loop, so a busy benchmark loop does not delay
it. Only 127.0.0.1 is bound. That scaffolding, and the HTTP plumbing, is the tests' loopback
base (tests/providers/loopback.py), shared so both stand-ins start, stop and parse alike.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.providers.loopback import (
    END_OF_BODY,
    LoopbackBase,
    read_request,
    status_head,
    write_chunk,
)

TITLE_MARK = "Title for this conversation:"


@dataclass(frozen=True, slots=True)
class Plan:
    text: str
    rate: float  # tokens per second
    token_chars: int = 4


@dataclass
class Sent:
    """One streamed reply: when each token left (epoch seconds), in order."""

    prompt: str
    plan: Plan
    times: list[float] = field(default_factory=list)
    done: bool = False

    def token_of_char(self, index: int) -> int:
        """The token that carries character ``index`` of the reply."""
        return index // self.plan.token_chars


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _delta(text: str) -> bytes:
    return _sse(
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
    )


def _head(model: str) -> bytes:
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_bench",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 1},
        },
    }
    block = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    return _sse("message_start", start) + _sse("content_block_start", block)


def _tail(output_tokens: int) -> bytes:
    return (
        _sse("content_block_stop", {"type": "content_block_stop", "index": 0})
        + _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
        )
        + _sse("message_stop", {"type": "message_stop"})
    )


def last_user_text(body: Any) -> str:
    """The text of the request's last user message (a string or text blocks)."""
    messages = body.get("messages") if isinstance(body, dict) else None
    for message in reversed(messages or []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(b.get("text", "") for b in content if isinstance(b, dict))
    return ""


class PacedProvider(LoopbackBase):
    def __init__(
        self,
        script: Callable[[str], Plan | None],
        *,
        title: str = "Bench",
        keep_alive: bool = False,
    ) -> None:
        """``keep_alive``: serve one request after another on a connection, as a provider's
        API does (else each reply closes its connection)."""
        super().__init__()
        self.script = script
        self.title = title
        self.keep_alive = keep_alive
        self.sent: dict[str, Sent] = {}  # by prompt
        self.requests = 0
        self.errors: list[str] = []
        self._lock = threading.Lock()

    def record(self, prompt: str) -> Sent | None:
        with self._lock:
            return self.sent.get(prompt)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                request = await read_request(reader)
                with self._lock:
                    self.requests += 1
                body = request.body if isinstance(request.body, dict) else {}
                await self._answer(body, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                raise  # the client left: the base's to handle
            except Exception as exc:  # report, never kill the server
                with self._lock:
                    self.errors.append(f"{type(exc).__name__}: {exc}"[:200])
                return
            if not self.keep_alive:
                return

    async def _answer(self, body: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        model = str(body.get("model", "bench"))
        prompt = last_user_text(body)
        plan = None if TITLE_MARK in json.dumps(body) else self.script(prompt)
        head = status_head(200, "text/event-stream")
        if self.keep_alive:
            head = head.replace(b"connection: close\r\n", b"connection: keep-alive\r\n")
        writer.write(head)

        if plan is None:
            write_chunk(writer, _head(model) + _delta(self.title) + _tail(2))
            writer.write(END_OF_BODY)
            await writer.drain()
            return
        sent = Sent(prompt, plan)
        with self._lock:
            self.sent[prompt] = sent
        write_chunk(writer, _head(model))
        await writer.drain()
        size = plan.token_chars
        tokens = [plan.text[i : i + size] for i in range(0, len(plan.text), size)]
        loop = asyncio.get_running_loop()
        start = loop.time()
        k = 0
        while k < len(tokens):
            due = start + k / plan.rate
            now = loop.time()
            if due > now:
                await asyncio.sleep(due - now)
                now = loop.time()
            last = k
            while last + 1 < len(tokens) and start + (last + 1) / plan.rate <= now:
                last += 1
            out = b"".join(_delta(t) for t in tokens[k : last + 1])
            at = time.time()
            sent.times.extend([at] * (last + 1 - k))
            write_chunk(writer, out)
            await writer.drain()
            k = last + 1
        write_chunk(writer, _tail(len(tokens)))
        writer.write(END_OF_BODY)
        await writer.drain()
        sent.done = True
