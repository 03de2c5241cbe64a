"""Tool-call streams in the providers' wire formats, for the loopback server (kept apart from
loopback.py, which is shared by every provider test)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from typing import Any

from tests.providers.loopback import sse


def anthropic_tool_events(
    text: str, tool_id: str, name: str, json_pieces: Sequence[str], *, output_tokens: int = 20
) -> list[bytes]:
    """A Messages stream: a text block, then a tool_use block whose input arrives as
    ``input_json_delta`` pieces, ending with ``stop_reason: tool_use``."""
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_t",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-5-5",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 30, "output_tokens": 1},
        },
    }
    events = [
        sse("message_start", start),
        sse(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        sse(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": text},
            },
        ),
        sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
        sse(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "tool_use", "id": tool_id, "name": name, "input": {}},
            },
        ),
    ]
    for piece in json_pieces:
        delta = {"type": "input_json_delta", "partial_json": piece}
        events.append(
            sse("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": delta})
        )
    events += [
        sse("content_block_stop", {"type": "content_block_stop", "index": 1}),
        sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
        ),
        sse("message_stop", {"type": "message_stop"}),
    ]
    return events


def openai_tool_events(calls: Sequence[tuple[str, str, Sequence[str]]]) -> list[bytes]:
    """Chat Completions chunks: for each (id, name, argument pieces) a first delta with the id
    and name, then one delta per piece; ``finish_reason: tool_calls``; usage; ``[DONE]``."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        body = {
            "id": "chatcmpl-t",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": "gpt-4.1",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return sse(None, body)

    events = [chunk({"role": "assistant", "content": None})]
    for index, (call_id, name, pieces) in enumerate(calls):
        first = {"index": index, "id": call_id, "type": "function"}
        events.append(
            chunk({"tool_calls": [{**first, "function": {"name": name, "arguments": ""}}]})
        )
        for piece in pieces:
            events.append(
                chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            )
    events.append(chunk({}, "tool_calls"))
    usage = {"prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52}
    events.append(
        sse(
            None,
            {
                "id": "chatcmpl-t",
                "object": "chat.completion.chunk",
                "created": 1700000000,
                "model": "gpt-4.1",
                "choices": [],
                "usage": usage,
            },
        )
    )
    events.append(b"data: [DONE]\n\n")
    return events


def cut(body: bytes, positions: Sequence[int]) -> list[bytes]:
    """``body`` split at each position (an HTTP chunk per piece)."""
    edges = [0, *sorted({p for p in positions if 0 < p < len(body)}), len(body)]
    return [body[a:b] for a, b in itertools.pairwise(edges)]


def json_text(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)
