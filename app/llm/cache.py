"""A response cache around a provider: identical deterministic requests are answered from memory.

Only requests that are deterministic (``temperature == 0``) or opt in with
``metadata["cache"] == "1"`` are cached; ``metadata["cache"] == "0"`` opts out. The key is a
SHA-256 of the model id, the messages and the parameters. Only complete replies are stored
(they ended with :class:`~app.llm.base.Finish` and no error). A hit replays the stored events as
a stream and is logged as a call with ``cache_hit`` and cost 0.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing

from cachetools import TTLCache

from app.llm.base import (
    ChatRequest,
    Finish,
    ModelUsed,
    Provider,
    StreamEvent,
    Usage,
    closing_events,
)
from app.llm.calllog import CallSink, emit, make_record


def cache_key(model_id: str, request: ChatRequest) -> str:
    payload: dict[str, object] = {
        "model": model_id,
        "provider_model": request.model,
        "messages": [
            [m.role, m.content, *(hashlib.sha256(i.data).hexdigest() for i in m.images)]
            + (
                [m.tool_call_id, m.is_error, [[c.id, c.name, c.arguments] for c in m.tool_calls]]
                if m.tool_calls or m.tool_call_id
                else []
            )
            for m in request.messages
        ],
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
    }
    if request.tools or request.tool_choice or request.response_schema is not None:
        payload["tools"] = [[t.name, t.description, t.parameters] for t in request.tools]
        payload["tool_choice"] = request.tool_choice
        payload["response_schema"] = request.response_schema
    blob = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def cacheable(request: ChatRequest) -> bool:
    opt = request.metadata.get("cache")
    if opt == "0":
        return False
    return opt == "1" or request.temperature == 0


class ResponseCache:
    """A bounded TTL cache of complete replies (tuples of stream events)."""

    def __init__(
        self,
        *,
        maxsize: int = 256,
        ttl: float = 3600.0,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store: TTLCache[str, tuple[StreamEvent, ...]] = TTLCache(maxsize, ttl, timer=timer)

    def get(self, key: str) -> tuple[StreamEvent, ...] | None:
        return self._store.get(key)

    def put(self, key: str, events: tuple[StreamEvent, ...]) -> None:
        self._store[key] = events

    def __len__(self) -> int:
        return len(self._store)

    def clear(self) -> None:
        self._store.clear()


class CachingProvider:
    """Wraps a provider (usually a router) with a :class:`ResponseCache`."""

    def __init__(
        self,
        inner: Provider,
        cache: ResponseCache,
        *,
        model_id: str,
        provider: str,
        sink: CallSink | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self.cache = cache
        self.model_id = model_id
        self.provider = provider
        self.sink = sink
        self.name = inner.name
        self._clock = clock

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        if not cacheable(request):
            async with aclosing(closing_events(self.inner.stream(request))) as events:
                async for event in events:
                    yield event
            return
        key = cache_key(self.model_id, request)
        hit = self.cache.get(key)
        if hit is not None:
            async for event in self._replay(request, hit):
                yield event
            return
        seen: list[StreamEvent] = []
        async with aclosing(closing_events(self.inner.stream(request))) as events:
            async for event in events:
                seen.append(event)
                yield event
        if any(isinstance(e, Finish) and e.reason != "cancelled" for e in seen):
            self.cache.put(key, tuple(seen))

    async def _replay(
        self, request: ChatRequest, events: tuple[StreamEvent, ...]
    ) -> AsyncIterator[StreamEvent]:
        started = self._clock()
        used = next((e for e in events if isinstance(e, ModelUsed)), None)
        usage = next((e for e in events if isinstance(e, Usage)), None)
        for event in events:
            yield event
        await emit(
            self.sink,
            make_record(
                metadata=request.metadata,
                provider=used.provider if used else self.provider,
                model=used.model if used else self.model_id,
                provider_model=used.provider_model if used else request.model,
                status="ok",
                usage=usage,
                latency=self._clock() - started,
                ttft=0.0,
                requested_model=self.model_id,
                cache_hit=True,
            ),
        )
