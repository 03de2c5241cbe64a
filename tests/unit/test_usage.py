"""The dashboard's numbers against sums over the raw rows, on SQLite and PostgreSQL.

Generated data (bench/gen_calls.py) over a year; periods across month ends and DST changes,
in zones with whole-hour offsets (read from the rollup) and half-hour ones (raw rows).
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select, text

from app.db import crud
from app.db.crud import usage as q
from app.db.crud import usage_calls as raw
from app.db.crud.usage import Scope, UsageFilter
from app.db.models import CallLog, UsageHourly
from app.db.session import session_scope
from app.errors import InvalidInput
from app.services.usage import UsageService
from app.services.usage_period import UsageQuery, money, window
from bench.gen_calls import load

END = datetime(2026, 4, 3, tzinfo=UTC)
ZONES = ["UTC", "Europe/Paris", "America/Los_Angeles", "Asia/Kolkata", "Australia/Adelaide"]
NANO = Decimal(1_000_000_000)


@pytest.fixture
def loaded(engine: Engine) -> list[CallLog]:
    load(engine, 4000, end=END, seed=5)
    with session_scope(engine) as session:
        return list(session.exec(select(CallLog)).scalars().all())  # type: ignore[call-overload]


def _unknown(c: CallLog) -> bool:
    unbilled = c.status == "error" and c.ttft_ms is None and not c.input_tokens
    return c.cost is None and not (unbilled and not c.output_tokens)


def _local_day(c: CallLog, tz: str) -> date:
    return c.created_at.replace(tzinfo=UTC).astimezone(ZoneInfo(tz)).date()


@pytest.mark.parametrize("tz", ZONES)
def test_totals_and_days_agree_to_the_cent_with_the_raw_rows(
    engine: Engine, loaded: list[CallLog], tz: str
) -> None:
    first, last = date(2026, 2, 20), date(2026, 3, 31)  # a month end, and DST in most zones
    win = window(first, last, tz)
    assert win.whole_hours == (tz != "Asia/Kolkata" and tz != "Australia/Adelaide")
    mine = [c for c in loaded if first <= _local_day(c, tz) <= last]
    assert len(mine) > 200
    with session_scope(engine) as session:
        totals = q.totals(session=session, window=win, filt=UsageFilter(), scope=Scope.everything())
        days = q.daily(session=session, window=win, filt=UsageFilter(), scope=Scope.everything())
    expected = sum((Decimal(str(c.cost)) for c in mine if c.cost is not None), Decimal(0))
    assert abs(Decimal(totals.cost_nano) / NANO - expected) < Decimal("0.005")
    assert totals.calls == len(mine)
    assert totals.unknown == sum(_unknown(c) for c in mine) > 0
    assert totals.requests == sum(c.attempt == 1 for c in mine)
    assert totals.failovers == sum(c.failover_from is not None for c in mine)
    assert totals.input_tokens == sum(c.input_tokens for c in mine)
    per_day: dict[date, Decimal] = defaultdict(Decimal)
    for c in mine:
        per_day[_local_day(c, tz)] += Decimal(str(c.cost or 0))
    assert {d.day for d in days} == set(per_day)
    for d in days:
        assert abs(Decimal(d.totals.cost_nano) / NANO - per_day[d.day]) < Decimal("0.005")
    assert money(totals.cost_nano, totals.unknown).startswith("≥ $")


def test_the_rollup_written_with_each_insert_equals_a_rebuild(engine: Engine) -> None:
    base = datetime(2026, 3, 1, 10, 59, 59, tzinfo=UTC)
    variants = [
        {"cost": Decimal("0.001234567")},
        {"cost": None, "status": "error"},  # refused: unbilled
        {"cost": None, "input_tokens": 10, "output_tokens": 3},  # unknown price
        {"cost": Decimal(0), "cache_hit": True, "user_id": None},
        {"cost": Decimal("1.5"), "attempt": 2, "failover_from": "a", "project_id": None},
    ]
    with session_scope(engine) as session:
        for n in range(40):
            extra = variants[n % len(variants)]
            fields: dict[str, object] = {
                "provider": "anthropic",
                "model": f"m{n % 3}",
                "status": "ok",
                "user_id": "u1" if n % 2 else "u2",
                "project_id": "p1",
                "created_at": base + timedelta(seconds=n * 7),
                **extra,
            }
            call = CallLog.model_validate(fields)
            crud.add_call_log(session=session, call=call)
    with session_scope(engine) as session:
        cols = [getattr(UsageHourly, k) for k in ("hour", "user_id", "model", *q.MEASURES)]
        live = sorted(tuple(r) for r in session.execute(select(*cols)).all())
        crud.rebuild_usage_rollups(session=session)
        rebuilt = sorted(tuple(r) for r in session.execute(select(*cols)).all())
    assert live == rebuilt
    assert {r[0] for r in live} == {
        int(base.timestamp()) // 3600,
        int(base.timestamp()) // 3600 + 1,
    }
    assert sum(r[-1] for r in live) == 8  # unknown: 8 rows of the 3rd variant, not the refused


def _nearest_rank(values: list[int], p: float) -> int:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p * len(ordered))) - 1]


def test_percentiles_are_nearest_rank_over_the_raw_rows(
    engine: Engine, loaded: list[CallLog]
) -> None:
    first, last = date(2026, 3, 1), date(2026, 3, 31)
    mine = [c for c in loaded if first <= _local_day(c, "Europe/Paris") <= last]
    with session_scope(engine) as session:
        got = raw.percentiles(
            session=session,
            window=window(first, last, "Europe/Paris"),
            filt=UsageFilter(),
            scope=Scope.everything(),
        )
        whole, by_day = raw.percentiles_by_day(
            session=session,
            window=window(first, last, "Europe/Paris"),
            filt=UsageFilter(),
            scope=Scope.everything(),
        )
    ttft = [c.ttft_ms for c in mine if c.ttft_ms is not None]
    latency = [c.latency_ms for c in mine if c.status == "ok"]
    assert got.ttft_p50 == _nearest_rank(ttft, 0.5)
    assert got.ttft_p95 == _nearest_rank(ttft, 0.95)
    assert got.latency_p50 == _nearest_rank(latency, 0.5)
    assert got.latency_p95 == _nearest_rank(latency, 0.95)
    assert whole == got
    day, p = by_day[3]
    lat_day = [
        c.latency_ms for c in mine if c.status == "ok" and _local_day(c, "Europe/Paris") == day
    ]
    assert p.latency_p95 == _nearest_rank(lat_day, 0.95)


def test_a_member_sees_only_their_rows_and_their_projects(
    engine: Engine, loaded: list[CallLog]
) -> None:
    first, last = date(2025, 4, 3), date(2026, 4, 2)
    win = window(first, last, "UTC")
    member = Scope(user_id="user03", project_ids=frozenset({"proj07"}))
    visible = [c for c in loaded if c.user_id == "user03" or c.project_id == "proj07"]
    hidden = next(c for c in loaded if c.user_id != "user03" and c.project_id != "proj07")
    with session_scope(engine) as session:
        assert q.totals(session=session, window=win, filt=UsageFilter(), scope=member).calls == len(
            visible
        )
        assert q.totals(session=session, window=win, filt=UsageFilter(), scope=Scope()).calls == 0
        users = q.options(session=session, scope=member, window=win)["user"]
        assert "user03" in users
        assert set(users) == {c.user_id for c in visible}
        assert raw.get_call(session=session, call_id=hidden.id or 0, scope=member) == []
        assert raw.get_call(session=session, call_id=hidden.id or 0, scope=Scope()) == []
        rows, count = raw.list_calls(session=session, window=win, filt=UsageFilter(), scope=member)
        assert count == len(visible)
        assert all(r.user_id == "user03" or r.project_id == "proj07" for r in rows)


def test_tables_sort_and_page_on_the_server(engine: Engine, loaded: list[CallLog]) -> None:
    win = window(date(2025, 4, 3), date(2026, 4, 2), "UTC")
    args = {"window": win, "filt": UsageFilter(), "scope": Scope.everything(), "by": "user"}
    with session_scope(engine) as session:
        everything, count = q.breakdown(session=session, limit=500, **args)  # type: ignore[arg-type]
        pages = [
            q.breakdown(session=session, limit=7, offset=o, **args)[0]  # type: ignore[arg-type]
            for o in range(0, count, 7)
        ]
        with pytest.raises(ValueError, match="cannot sort"):
            q.breakdown(session=session, sort="id; drop table", **args)  # type: ignore[arg-type]
    assert count == len({c.user_id for c in loaded}) == len(everything)
    assert [r for page in pages for r in page] == everything
    costs = [r.totals.cost_nano for r in everything]
    assert costs == sorted(costs, reverse=True)


def test_the_call_browser_filters_and_a_call_shows_its_failover_chain(
    engine: Engine, loaded: list[CallLog]
) -> None:
    win = window(date(2025, 4, 3), date(2026, 4, 2), "UTC")
    filt = UsageFilter(status="error", provider="openai")
    with session_scope(engine) as session:
        rows, count = raw.list_calls(
            session=session, window=win, filt=filt, scope=Scope.everything()
        )
        second = next(c for c in loaded if c.failover_from is not None)
        chain = raw.get_call(session=session, call_id=second.id or 0, scope=Scope.everything())
    assert count == sum(c.status == "error" and c.provider == "openai" for c in loaded) > 0
    assert all(r.status == "error" and r.provider == "openai" for r in rows)
    assert [c.attempt for c in chain] == list(range(1, len(chain) + 1))
    assert chain[0].model == second.failover_from or chain[-1].id == second.id


async def test_the_dashboard_headline_and_charts(engine: Engine, loaded: list[CallLog]) -> None:
    query = UsageQuery(date(2026, 3, 1), date(2026, 3, 31), "America/Los_Angeles")
    board = await UsageService(engine).dashboard(query, Scope.everything(), budget=Decimal(50))
    assert board.figures[0].label == "Cost" and board.figures[0].value == board.cost_text
    assert len(board.cost_by_day) == 31
    drawn = sum(v for day in board.cost_by_day for k, v in day.items() if k != "day")
    assert abs(Decimal(str(drawn)) - Decimal(board.totals.cost_nano) / NANO) < Decimal("0.01")
    assert {f["feature"] for f in board.cost_by_feature} <= {
        "chat",
        "title",
        "extract",
        "agent",
        "api",
    }
    assert board.burn_down[-1]["budget"] == 50.0
    assert "budget" in board.projection_text


def test_windows_and_queries_reject_bad_input() -> None:
    with pytest.raises(InvalidInput, match="time zone"):
        UsageQuery.from_params({"tz": "Mars/Olympus"})
    with pytest.raises(InvalidInput, match="2026-12-01"):
        UsageQuery.from_params({"from": "yesterday"})
    with pytest.raises(InvalidInput, match="ends before"):
        window(date(2026, 3, 2), date(2026, 3, 1), "UTC")
    query = UsageQuery.from_params({"from": "2026-03-01", "to": "2026-03-31", "model": "gpt-5"})
    assert UsageQuery.from_params(dict(query.params())) == query
    assert query.previous().first == date(2026, 1, 29)
    paris = window(date(2026, 3, 28), date(2026, 3, 30), "Europe/Paris")
    assert [off for _, off in paris.offsets] == [3600, 7200]
    assert datetime.fromtimestamp(paris.offsets[1][0], UTC) == datetime(2026, 3, 29, 1, tzinfo=UTC)


def test_money_text_never_shows_unknown_as_zero() -> None:
    assert money(0, 3) == "unknown"
    assert money(1_234_000_000, 1) == "≥ $1.23"
    assert money(1_234_000_000, 0) == "$1.23"
    assert money(0, 0) == "$0"


def test_text_sql_probe_of_the_index(engine: Engine) -> None:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            names = {r[1] for r in conn.execute(text("PRAGMA index_list('call_log')"))}
        else:
            names = {
                r[0]
                for r in conn.execute(
                    text("SELECT indexname FROM pg_indexes WHERE tablename='call_log'")
                )
            }
    assert "ix_call_log_created_at_latency" in names
