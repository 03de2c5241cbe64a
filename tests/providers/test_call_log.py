"""The call log end to end: chat service -> wiring's registry -> router -> real Anthropic SDK ->
loopback server, with rows written to SQLite and PostgreSQL. Keys never reach the log."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import AsyncIterator
from decimal import Decimal

import genai_prices
import pytest
from sqlalchemy import Engine, text

from app.db import crud
from app.db.models import CallLog
from app.db.session import session_scope
from app.llm.anthropic_api import AnthropicProvider
from app.llm.base import ChatMessage, ChatRequest, Provider
from app.llm.cache import CachingProvider, ResponseCache
from app.llm.calllog import CallRecord, make_record
from app.llm.cooldown import LocalCooldown
from app.llm.fake import ScriptedProvider, ScriptedReply
from app.services.calllog import DatabaseCallSink, calls_for_message
from app.services.chat import ChatService, Posted
from app.services.wiring import build_registry
from app.settings import Settings
from tests.providers.conftest import ANTHROPIC_KEY
from tests.providers.loopback import LoopbackServer, Reply, anthropic_error, anthropic_events

MODEL = "claude-sonnet-5-5"  # its chain: claude-sonnet-4-6, (gpt-5.5: no key), local

ENV_PREFIXES = ("PARLEY_", "ANTHROPIC_", "OPENAI_", "REDIS_URL", "DATABASE_URL")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No provider, database or Redis variable from the outer environment leaks in."""
    for name in list(os.environ):
        if name.startswith(ENV_PREFIXES):
            monkeypatch.delenv(name)


@pytest.fixture
async def claude(server: LoopbackServer) -> AsyncIterator[AnthropicProvider]:
    provider = AnthropicProvider(api_key=ANTHROPIC_KEY, base_url=server.url, read_timeout=10)
    yield provider
    await provider.aclose()


def chat_service(engine: Engine, claude: AnthropicProvider, local: Provider) -> ChatService:
    settings = Settings(default_model=MODEL, retry_max=0, cache_size=0)
    registry = build_registry(
        settings,
        sink=DatabaseCallSink(engine),
        providers={"anthropic": claude, "local": local},
        cooldown=LocalCooldown(),
    )
    return ChatService(engine, registry)


def call_logs(engine: Engine) -> list[CallLog]:
    with session_scope(engine) as session:
        return list(crud.list_call_logs(session=session))


async def chat(service: ChatService, message: str) -> Posted:
    posted = await service.post_message(None, message)
    await service.stream_reply(posted.reply.id)
    return posted


@pytest.mark.usefixtures("clean_env")
async def test_a_reply_records_the_scripted_tokens_and_the_right_cost(
    engine: Engine, server: LoopbackServer, claude: AnthropicProvider
) -> None:
    server.script(
        Reply(
            pieces=anthropic_events(
                ["Scripted ", "reply."],
                model=MODEL,
                input_tokens=1200,
                output_tokens=340,
                cache_read=800,
                cache_write=100,
            )
        )
    )
    service = chat_service(engine, claude, ScriptedProvider([]))
    posted = await chat(service, "Hello")
    reply_id = posted.reply.id

    message = await service.get_message(reply_id)
    assert (message.content, message.status, message.model) == (
        "Scripted reply.",
        "complete",
        MODEL,
    )
    assert (message.input_tokens, message.output_tokens) == (2100, 340)
    [row] = call_logs(engine)
    expected = genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=2100, output_tokens=340, cache_read_tokens=800, cache_write_tokens=100
        ),
        MODEL,
        provider_id="anthropic",
    ).total_price
    assert row.cost == pytest.approx(Decimal(expected))
    assert row.cost is not None and row.cost > 0
    assert (row.provider, row.model, row.status, row.attempt, row.cache_hit) == (
        "anthropic",
        MODEL,
        "ok",
        1,
        False,
    )
    assert (row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens) == (
        2100,
        340,
        800,
        100,
    )
    assert row.price_version == f"genai-prices {genai_prices.__version__}"
    assert (row.conversation_id, row.message_id, row.feature) == (
        posted.conversation.id,
        reply_id,
        "chat",
    )
    assert row.ttft_ms is not None and row.latency_ms >= row.ttft_ms >= 0
    assert row.created_at.tzinfo is not None


