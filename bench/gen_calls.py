"""Fill a database with a realistic year of LLM calls: ``python -m bench.gen_calls --rows N
--db URL`` (tests, benchmarks and demos all use it).

What it makes, from a seed (so the same arguments give the same rows):

- 60 users in 12 projects (each user in one to three), 8 models on 4 providers: Anthropic and
  OpenAI priced by genai-prices, the built-in local model (free), and an OpenAI-compatible
  server whose price is unknown (``cost`` NULL);
- features chat, title, extract, agent, api; more calls on weekdays and in working hours, and
  growth over the year;
- failures (rate limits that were never billed, and errors after partial output), failovers
  to the next model (``attempt`` 2, ``failover_from``), cancelled streams, cache hits (free).

Costs are genai-prices' per-token prices (looked up once per model, below the long-context
tier) in whole billionths of a dollar, so they are exact. Rows go in by COPY on PostgreSQL and
executemany on SQLite, then the rollups are rebuilt from them, one statement each.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine

from app.db.crud import rebuild_usage_rollups
from app.db.session import get_engine, migrate, session_scope
from app.llm.base import Usage
from app.llm.pricing import PRICE_DATA_VERSION, price

COLUMNS = [
    "user_id",
    "project_id",
    "conversation_id",
    "message_id",
    "feature",
    "prompt_version",
    "provider",
    "model",
    "provider_model",
    "requested_model",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost",
    "price_version",
    "latency_ms",
    "ttft_ms",
    "status",
    "error_type",
    "attempt",
    "failover_from",
    "cache_hit",
    "created_at",
]
FEATURES = (("chat", 70), ("title", 10), ("extract", 7), ("agent", 8), ("api", 5))


@dataclass(frozen=True, slots=True)
class Model:
    id: str
    provider: str
    weight: int
    speed: float  # output tokens per second
    nano: tuple[int, int, int, int] | None  # per token: input, output, cache read, cache write


def _per_token(provider: str, model: str) -> tuple[int, int, int, int] | None:
    """Nano-dollars per token from genai-prices (1000-token probes: below any tier)."""
    probes = (
        Usage(input_tokens=1000),
        Usage(output_tokens=1000),
        Usage(input_tokens=1000, cache_read_tokens=1000),
        Usage(input_tokens=1000, cache_write_tokens=1000),
    )
    costs = [price(provider, model, u).cost for u in probes]
    if any(c is None for c in costs):
        return None
    return tuple(int(Decimal(c) * 1_000_000) for c in costs)  # type: ignore[return-value, arg-type]


def models() -> list[Model]:
    specs = [
        ("claude-sonnet-4-6", "anthropic", 30, 70.0),
        ("claude-haiku-4-5", "anthropic", 18, 140.0),
        ("claude-opus-4-1", "anthropic", 4, 35.0),
        ("gpt-5", "openai", 14, 60.0),
        ("gpt-5-mini", "openai", 14, 120.0),
        ("gpt-4o-mini", "openai", 8, 110.0),
        ("smollm2-360m", "local", 6, 40.0),
        ("llama-3.3-70b", "openai-compatible", 6, 25.0),
    ]
    return [Model(i, p, w, s, _per_token(p, i)) for i, p, w, s in specs]


def _nano_text(nano: int) -> str:
    return f"{nano // 1_000_000_000}.{nano % 1_000_000_000:09d}"


def generate(rows: int, *, end: datetime, seed: int = 11) -> Iterator[tuple[object, ...]]:
    """``rows`` call-log rows over the 365 days before ``end``, in time order."""
    rnd = random.Random(seed)
    catalogue = models()
    weights = [m.weight for m in catalogue]
    users = [f"user{n:02d}" for n in range(60)]
    projects = [f"proj{n:02d}" for n in range(12)]
    member = {u: rnd.sample(projects, rnd.randint(1, 3)) for u in users}
    user_weights = [rnd.paretovariate(1.2) for _ in users]
    features = [f for f, _ in FEATURES]
    feature_weights = [w for _, w in FEATURES]
    start = end - timedelta(days=365)
    # time-of-call weights per hour of the year: weekdays, working hours (UTC 7-19), growth
    hours = 365 * 24
    hour_w = []
    for h in range(hours):
        moment = start + timedelta(hours=h)
        work = 3.0 if 7 <= moment.hour < 19 else 0.6
        weekday = 1.0 if moment.weekday() < 5 else 0.35
        hour_w.append(work * weekday * (0.6 + 0.8 * h / hours))
    picked = sorted(rnd.choices(range(hours), weights=hour_w, k=rows))
    slot = 0  # every row takes one picked hour, so retries do not push the year's end out
    message_id = 0
    while slot < rows:
        message_id += 1
        at = start + timedelta(hours=picked[slot], seconds=rnd.random() * 3600)
        user = rnd.choices(users, weights=user_weights)[0]
        project = rnd.choice(member[user]) if rnd.random() < 0.85 else None
        feature = rnd.choices(features, weights=feature_weights)[0]
        conversation = f"{user}c{rnd.randint(0, 400):04d}" if feature != "api" else None
        model = rnd.choices(catalogue, weights=weights)[0]
        attempt, failover_from = 1, None
        while slot < rows:
            row, failed = _attempt(rnd, model, at, attempt, failover_from)
            yield (user, project, conversation, message_id, feature, None, *row)
            slot += 1
            if not failed or rnd.random() < 0.4:
                break
            failover_from = model.id
            model = rnd.choice([m for m in catalogue if m is not model])
            attempt += 1
            latency = row[10]
            assert isinstance(latency, int)
            at += timedelta(milliseconds=latency + 50)  # after the failed attempt


def _attempt(
    rnd: random.Random, model: Model, at: datetime, attempt: int, failover_from: str | None
) -> tuple[tuple[object, ...], bool]:
    """One attempt's columns from ``provider`` on; and whether it failed."""
    cache_read = cache_write = 0
    tokens_in = int(rnd.lognormvariate(7.0, 1.0)) + 20
    tokens_out = int(rnd.lognormvariate(5.6, 0.9)) + 1
    if model.provider == "anthropic" and rnd.random() < 0.35:
        cache_read = int(tokens_in * rnd.uniform(0.3, 0.9))
    elif model.provider == "anthropic" and rnd.random() < 0.1:
        cache_write = int(tokens_in * rnd.uniform(0.2, 0.8))
    elif model.provider == "openai" and rnd.random() < 0.3:
        cache_read = int(tokens_in * rnd.uniform(0.2, 0.7)) // 128 * 128
    ttft: int | None = int(rnd.lognormvariate(6.3, 0.5))
    status, error, cache_hit = "ok", None, False
    roll = rnd.random()
    if roll < 0.02:  # refused before any output: nothing billed, nothing to price
        status, error, ttft = "error", rnd.choice(["RateLimited", "Overloaded"]), None
        tokens_in = tokens_out = cache_read = cache_write = 0
    elif roll < 0.03:  # failed mid-stream: billed
        status, error = "error", "ProviderError"
        tokens_out = max(1, tokens_out // 4)
    elif roll < 0.04:
        status = "cancelled"
        tokens_out = max(1, tokens_out // 3)
    elif roll < 0.09:  # answered from Parley's cache: free
        cache_hit, ttft = True, rnd.randint(2, 15)
    latency = (ttft or 0) + int(1000 * tokens_out / model.speed) + rnd.randint(5, 80)
    if cache_hit:
        latency = (ttft or 0) + rnd.randint(1, 20)
    if status == "error" and ttft is None:
        latency = rnd.randint(80, 2500)
    if cache_hit:
        cost, version = "0.000000000", None
    elif model.provider == "local":
        cost, version = "0.000000000", PRICE_DATA_VERSION
    elif model.nano is None or (status == "error" and ttft is None):
        cost, version = None, (None if ttft is None and status == "error" else PRICE_DATA_VERSION)
    else:
        p_in, p_out, p_read, p_write = model.nano
        uncached = tokens_in - cache_read - cache_write
        nano = uncached * p_in + tokens_out * p_out + cache_read * p_read + cache_write * p_write
        cost, version = _nano_text(nano), PRICE_DATA_VERSION
    row = (
        model.provider,
        model.id,
        model.id,
        model.id,
        tokens_in,
        tokens_out,
        cache_read,
        cache_write,
        cost,
        version,
        latency,
        ttft,
        status,
        error,
        attempt,
        failover_from,
        cache_hit,
        at,
    )
    return row, status == "error"


def load(engine: Engine, rows: int, *, end: datetime, seed: int = 11, batch: int = 50_000) -> int:
    """Insert ``rows`` generated rows (COPY / executemany), then rebuild the rollups."""
    insert_calls(engine, rows, end=end, seed=seed, batch=batch)
    with session_scope(engine) as session:
        return rebuild_usage_rollups(session=session)


def insert_calls(
    engine: Engine, rows: int, *, end: datetime, seed: int = 11, batch: int = 50_000
) -> None:
    """Insert ``rows`` generated rows into ``call_log`` only (no rollup: the caller rebuilds
    them, or a migration backfills them)."""
    stream = generate(rows, end=end, seed=seed)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            with cursor.copy(  # pyright: ignore[reportAttributeAccessIssue]
                f"COPY call_log ({', '.join(COLUMNS)}) FROM STDIN"
            ) as copy:
                for row in stream:
                    copy.write_row(row)
        else:
            sql = (
                f"INSERT INTO call_log ({', '.join(COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(COLUMNS))})"
            )
            while chunk := [_sqlite_row(r) for _, r in zip(range(batch), stream, strict=False)]:
                cursor.executemany(sql, chunk)
        raw.commit()
    finally:
        raw.close()


def _sqlite_row(row: tuple[object, ...]) -> tuple[object, ...]:
    """SQLite stores timestamps as SQLAlchemy writes them (naive UTC text), costs as numbers."""
    *head, at = row
    values = list(head)
    cost_index = COLUMNS.index("cost")
    if values[cost_index] is not None:
        values[cost_index] = float(values[cost_index])  # type: ignore[arg-type]
    stamp = at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")  # type: ignore[union-attr]
    return (*values, stamp)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--db", required=True, help="a SQLAlchemy URL; migrated first")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--end", help="last moment, ISO UTC (default: now)")
    args = parser.parse_args()
    end = datetime.fromisoformat(args.end).replace(tzinfo=UTC) if args.end else datetime.now(UTC)
    migrate(args.db)
    engine = get_engine(args.db)
    began = time.perf_counter()
    rollup_rows = load(engine, args.rows, end=end, seed=args.seed)
    took = time.perf_counter() - began
    print(
        f"{args.rows} calls, {rollup_rows} rollup rows in {took:.1f} s ({args.rows / took:,.0f}/s)"
    )


if __name__ == "__main__":
    main()
