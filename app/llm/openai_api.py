"""OpenAI Chat Completions, streamed through ``openai.AsyncOpenAI``.

The only module (for now) that imports ``openai``. The same class serves OpenAI itself and
OpenAI-compatible servers (Ollama, vLLM, llama.cpp server, LM Studio): only the base URL, the
key and the provider name differ. The SDK runs with ``max_retries=0``; the router retries.

Requests ask for ``stream_options={"include_usage": True}``, so the last chunk before
``[DONE]`` carries the usage (with ``prompt_tokens_details.cached_tokens``). The stream is
assembled by the pure fold :func:`accumulate`. A stream that ends without a ``finish_reason``
was truncated. Servers that do not send the usage chunk leave the usage at zero.

:meth:`OpenAIProvider.moderate` calls the moderation endpoint (``/v1/moderations``) for the
guards (:mod:`app.guards.moderation`); its errors are mapped here like a chat call's.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import httpx2
import openai

from app.errors import (
    BadRequest,
    ProviderConnectionError,
    ProviderError,
    ProviderOverloaded,
    ProviderTimeout,
    RateLimited,
    StreamInterrupted,
)
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

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "content_filter",
}

# error codes that mean "stop trying": quota and billing problems are final
_FINAL_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached", "billing_not_active"})


# ----- the pure stream fold ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamState:
    finish_reason: str | None = None
    usage: Usage | None = None
    # tool call index -> (tool id, name, arguments so far)
    tools: Mapping[int, tuple[str, str, str]] = field(default_factory=dict)

    def final_events(self) -> list[StreamEvent]:
        calls: list[StreamEvent] = [
            ToolCall(tool_id, name, args or "{}")
            for _, (tool_id, name, args) in sorted(self.tools.items())
        ]
        return [
            *calls,
            self.usage or Usage(),
            Finish(_FINISH.get(self.finish_reason or "", "stop")),
        ]


def _usage(raw: Any) -> Usage:
    details = getattr(raw, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) if details is not None else None
    return Usage(
        input_tokens=int(getattr(raw, "prompt_tokens", 0) or 0),
        output_tokens=int(getattr(raw, "completion_tokens", 0) or 0),
        cache_read_tokens=int(cached or 0),
    )


def accumulate(state: StreamState, chunk: Any) -> tuple[StreamState, list[StreamEvent]]:
    """Fold one ``ChatCompletionChunk`` into the state; return the new state and what to emit."""
    out: list[StreamEvent] = []
    if getattr(chunk, "usage", None) is not None:
        state = replace(state, usage=_usage(chunk.usage))
    for choice in getattr(chunk, "choices", None) or []:
        if getattr(choice, "index", 0) != 0:
            continue
        delta = choice.delta
        if delta is not None:
            if delta.content:
                out.append(TextDelta(delta.content))
            for call in delta.tool_calls or []:
                tool_id, name, args = state.tools.get(call.index, ("", "", ""))
                function = call.function
                tool_id = call.id or tool_id
                name = (function.name if function and function.name else None) or name
                args += (function.arguments if function and function.arguments else "") or ""
                state = replace(state, tools={**state.tools, call.index: (tool_id, name, args)})
        if choice.finish_reason:
            state = replace(state, finish_reason=choice.finish_reason)
    return state, out


# ----- error mapping -------------------------------------------------------------------------


def _body_error(body: object) -> tuple[str | None, str | None, str | None]:
    """(type, code, message) from an OpenAI error body (the whole body or its "error")."""
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        body = body["error"]
    if isinstance(body, Mapping):
        kind, code, message = body.get("type"), body.get("code"), body.get("message")
        return (
            kind if isinstance(kind, str) else None,
            code if isinstance(code, str) else None,
            message if isinstance(message, str) else None,
        )
    return None, None, None


def map_error(exc: BaseException, provider: str, label: str) -> ProviderError:
    """Map any exception raised while talking to an OpenAI-style API onto :mod:`app.errors`."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
        return ProviderTimeout(f"{label} did not answer in time.", provider=provider)
    if isinstance(exc, openai.APIConnectionError | httpx2.ConnectError):
        return ProviderConnectionError(
            f"Could not reach {label}. Check the network and its base URL.", provider=provider
        )
    if isinstance(exc, httpx2.TransportError):
        return StreamInterrupted(f"The {label} stream broke off: {exc}", provider=provider)
    if isinstance(exc, openai.APIStatusError):
        return _map_status(exc, provider, label)
    if isinstance(exc, openai.APIResponseValidationError):
        return StreamInterrupted(f"{label} sent a malformed response: {exc}", provider=provider)
    if isinstance(exc, openai.APIError):  # an error object inside a 200 stream
        kind, code, message = _body_error(exc.body)
        text = f"{label}: {message or exc.message}"
        if code in _FINAL_CODES:
            return BadRequest(text, provider=provider)
        if kind in ("server_error", "overloaded_error", "service_unavailable") or code in (
            "server_error",
            "overloaded",
        ):
            return ProviderOverloaded(text, provider=provider)
        if kind in ("rate_limit_error", "rate_limit_exceeded") or code == "rate_limit_exceeded":
            return RateLimited(text, provider=provider)
        if kind == "invalid_request_error":
            return BadRequest(text, provider=provider)
        return StreamInterrupted(text, provider=provider)
    if isinstance(exc, ValueError):  # malformed JSON in the stream
        return StreamInterrupted(f"{label} sent a malformed response: {exc}", provider=provider)
    if isinstance(exc, openai.OpenAIError):
        return ProviderError(f"{label} failed: {exc}", provider=provider)
    return StreamInterrupted(f"Unexpected {label} failure: {exc!r}", provider=provider)


