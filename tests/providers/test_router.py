"""Every router rule, through the real SDKs against the loopback server.

Backoff is tiny here (a recording ``sleep`` checks the delays the router chose), so the whole
file runs in a few seconds. The "local" end of a chain is a scripted provider.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from app.errors import (
    AuthenticationFailed,
    BadRequest,
    ProviderOverloaded,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    StreamInterrupted,
)
from app.llm.anthropic_api import AnthropicProvider
from app.llm.base import (
    ChatMessage,
    ChatRequest,
    Finish,
    ModelUsed,
    Provider,
    StreamEvent,
    TextDelta,
    Usage,
)
from app.llm.calllog import ListSink
from app.llm.catalogue import CatalogueEntry, Timeouts
from app.llm.cooldown import LocalCooldown
from app.llm.fake import ScriptedProvider, ScriptedReply
from app.llm.openai_api import OpenAIProvider
from app.llm.router import RetryPolicy, Router, Target
from tests.providers.loopback import (
    LoopbackServer,
    Reply,
    anthropic_error,
    anthropic_events,
    json_reply,
    openai_error,
    openai_events,
)

REQUEST = ChatRequest(
    model="ignored",
    messages=(ChatMessage("user", "Hello"),),
    metadata={"conversation_id": "c1", "message_id": "7", "feature": "chat"},
)
OK = Reply(pieces=anthropic_events(["Hi ", "there"], input_tokens=10, output_tokens=2))


def entry(
    model_id: str, provider: str, *, first_token: float = 2.0, total: float = 5.0
) -> CatalogueEntry:
    return CatalogueEntry(
        id=model_id,
        provider=provider,
        provider_model=model_id,
        display_name=model_id.title(),
        context_window=100_000,
        fallbacks=(),
        timeouts=Timeouts(connect=1.0, first_token=first_token, total=total),
    )


class Sleeps:
    """A stand-in for asyncio.sleep that records the delays and barely waits."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def sink() -> ListSink:
    return ListSink()


@pytest.fixture
def policy() -> RetryPolicy:
    return RetryPolicy(
        max_retries=2, backoff_base=0.1, backoff_max=0.4, retry_after_cap=1.0, jitter=lambda: 0.5
    )


@pytest.fixture
async def claude(server: LoopbackServer) -> AsyncIterator[AnthropicProvider]:
    provider = AnthropicProvider(api_key="k", base_url=server.url, read_timeout=10)
    yield provider
    await provider.aclose()


@pytest.fixture
async def gpt(server: LoopbackServer) -> AsyncIterator[OpenAIProvider]:
    provider = OpenAIProvider(api_key="k", base_url=f"{server.url}/v1", read_timeout=10)
    yield provider
    await provider.aclose()


def local(text: str = "Local answer.") -> ScriptedProvider:
    return ScriptedProvider([ScriptedReply.of(text)] * 5, name="local")


def make_router(
    *targets: tuple[CatalogueEntry, Provider],
    policy: RetryPolicy,
    sleeps: Sleeps,
    sink: ListSink,
    cooldown: LocalCooldown | None = None,
) -> Router:
    return Router(
        [Target(e, p) for e, p in targets],
        policy=policy,
        cooldown=cooldown or LocalCooldown(failures=100),
        sink=sink,
        sleep=sleeps,
    )


def claude_then_local(
    claude: Provider, *, policy: RetryPolicy, sleeps: Sleeps, sink: ListSink
) -> Router:
    """The commonest chain: Claude (through the loopback server), then the local model."""
    return make_router(
        (entry("claude", "anthropic"), claude),
        (entry("local", "local"), local()),
        policy=policy,
        sleeps=sleeps,
        sink=sink,
    )


async def run(router: Router, request: ChatRequest = REQUEST) -> list[StreamEvent]:
    return [event async for event in router.stream(request)]


async def run_into(router: Router, seen: list[StreamEvent]) -> None:
    async for event in router.stream(REQUEST):
        seen.append(event)


