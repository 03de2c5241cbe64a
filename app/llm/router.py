"""The router: the one retry loop. Timeouts, retries, failover and cooldown around providers.

A :class:`Router` is itself a :class:`~app.llm.base.Provider`; the registry holds one per
catalogue model, whose targets are the model and its fallback chain. Its rules:

1. **Timeout budgets**, per model (from the catalogue): ``connect`` goes to the SDK; the router
   enforces ``first_token`` (request to first text) and ``total`` (request to last event) and
   raises :class:`~app.errors.ProviderTimeout` when one runs out.
2. **Retries** on retryable errors only (connection errors, timeouts, 408, 429, 5xx, 529,
   broken streams): exponential backoff with jitter, ``backoff_base * 2**n`` capped at
   ``backoff_max``, at most ``max_retries`` times per model (a model that used up its own
   first-token or total budget is retried at most ``timeout_retries`` times, so a hanging
   provider cannot eat the whole chain's time). A ``retry-after`` /
   ``retry-after-ms`` the provider sent is honoured when it is at most ``retry_after_cap``;
   a longer one skips straight to the next model. Final errors (invalid request, bad key, spend
   limit, model unavailable) are never retried.
3. **Failover** to the next model in the chain when a model's retries are spent or its error
   is final, as long as nothing has reached the caller yet. That includes an
   ``overloaded_error`` inside an HTTP 200 stream before the first token: the switch is silent.
   Once text has been yielded, an error is raised as it is: the caller keeps the partial reply.
4. **Cooldown**: each call that gives up on a model (retries spent or a final error, except an
   invalid request) counts one failure against its provider; after ``failures`` such calls in
   a row the provider is skipped for a while (:mod:`app.llm.cooldown`). A success resets it.
5. **All down**: when no model in the chain could answer, a :class:`~app.errors.ProviderError`
   says what happened to each.

Before the first event of the reply the router yields :class:`~app.llm.base.ModelUsed`, naming
the model that answered and whether it was a fallback. Every attempt becomes one
:class:`~app.llm.calllog.CallRecord`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field, replace

from app.errors import (
    BadRequest,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    public_error,
)
from app.llm.base import (
    ChatRequest,
    ModelUsed,
    Provider,
    StreamEvent,
    TextDelta,
    ToolCall,
    Usage,
)
from app.llm.calllog import CallSink, CallStatus, emit, make_record
from app.llm.catalogue import CatalogueEntry
from app.llm.cooldown import Cooldown, LocalCooldown


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 2  # per model, after the first attempt
    backoff_base: float = 0.5  # seconds
    backoff_max: float = 8.0
    retry_after_cap: float = 20.0  # longer retry-after: fail over instead of waiting
    timeout_retries: int = 1  # retries after the router's own first-token/total budget ran out
    jitter: Callable[[], float] = field(default=random.random)  # in [0, 1)

    def delay(self, retry: int, error: ProviderError) -> float | None:
        """Seconds to wait before retry number ``retry`` (1-based); None: do not wait, move on."""
        if error.retry_after is not None:
            if error.retry_after > self.retry_after_cap:
                return None
            return error.retry_after
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (retry - 1))
        return ceiling / 2 + self.jitter() * ceiling / 2  # "equal jitter"


class BudgetTimeout(ProviderTimeout):
    """A model's first-token or total budget ran out (raised by the router, not the SDK)."""


@dataclass(frozen=True, slots=True)
class Target:
    """One model of a chain: its catalogue entry and the provider that serves it."""

    entry: CatalogueEntry
    provider: Provider


@dataclass(slots=True)
class _Attempt:
    committed: bool = False  # something reached the caller
    usage: Usage | None = None
    ttft: float | None = None


