"""Anthropic's Messages wire format for the gateway: request JSON to a neutral
:class:`~app.llm.base.ChatRequest`, events to a ``message`` or its SSE events, and errors in
Anthropic's ``{"type": "error", "error": {...}}`` shape. Pure functions; no SDK imported.

Parley's :class:`~app.llm.base.Usage` counts cached prompt tokens inside ``input_tokens``;
Anthropic's ``input_tokens`` does not, so they are taken out again here."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from app.errors import InvalidInput
from app.llm.base import (
    ChatMessage,
    ChatRequest,
    FinishReason,
    ImageMediaType,
    ImagePart,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolSpec,
    Usage,
)
from app.llm.registry import ModelInfo
from app.web.gateway_openai import sse

_STOP: dict[FinishReason, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_use": "tool_use",
    "content_filter": "refusal",
    "error": "end_turn",
    "cancelled": "end_turn",
}
_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def _obj(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{where} must be a JSON object.")
    return cast(Mapping[str, Any], value)


def _blocks(value: object, where: str) -> list[Mapping[str, Any]]:
    if isinstance(value, str):
        return [{"type": "text", "text": value}]
    if not isinstance(value, list):
        raise InvalidInput(f"{where} must be a string or a list of content blocks.")
    return [_obj(b, f"{where}[{i}]") for i, b in enumerate(cast(list[object], value))]


def _text(value: object, where: str) -> str:
    if value is None:
        return ""
    return "".join(str(b.get("text", "")) for b in _blocks(value, where) if b.get("type") == "text")


def _image(block: Mapping[str, Any], where: str) -> ImagePart:
    source = _obj(block.get("source"), f"{where}.source")
    media = source.get("media_type")
    if source.get("type") != "base64" or media not in _IMAGE_TYPES:
        raise InvalidInput(f"{where}: only base64 PNG, JPEG, GIF or WebP images.")
    try:
        data = base64.b64decode(str(source.get("data", "")), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{where}: the image is not valid base64.") from None
    return ImagePart(cast(ImageMediaType, media), data)


def _turn(raw: object, i: int) -> list[ChatMessage]:
    """One Messages turn as Parley messages: a user turn's ``tool_result`` blocks become
    ``tool`` messages (before its text), an assistant's ``tool_use`` blocks its tool calls."""
    where = f"messages[{i}]"
    m = _obj(raw, where)
    role = m.get("role")
    if role not in ("user", "assistant"):
        raise InvalidInput(f"{where}.role must be user or assistant.")
    out: list[ChatMessage] = []
    texts: list[str] = []
    images: list[ImagePart] = []
    calls: list[ToolCall] = []
    for j, block in enumerate(_blocks(m.get("content"), f"{where}.content")):
        at, kind = f"{where}.content[{j}]", block.get("type")
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "image" and role == "user":
            images.append(_image(block, at))
        elif kind == "tool_use" and role == "assistant":
            args = json.dumps(block.get("input") or {}, ensure_ascii=False)
            calls.append(ToolCall(str(block.get("id", "")), str(block.get("name", "")), args))
        elif kind == "tool_result" and role == "user":
            out.append(
                ChatMessage(
                    "tool",
                    _text(block.get("content"), f"{at}.content"),
                    tool_call_id=str(block.get("tool_use_id", "")),
                    is_error=bool(block.get("is_error")),
                )
            )
        else:
            raise InvalidInput(f"{at}: unsupported {role} block type {kind!r}.")
    if texts or images or calls or not out:
        out.append(ChatMessage(role, "".join(texts), images=tuple(images), tool_calls=tuple(calls)))
    return out


def _tools(raw: object) -> tuple[ToolSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidInput("tools must be a list.")
    specs: list[ToolSpec] = []
    for i, t in enumerate(cast(list[object], raw)):
        tool = _obj(t, f"tools[{i}]")
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"tools[{i}].name is required.")
        schema = tool.get("input_schema") or {"type": "object", "properties": {}}
        specs.append(
            ToolSpec(name, str(tool.get("description") or ""), dict(_obj(schema, f"tools[{i}]")))
        )
    return tuple(specs)


