"""CSV export over HTTP: streamed, filtered, scoped; its sum is the headline's."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from starlette.requests import Request
from starlette.testclient import TestClient

from app.db.crud import usage as q
from app.db.crud.usage import Scope, UsageFilter
from app.db.session import session_scope
from app.services.usage_period import UsageQuery
from app.web.usage_export import usage_export_app
from bench.gen_calls import load

END = datetime(2026, 4, 3, tzinfo=UTC)


def _client(engine: Engine, scope: Scope | None) -> TestClient:
    async def scope_of(_request: Request) -> Scope | None:
        return scope

    return TestClient(usage_export_app(lambda: engine, scope_of))


@pytest.fixture
def filled(engine: Engine) -> Engine:
    load(engine, 3000, end=END, seed=9)
    return engine


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_call_csv_sums_to_the_headline_cost(filled: Engine) -> None:
    query = UsageQuery(
        date(2026, 2, 1), date(2026, 3, 31), "Europe/Paris", UsageFilter(feature="chat")
    )
    with _client(filled, Scope.everything()) as client:
        response = client.get(f"/_parley/usage/export/calls.csv?{query.query_string()}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = _rows(response.text)
    with session_scope(filled) as session:
        totals = q.totals(
            session=session, window=query.window(), filt=query.filters, scope=Scope.everything()
        )
    assert len(rows) == totals.calls > 100
    assert {r["feature"] for r in rows} == {"chat"}
    total = sum((Decimal(r["cost_usd"]) for r in rows if r["cost_usd"]), Decimal(0))
    assert total == Decimal(totals.cost_nano) / Decimal(1_000_000_000)
    assert sum(r["price"] == "unknown" for r in rows) == totals.unknown > 0
    assert all(r["created_at_utc"].endswith("Z") for r in rows)


def test_a_breakdown_csv_has_every_value_once(filled: Engine) -> None:
    with _client(filled, Scope.everything()) as client:
        text = client.get("/_parley/usage/export/model.csv?from=2025-04-03&to=2026-04-02").text
        conversations = client.get(
            "/_parley/usage/export/conversation.csv?from=2026-03-01&to=2026-03-31"
        ).text
    rows = _rows(text)
    assert len({r["key"] for r in rows}) == len(rows) == 8
    unknown = next(r for r in rows if r["key"] == "llama-3.3-70b")
    assert unknown["cost_is_at_least"] == "1" and unknown["unknown_price_calls"] != "0"
    assert len(_rows(conversations)) > 100


def test_exports_refuse_nobody_and_bad_input_and_scope_members(filled: Engine) -> None:
    with _client(filled, None) as client:
        assert client.get("/_parley/usage/export/calls.csv").status_code == 403
    with _client(filled, Scope.everything()) as client:
        assert client.get("/_parley/usage/export/secrets.csv").status_code == 404
        bad = client.get("/_parley/usage/export/calls.csv?tz=Nowhere/Land")
        assert bad.status_code == 400 and "time zone" in bad.text
    member = Scope(user_id="user05")
    with _client(filled, member) as client:
        rows = _rows(
            client.get("/_parley/usage/export/calls.csv?from=2025-04-03&to=2026-04-02").text
        )
        users = _rows(
            client.get("/_parley/usage/export/user.csv?from=2025-04-03&to=2026-04-02").text
        )
    assert rows and {r["user_id"] for r in rows} == {"user05"}
    assert [r["key"] for r in users] == ["user05"]
