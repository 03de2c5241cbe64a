"""Anthropic's Messages API, streamed through ``anthropic.AsyncAnthropic``.

The only module that imports ``anthropic``. The SDK runs with ``max_retries=0``: the router
(:mod:`app.llm.router`) is the one retry loop. Every SDK and transport exception is mapped onto
:mod:`app.errors` here, by :func:`map_error`.

The stream is assembled by a pure fold, :func:`accumulate`, over the raw server-sent events:

- ``message_start`` carries the input usage, including ``cache_read_input_tokens`` and
  ``cache_creation_input_tokens``;
- ``content_block_delta`` carries text (and tool-call JSON);
- ``message_delta`` carries the output usage and the ``stop_reason``;
- ``message_stop`` ends it. A stream that ends without it was truncated.

An ``error`` event (such as ``overloaded_error``) can arrive inside an HTTP 200 stream; the SDK
raises it as a status error with the 200 response, which :func:`map_error` maps by its type.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import anthropic
import httpx2

from app.errors import (
    AuthenticationFailed,
    BadRequest,
    ProviderConnectionError,
    ProviderError,
    ProviderOverloaded,
    ProviderTimeout,
    RateLimited,
    StreamInterrupted,
)
from app.llm.anthropic_tools import add_tool_result, tool_params, tool_use_blocks
from app.llm.base import (
    ChatMessage,
    ChatRequest,
    Finish,
    FinishReason,
    StreamEvent,
    TextDelta,
    ToolCall,
    Usage,
)
from app.llm.http_errors import error_for_status, retry_after_seconds

PROVIDER = "anthropic"
DEFAULT_MAX_TOKENS = 4096

_STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_use",
    "pause_turn": "stop",
    "refusal": "content_filter",
}

# error.type (in a body or a mid-stream error event) -> our error class
_ERROR_TYPES: dict[str, type[ProviderError]] = {
    "overloaded_error": ProviderOverloaded,
    "api_error": ProviderOverloaded,
    "timeout_error": ProviderTimeout,
    "rate_limit_error": RateLimited,
    "authentication_error": AuthenticationFailed,
    "permission_error": BadRequest,
    "invalid_request_error": BadRequest,
    "not_found_error": BadRequest,
    "billing_error": BadRequest,
    "request_too_large": BadRequest,
}

_SPEND_LIMIT_CODES = frozenset(
    {
        "contract_spend_limit_reached",
        "enforced_spend_limit_reached",
        "linked_organization_spend_limit_reached",
        "linked_organization_billing_unavailable",
    }
)


# ----- the pure stream fold ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamState:
    """What has been seen so far in one Messages stream."""

    started: bool = False
    stopped: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    stop_reason: str | None = None
    # content block index -> (tool id, name, JSON so far)
    tools: Mapping[int, tuple[str, str, str]] = field(default_factory=dict)

    def usage(self) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + self.cache_read_tokens + self.cache_write_tokens,
            output_tokens=self.output_tokens,
            cache_read_tokens=self.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens,
        )

    def finish(self) -> Finish:
        return Finish(_STOP_REASONS.get(self.stop_reason or "", "stop"))


def _usage_update(state: StreamState, usage: Any) -> StreamState:
    """Apply the non-null counts of a usage object (message_start or message_delta)."""
    if usage is None:
        return state
    changes: dict[str, int] = {}
    for ours, theirs in (
        ("input_tokens", "input_tokens"),
        ("output_tokens", "output_tokens"),
        ("cache_read_tokens", "cache_read_input_tokens"),
        ("cache_write_tokens", "cache_creation_input_tokens"),
    ):
        value = getattr(usage, theirs, None)
        if isinstance(value, int):
            changes[ours] = value
    return replace(state, **changes) if changes else state


def accumulate(state: StreamState, event: Any) -> tuple[StreamState, list[StreamEvent]]:
    """Fold one raw stream event into the state; return the new state and what to emit."""
    kind = getattr(event, "type", None)
    if kind == "message_start":
        return _usage_update(replace(state, started=True), event.message.usage), []
    if kind == "content_block_start":
        block = event.content_block
        if getattr(block, "type", None) == "tool_use":
            tools = {**state.tools, event.index: (block.id, block.name, "")}
            return replace(state, tools=tools), []
        text = getattr(block, "text", None) if getattr(block, "type", None) == "text" else None
        return state, [TextDelta(text)] if text else []
    if kind == "content_block_delta":
        delta = event.delta
        if delta.type == "text_delta":
            return state, [TextDelta(delta.text)] if delta.text else []
        if delta.type == "input_json_delta" and event.index in state.tools:
            tool_id, name, args = state.tools[event.index]
            tools = {**state.tools, event.index: (tool_id, name, args + delta.partial_json)}
            return replace(state, tools=tools), []
        return state, []
    if kind == "content_block_stop":
        if event.index in state.tools:
            tool_id, name, args = state.tools[event.index]
            tools = {k: v for k, v in state.tools.items() if k != event.index}
            return replace(state, tools=tools), [ToolCall(tool_id, name, args or "{}")]
        return state, []
    if kind == "message_delta":
        state = _usage_update(state, event.usage)
        reason = getattr(event.delta, "stop_reason", None)
        return (replace(state, stop_reason=reason) if reason else state), []
    if kind == "message_stop":
        return replace(state, stopped=True), [state.usage(), state.finish()]
    return state, []  # ping and future event types


# ----- error mapping -------------------------------------------------------------------------


def _body_error(body: object) -> tuple[str | None, str | None, str | None]:
    """(type, message, error_code) from an Anthropic error body, when present."""
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping):
            kind = error.get("type")
            message = error.get("message")
            details = error.get("details")
            code = details.get("error_code") if isinstance(details, Mapping) else None
            return (
                kind if isinstance(kind, str) else None,
                message if isinstance(message, str) else None,
                code if isinstance(code, str) else None,
            )
    return None, None, None


def map_error(exc: BaseException) -> ProviderError:
    """Map any exception raised while talking to Anthropic onto :mod:`app.errors`."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, anthropic.APITimeoutError | httpx2.TimeoutException):
        return ProviderTimeout("Anthropic did not answer in time.", provider=PROVIDER)
    if isinstance(exc, anthropic.APIConnectionError | httpx2.ConnectError):
        return ProviderConnectionError(
            "Could not reach Anthropic. Check the network or ANTHROPIC_BASE_URL.",
            provider=PROVIDER,
        )
    if isinstance(exc, httpx2.TransportError):
        return StreamInterrupted(f"The Anthropic stream broke off: {exc}", provider=PROVIDER)
    if isinstance(exc, anthropic.APIStatusError):
        return _map_status(exc)
    if isinstance(exc, anthropic.APIResponseValidationError | json.JSONDecodeError | ValueError):
        return StreamInterrupted(f"Anthropic sent a malformed response: {exc}", provider=PROVIDER)
    if isinstance(exc, anthropic.AnthropicError):
        return ProviderError(f"Anthropic failed: {exc}", provider=PROVIDER)
    return StreamInterrupted(f"Unexpected Anthropic failure: {exc!r}", provider=PROVIDER)


