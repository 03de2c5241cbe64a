"""Budgets on a real database (SQLite and PostgreSQL): spend from the call log, refusals with
their figures, warnings, reservations for calls in flight, and the guarded provider."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from app.db.models import CallLog
from app.db.session import get_engine
from app.errors import BudgetExceeded, LimitExceeded
from app.guards import Guards, guard
from app.guards.budgets import (
    BudgetGuard,
    BudgetWarning,
    Limits,
    ModelLimits,
    WorstCase,
    estimate_input_tokens,
    worst_case,
)
from app.guards.context import CallContext, with_context
from app.guards.ratelimit import LimitRules, RateLimiter
from app.guards.store import DatabaseGuardStore
from app.llm.base import ChatMessage, ChatRequest, Finish, TextDelta, Usage
from app.llm.fake import ScriptedProvider, ScriptedReply

SONNET = ModelLimits("claude-sonnet-5-5", "anthropic", "claude-sonnet-4-5", 64000)
LOCAL = ModelLimits("local", "local", "smollm2-135m-instruct", 1024)
ALICE = CallContext(user_id="alice", project_id="p1", client_ip="10.0.0.1")


@pytest.fixture
def engine(db_url: str) -> Engine:
    return get_engine(db_url)


def log_call(engine: Engine, *, user: str, cost: str | None, tokens: int, **kw: object) -> None:
    with Session(engine) as session:
        session.add(
            CallLog(
                user_id=user,
                project_id="p1",
                provider="anthropic",
                model="claude-sonnet-5-5",
                status="ok",
                input_tokens=tokens // 2,
                output_tokens=tokens - tokens // 2,
                cost=None if cost is None else Decimal(cost),
                **kw,  # type: ignore[arg-type]
            )
        )
        session.commit()


def ask(text: str, max_tokens: int | None = None) -> ChatRequest:
    return ChatRequest("m", (ChatMessage("user", text),), max_tokens=max_tokens)


async def test_spend_this_month_comes_from_the_call_log(engine: Engine) -> None:
    store = DatabaseGuardStore(engine)
    log_call(engine, user="alice", cost="0.25", tokens=1000)
    log_call(engine, user="alice", cost=None, tokens=100)  # unknown price: tokens only
    log_call(engine, user="alice", cost="0", tokens=500, cache_hit=True)  # not spent
    log_call(engine, user="bob", cost="9", tokens=9)
    last_month = datetime.now(UTC).replace(day=1) - timedelta(days=2)
    log_call(engine, user="alice", cost="5", tokens=5000, created_at=last_month)
    since = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    spent = await store.spent("user", "alice", since)
    assert spent.cost == Decimal("0.25") and spent.tokens == 1100
    assert (await store.spent("project", "p1", since)).tokens == 1109


async def test_the_call_that_would_cross_the_budget_is_refused_with_figures(
    engine: Engine,
) -> None:
    store = DatabaseGuardStore(engine)
    await store.set_limits("user", "alice", Limits(cost=Decimal("1.00")))
    log_call(engine, user="alice", cost="0.90", tokens=1000)
    budgets = BudgetGuard(store)
    worst = WorstCase(100, 1000, Decimal("0.15"))
    with pytest.raises(BudgetExceeded) as caught:
        await budgets.check(ALICE, worst)
    error = caught.value
    assert (error.scope, error.unit) == ("user", "usd")
    assert (error.spent, error.limit, error.worst_case) == (
        Decimal("0.9"),
        Decimal("1"),
        Decimal("0.15"),
    )
    for figure in ("$0.9000 spent", "$1.0000", "$0.1500"):
        assert figure in error.message
    assert await budgets.check(ALICE, WorstCase(100, 100, Decimal("0.05"))) != []  # fits


async def test_defaults_token_budgets_and_warnings(engine: Engine) -> None:
    store = DatabaseGuardStore(engine)
    log_call(engine, user="alice", cost="0", tokens=700)
    budgets = BudgetGuard(store, defaults={"project": Limits(tokens=1000)}, warn_at=(0.5, 0.8))
    warnings = await budgets.check(ALICE, WorstCase(50, 50, Decimal(0)))
    assert warnings == [
        BudgetWarning("project", "tokens", 0.8, Decimal(700), Decimal(1000), Decimal(100))
    ]
    assert "80% used" in warnings[0].message
    with pytest.raises(BudgetExceeded, match="token budget"):
        await budgets.check(ALICE, WorstCase(100, 250, Decimal(0)))
    # a subject's own row overrides the default
    await store.set_limits("project", "p1", Limits(tokens=10_000))
    assert await budgets.check(ALICE, WorstCase(100, 250, Decimal(0))) == []


async def test_calls_in_flight_count_against_the_budget(engine: Engine) -> None:
    store = DatabaseGuardStore(engine)
    await store.set_limits("user", "alice", Limits(tokens=1000))
    budgets = BudgetGuard(store)
    _, held = await budgets.admit(ALICE, WorstCase(100, 500, None))
    with pytest.raises(BudgetExceeded):  # 600 reserved + 600 > 1000
        await budgets.admit(ALICE, WorstCase(100, 500, None))
    await budgets.release(held)
    _, again = await budgets.admit(ALICE, WorstCase(100, 500, None))
    await budgets.release(again)


def test_worst_case_prices_input_estimate_plus_max_tokens() -> None:
    request = ask("x" * 300, max_tokens=1000)
    estimate = estimate_input_tokens(request)
    assert estimate == 4 + 100
    worst = worst_case(request, [SONNET, LOCAL])
    assert worst.input_tokens == estimate and worst.max_output_tokens == 1000
    # claude-sonnet-4-5: $3 / M input, $15 / M output
    assert worst.cost == Decimal(3) * estimate / 10**6 + Decimal(15) * 1000 / 10**6
    assert worst_case(request, [LOCAL]).cost == Decimal(0)
    unknown = ModelLimits("llama", "openai-compatible", "llama3.2", 4096)
    assert worst_case(request, [unknown]).cost is None


async def test_the_guarded_provider_clamps_refuses_and_releases(engine: Engine) -> None:
    store = DatabaseGuardStore(engine)
    await store.set_limits("user", "alice", Limits(cost=Decimal("0.01")))
    inner = ScriptedProvider([ScriptedReply.of("hello there", usage=Usage(10, 3))] * 3)
    limiter = RateLimiter(LimitRules(tokens={"user": "100000/hour"}, concurrent_streams=1))
    warned: list[BudgetWarning] = []

    async def on_warning(warning: BudgetWarning, request: ChatRequest) -> None:
        warned.append(warning)

    guards = Guards(
        limiter=limiter,
        budgets=BudgetGuard(store, warn_at=(0.5,)),
        default_max_tokens=4096,
        on_warning=on_warning,
    )
    provider = guard(inner, [SONNET], guards)
    # 4096 output tokens of Sonnet could cost $0.06: over the $0.01 budget, refused unsent.
    with pytest.raises(BudgetExceeded):
        _ = [e async for e in provider.stream(with_context(ask("hi"), ALICE))]
    assert inner.requests == []
    # Max tokens 400 ($0.006 at most) fits, with a warning past half the budget.
    events = [e async for e in provider.stream(with_context(ask("hi", 400), ALICE))]
    assert isinstance(events[-1], Finish) and any(isinstance(e, TextDelta) for e in events)
    assert inner.requests[-1].max_tokens == 400 and len(warned) == 1
    # asked for more than the model can write: clamped to its output limit
    await store.set_limits("user", "alice", Limits(cost=Decimal(100)))
    _ = [e async for e in provider.stream(with_context(ask("hi", 10**6), ALICE))]
    assert inner.requests[-1].max_tokens == SONNET.max_output_tokens
    # the slot was given back each time, and the real usage charged to the token window
    assert await limiter.streams_in_flight(ALICE) == 0
    stats = await limiter.windows.get_window_stats(
        limiter._tokens["user"][0], "tokens", "user", "alice"
    )
    assert stats.remaining == 100000 - 2 * 13


async def test_a_burst_of_concurrent_sends_is_held_to_the_concurrency_limit() -> None:
    inner = ScriptedProvider(lambda request: ScriptedReply.of("slow reply", delay=0.05))
    limiter = RateLimiter(LimitRules(concurrent_streams=2))
    provider = guard(inner, [LOCAL], Guards(limiter=limiter))

    async def send() -> str:
        try:
            _ = [e async for e in provider.stream(with_context(ask("hi"), ALICE))]
        except LimitExceeded:
            return "refused"
        return "answered"

    results = await asyncio.gather(*(send() for _ in range(8)))
    assert results.count("answered") == 2 and results.count("refused") == 6
    assert len(inner.requests) == 2
    assert await limiter.streams_in_flight(ALICE) == 0
