"""OpenAI's Chat Completions wire format for the gateway: request JSON to a neutral
:class:`~app.llm.base.ChatRequest`, events to a ``chat.completion`` or its SSE chunks, and
errors in OpenAI's ``{"error": {...}}`` shape. Pure functions; no SDK is imported."""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping, Sequence
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

_FINISH: dict[FinishReason, str] = {
    "stop": "stop",
    "length": "length",
    "tool_use": "tool_calls",
    "content_filter": "content_filter",
    "error": "stop",
    "cancelled": "stop",
}
_IMAGE_TYPES: tuple[ImageMediaType, ...] = ("image/png", "image/jpeg", "image/gif", "image/webp")


def _obj(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{where} must be a JSON object.")
    return cast(Mapping[str, Any], value)


def _image(url: str, where: str) -> ImagePart:
    head, _, data = url.partition(",")
    media = head.removeprefix("data:").removesuffix(";base64")
    if not head.startswith("data:") or media not in _IMAGE_TYPES:
        raise InvalidInput(f"{where}: only base64 data URLs of PNG, JPEG, GIF or WebP images.")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{where}: the image is not valid base64.") from None
    return ImagePart(cast(ImageMediaType, media), raw)


def _content(value: object, where: str) -> tuple[str, tuple[ImagePart, ...]]:
    if value is None:
        return "", ()
    if isinstance(value, str):
        return value, ()
    if not isinstance(value, list):
        raise InvalidInput(f"{where}.content must be a string or a list of parts.")
    texts: list[str] = []
    images: list[ImagePart] = []
    for i, raw in enumerate(cast(list[object], value)):
        part = _obj(raw, f"{where}.content[{i}]")
        kind = part.get("type")
        if kind == "text":
            texts.append(str(part.get("text", "")))
        elif kind == "image_url":
            url = _obj(part.get("image_url"), f"{where}.content[{i}].image_url").get("url", "")
            images.append(_image(str(url), f"{where}.content[{i}]"))
        else:
            raise InvalidInput(f"{where}.content[{i}]: unsupported part type {kind!r}.")
    return "".join(texts), tuple(images)


def _message(raw: object, i: int) -> ChatMessage:
    where = f"messages[{i}]"
    m = _obj(raw, where)
    role = m.get("role")
    text, images = _content(m.get("content"), where)
    if role in ("system", "developer"):
        return ChatMessage("system", text)
    if role == "user":
        return ChatMessage("user", text, images=images)
    if role == "assistant":
        calls: list[ToolCall] = []
        for j, c in enumerate(cast(list[object], m.get("tool_calls") or [])):
            call = _obj(c, f"{where}.tool_calls[{j}]")
            fn = _obj(call.get("function"), f"{where}.tool_calls[{j}].function")
            calls.append(
                ToolCall(
                    str(call.get("id", "")),
                    str(fn.get("name", "")),
                    str(fn.get("arguments") or "{}"),
                )
            )
        return ChatMessage("assistant", text, tool_calls=tuple(calls))
    if role == "tool":
        return ChatMessage("tool", text, tool_call_id=str(m.get("tool_call_id", "")))
    raise InvalidInput(f"{where}.role must be system, developer, user, assistant or tool.")


def _tools(raw: object) -> tuple[ToolSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidInput("tools must be a list.")
    specs: list[ToolSpec] = []
    for i, t in enumerate(cast(list[object], raw)):
        tool = _obj(t, f"tools[{i}]")
        if tool.get("type", "function") != "function":
            raise InvalidInput(f"tools[{i}]: only function tools are supported.")
        fn = _obj(tool.get("function"), f"tools[{i}].function")
        name = fn.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"tools[{i}].function.name is required.")
        params = fn.get("parameters") or {"type": "object", "properties": {}}
        specs.append(ToolSpec(name, str(fn.get("description") or ""), dict(_obj(params, name))))
    return tuple(specs)


def _tool_choice(raw: object) -> str | None:
    if isinstance(raw, Mapping):
        fn = cast(Mapping[str, Any], raw).get("function")
        if isinstance(fn, Mapping):
            return str(cast(Mapping[str, Any], fn).get("name", "")) or None
    return None


def parse_request(body: object) -> tuple[ChatRequest, bool, bool]:
    """(request, stream, include usage in the stream) from a Chat Completions body."""
    b = _obj(body, "The request body")
    model = b.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidInput("model is required.")
    raw_messages = b.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise InvalidInput("messages must be a non-empty list.")
    messages = tuple(_message(m, i) for i, m in enumerate(cast(list[object], raw_messages)))
    max_tokens = b.get("max_completion_tokens", b.get("max_tokens"))
    temperature = b.get("temperature")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise InvalidInput("max_tokens must be a positive integer.")
    if temperature is not None and not isinstance(temperature, int | float):
        raise InvalidInput("temperature must be a number.")
    options = b.get("stream_options")
    usage = isinstance(options, Mapping) and bool(
        cast(Mapping[str, Any], options).get("include_usage")
    )
    request = ChatRequest(
        model=model,
        messages=messages,
        temperature=float(temperature) if temperature is not None else None,
        max_tokens=max_tokens,
        tools=_tools(b.get("tools")),
        tool_choice=_tool_choice(b.get("tool_choice")),
    )
    return request, bool(b.get("stream")), usage


def usage_json(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
    }


def _tool_json(call: ToolCall, index: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }
    if index is not None:
        out["index"] = index
    return out


def completion(
    completion_id: str, model: str, events: Sequence[StreamEvent], finish: FinishReason
) -> dict[str, Any]:
    """A whole ``chat.completion`` from a finished call's events."""
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    calls = [e for e in events if isinstance(e, ToolCall)]
    usage = next((e for e in reversed(events) if isinstance(e, Usage)), Usage())
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = [_tool_json(c) for c in calls]
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": _FINISH[finish], "logprobs": None}
        ],
        "usage": usage_json(usage),
    }