class Router:
    """Streams from the first model of ``targets`` that answers; see the module docstring."""

    def __init__(
        self,
        targets: Sequence[Target],
        *,
        policy: RetryPolicy | None = None,
        cooldown: Cooldown | None = None,
        sink: CallSink | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not targets:
            raise ValueError("a router needs at least one target")
        self.targets = list(targets)
        self.policy = policy or RetryPolicy()
        self.cooldown: Cooldown = cooldown or LocalCooldown()
        self.sink = sink
        self._sleep = sleep
        self._clock = clock
        self._background: set[asyncio.Task[None]] = set()
        self.name = self.targets[0].entry.provider

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        requested = self.targets[0].entry.id
        attempt = 0
        failover_from: str | None = None
        problems: list[str] = []
        last_error: ProviderError | None = None
        for target in self.targets:
            entry = target.entry
            if not await self.cooldown.available(entry.provider):
                problems.append(f"{entry.display_name}: {entry.provider} is cooling down")
                continue
            tries = budget_timeouts = 0
            while True:
                attempt += 1
                tries += 1
                state = _Attempt()
                events = self._attempt(target, request, state, attempt, requested, failover_from)
                try:
                    async with aclosing(events):
                        async for event in events:
                            yield event
                except ProviderError as exc:
                    if state.committed:
                        raise  # text was shown: the caller keeps the partial reply
                    last_error = exc
                    if isinstance(exc, BudgetTimeout):
                        budget_timeouts += 1
                    delay = self.policy.delay(tries, exc)
                    if (
                        not exc.retryable
                        or tries > self.policy.max_retries
                        or budget_timeouts > self.policy.timeout_retries
                        or delay is None
                    ):
                        await self._give_up(entry, exc)
                        problems.append(_describe(entry, exc, tries))
                        break
                    await self._sleep(delay)
                    if not await self.cooldown.available(entry.provider):  # another call's doing
                        problems.append(_describe(entry, exc, tries))
                        break
                    continue
                await self.cooldown.succeeded(entry.provider)
                return
            failover_from = entry.id
        raise _all_down(self.targets, problems, last_error)

    async def _give_up(self, entry: CatalogueEntry, error: ProviderError) -> None:
        """This call is done with ``entry``: count it against the provider's cooldown."""
        if not isinstance(error, BadRequest):  # a bad request says nothing about the provider
            await self.cooldown.failed(entry.provider)

    async def _attempt(
        self,
        target: Target,
        request: ChatRequest,
        state: _Attempt,
        attempt: int,
        requested: str,
        failover_from: str | None,
    ) -> AsyncGenerator[StreamEvent, None]:
        entry, budget = target.entry, target.entry.timeouts
        used = ModelUsed(
            model=entry.id,
            provider=entry.provider,
            provider_model=entry.provider_model,
            fallback=entry.id != requested,
            requested=requested,
            attempt=attempt,
        )
        started = self._clock()
        status: CallStatus = "ok"
        error: BaseException | None = None
        held: list[StreamEvent] = []  # events before the first text, held until we commit
        events = target.provider.stream(replace(request, model=entry.provider_model))
        try:
            while True:
                elapsed = self._clock() - started
                if state.ttft is None:
                    limit, which = min(budget.first_token, budget.total), "first_token"
                else:
                    limit, which = budget.total, "total"
                try:
                    async with asyncio.timeout(max(limit - elapsed, 0.0)):
                        event = await anext(events)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    if which == "first_token" and budget.first_token <= budget.total:
                        message = f"{entry.display_name} sent no first token within {limit:g} s."
                    else:
                        message = f"{entry.display_name} did not finish within {limit:g} s."
                    raise BudgetTimeout(message, provider=entry.provider) from None
                if isinstance(event, Usage):
                    state.usage = event
                if isinstance(event, TextDelta | ToolCall):
                    if state.ttft is None:
                        state.ttft = self._clock() - started
                    if not state.committed:
                        state.committed = True
                        yield used
                        for item in held:
                            yield item
                        held.clear()
                    yield event
                elif state.committed:
                    yield event
                else:
                    held.append(event)
            if not state.committed:  # a reply with no text (or only a tool call) is still a reply
                state.committed = True
                yield used
                for item in held:
                    yield item
        except ProviderError as exc:
            status, error = "error", exc
            raise
        except (GeneratorExit, asyncio.CancelledError):
            status = "cancelled"
            raise
        except Exception as exc:  # a provider bug: report it as a broken stream
            status = "error"
            ref = public_error(exc)  # the detail goes to the server log only
            error = ProviderError(f"{entry.display_name} failed unexpectedly. {ref}")
            raise error from exc
        finally:
            close = getattr(events, "aclose", None)
            if close is not None:
                await close()
            record = make_record(
                metadata=request.metadata,
                provider=entry.provider,
                model=entry.id,
                provider_model=entry.provider_model,
                status=status,
                usage=state.usage,
                latency=self._clock() - started,
                ttft=state.ttft,
                attempt=attempt,
                requested_model=requested,
                failover_from=failover_from,
                error=error,
            )
            if status == "cancelled":  # do not hold up a cancelled caller
                task = asyncio.get_running_loop().create_task(emit(self.sink, record))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
            else:
                await emit(self.sink, record)


def _describe(entry: CatalogueEntry, error: ProviderError, tries: int) -> str:
    times = f" (after {tries} attempts)" if tries > 1 else ""
    return f"{entry.display_name}: {error.message}{times}"


def _all_down(
    targets: Sequence[Target], problems: list[str], last: ProviderError | None
) -> ProviderError:
    if len(targets) == 1 and last is not None and len(problems) == 1:
        return last  # one model, one story: keep its own error and message
    detail = "; ".join(problems) or "no model was tried"
    return ProviderUnavailable(
        f"No model could answer right now. {detail}. Your message is saved; try again shortly.",
        provider=last.provider if last else "",
        status_code=last.status_code if last else None,
        retry_after=last.retry_after if last else None,
    )
