"""UsageState: reads the URL's query, keeps only what the page draws, opens a call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from reflex.istate.data import RouterData
from reflex.state import State
from sqlalchemy import Engine

from app.services import accounts as accounts_module
from app.services import usage as usage_service
from app.services.accounts import SESSION_COOKIE, AccountService
from bench.gen_calls import load
from state.usage import UsageState
from tests.unit.test_accounts import FAST, PASSWORD

URL = "/usage?from=2026-03-01&to=2026-03-31&tz=Europe/Paris&model=gpt-5"


@pytest.fixture
async def usage(engine: Engine) -> AsyncIterator[UsageState]:
    load(engine, 2000, end=datetime(2026, 4, 3, tzinfo=UTC), seed=3)
    usage_service._service = usage_service.UsageService(engine)
    accounts = AccountService(
        engine, signup_mode="open", session_lifetime=timedelta(hours=1), hasher=FAST
    )
    admin = await accounts.sign_up("ada@example.com", PASSWORD)  # the first account: an admin
    accounts_module._service = accounts
    headers = {"cookie": f"{SESSION_COOKIE}={admin.token}"}
    root = State(_reflex_internal_init=True)  # pyright: ignore[reportCallIssue]
    root.router = RouterData.from_router_data(
        {"pathname": "/usage", "asPath": URL, "query": {}, "headers": headers, "token": "t"}
    )
    yield root.get_substate(UsageState.get_full_name().split(".")[1:])  # type: ignore[misc]
    usage_service._service = None
    accounts_module._service = None


async def test_load_reads_the_url_and_keeps_only_drawn_points(usage: UsageState) -> None:
    await UsageState.load.fn(usage)  # pyright: ignore[reportFunctionMemberAccess]
    assert usage.error == ""
    assert usage.filters == {"model": "gpt-5"} and usage.tz == "Europe/Paris"
    assert [f.label for f in usage.figures][:2] == ["Cost", "Requests"]
    assert len(usage.cost_by_day) == 31 and usage.series == ["gpt-5"]
    assert {r.key for r in usage.table_rows} and usage.table_count >= len(usage.table_rows)
    assert 0 < len(usage.calls) <= 25 and {c.model for c in usage.calls} == {"gpt-5"}
    assert "model=gpt-5" in usage.query_string
    await UsageState.open_call.fn(usage, usage.calls[0].id)  # pyright: ignore[reportFunctionMemberAccess]
    chain = usage.detail
    assert str(usage.calls[0].id) in [a["id"] for a in chain]  # with its failover attempts
    assert [a["attempt"] for a in chain] == [str(n) for n in range(1, len(chain) + 1)]
    assert all(a["price_version"].startswith("genai-prices") for a in chain if a["cost"][0] == "$")


async def test_a_bad_url_explains_and_shows_the_default_period(usage: UsageState) -> None:
    usage.router = RouterData.from_router_data(
        {
            "pathname": "/usage",
            "asPath": "/usage?tz=Nowhere",
            "query": {},
            "headers": {"cookie": usage.router.headers.cookie},
            "token": "t",
        }
    )
    await UsageState.load.fn(usage)  # pyright: ignore[reportFunctionMemberAccess]
    assert "time zone" in usage.error
    assert usage.tz == "UTC"