def text_of(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


# ----- success, and the ModelUsed event ------------------------------------------------------


async def test_a_healthy_model_answers_once_and_says_so(
    server: LoopbackServer,
    claude: AnthropicProvider,
    policy: RetryPolicy,
    sleeps: Sleeps,
    sink: ListSink,
) -> None:
    server.script(OK)
    router = make_router(
        (entry("claude-sonnet-5-5", "anthropic"), claude),
        policy=policy,
        sleeps=sleeps,
        sink=sink,
    )
    events = await run(router)
    assert events[0] == ModelUsed(
        "claude-sonnet-5-5",
        "anthropic",
        "claude-sonnet-5-5",
        fallback=False,
        requested="claude-sonnet-5-5",
        attempt=1,
    )
    assert [type(e) for e in events] == [ModelUsed, TextDelta, TextDelta, Usage, Finish]
    assert server.requests[0].body["model"] == "claude-sonnet-5-5"
    [record] = sink.records
    assert (record.status, record.attempt, record.input_tokens, record.output_tokens) == (
        "ok",
        1,
        10,
        2,
    )
    assert record.cost is not None and record.cost > 0
    assert record.ttft_ms is not None and record.ttft_ms <= record.latency_ms
    assert (record.conversation_id, record.message_id) == ("c1", 7)


# ----- retries -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        anthropic_error(529, "overloaded_error"),
        anthropic_error(500, "api_error"),
        anthropic_error(503, "api_error"),
        anthropic_error(408, "timeout_error"),
        anthropic_error(429, "rate_limit_error"),
        Reply(pieces=anthropic_events([], complete=False)),  # truncated before any text
        Reply(pieces=[b"event: message_start\ndata: {not json\n\n"]),  # malformed JSON
    ],
    ids=["529", "500", "503", "408", "429", "truncated", "malformed"],
)
async def test_retryable_failures_are_retried_with_backoff(
    server: LoopbackServer,
    claude: AnthropicProvider,
    policy: RetryPolicy,
    sleeps: Sleeps,
    sink: ListSink,
    failure: Reply,
) -> None:
    server.script(failure, failure, OK)
    router = make_router(
        (entry("claude", "anthropic"), claude), policy=policy, sleeps=sleeps, sink=sink
    )
    events = await run(router)
    assert text_of(events) == "Hi there"
    assert len(server.requests) == 3
    # backoff 0.1 then 0.2 (exponential), each with "equal jitter" at 0.5 -> 75 %
    assert sleeps.delays == pytest.approx([0.075, 0.15])
    assert [r.status for r in sink.records] == ["error", "error", "ok"]
    assert [r.attempt for r in sink.records] == [1, 2, 3]
    used = next(e for e in events if isinstance(e, ModelUsed))
    assert (used.attempt, used.fallback) == (3, False)


async def test_backoff_is_exponential_jittered_and_capped() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=4.0, jitter=lambda: 0.999)
    error = ProviderOverloaded()
    delays = [policy.delay(n, error) for n in (1, 2, 3, 4, 5)]
    assert delays == pytest.approx([1.0, 2.0, 4.0, 4.0, 4.0], abs=0.01)
    low = RetryPolicy(backoff_base=1.0, backoff_max=4.0, jitter=lambda: 0.0)
    assert [low.delay(n, error) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"retry-after": "0.3"}, 0.3), ({"retry-after-ms": "250", "retry-after": "9"}, 0.25)],
)
async def test_retry_after_is_honoured(
    server: LoopbackServer,
    claude: AnthropicProvider,
    policy: RetryPolicy,
    sleeps: Sleeps,
    sink: ListSink,
    headers: dict[str, str],
    expected: float,
) -> None:
    server.script(anthropic_error(429, "rate_limit_error", headers=headers), OK)
    router = make_router(
        (entry("claude", "anthropic"), claude), policy=policy, sleeps=sleeps, sink=sink
    )
    assert text_of(await run(router)) == "Hi there"
    assert sleeps.delays == [expected]


async def test_a_retry_after_above_the_cap_fails_over_at_once(
    server: LoopbackServer,
    claude: AnthropicProvider,
    policy: RetryPolicy,
    sleeps: Sleeps,
    sink: ListSink,
) -> None:
    server.script(anthropic_error(429, "rate_limit_error", headers={"retry-after": "30"}))
    router = claude_then_local(claude, policy=policy, sleeps=sleeps, sink=sink)
    events = await run(router)
    assert text_of(events) == "Local answer."
    assert sleeps.delays == [] and len(server.requests) == 1


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (anthropic_error(400, "invalid_request_error"), BadRequest),
        (anthropic_error(401, "authentication_error"), AuthenticationFailed),
        (anthropic_error(403, "permission_error"), BadRequest),
        (anthropic_error(404, "not_found_error"), BadRequest),
        (
            json_reply(
                429,
                {
                    "type": "error",
                    "error": {
                        "type": "rate_limit_error",
                        "message": "spend limit",
                        "details": {"error_code": "contract_spend_limit_reached"},
                    },
                },
            ),
            BadRequest,
        ),
    ],
    ids=["400", "401", "403", "404", "spend-limit"],
)
async def test_final_errors_are_never_retried(
    server: LoopbackServer,
    claude: AnthropicProvider,
    policy: RetryPolicy,
    sleeps: Sleeps,
    sink: ListSink,
    failure: Reply,
    error: type[Exception],
) -> None:
    server.script(failure, OK)
    router = make_router(
        (entry("claude", "anthropic"), claude), policy=policy, sleeps=sleeps, sink=sink
    )
    with pytest.raises(error):
        await run(router)
    assert len(server.requests) == 1 and sleeps.delays == []
    assert server.pending == 1