@pytest.mark.usefixtures("clean_env")
async def test_a_529_fails_over_and_the_log_shows_both_attempts(
    engine: Engine, server: LoopbackServer, claude: AnthropicProvider
) -> None:
    server.script(
        anthropic_error(529, "overloaded_error"),
        Reply(pieces=anthropic_events(["From the fallback."], model="claude-sonnet-4-6")),
    )
    service = chat_service(engine, claude, ScriptedProvider([]))
    reply_id = (await chat(service, "Hello")).reply.id

    message = await service.get_message(reply_id)
    assert (message.content, message.status) == ("From the fallback.", "complete")
    assert (message.model, message.provider) == ("claude-sonnet-4-6", "anthropic")
    assert [r.body["model"] for r in server.requests] == [MODEL, "claude-sonnet-4-6"]
    rows = await calls_for_message(engine, reply_id)
    assert rows == call_logs(engine)
    assert [(r.model, r.status, r.error_type, r.attempt, r.failover_from) for r in rows] == [
        (MODEL, "error", "ProviderOverloaded", 1, None),
        ("claude-sonnet-4-6", "ok", None, 2, MODEL),
    ]
    assert rows[0].cost is None  # nothing reported: unknown, not free
    assert all(r.message_id == reply_id for r in rows)


@pytest.mark.usefixtures("clean_env")
async def test_every_cloud_model_down_ends_on_the_local_model(
    engine: Engine, server: LoopbackServer, claude: AnthropicProvider
) -> None:
    server.script(anthropic_error(529, "overloaded_error"), anthropic_error(500, "api_error"))
    local = ScriptedProvider([ScriptedReply.of("Local says hi.")], name="local")
    service = chat_service(engine, claude, local)
    reply_id = (await chat(service, "Hello")).reply.id
    message = await service.get_message(reply_id)
    assert (message.content, message.model, message.provider) == (
        "Local says hi.",
        "local",
        "local",
    )
    rows = call_logs(engine)
    assert [r.model for r in rows] == [MODEL, "claude-sonnet-4-6", "local"]
    assert rows[-1].cost == Decimal(0) and rows[-1].failover_from == "claude-sonnet-4-6"


@pytest.mark.usefixtures("clean_env")
async def test_all_down_keeps_the_users_message_and_says_so(
    engine: Engine, server: LoopbackServer, claude: AnthropicProvider
) -> None:
    from app.errors import ProviderUnavailable

    server.script(
        anthropic_error(529, "overloaded_error"), anthropic_error(529, "overloaded_error")
    )
    local = ScriptedProvider(
        [ScriptedReply(chunks=(), error=ProviderUnavailable("The built-in model is missing."))],
        name="local",
    )
    service = chat_service(engine, claude, local)
    posted = await service.post_message(None, "Hello")
    await service.stream_reply(posted.reply.id)
    message = await service.get_message(posted.reply.id)
    assert message.status == "error" and message.error.startswith("No model could answer")
    history = await service.history(posted.conversation.id, limit=10)
    assert history.messages[0].content == "Hello"


