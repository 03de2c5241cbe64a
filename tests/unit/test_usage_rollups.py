"""The narrower rollups and the latency histograms (migration 0016), on SQLite and PostgreSQL:
written exactly by each insert, backfilled exactly by the migration, and read back as the raw
rows sum up: tables by user, project, model and conversation across time zones (daily rollups
plus edges; half-hour zones mix in raw rows), and percentiles within half a bucket."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, inspect, select, text

from app.db import crud
from app.db.crud import latency
from app.db.crud import usage as q
from app.db.crud import usage_calls as raw
from app.db.crud.usage import Scope, UsageFilter
from app.db.crud.usage_source import plan
from app.db.models import (
    CallLog,
    UsageDaily,
    UsageDailyConversation,
    UsageHourly,
    UsageHourlyModel,
    UsageLatencyHourly,
)
from app.db.session import get_engine, session_scope
from app.services.usage_period import window
from bench.gen_calls import insert_calls, load
from tests.unit.test_migration_0006 import empty_url, rows, to  # noqa: F401

END = datetime(2026, 4, 3, tzinfo=UTC)
TABLES = (UsageHourly, UsageHourlyModel, UsageDaily, UsageDailyConversation, UsageLatencyHourly)
NANO = Decimal(1_000_000_000)


def _snapshot(
    engine: Engine, tables: tuple[type, ...] = TABLES
) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    with engine.connect() as conn:
        for table in tables:
            name = table.__tablename__
            out[name] = sorted(tuple(r) for r in conn.execute(select(table.__table__)).all())  # type: ignore[attr-defined]
    assert all(out.values()), {k: len(v) for k, v in out.items()}
    return out


def test_every_rollup_written_with_each_insert_equals_a_rebuild(engine: Engine) -> None:
    base = datetime(2026, 3, 1, 23, 59, 0, tzinfo=UTC)  # across a UTC day
    variants: list[dict[str, object]] = [
        {"cost": Decimal("0.001234567"), "ttft_ms": 412, "latency_ms": 2900},
        {"cost": None, "status": "error", "latency_ms": 90},  # refused: unbilled, no ttft
        {"cost": None, "input_tokens": 10, "output_tokens": 3, "ttft_ms": 7},  # unknown price
        {"cost": Decimal(0), "cache_hit": True, "user_id": None, "conversation_id": None},
        {"cost": Decimal("1.5"), "attempt": 2, "failover_from": "a", "project_id": None},
    ]
    with session_scope(engine) as session:
        for n in range(60):
            fields: dict[str, object] = {
                "provider": "anthropic",
                "model": f"m{n % 3}",
                "feature": ("chat", "title")[n % 2],
                "status": "ok",
                "user_id": "u1" if n % 2 else "u2",
                "project_id": "p1",
                "conversation_id": f"c{n % 4}",
                "latency_ms": 100 + 37 * n,
                "created_at": base + timedelta(seconds=n * 3),
                **variants[n % len(variants)],
            }
            crud.add_call_log(session=session, call=CallLog.model_validate(fields))
    live = _snapshot(engine)
    with session_scope(engine) as session:
        crud.rebuild_usage_rollups(session=session)
    assert _snapshot(engine) == live
    with engine.connect() as conn:
        days = set(conn.execute(select(UsageDaily.day)).scalars())  # type: ignore[call-overload]
    assert days == {int(base.timestamp()) // 86400, int(base.timestamp()) // 86400 + 1}
    counts = {latency.TTFT: 0, latency.LATENCY: 0}
    for _, metric, _, n in live["usage_latency_hourly"]:
        counts[int(str(metric))] += int(str(n))
    assert counts == {latency.TTFT: 24, latency.LATENCY: 48}  # ttft in 2 variants; 12 errors


def test_migration_0016_backfills_what_the_writes_would_have_written(empty_url: str) -> None:  # noqa: F811
    to(empty_url, "0015")
    engine = get_engine(empty_url)
    insert_calls(engine, 3000, end=END, seed=7)
    to(empty_url, "head")
    backfilled = _snapshot(engine, TABLES[1:])  # 0016's (call_log was filled bypassing 0009's)
    with session_scope(engine) as session:
        crud.rebuild_usage_rollups(session=session)
    assert _snapshot(engine, TABLES[1:]) == backfilled
    to(empty_url, "0015", down=True)
    assert not {t.__tablename__ for t in TABLES[1:]} & set(inspect(engine).get_table_names())
    assert rows(engine, "SELECT count(*) FROM call_log") == [(3000,)]
    to(empty_url, "head")
    assert _snapshot(engine, TABLES[1:]) == backfilled


def test_latency_buckets_are_the_same_in_sql_and_python(engine: Engine) -> None:
    values = [
        0,
        1,
        15,
        16,
        17,
        31,
        32,
        33,
        99,
        100,
        101,
        999,
        1000,
        65_432,
        2**27 - 1,
        2**27,
        10**9,
    ]
    with engine.connect() as conn:
        for v in values:
            got = conn.execute(text(f"SELECT {latency.bucket_sql(str(v))}")).scalar_one()
            assert got == latency.bucket_of(v), v
            lo = latency.BOUNDS[got]
            assert lo <= v and (got + 1 == len(latency.BOUNDS) or v < latency.BOUNDS[got + 1])
            if 100 <= v < 2**27:  # the open top bucket (over 37 h) says "at least"
                assert abs(latency.midpoint(got) - v) <= 0.05 * v


@pytest.fixture
def loaded(engine: Engine) -> list[CallLog]:
    load(engine, 4000, end=END, seed=5)
    with session_scope(engine) as session:
        return list(session.exec(select(CallLog)).scalars().all())  # type: ignore[call-overload]


def _local_day(c: CallLog, tz: str) -> date:
    return c.created_at.replace(tzinfo=UTC).astimezone(ZoneInfo(tz)).date()


@pytest.mark.parametrize("tz", ["Europe/Paris", "Asia/Kolkata", "America/Los_Angeles"])
@pytest.mark.parametrize("by", ["user", "project", "model", "conversation"])
def test_tables_from_daily_rollups_and_edges_equal_the_raw_rows(
    engine: Engine, loaded: list[CallLog], tz: str, by: str
) -> None:
    first, last = date(2026, 2, 20), date(2026, 3, 31)
    win = window(first, last, tz)
    parts = plan(win, UsageFilter(), Scope.everything(), by=by)
    if by in ("user", "conversation"):  # whole UTC days from a daily rollup, and edges
        assert parts[0].rollup is not None and parts[0].rollup.unit == 86400
        raw_edges = tz == "Asia/Kolkata" or by == "conversation"  # edges at :30, or no hourly
        assert len(parts) == (2 if by == "conversation" else 2 + raw_edges)
        assert (parts[-1].rollup is None) == raw_edges
    attribute = {"user": "user_id", "project": "project_id", "conversation": "conversation_id"}
    key = attribute.get(by, by)
    expected: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for c in loaded:
        if first <= _local_day(c, tz) <= last and (by != "conversation" or c.conversation_id):
            e = expected[getattr(c, key) or ""]
            e[0] += 1
            e[1] += round(Decimal(str(c.cost or 0)) * NANO)
            e[2] += c.input_tokens
    member = Scope(user_id="user03", project_ids=frozenset({"proj07"}))
    with session_scope(engine) as session:
        if by == "conversation":
            got, count = raw.by_conversation(
                session=session, window=win, filt=UsageFilter(), scope=Scope.everything(), limit=500
            )
            mine, _ = raw.by_conversation(
                session=session, window=win, filt=UsageFilter(), scope=member, limit=500
            )
        else:
            got, count = q.breakdown(
                session=session,
                window=win,
                filt=UsageFilter(),
                scope=Scope.everything(),
                by=by,  # type: ignore[arg-type]
                limit=500,
            )
            mine = []
    assert count == len(expected) and len(got) == min(500, count)
    for row in got:
        assert [row.totals.calls, row.totals.cost_nano, row.totals.input_tokens] == expected[
            row.key
        ], row.key
    theirs = [r.key for r in mine]
    assert all(k.startswith("user03c") or k in _conversations_of(loaded, "proj07") for k in theirs)


def _conversations_of(loaded: list[CallLog], project: str) -> set[str]:
    return {c.conversation_id for c in loaded if c.project_id == project and c.conversation_id}


def _nearest_rank(values: list[int], p: float) -> int:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p * len(ordered))) - 1]


@pytest.mark.parametrize("tz", ["Europe/Paris", "Asia/Kolkata"])
def test_percentiles_from_the_histograms_are_within_half_a_bucket(
    engine: Engine, loaded: list[CallLog], tz: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(raw, "EXACT_BELOW", 0)  # the histograms even for a small test set
    first, last = date(2026, 3, 1), date(2026, 3, 31)
    mine = [c for c in loaded if first <= _local_day(c, tz) <= last]
    args = {"window": window(first, last, tz), "filt": UsageFilter(), "scope": Scope.everything()}
    with session_scope(engine) as session:
        whole, by_day = raw.percentiles_by_day(session=session, **args)  # type: ignore[arg-type]
        filtered = raw.percentiles(
            session=session,
            window=args["window"],
            filt=UsageFilter(model="gpt-5"),
            scope=Scope.everything(),  # type: ignore[arg-type]
        )
    ttft = [c.ttft_ms for c in mine if c.ttft_ms is not None]
    lat = [c.latency_ms for c in mine if c.status == "ok"]

    def near(got: int | None, exact: int) -> bool:
        bucket = latency.bucket_of(exact)
        return got == latency.midpoint(bucket)

    assert near(whole.ttft_p50, _nearest_rank(ttft, 0.5))
    assert near(whole.ttft_p95, _nearest_rank(ttft, 0.95))
    assert near(whole.latency_p50, _nearest_rank(lat, 0.5))
    assert near(whole.latency_p95, _nearest_rank(lat, 0.95))
    assert len(by_day) == 31
    day, p = by_day[5]
    lat_day = [c.latency_ms for c in mine if c.status == "ok" and _local_day(c, tz) == day]
    assert near(p.latency_p95, _nearest_rank(lat_day, 0.95))
    gpt5 = [c.latency_ms for c in mine if c.status == "ok" and c.model == "gpt-5"]
    assert filtered.latency_p95 == _nearest_rank(gpt5, 0.95)  # a filter reads exact raw rows