def _map_status(exc: openai.APIStatusError, provider: str, label: str) -> ProviderError:
    status = exc.status_code
    _, code, message = _body_error(exc.body)
    detail = message or exc.message
    retry_after = retry_after_seconds(exc.response.headers)
    common: dict[str, Any] = {"provider": provider, "status_code": status}
    if code in _FINAL_CODES or status == 402:
        return BadRequest(
            f"{label} refused the request: a quota or billing limit was reached ({detail}).",
            **common,
        )
    return error_for_status(
        status,
        detail,
        provider=provider,
        label=label,
        key_hint="OPENAI_API_KEY" if provider == "openai" else "its API key",
        retry_after=retry_after,
    )


# ----- the provider --------------------------------------------------------------------------


def _content(message: ChatMessage) -> str | list[dict[str, Any]]:
    """A message's content: plain text, or a text part and ``image_url`` parts (data URLs)."""
    if not message.images:
        return message.content
    parts: list[dict[str, Any]] = []
    if message.content:
        parts.append({"type": "text", "text": message.content})
    for image in message.images:
        data = base64.b64encode(image.data).decode("ascii")
        parts.append(
            {"type": "image_url", "image_url": {"url": f"data:{image.media_type};base64,{data}"}}
        )
    return parts


@dataclass(frozen=True, slots=True)
class Moderation:
    """The moderation endpoint's verdict on one input."""

    flagged: bool
    categories: tuple[str, ...]  # the flagged categories, e.g. ("harassment/threatening",)
    top_score: float  # the highest category score, 0..1
    model: str


def moderation_from(response: Any) -> Moderation:
    """Read a ``ModerationCreateResponse`` (its first result)."""
    result = response.results[0]
    flags = result.categories.model_dump(by_alias=True)
    scores = result.category_scores.model_dump(by_alias=True)
    return Moderation(
        flagged=bool(result.flagged),
        categories=tuple(sorted(name for name, on in flags.items() if on)),
        top_score=max((float(v) for v in scores.values() if v is not None), default=0.0),
        model=str(getattr(response, "model", "")),
    )


# ----- tool calling and JSON-schema replies --------------------------------------------------


def _message(message: ChatMessage) -> dict[str, Any]:
    """One message in Chat Completions' shape: tool calls on assistant turns, tool results
    as ``tool`` messages naming their call."""
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    if message.role == "assistant" and message.tool_calls:
        return {
            "role": "assistant",
            "content": message.content or None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments or "{}"},
                }
                for call in message.tool_calls
            ],
        }
    return {"role": message.role, "content": _content(message)}


def _tool_params(request: ChatRequest) -> dict[str, Any]:
    """``tools``/``tool_choice`` and ``response_format`` (JSON schema), when asked for."""
    params: dict[str, Any] = {}
    if request.tools:
        params["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                },
            }
            for t in request.tools
        ]
        if request.tool_choice:
            params["tool_choice"] = {
                "type": "function",
                "function": {"name": request.tool_choice},
            }
    if request.response_schema is not None:
        params["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "reply", "schema": request.response_schema},
        }
    return params


class OpenAIProvider:
    """Streams replies from OpenAI's Chat Completions API or a server that speaks it."""

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None = None,
        name: str = "openai",
        label: str = "OpenAI",
        connect_timeout: float = 10.0,
        read_timeout: float = 600.0,
        client: openai.AsyncOpenAI | None = None,
    ) -> None:
        self.name = name
        self.label = label
        self.base_url = base_url
        self.timeout = openai.Timeout(read_timeout, connect=connect_timeout)
        # Local servers often need no key, but the SDK insists on one.
        self.client = client or openai.AsyncOpenAI(
            api_key=api_key or "not-needed",
            base_url=base_url,
            max_retries=0,
            timeout=self.timeout,
        )

    def with_timeouts(self, *, connect: float, read: float) -> OpenAIProvider:
        """The same client, with other per-request timeouts (one per catalogue model)."""
        return OpenAIProvider(
            api_key=None,
            base_url=self.base_url,
            name=self.name,
            label=self.label,
            connect_timeout=connect,
            read_timeout=read,
            client=self.client,
        )

    async def aclose(self) -> None:
        await self.client.close()

    async def moderate(self, text: str, *, model: str = "omni-moderation-latest") -> Moderation:
        """Classify ``text`` with the moderation endpoint. Raises :mod:`app.errors` classes."""
        try:
            response = await self.client.moderations.create(
                model=model, input=text, timeout=self.timeout
            )
            return moderation_from(response)
        except Exception as exc:  # every failure leaves as an app.errors class
            raise map_error(exc, self.name, f"{self.label} moderation") from exc

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        params: dict[str, Any] = {
            "model": request.model,
            "messages": [_message(m) for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "timeout": self.timeout,
        }
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.max_tokens is not None:
            # OpenAI's newer name; compatible servers mostly know only the older one.
            key = "max_completion_tokens" if self.name == "openai" else "max_tokens"
            params[key] = request.max_tokens
        params.update(_tool_params(request))
        state = StreamState()
        try:
            chunks = await self.client.chat.completions.create(**params)
            try:
                async for chunk in chunks:
                    state, out = accumulate(state, chunk)
                    for item in out:
                        yield item
            finally:
                await chunks.close()
        except Exception as exc:  # every failure leaves as an app.errors class
            raise map_error(exc, self.name, self.label) from exc
        if state.finish_reason is None:
            raise StreamInterrupted(
                f"The {self.label} stream ended without a finish reason.", provider=self.name
            )
        for item in state.final_events():
            yield item
