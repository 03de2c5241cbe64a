"""The guards built from settings, end to end on a real database: a scripted model behind
them, refused by a budget from settings and by the request window."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.db.session import get_engine
from app.errors import BudgetExceeded, LimitExceeded
from app.guards import guard
from app.guards.context import CallContext, with_context
from app.guards.params import MAX_ROW_ID, parse_row_id
from app.guards.setup import build_guards, model_limits
from app.llm.base import ChatMessage, ChatRequest, Finish
from app.llm.catalogue import load_catalogue
from app.llm.fake import ScriptedProvider, ScriptedReply
from app.settings import Settings


async def test_guards_from_settings(db_url: str) -> None:
    settings = Settings(
        rate_requests_per_user="2/minute",
        budget_user_tokens=50_000,
        moderation_mode="block",
        default_max_tokens=1000,
    )
    guards = build_guards(settings, get_engine(db_url))
    catalogue = load_catalogue()
    chain = model_limits(catalogue.chain("claude-haiku-4-5", ["anthropic", "local"]))
    assert [m.max_output_tokens for m in chain] == [64000, 64000, 1024]
    inner = ScriptedProvider(lambda request: ScriptedReply.of("ok"))
    provider = guard(inner, chain, guards)
    ctx = CallContext(user_id="u1", project_id="p1", client_ip="10.1.1.1")
    ask = with_context(ChatRequest("m", (ChatMessage("user", "hello"),)), ctx)
    events = [e async for e in provider.stream(ask)]
    assert isinstance(events[-1], Finish) and inner.requests[0].max_tokens == 1000
    huge = with_context(ChatRequest("m", (ChatMessage("user", "hello"),), max_tokens=60_000), ctx)
    with pytest.raises(BudgetExceeded) as caught:
        _ = [e async for e in provider.stream(huge)]
    assert caught.value.limit == Decimal(50_000) and caught.value.unit == "tokens"
    with pytest.raises(LimitExceeded):  # the refused call counted as the 2nd request
        _ = [e async for e in provider.stream(ask)]
    assert len(inner.requests) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", 42),
        ("²", None),  # str.isdigit() is true for it; int() is not
        ("٣", None),  # an Arabic-Indic digit
        ("12345678901234567890", None),  # 20 digits: no row id is that big
        (str(MAX_ROW_ID), MAX_ROW_ID),
        (str(MAX_ROW_ID + 1), None),
        ("0", None),
        ("-1", None),
        (" 1", None),
        ("", None),
        (None, None),
    ],
)
def test_ids_from_urls(text: str | None, expected: int | None) -> None:
    assert parse_row_id(text) == expected