async def test_a_final_error_fails_over_without_retrying(
    server: LoopbackServer,
    claude: AnthropicProvider,
    gpt: OpenAIProvider,
    policy: RetryPolicy,
    sleeps: Sleeps,
    sink: ListSink,
) -> None:
    server.script(anthropic_error(401, "authentication_error"), Reply(pieces=openai_events(["G"])))
    router = make_router(
        (entry("claude", "anthropic"), claude),
        (entry("gpt", "openai"), gpt),
        policy=policy,
        sleeps=sleeps,
        sink=sink,
    )
    assert text_of(await run(router)) == "G"
    assert [r.path for r in server.requests] == ["/v1/messages", "/v1/chat/completions"]


# ----- failover ------------------------------------------------------------------------------


async def test_spent_retries_fail_over_to_the_next_model_and_say_so(
    server: LoopbackServer,
    claude: AnthropicProvider,
    gpt: OpenAIProvider,
    policy: RetryPolicy,
    sleeps: Sleeps,
    sink: ListSink,
) -> None:
    overloaded = anthropic_error(529, "overloaded_error")
    server.script(overloaded, overloaded, overloaded, Reply(pieces=openai_events(["From ", "GPT"])))
    router = make_router(
        (entry("claude", "anthropic"), claude),
        (entry("gpt", "openai"), gpt),
        (entry("local", "local"), local()),
        policy=policy,
        sleeps=sleeps,
        sink=sink,
    )
    events = await run(router)
    assert text_of(events) == "From GPT"
    used = events[0]
    assert isinstance(used, ModelUsed)
    assert (used.model, used.provider, used.fallback, used.requested, used.attempt) == (
        "gpt",
        "openai",
        True,
        "claude",
        4,
    )
    assert [(r.model, r.status, r.error_type, r.failover_from) for r in sink.records] == [
        ("claude", "error", "ProviderOverloaded", None),
        ("claude", "error", "ProviderOverloaded", None),
        ("claude", "error", "ProviderOverloaded", None),
        ("gpt", "ok", None, "claude"),
    ]
    assert [r.attempt for r in sink.records] == [1, 2, 3, 4]


async def test_overloaded_mid_stream_before_text_fails_over_silently(
    server: LoopbackServer,
    claude: AnthropicProvider,
    policy: RetryPolicy,
    sleeps: Sleeps,
    sink: ListSink,
) -> None:
    overloaded = {"type": "overloaded_error", "message": "Overloaded"}
    policy = RetryPolicy(max_retries=0, jitter=lambda: 0.0)
    server.script(Reply(pieces=anthropic_events([], error=overloaded)))
    router = make_router(
        (entry("claude", "anthropic"), claude),
        (entry("local", "local"), local("Fallback text.")),
        policy=policy,
        sleeps=sleeps,
        sink=sink,
    )
    events = await run(router)
    assert text_of(events) == "Fallback text."  # nothing from the failed attempt leaks
    assert isinstance(events[0], ModelUsed)
    assert sum(isinstance(e, ModelUsed) for e in events) == 1
    assert [r.status for r in sink.records] == ["error", "ok"]


async def test_overloaded_mid_stream_after_text_raises_and_keeps_the_text(
    server: LoopbackServer,
    claude: AnthropicProvider,
    policy: RetryPolicy,
    sleeps: Sleeps,
    sink: ListSink,
) -> None:
    overloaded = {"type": "overloaded_error", "message": "Overloaded"}
    server.script(Reply(pieces=anthropic_events(["Partial ", "reply"], error=overloaded)), OK)
    router = claude_then_local(claude, policy=policy, sleeps=sleeps, sink=sink)
    seen: list[StreamEvent] = []
    with pytest.raises(ProviderOverloaded):
        await run_into(router, seen)
    assert text_of(seen) == "Partial reply"
    assert len(server.requests) == 1 and sleeps.delays == []  # no retry, no failover
    assert [r.status for r in sink.records] == ["error"]


