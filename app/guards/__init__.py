"""Guards around the provider interface: rate limits, concurrency, budgets, moderation.

The composition point is :func:`guard`: it wraps one model's provider (a router, or the
cache around it) in a :class:`GuardedProvider`, which is itself a
:class:`~app.llm.base.Provider`. The caller's identity travels in the request's metadata
(:func:`app.guards.context.with_context`). Before the first event of a reply, in order:

1. max tokens is set: what was asked (or ``default_max_tokens``), at most the model's output
   limit from the catalogue;
2. the caller takes a concurrency slot (:mod:`app.guards.ratelimit`);
3. the request windows count one request, and the token windows must have room for the input;
4. the call's worst case is checked against the monthly budgets and reserved
   (:mod:`app.guards.budgets`); warnings go to ``on_warning``;
5. moderation screens the new input (:mod:`app.guards.moderation`).

Any refusal raises a :class:`~app.errors.Refused` before anything reaches the provider.
When the reply ends (or fails, or is closed) the tokens it used are charged to the token
windows, its budget reservation and its slot are given back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace

from app.guards.budgets import (
    BudgetGuard,
    BudgetWarning,
    ModelLimits,
    Reservation,
    clamp_max_tokens,
    worst_case,
)
from app.guards.context import CallContext, with_context
from app.guards.moderation import ModerationGuard
from app.guards.ratelimit import RateLimiter, Slot
from app.llm.base import ChatRequest, Provider, StreamEvent, Usage, closing_events

__all__ = [
    "Admission",
    "CallContext",
    "GuardedProvider",
    "Guards",
    "ModelLimits",
    "guard",
    "with_context",
]

WarningSink = Callable[[BudgetWarning, ChatRequest], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Guards:
    """The configured guards; a None part is switched off."""

    limiter: RateLimiter | None = None
    budgets: BudgetGuard | None = None
    moderation: ModerationGuard | None = None
    default_max_tokens: int = 4096
    on_warning: WarningSink | None = None


class GuardedProvider:
    """A provider behind the guards; see the module docstring for the order of checks."""

    def __init__(self, inner: Provider, chain: Sequence[ModelLimits], guards: Guards) -> None:
        if not chain:
            raise ValueError("a guarded provider needs its model's limits")
        self.inner = inner
        self.chain = tuple(chain)
        self.guards = guards
        self.name = inner.name

    def prepare(self, request: ChatRequest) -> ChatRequest:
        """The request as it will be sent: max tokens set and clamped."""
        limit = self.chain[0].max_output_tokens
        tokens = clamp_max_tokens(request.max_tokens, limit, self.guards.default_max_tokens)
        return replace(request, max_tokens=tokens)

    async def admit(self, request: ChatRequest) -> Admission:
        """Every check, in order, before anything is sent; raises a
        :class:`~app.errors.Refused`, holding nothing, if one fails. The admission holds the
        caller's slot and budget reservation until :meth:`run` ends (or :meth:`Admission.close`
        for a call that never runs). Callers that must refuse before saving anything (the
        chat's post use case) admit first and run later; :meth:`stream` does both."""
        g = self.guards
        request = self.prepare(request)
        context = CallContext.of(request)
        worst = worst_case(request, self.chain)
        admission = Admission(self, request, context, worst.input_tokens)
        if g.limiter is not None:
            admission.slot = await g.limiter.acquire(context)
        try:
            if g.limiter is not None:
                await g.limiter.check_requests(context)
                await g.limiter.check_tokens(context, worst.input_tokens)
            if g.budgets is not None:
                warnings, admission.reservation = await g.budgets.admit(context, worst)
                admission.warnings = tuple(warnings)
                if g.on_warning is not None:
                    for warning in warnings:
                        await g.on_warning(warning, request)
            if g.moderation is not None:
                await g.moderation.screen(request)
        except BaseException:
            await admission.close()
            raise
        return admission

    async def run(self, request: ChatRequest, admission: Admission) -> AsyncIterator[StreamEvent]:
        """Send an admitted call: ``request`` is the one to send (built again after the
        admission, perhaps; max tokens is clamped again). Gives the admission back at the end."""
        request = self.prepare(request)
        try:
            async with aclosing(closing_events(self.inner.stream(request))) as events:
                async for event in events:
                    if isinstance(event, Usage):
                        admission.usage = event
                    yield event
        finally:
            admission.sent = True
            await admission.close()

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        admission = await self.admit(request)
        async with aclosing(closing_events(self.run(admission.request, admission))) as events:
            async for event in events:
                yield event


@dataclass(slots=True)
class Admission:
    """A call that passed the guards: what it holds until it ends."""

    provider: GuardedProvider
    request: ChatRequest  # as admitted (max tokens clamped)
    context: CallContext
    input_estimate: int
    slot: Slot | None = None
    reservation: Reservation | None = None
    warnings: tuple[BudgetWarning, ...] = ()
    usage: Usage | None = None
    sent: bool = False
    closed: bool = False

    async def close(self) -> None:
        """Charge the tokens used (if the call was sent) and give back the slot and the
        reservation. Idempotent."""
        if self.closed:
            return
        self.closed = True
        g = self.provider.guards
        if g.limiter is not None:
            if self.sent:
                used = self.usage.input_tokens + self.usage.output_tokens if self.usage else 0
                await g.limiter.charge_tokens(self.context, used or self.input_estimate)
            if self.slot is not None:
                await g.limiter.release(self.slot)
        if g.budgets is not None and self.reservation is not None:
            await g.budgets.release(self.reservation)


def guard(provider: Provider, chain: Sequence[ModelLimits], guards: Guards) -> Provider:
    """The composition point: ``provider`` (one model's router or cache) behind ``guards``.
    ``chain`` is the model and its fallbacks, as the catalogue describes them."""
    return GuardedProvider(provider, chain, guards)