def parse_request(body: object) -> tuple[ChatRequest, bool]:
    """(request, stream) from a Messages body."""
    b = _obj(body, "The request body")
    model = b.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidInput("model: Field required")
    max_tokens = b.get("max_tokens")
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise InvalidInput("max_tokens: a positive integer is required")
    raw_messages = b.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise InvalidInput("messages: a non-empty list is required")
    messages: list[ChatMessage] = []
    system = _text(b.get("system"), "system")
    if system:
        messages.append(ChatMessage("system", system))
    for i, raw in enumerate(cast(list[object], raw_messages)):
        messages.extend(_turn(raw, i))
    temperature = b.get("temperature")
    if temperature is not None and not isinstance(temperature, int | float):
        raise InvalidInput("temperature must be a number.")
    choice = b.get("tool_choice")
    forced = (
        str(cast(Mapping[str, Any], choice).get("name"))
        if isinstance(choice, Mapping) and cast(Mapping[str, Any], choice).get("type") == "tool"
        else None
    )
    request = ChatRequest(
        model=model,
        messages=tuple(messages),
        temperature=float(temperature) if temperature is not None else None,
        max_tokens=max_tokens,
        tools=_tools(b.get("tools")),
        tool_choice=forced,
    )
    return request, bool(b.get("stream"))


def new_id() -> str:
    return "msg_" + secrets.token_hex(12)


def usage_json(usage: Usage) -> dict[str, Any]:
    uncached = usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens
    return {
        "input_tokens": max(uncached, 0),
        "output_tokens": usage.output_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
    }


def _tool_block(call: ToolCall) -> dict[str, Any]:
    try:
        args = json.loads(call.arguments or "{}")
    except ValueError:
        args = {"_raw": call.arguments}
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": args}


def message(
    message_id: str, model: str, events: Sequence[StreamEvent], finish: FinishReason
) -> dict[str, Any]:
    """A whole ``message`` from a finished call's events."""
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    content += [_tool_block(e) for e in events if isinstance(e, ToolCall)]
    usage = next((e for e in reversed(events) if isinstance(e, Usage)), Usage())
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _STOP[finish],
        "stop_sequence": None,
        "usage": usage_json(usage),
    }


class EventWriter:
    """Turns a call's events into Messages SSE events, one event at a time."""

    def __init__(self, message_id: str, model: str) -> None:
        self.id = message_id
        self.model = model
        self.index = -1
        self.open: str | None = None  # "text" while a text block is open
        self.usage = Usage()

    def start(self) -> str:
        body = message(self.id, self.model, [], "stop") | {"stop_reason": None}
        return sse({"type": "message_start", "message": body}, "message_start")

    def _close(self) -> str:
        if self.open is None:
            return ""
        self.open = None
        return sse({"type": "content_block_stop", "index": self.index}, "content_block_stop")

    def event(self, event: StreamEvent) -> str:
        if isinstance(event, TextDelta):
            out = ""
            if self.open != "text":
                out, self.index, self.open = self._close(), self.index + 1, "text"
                block = {"type": "text", "text": ""}
                out += sse(
                    {"type": "content_block_start", "index": self.index, "content_block": block},
                    "content_block_start",
                )
            delta = {"type": "text_delta", "text": event.text}
            return out + sse(
                {"type": "content_block_delta", "index": self.index, "delta": delta},
                "content_block_delta",
            )
        if isinstance(event, ToolCall):
            out, self.index = self._close(), self.index + 1
            block = _tool_block(event) | {"input": {}}
            out += sse(
                {"type": "content_block_start", "index": self.index, "content_block": block},
                "content_block_start",
            )
            delta = {"type": "input_json_delta", "partial_json": event.arguments or "{}"}
            out += sse(
                {"type": "content_block_delta", "index": self.index, "delta": delta},
                "content_block_delta",
            )
            return out + sse(
                {"type": "content_block_stop", "index": self.index}, "content_block_stop"
            )
        if isinstance(event, Usage):
            self.usage = event
        return ""

    def finish(self, reason: FinishReason) -> str:
        out = self._close()
        body = {
            "type": "message_delta",
            "delta": {"stop_reason": _STOP[reason], "stop_sequence": None},
            "usage": usage_json(self.usage),
        }
        out += sse(body, "message_delta")
        return out + sse({"type": "message_stop"}, "message_stop")


def models_json(models: Sequence[ModelInfo]) -> dict[str, Any]:
    epoch = datetime(2026, 1, 1, tzinfo=UTC).isoformat().replace("+00:00", "Z")
    data = [
        {"type": "model", "id": m.id, "display_name": m.display_name, "created_at": epoch}
        for m in models
    ]
    return {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
}


def error_json(status: int, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": _TYPES.get(status, "api_error"), "message": message}}