async def test_a_truncated_stream_after_text_raises(
    server: LoopbackServer,
    claude: AnthropicProvider,
    policy: RetryPolicy,
    sleeps: Sleeps,
    sink: ListSink,
) -> None:
    server.script(Reply(pieces=anthropic_events(["Half"], complete=False), truncate=True))
    router = claude_then_local(claude, policy=policy, sleeps=sleeps, sink=sink)
    seen: list[StreamEvent] = []
    with pytest.raises(StreamInterrupted):
        await run_into(router, seen)
    assert text_of(seen) == "Half"


async def test_an_unreachable_provider_fails_over(
    policy: RetryPolicy, sleeps: Sleeps, sink: ListSink
) -> None:
    dead = AnthropicProvider(api_key="k", base_url="http://127.0.0.1:9/", connect_timeout=0.5)
    router = make_router(
        (entry("claude", "anthropic"), dead),
        (entry("local", "local"), local()),
        policy=policy,
        sleeps=sleeps,
        sink=sink,
    )
    try:
        events = await run(router)
    finally:
        await dead.aclose()
    assert text_of(events) == "Local answer."
    assert [r.error_type for r in sink.records] == [
        "ProviderConnectionError",
        "ProviderConnectionError",
        "ProviderConnectionError",
        None,
    ]


# ----- timeout budgets -----------------------------------------------------------------------


async def test_a_first_token_that_never_comes_times_out_then_fails_over(
    server: LoopbackServer,
    claude: AnthropicProvider,
    sleeps: Sleeps,
    sink: ListSink,
) -> None:
    policy = RetryPolicy(max_retries=1, backoff_base=0.01, jitter=lambda: 0.0)
    silent = Reply(pieces=anthropic_events([], complete=False), hang=30)
    server.script(silent, silent)
    router = make_router(
        (entry("claude", "anthropic", first_token=0.3), claude),
        (entry("local", "local"), local()),
        policy=policy,
        sleeps=sleeps,
        sink=sink,
    )
    started = time.monotonic()
    events = await run(router)
    elapsed = time.monotonic() - started
    assert text_of(events) == "Local answer."
    assert 0.6 <= elapsed < 3.0  # two attempts of 0.3 s each (not the 30 s hang), then local
    assert [r.error_type for r in sink.records[:2]] == ["ProviderTimeout", "ProviderTimeout"]
    assert all(250 <= r.latency_ms < 1500 for r in sink.records[:2])


async def test_a_slow_trickle_within_budget_succeeds(
    server: LoopbackServer,
    claude: AnthropicProvider,
    policy: RetryPolicy,
    sleeps: Sleeps,
    sink: ListSink,
) -> None:
    server.script(Reply(pieces=anthropic_events(list("trickle")), delay=0.03))
    router = make_router(
        (entry("claude", "anthropic", first_token=1.0, total=3.0), claude),
        policy=policy,
        sleeps=sleeps,
        sink=sink,
    )
    assert text_of(await run(router)) == "trickle"


async def test_a_slow_trickle_past_the_total_budget_raises_after_text(
    server: LoopbackServer,
    claude: AnthropicProvider,
    policy: RetryPolicy,
    sleeps: Sleeps,
    sink: ListSink,
) -> None:
    server.script(Reply(pieces=anthropic_events(list("x" * 40)), delay=0.05))
    router = make_router(
        (entry("claude", "anthropic", first_token=1.0, total=0.6), claude),
        (entry("local", "local"), local()),
        policy=policy,
        sleeps=sleeps,
        sink=sink,
    )
    seen: list[StreamEvent] = []
    started = time.monotonic()
    with pytest.raises(ProviderTimeout, match=r"did not finish within 0\.6 s"):
        await run_into(router, seen)
    assert time.monotonic() - started < 2.5
    assert 3 <= len(text_of(seen)) < 40
    assert len(server.requests) == 1


# ----- cooldown and "all down" ---------------------------------------------------------------


async def test_a_provider_failing_repeatedly_cools_down_and_is_skipped(
    server: LoopbackServer,
    claude: AnthropicProvider,
    sleeps: Sleeps,
    sink: ListSink,
) -> None:
    now = [1000.0]
    cooldown = LocalCooldown(failures=2, period=60.0, clock=lambda: now[0])
    policy = RetryPolicy(max_retries=1, backoff_base=0.01, jitter=lambda: 0.0)
    overloaded = anthropic_error(529, "overloaded_error")
    server.script(overloaded, overloaded, overloaded, overloaded)
    router = make_router(
        (entry("claude", "anthropic"), claude),
        (entry("claude-2", "anthropic"), claude),
        (entry("local", "local"), local()),
        policy=policy,
        sleeps=sleeps,
        sink=sink,
        cooldown=cooldown,
    )
    # The first call spends its retries on "claude", gives up (one strike against
    # anthropic), then does the same on "claude-2" (two strikes: anthropic cools down).
    assert text_of(await run(router)) == "Local answer."
    assert len(server.requests) == 4
    assert not await cooldown.available("anthropic")
    # While it cools down, the provider is not even asked.
    assert text_of(await run(router)) == "Local answer."
    assert len(server.requests) == 4
    # After the cooldown it is asked again; a success resets the count.
    now[0] += 61
    server.script(OK)
    assert text_of(await run(router)) == "Hi there"
    assert len(server.requests) == 5


