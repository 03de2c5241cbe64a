"""Monthly budgets, in US dollars and in tokens, per user and per project.

Before each call the guard prices the call's **worst case**: the input estimate
(:func:`estimate_input_tokens`) plus the request's max tokens, clamped to the model's output
limit, priced with genai-prices exactly as the call log prices real calls
(:func:`app.llm.pricing.price`). With a fallback chain, the dearest model of the chain counts.

Rules:

1. The month is the calendar month in UTC. Spend so far is the sum over the call log
   (``call_log.cost`` and input + output tokens; cache hits cost nothing and count no tokens).
2. A limit comes from the subject's own row in the ``budget`` table, else the default from
   settings; ``None`` means no limit of that unit.
3. When ``spent + worst_case > limit`` the call is refused with
   :class:`~app.errors.BudgetExceeded`, carrying the figures. Nothing has been sent.
4. Calls in flight count too: a call that passes *reserves* its worst case (in the rate
   limiter's storage, so every worker sees it) until it ends and its real cost is in the call
   log. So a burst of concurrent sends cannot all pass on the same "spent so far".
5. When ``spent + worst_case`` reaches a warning threshold (a fraction of the limit, e.g. 0.8)
   a :class:`BudgetWarning` is returned (the caller shows it; the guard also logs it).
6. A model with no known price (an OpenAI-compatible server) is checked against token budgets
   only: an unknown price is never counted as free, nor as infinite.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal, Protocol

from limits.aio.storage import MemoryStorage, Storage

from app.errors import BudgetExceeded
from app.guards.context import CallContext
from app.llm.base import ChatRequest, Usage
from app.llm.pricing import price

log = logging.getLogger("parley.guards.budgets")

BudgetScope = Literal["user", "project"]
Unit = Literal["usd", "tokens"]
# A conservative token estimate: about 3 bytes of UTF-8 per token (real tokenisers average
# nearer 4 for English), a few tokens of framing per message, a fixed charge per image.
BYTES_PER_TOKEN = 3
TOKENS_PER_MESSAGE = 4
TOKENS_PER_IMAGE = 1600


@dataclass(frozen=True, slots=True)
class ModelLimits:
    """What the guard needs to know about one model of a chain."""

    id: str
    provider: str
    provider_model: str
    max_output_tokens: int


@dataclass(frozen=True, slots=True)
class Limits:
    cost: Decimal | None = None  # US dollars per month
    tokens: int | None = None  # input + output tokens per month


@dataclass(frozen=True, slots=True)
class Spend:
    cost: Decimal = Decimal(0)
    tokens: int = 0


@dataclass(frozen=True, slots=True)
class WorstCase:
    input_tokens: int
    max_output_tokens: int
    cost: Decimal | None  # None: no known price

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.max_output_tokens


@dataclass(frozen=True, slots=True)
class BudgetWarning:
    scope: BudgetScope
    unit: Unit
    threshold: float  # the fraction crossed, e.g. 0.8
    spent: Decimal
    limit: Decimal
    worst_case: Decimal

    @property
    def message(self) -> str:
        used = _show(self.unit, self.spent + self.worst_case)
        return (
            f"This {self.scope}'s monthly {_unit_name(self.unit)} budget is "
            f"{self.threshold:.0%} used ({used} of {_show(self.unit, self.limit)}, "
            "counting this request at its largest)."
        )


class BudgetStore(Protocol):
    """Where limits and spend come from (the database: :mod:`app.guards.store`)."""

    async def limits(self, scope: BudgetScope, subject: str) -> Limits | None: ...

    async def spent(self, scope: BudgetScope, subject: str, since: datetime) -> Spend: ...


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def estimate_input_tokens(request: ChatRequest) -> int:
    total = 0
    for message in request.messages:
        total += TOKENS_PER_MESSAGE + math.ceil(len(message.content.encode()) / BYTES_PER_TOKEN)
        total += TOKENS_PER_IMAGE * len(message.images)
    return total


def clamp_max_tokens(requested: int | None, limit: int, default: int) -> int:
    """The max tokens a call is sent with: what was asked (or ``default``), at most the
    model's output limit, at least 1."""
    return max(1, min(requested or default, limit))


def worst_case(request: ChatRequest, chain: Sequence[ModelLimits]) -> WorstCase:
    """The call's largest possible size and cost over its fallback chain. ``request`` already
    carries the clamped max tokens."""
    estimate = estimate_input_tokens(request)
    output = 0
    costs: list[Decimal] = []
    unknown = False
    for model in chain:
        out = min(request.max_tokens or model.max_output_tokens, model.max_output_tokens)
        output = max(output, out)
        priced = price(model.provider, model.provider_model, Usage(estimate, out)).cost
        if priced is None:
            unknown = True
        else:
            costs.append(priced)
    cost = max(costs) if costs else (None if unknown else Decimal(0))
    return WorstCase(estimate, output, cost)


MICRO = Decimal("0.000001")  # reservations are kept in whole micro-dollars