def _map_status(exc: anthropic.APIStatusError) -> ProviderError:
    status = exc.status_code
    kind, api_message, code = _body_error(exc.body)
    detail = api_message or exc.message
    retry_after = retry_after_seconds(exc.response.headers)
    if status == 200:  # an error event inside a streamed 200 response
        cls = _ERROR_TYPES.get(kind or "", StreamInterrupted)
        return cls(f"Anthropic: {detail}", provider=PROVIDER, status_code=None)
    common: dict[str, Any] = {"provider": PROVIDER, "status_code": status}
    if code in _SPEND_LIMIT_CODES or kind == "billing_error" or status == 402:
        return BadRequest(
            f"Anthropic refused the request: a spend or billing limit was reached ({detail}).",
            **common,
        )
    if kind == "overloaded_error":
        return ProviderOverloaded(
            f"Anthropic is overloaded: {detail}", retry_after=retry_after, **common
        )
    return error_for_status(
        status,
        detail,
        provider=PROVIDER,
        label="Anthropic",
        key_hint="ANTHROPIC_API_KEY",
        retry_after=retry_after,
    )


# ----- the provider --------------------------------------------------------------------------


# The Messages API of this SDK generation takes no sampling temperature, so
# ``request.temperature`` is not sent (it still marks a request as cacheable).


def _content(message: ChatMessage) -> str | list[dict[str, Any]]:
    """A turn's content: plain text, or image blocks (base64) followed by the text."""
    if not message.images:
        return message.content
    blocks: list[dict[str, Any]] = [
        {
            "type": "image",
            "source": {
                "type": "base64",
                "media_type": image.media_type,
                "data": base64.b64encode(image.data).decode("ascii"),
            },
        }
        for image in message.images
    ]
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    return blocks


def _messages(request: ChatRequest) -> tuple[str | None, list[dict[str, Any]]]:
    system = "\n\n".join(m.content for m in request.messages if m.role == "system") or None
    turns: list[dict[str, Any]] = []
    for m in request.messages:
        if m.role == "tool":
            add_tool_result(turns, m)
        elif m.role == "assistant" and m.tool_calls:
            turns.append({"role": "assistant", "content": tool_use_blocks(m)})
        elif m.role != "system":
            turns.append({"role": m.role, "content": _content(m)})
    return system, turns


class AnthropicProvider:
    """Streams replies from Anthropic's Messages API."""

    name = PROVIDER

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 600.0,
        default_max_tokens: int = DEFAULT_MAX_TOKENS,
        client: anthropic.AsyncAnthropic | None = None,
    ) -> None:
        self.timeout = anthropic.Timeout(read_timeout, connect=connect_timeout)
        self.default_max_tokens = default_max_tokens
        self.base_url = base_url
        self.client = client or anthropic.AsyncAnthropic(
            api_key=api_key or "",
            base_url=base_url,
            max_retries=0,
            timeout=self.timeout,
            open_telemetry=False,
        )

    def with_timeouts(self, *, connect: float, read: float) -> AnthropicProvider:
        """The same client, with other per-request timeouts (one per catalogue model)."""
        return AnthropicProvider(
            api_key=None,
            base_url=self.base_url,
            connect_timeout=connect,
            read_timeout=read,
            default_max_tokens=self.default_max_tokens,
            client=self.client,
        )

    async def aclose(self) -> None:
        await self.client.close()

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        system, turns = _messages(request)
        params: dict[str, Any] = {
            "model": request.model,
            "messages": turns,
            "max_tokens": request.max_tokens or self.default_max_tokens,
            "stream": True,
            "timeout": self.timeout,
        }
        if system:
            params["system"] = system
        params.update(tool_params(request))
        state = StreamState()
        try:
            events = await self.client.messages.create(**params)
            try:
                async for event in events:
                    state, out = accumulate(state, event)
                    for item in out:
                        yield item
            finally:
                await events.close()
        except Exception as exc:  # every failure leaves as an app.errors class
            raise map_error(exc) from exc
        if not state.stopped:
            raise StreamInterrupted(
                "The Anthropic stream ended before message_stop.", provider=PROVIDER
            )
