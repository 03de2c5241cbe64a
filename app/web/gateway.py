"""The OpenAI- and Anthropic-compatible API on the app's own port (issue 14):

- ``POST /v1/chat/completions``: OpenAI Chat Completions, streamed (SSE) or not;
- ``POST /v1/messages``: Anthropic Messages, streamed or not;
- ``GET /v1/models``: the models the key may use (in Anthropic's shape when the request
  carries ``anthropic-version``, as Anthropic's SDK sends).

Keys come as ``Authorization: Bearer pk-...`` or ``x-api-key: pk-...``. The call itself is
:class:`app.services.gateway.Gateway`'s; this module only speaks the two wire formats
(``gateway_openai``, ``gateway_anthropic``) and maps errors onto each format's shape:

    401 no, unknown, revoked or expired key      403 the key may not do that
    404 unknown model                            413 body over ``max_body`` bytes
    400 malformed request, or moderation         429 a rate limit (``retry-after``) or budget
    502/503/504 the providers failed after retries and failover

A stream's errors before its first event get those statuses; later ones arrive as an error
event in the stream. A client that disconnects cancels the upstream call at once: the body
runs in a task that a disconnect cancels, whatever the server's ASGI version.
"""

from __future__ import annotations

import contextlib
import json
import math
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from app.errors import (
    BudgetExceeded,
    Flagged,
    Forbidden,
    InvalidInput,
    LimitExceeded,
    NotFound,
    NotSignedIn,
    ParleyError,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    public_error,
)
from app.llm.base import ChatRequest, Finish, FinishReason, ModelUsed, StreamEvent, closing_events
from app.services.api_keys import KeyHolder
from app.services.gateway import Gateway
from app.web import gateway_anthropic as anthropic_wire
from app.web import gateway_openai as openai_wire

Wire = Literal["openai", "anthropic"]
MAX_BODY = 8 * 1024 * 1024


class TooLarge(ParleyError):
    user_message = "The request body is too large."


def status_of(exc: BaseException) -> tuple[int, dict[str, str]]:
    """The HTTP status (and headers) for an error."""
    if isinstance(exc, NotSignedIn):
        return 401, {}
    if isinstance(exc, Forbidden):
        return 403, {}
    if isinstance(exc, NotFound):
        return 404, {}
    if isinstance(exc, TooLarge):
        return 413, {}
    if isinstance(exc, InvalidInput | Flagged):
        return 400, {}
    if isinstance(exc, LimitExceeded | RateLimited | BudgetExceeded):
        wait = exc.retry_after
        return 429, ({"retry-after": str(max(1, math.ceil(wait)))} if wait is not None else {})
    if isinstance(exc, ProviderTimeout):
        return 504, {}
    if isinstance(exc, ProviderUnavailable) or getattr(exc, "retryable", False):
        return 503, {}
    if isinstance(exc, ProviderError) and exc.status_code == 400:
        return 400, {}  # the provider rejected what the client sent
    return 502, {}


def _message(exc: BaseException) -> str:
    return exc.message if isinstance(exc, ParleyError) else public_error(exc)


def error_response(wire: Wire, exc: BaseException) -> JSONResponse:
    status, headers = status_of(exc)
    text = _message(exc)
    if wire == "anthropic":
        body = anthropic_wire.error_json(status, text)
    else:
        code = "insufficient_quota" if isinstance(exc, BudgetExceeded) else None
        body = openai_wire.error_json(status, text, code=code)
    return JSONResponse(body, status_code=status, headers=headers)


def _token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get("x-api-key")


async def _body(request: Request, limit: int) -> object:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"The request body is over {limit} bytes.")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise TooLarge(f"The request body is over {limit} bytes.")
    try:
        return json.loads(data)
    except ValueError:
        raise InvalidInput("The request body is not valid JSON.") from None