@pytest.mark.usefixtures("clean_env")
async def test_keys_never_reach_the_call_log_or_the_logs(
    engine: Engine,
    server: LoopbackServer,
    claude: AnthropicProvider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    server.script(
        anthropic_error(401, "authentication_error", message="invalid x-api-key"),
        Reply(pieces=anthropic_events(["ok"])),
    )
    local = ScriptedProvider([ScriptedReply.of("fine")], name="local")
    service = chat_service(engine, claude, local)
    first = await chat(service, "one")
    assert (await service.get_message(first.reply.id)).content == "ok"  # failed over
    assert ANTHROPIC_KEY in str(server.requests[0].headers)  # it was sent...
    dump = []
    with engine.connect() as conn:
        for table in ("call_log", "message", "conversation"):
            dump += [repr(tuple(row)) for row in conn.execute(text(f"select * from {table}"))]
    dump += [repr(r.__dict__) for r in caplog.records]  # messages and structured extras
    assert dump and first
    secret_parts = (ANTHROPIC_KEY, ANTHROPIC_KEY[-10:])
    for line in dump:
        for secret in secret_parts:
            assert secret not in line  # ...and never stored or logged


async def test_structured_log_records_use_the_otel_genai_names(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from app.llm.calllog import emit

    caplog.set_level(logging.INFO, logger="parley.llm.calls")
    record = make_record(
        metadata={"conversation_id": "c9", "feature": "title", "prompt_version": "v2"},
        provider="openai",
        model="gpt-4.1-mini",
        provider_model="gpt-4.1-mini",
        status="ok",
        usage=None,
        latency=0.5,
        ttft=0.1,
    )
    await emit(None, record)
    [logged] = [r for r in caplog.records if r.name == "parley.llm.calls"]
    fields = logged.__dict__
    assert fields["gen_ai.request.model"] == "gpt-4.1-mini"
    assert fields["gen_ai.provider.name"] == "openai"
    assert fields["gen_ai.usage.input_tokens"] == 0
    assert fields["gen_ai.usage.output_tokens"] == 0
    assert fields["gen_ai.operation.name"] == "chat"
    assert fields["gen_ai.conversation.id"] == "c9"
    assert (fields["parley.feature"], fields["parley.prompt_version"]) == ("title", "v2")
    assert "gen_ai.request.model=gpt-4.1-mini" in logged.getMessage()


async def test_a_cache_hit_is_a_row_with_cost_zero(engine: Engine) -> None:
    sink = DatabaseCallSink(engine)
    inner = ScriptedProvider([ScriptedReply.of("same answer")], name="anthropic")
    provider = CachingProvider(
        inner, ResponseCache(), model_id=MODEL, provider="anthropic", sink=sink
    )
    request = ChatRequest(
        model=MODEL,
        messages=(ChatMessage("user", "2+2?"),),
        temperature=0.0,
        metadata={"feature": "extract", "user_id": "u1", "project_id": "p1"},
    )
    for _ in range(2):
        async for _event in provider.stream(request):
            pass
    [hit] = call_logs(engine)  # the scripted miss is not logged; a router would log it
    assert (hit.cache_hit, hit.cost, hit.status, hit.feature) == (True, Decimal(0), "ok", "extract")
    assert (hit.user_id, hit.project_id) == ("u1", "p1")


async def test_every_record_field_is_a_column(engine: Engine) -> None:
    fields = {f.name for f in dataclasses.fields(CallRecord)}
    assert fields <= set(CallLog.model_fields)
    sink = DatabaseCallSink(engine)
    await sink(
        CallRecord(provider="openai", model="m", provider_model="m", status="error", cost=None)
    )
    [row] = call_logs(engine)
    assert row.cost is None and row.status == "error"


@pytest.mark.usefixtures("clean_env")
async def test_the_app_wiring_reaches_anthropic_through_its_base_url_variable(
    db_url: str, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.services.wiring import build_chat_service

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    monkeypatch.setenv("PARLEY_DEFAULT_MODEL", MODEL)
    server.script(
        anthropic_error(529, "overloaded_error"),
        anthropic_error(529, "overloaded_error"),
        anthropic_error(529, "overloaded_error"),
        Reply(pieces=anthropic_events(["Via ", "the fallback."], input_tokens=5, output_tokens=3)),
    )
    service = build_chat_service(Settings(retry_backoff_base=0.01, retry_backoff_max=0.02))
    assert MODEL in [m.id for m in service.models.available()]
    posted = await chat(service, "Hello")
    message = await service.get_message(posted.reply.id)
    assert (message.content, message.model) == ("Via the fallback.", "claude-sonnet-4-6")
    rows = call_logs(service.engine)
    assert [(r.model, r.status, r.attempt) for r in rows] == [
        (MODEL, "error", 1),
        (MODEL, "error", 2),
        (MODEL, "error", 3),
        ("claude-sonnet-4-6", "ok", 4),
    ]
    assert rows[-1].cost is not None and rows[-1].cost > 0


@pytest.mark.usefixtures("clean_env")
async def test_stop_mid_reply_logs_a_cancelled_attempt(
    engine: Engine, server: LoopbackServer, claude: AnthropicProvider
) -> None:
    import asyncio

    server.script(Reply(pieces=anthropic_events(list("abcdefghij")), delay=0.05))
    service = chat_service(engine, claude, ScriptedProvider([]))
    posted = await service.post_message(None, "Hello")
    reader = service.hub.subscribe(posted.reply.id)
    streaming = asyncio.create_task(service.stream_reply(posted.reply.id))
    await reader.batch()  # the first text
    service.request_stop(posted.reply.id)
    await streaming
    for _ in range(50):  # the cancelled attempt is written in the background
        if call_logs(engine):
            break
        await asyncio.sleep(0.02)
    [row] = call_logs(engine)
    assert (row.status, row.model, row.message_id) == ("cancelled", MODEL, posted.reply.id)
    message = await service.get_message(posted.reply.id)
    assert message.status == "stopped" and message.model == MODEL