class ChunkWriter:
    """Turns a call's events into ``chat.completion.chunk`` SSE lines, one event at a time."""

    def __init__(self, completion_id: str, model: str, *, include_usage: bool) -> None:
        self.id = completion_id
        self.model = model
        self.include_usage = include_usage
        self.created = int(time.time())
        self.tools = 0
        self.usage = Usage()

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> str:
        body = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }
        return sse(body)

    def start(self) -> str:
        return self._chunk({"role": "assistant", "content": ""})

    def event(self, event: StreamEvent) -> str:
        if isinstance(event, TextDelta):
            return self._chunk({"content": event.text})
        if isinstance(event, ToolCall):
            self.tools += 1
            return self._chunk({"tool_calls": [_tool_json(event, self.tools - 1)]})
        if isinstance(event, Usage):
            self.usage = event
        return ""

    def finish(self, reason: FinishReason) -> str:
        out = self._chunk({}, _FINISH[reason])
        if self.include_usage:
            out += sse(
                {
                    "id": self.id,
                    "object": "chat.completion.chunk",
                    "created": self.created,
                    "model": self.model,
                    "choices": [],
                    "usage": usage_json(self.usage),
                }
            )
        return out + "data: [DONE]\n\n"


def sse(body: Mapping[str, Any], event: str | None = None) -> str:
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return (f"event: {event}\n" if event else "") + f"data: {data}\n\n"


def models_json(models: Sequence[ModelInfo]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": m.id, "object": "model", "created": 0, "owned_by": m.provider} for m in models
        ],
    }


_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    413: ("invalid_request_error", "request_too_large"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


def error_json(status: int, message: str, *, code: str | None = None) -> dict[str, Any]:
    kind, default_code = _TYPES.get(status, ("server_error", None))
    return {
        "error": {"message": message, "type": kind, "param": None, "code": code or default_code}
    }