class DisconnectAwareStream(StreamingResponse):
    """A streaming response whose body is cancelled the moment the client goes away: it
    always listens for ``http.disconnect`` (Starlette does only below ASGI 2.4, where a
    server would otherwise tell us only at the next write, maybe many seconds later)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as group:

            async def body() -> None:
                with contextlib.suppress(OSError):  # OSError: the client is gone
                    await self.stream_response(send)
                group.cancel_scope.cancel()

            async def listen() -> None:
                await self.listen_for_disconnect(receive)
                group.cancel_scope.cancel()

            group.start_soon(body)
            group.start_soon(listen)


class _Call:
    """One call's events, with the first pulled before any response is started, so its
    errors get their own status code."""

    def __init__(self, events: AsyncIterator[StreamEvent], model: str) -> None:
        self.events = closing_events(events)
        self.model = model
        self.finish: FinishReason = "stop"
        self.first: StreamEvent | None = None

    async def start(self) -> None:
        try:
            self.first = await anext(self.events)
        except StopAsyncIteration:
            self.first = None
        except BaseException:
            await self.close()
            raise

    async def rest(self) -> AsyncIterator[StreamEvent]:
        pending = [self.first] if self.first is not None else []
        for event in pending:
            if (out := self._see(event)) is not None:
                yield out
        async for event in self.events:
            if (out := self._see(event)) is not None:
                yield out

    def _see(self, event: StreamEvent) -> StreamEvent | None:
        if isinstance(event, ModelUsed):
            self.model = event.model
            return None
        if isinstance(event, Finish):
            self.finish = event.reason
            return None
        return event

    async def close(self) -> None:
        with anyio.CancelScope(shield=True):  # close upstream even while being cancelled
            await self.events.aclose()


async def _open_call(
    gateway: Gateway, holder: KeyHolder, request: ChatRequest, client_ip: str
) -> _Call:
    call = _Call(gateway.stream(holder, request, client_ip=client_ip), request.model)
    await call.start()
    return call


def gateway_app(gateway: Callable[[], Gateway], *, max_body: int = MAX_BODY) -> Starlette:
    """The ``/v1`` routes, for ``api_transformer`` in the composition root."""

    async def prepare(request: Request, wire: Wire) -> tuple[KeyHolder, object]:
        holder = await gateway().authenticate(_token(request))
        return holder, await _body(request, max_body)

    def client_ip(request: Request) -> str:
        return request.client.host if request.client else ""

    async def respond(
        wire: Wire,
        call: _Call,
        stream: bool,
        whole: Callable[[list[StreamEvent]], dict[str, Any]],
        writer: Any,
    ) -> Response:
        if not stream:
            try:
                events = [e async for e in call.rest()]
            finally:
                await call.close()
            return JSONResponse(whole(events))

        async def body() -> AsyncIterator[str]:
            try:
                yield writer.start()
                async for event in call.rest():
                    if chunk := writer.event(event):
                        yield chunk
                yield writer.finish(call.finish)
            except ProviderError as exc:  # after the first event: an error event
                status, _ = status_of(exc)
                if wire == "anthropic":
                    yield openai_wire.sse(anthropic_wire.error_json(status, exc.message), "error")
                else:
                    yield openai_wire.sse(openai_wire.error_json(status, exc.message))
            finally:
                await call.close()

        headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
        return DisconnectAwareStream(body(), media_type="text/event-stream", headers=headers)

    async def chat_completions(request: Request) -> Response:
        try:
            holder, body = await prepare(request, "openai")
            parsed, stream, usage = openai_wire.parse_request(body)
            call = await _open_call(gateway(), holder, parsed, client_ip(request))
        except Exception as exc:
            return error_response("openai", exc)
        cid = "chatcmpl-" + secrets.token_hex(12)
        writer = openai_wire.ChunkWriter(cid, parsed.model, include_usage=usage)
        whole = lambda events: openai_wire.completion(cid, call.model, events, call.finish)  # noqa: E731
        return await respond("openai", call, stream, whole, writer)

    async def messages(request: Request) -> Response:
        try:
            holder, body = await prepare(request, "anthropic")
            parsed, stream = anthropic_wire.parse_request(body)
            call = await _open_call(gateway(), holder, parsed, client_ip(request))
        except Exception as exc:
            return error_response("anthropic", exc)
        mid = anthropic_wire.new_id()
        writer = anthropic_wire.EventWriter(mid, parsed.model)
        whole = lambda events: anthropic_wire.message(mid, call.model, events, call.finish)  # noqa: E731
        return await respond("anthropic", call, stream, whole, writer)

    async def models(request: Request) -> Response:
        wire: Wire = "anthropic" if "anthropic-version" in request.headers else "openai"
        try:
            holder = await gateway().authenticate(_token(request))
        except Exception as exc:
            return error_response(wire, exc)
        listed = gateway().models(holder)
        module = anthropic_wire if wire == "anthropic" else openai_wire
        return JSONResponse(module.models_json(listed))

    routes = [
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/messages", messages, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
    ]
    return Starlette(routes=routes)


__all__ = ["MAX_BODY", "error_response", "gateway_app", "status_of"]