async def test_one_failed_call_alone_does_not_cool_a_provider_down(
    server: LoopbackServer,
    claude: AnthropicProvider,
    sleeps: Sleeps,
    sink: ListSink,
) -> None:
    cooldown = LocalCooldown(failures=2, period=60.0)
    policy = RetryPolicy(max_retries=4, backoff_base=0.01, jitter=lambda: 0.0)
    overloaded = anthropic_error(529, "overloaded_error")
    server.script(*[overloaded] * 5)
    router = make_router(
        (entry("claude", "anthropic"), claude),
        (entry("local", "local"), local()),
        policy=policy,
        sleeps=sleeps,
        sink=sink,
        cooldown=cooldown,
    )
    assert text_of(await run(router)) == "Local answer."
    assert len(server.requests) == 5  # every retry was made
    assert await cooldown.available("anthropic")


async def test_all_models_down_is_one_clear_error(
    server: LoopbackServer,
    claude: AnthropicProvider,
    gpt: OpenAIProvider,
    sleeps: Sleeps,
    sink: ListSink,
) -> None:
    policy = RetryPolicy(max_retries=0)
    server.script(anthropic_error(529, "overloaded_error"), openai_error(503, "server_error"))
    broken_local = ScriptedProvider(
        [ScriptedReply(chunks=(), error=ProviderUnavailable("The built-in model file is missing."))]
    )
    router = make_router(
        (entry("claude", "anthropic"), claude),
        (entry("gpt", "openai"), gpt),
        (entry("local", "local"), broken_local),
        policy=policy,
        sleeps=sleeps,
        sink=sink,
    )
    with pytest.raises(ProviderUnavailable) as caught:
        await run(router)
    message = caught.value.message
    assert message.startswith("No model could answer right now.")
    for part in ("Claude: Anthropic is overloaded", "Gpt: OpenAI had a server error (503)"):
        assert part in message
    assert "built-in model file is missing" in message and "try again" in message
    assert len(sink.records) == 3


async def test_a_single_model_chain_keeps_its_own_error(
    server: LoopbackServer,
    claude: AnthropicProvider,
    sleeps: Sleeps,
    sink: ListSink,
) -> None:
    server.script(anthropic_error(429, "rate_limit_error", headers={"retry-after": "99"}))
    router = make_router(
        (entry("claude", "anthropic"), claude),
        policy=RetryPolicy(retry_after_cap=1.0),
        sleeps=sleeps,
        sink=sink,
    )
    with pytest.raises(RateLimited) as caught:
        await run(router)
    assert caught.value.retry_after == 99.0


async def test_closing_the_stream_early_logs_a_cancelled_attempt(
    server: LoopbackServer,
    claude: AnthropicProvider,
    policy: RetryPolicy,
    sleeps: Sleeps,
    sink: ListSink,
) -> None:
    server.script(Reply(pieces=anthropic_events(list("abcdefgh")), delay=0.05))
    router = make_router(
        (entry("claude", "anthropic"), claude), policy=policy, sleeps=sleeps, sink=sink
    )
    stream = router.stream(REQUEST)
    async for event in stream:
        if isinstance(event, TextDelta):
            break
    await stream.aclose()  # type: ignore[attr-defined]
    for _ in range(20):
        if sink.records:
            break
        await asyncio.sleep(0.01)
    assert [r.status for r in sink.records] == ["cancelled"]


async def test_budget_timeouts_have_their_own_retry_limit(
    server: LoopbackServer,
    claude: AnthropicProvider,
    sleeps: Sleeps,
    sink: ListSink,
) -> None:
    policy = RetryPolicy(max_retries=3, timeout_retries=0, jitter=lambda: 0.0)
    server.script(Reply(pieces=anthropic_events([], complete=False), hang=30), OK)
    router = make_router(
        (entry("claude", "anthropic", first_token=0.2), claude),
        (entry("local", "local"), local()),
        policy=policy,
        sleeps=sleeps,
        sink=sink,
    )
    assert text_of(await run(router)) == "Local answer."  # no retry of a hanging model
    assert len(server.requests) == 1 and server.pending == 1