@dataclass(frozen=True, slots=True)
class Reservation:
    """The worst case a call holds while it runs; give it back with :meth:`BudgetGuard.release`."""

    keys: tuple[tuple[str, int], ...] = ()  # (storage key, amount)


class BudgetGuard:
    """Checks a call's worst case against the caller's monthly budgets."""

    def __init__(
        self,
        store: BudgetStore,
        *,
        defaults: dict[BudgetScope, Limits] | None = None,
        warn_at: Sequence[float] = (0.8,),
        reservations: Storage | None = None,
        lease: int = 3600,
    ) -> None:
        self.store = store
        self.defaults = defaults or {}
        self.warn_at = tuple(sorted(warn_at))
        self.reservations = reservations or MemoryStorage()
        self.lease = lease  # seconds a reservation outlives a worker that died mid-call

    async def admit(
        self, context: CallContext, worst: WorstCase, *, now: datetime | None = None
    ) -> tuple[list[BudgetWarning], Reservation]:
        """Check the call (raises :class:`BudgetExceeded`), then reserve its worst case."""
        warnings = await self.check(context, worst, now=now)
        keys: list[tuple[str, int]] = []
        for scope, subject in _subjects(context):
            base = f"budget-reserved/{scope}/{subject}"
            if worst.cost is not None:
                keys.append((f"{base}/usd", int((worst.cost / MICRO).to_integral_value())))
            keys.append((f"{base}/tokens", worst.tokens))
        for key, amount in keys:
            await self.reservations.incr(key, self.lease, amount=amount)
        return warnings, Reservation(tuple(keys))

    async def release(self, reservation: Reservation) -> None:
        for key, amount in reservation.keys:
            if await self.reservations.incr(key, self.lease, amount=-amount) <= 0:
                await self.reservations.clear(key)

    async def _reserved(self, scope: BudgetScope, subject: str) -> Spend:
        base = f"budget-reserved/{scope}/{subject}"
        micro = max(0, await self.reservations.get(f"{base}/usd"))
        tokens = max(0, await self.reservations.get(f"{base}/tokens"))
        return Spend(Decimal(micro) * MICRO, tokens)

    async def _spend(
        self, scope: BudgetScope, subject: str, since: datetime
    ) -> tuple[Limits, Spend] | None:
        """A subject's limits and spend this month (call log plus calls in flight); None
        when it has no limit."""
        limits = await self.store.limits(scope, subject) or self.defaults.get(scope)
        if limits is None or (limits.cost is None and limits.tokens is None):
            return None
        logged, held = await asyncio.gather(
            self.store.spent(scope, subject, since), self._reserved(scope, subject)
        )
        return limits, Spend(logged.cost + held.cost, logged.tokens + held.tokens)

    async def check(
        self, context: CallContext, worst: WorstCase, *, now: datetime | None = None
    ) -> list[BudgetWarning]:
        """Raise :class:`BudgetExceeded` if the call could cross a budget; else the warnings."""
        since = month_start(now or datetime.now(UTC))
        warnings: list[BudgetWarning] = []
        subjects = _subjects(context)
        # The subjects' reads go out together: the call waits for the slowest, not the sum.
        found = await asyncio.gather(*(self._spend(scope, s, since) for scope, s in subjects))
        for (scope, subject), figures_of in zip(subjects, found, strict=True):
            if figures_of is None:
                continue
            limits, spent = figures_of
            figures: list[tuple[Unit, Decimal, Decimal | None, Decimal | None]] = [
                ("usd", spent.cost, limits.cost, worst.cost),
                ("tokens", Decimal(spent.tokens), _dec(limits.tokens), Decimal(worst.tokens)),
            ]
            for unit, used, limit, this in figures:
                if limit is None or this is None:
                    continue
                if used + this > limit:
                    raise BudgetExceeded(
                        f"This request could go over the {scope}'s monthly "
                        f"{_unit_name(unit)} budget: {_show(unit, used)} spent of "
                        f"{_show(unit, limit)}, and this request could cost up to "
                        f"{_show(unit, this)}. Lower Max tokens, shorten the conversation, "
                        "or ask an admin to raise the budget.",
                        scope=scope,
                        unit=unit,
                        spent=used,
                        limit=limit,
                        worst_case=this,
                    )
                crossed = [t for t in self.warn_at if used + this >= limit * Decimal(str(t))]
                if crossed:
                    warning = BudgetWarning(scope, unit, crossed[-1], used, limit, this)
                    log.warning("budget warning %s=%s: %s", scope, subject, warning.message)
                    warnings.append(warning)
        return warnings


def _subjects(context: CallContext) -> list[tuple[BudgetScope, str]]:
    pairs: list[tuple[BudgetScope, str]] = [
        ("user", context.user_id),
        ("project", context.project_id),
    ]
    return [(scope, subject) for scope, subject in pairs if subject]


def _dec(value: int | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _unit_name(unit: Unit) -> str:
    return "cost" if unit == "usd" else "token"


def _show(unit: Unit, value: Decimal) -> str:
    if unit == "usd":
        return f"${value.quantize(Decimal('0.0001'))}"
    return f"{int(value):,} tokens"
