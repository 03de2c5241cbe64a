"""The usage rollups, kept exact by the call-log writes themselves.

:func:`add_to_rollup` runs in the same session (so the same transaction) as the call-log
insert: for each rollup an atomic ``INSERT ... ON CONFLICT DO UPDATE`` adding the row's
figures to its key (hour or day, and the rollup's dimensions), and one to each latency
histogram bucket it falls in. :func:`rebuild_usage_rollups` recomputes every rollup from
``call_log`` with one ``INSERT ... SELECT`` each (the migration's backfill, and bulk loads
such as the generator's). Both apply the same rules, so a rollup always equals a sum over the
raw rows.

The rollups (see :mod:`app.db.models`): ``usage_hourly`` (hour x user x project x model x
provider x feature), ``usage_hourly_model`` (hour x model x provider x feature),
``usage_daily`` (day x user x project), ``usage_daily_conversation`` (day x conversation x
user x project) and ``usage_latency_hourly`` (hour x metric x log bucket).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    and_,
    case,
    cast,
    func,
    insert,
    literal,
    literal_column,
    not_,
    text,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, delete, select

from app.db.crud.latency import LATENCY, TTFT, bucket_of, bucket_sql
from app.db.models import (
    CallLog,
    UsageDaily,
    UsageDailyConversation,
    UsageHourly,
    UsageHourlyModel,
    UsageLatencyHourly,
)

NANO = Decimal(1_000_000_000)
SUMS = (
    "calls",
    "requests",
    "errors",
    "failovers",
    "cache_hits",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_nano",
    "unknown",
)

# An attempt that failed before any output, with no usage reported (a 429, a 529, a refused
# connection...) was not billed: its NULL cost means "nothing to price", not "unknown".
# The same rule as app.db.crud.spend.
UNBILLED = and_(
    col(CallLog.status) == "error",
    col(CallLog.ttft_ms).is_(None),
    col(CallLog.input_tokens) == 0,
    col(CallLog.output_tokens) == 0,
)
UNKNOWN_PRICE = and_(col(CallLog.cost).is_(None), not_(UNBILLED))


@dataclass(frozen=True, slots=True)
class Rollup:
    """A sums rollup: its table, its time unit in seconds, and its key's other columns."""

    table: Any
    unit: int
    keys: tuple[str, ...]

    @property
    def time(self) -> str:
        return "hour" if self.unit == 3600 else "day"


HOURLY = Rollup(UsageHourly, 3600, ("user_id", "project_id", "model", "provider", "feature"))
HOURLY_MODEL = Rollup(UsageHourlyModel, 3600, ("model", "provider", "feature"))
DAILY = Rollup(UsageDaily, 86400, ("user_id", "project_id"))
DAILY_CONVERSATION = Rollup(
    UsageDailyConversation, 86400, ("conversation_id", "user_id", "project_id")
)
ROLLUPS = (HOURLY, HOURLY_MODEL, DAILY, DAILY_CONVERSATION)


def is_unbilled(call: CallLog) -> bool:
    return (
        call.status == "error"
        and call.ttft_ms is None
        and call.input_tokens == 0
        and call.output_tokens == 0
    )


def epoch_seconds(session: Session, column: Any) -> ColumnElement[int]:
    """Whole seconds since the Unix epoch of a UTC timestamp column, on either database."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.floor(func.extract("epoch", column)), BigInteger)
    return cast(func.strftime("%s", column), BigInteger)


def hour_of(call: CallLog) -> int:
    return int(call.created_at.timestamp()) // 3600


def _upsert(session: Session, table: Any, key: tuple[str, ...], values: dict[str, Any]) -> None:
    builder = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = builder(table).values(**values)
    columns = table.__table__.c
    adds = [name for name in values if name not in key]
    stmt = stmt.on_conflict_do_update(
        index_elements=list(key), set_={n: columns[n] + stmt.excluded[n] for n in adds}
    )
    session.execute(stmt)


def add_to_rollup(*, session: Session, call: CallLog) -> None:
    """Add one call-log row to every rollup, atomically, in the caller's transaction."""
    at = int(call.created_at.timestamp())
    sums: dict[str, Any] = {
        "calls": 1,
        "requests": int(call.attempt == 1),
        "errors": int(call.status == "error"),
        "failovers": int(call.failover_from is not None),
        "cache_hits": int(call.cache_hit),
        "input_tokens": call.input_tokens,
        "output_tokens": call.output_tokens,
        "cache_read_tokens": call.cache_read_tokens,
        "cache_write_tokens": call.cache_write_tokens,
        "cost_nano": 0 if call.cost is None else int(Decimal(call.cost) * NANO),
        "unknown": int(call.cost is None and not is_unbilled(call)),
    }
    dims = {
        "user_id": call.user_id or "",
        "project_id": call.project_id or "",
        "model": call.model,
        "provider": call.provider,
        "feature": call.feature,
        "conversation_id": call.conversation_id,
    }
    for rollup in ROLLUPS:
        if rollup is DAILY_CONVERSATION and call.conversation_id is None:
            continue
        key = (rollup.time, *rollup.keys)
        values = {rollup.time: at // rollup.unit, **{k: dims[k] for k in rollup.keys}, **sums}
        _upsert(session, rollup.table, key, values)
    for metric, ms in ((TTFT, call.ttft_ms), (LATENCY, call.latency_ms)):
        if ms is None or (metric == LATENCY and call.status != "ok"):
            continue
        values = {"hour": at // 3600, "metric": metric, "bucket": bucket_of(ms), "n": 1}
        _upsert(session, UsageLatencyHourly, ("hour", "metric", "bucket"), values)


def _sums_select(session: Session, rollup: Rollup) -> Any:
    one = lambda cond: func.sum(case((cond, 1), else_=0))  # noqa: E731
    if session.get_bind().dialect.name == "postgresql":
        nano = cast(func.coalesce(col(CallLog.cost), 0) * 1_000_000_000, BigInteger)
    else:  # SQLite keeps NUMERIC(18, 9) as a double: round to whole billionths
        nano = cast(func.round(func.coalesce(col(CallLog.cost), 0) * 1_000_000_000), BigInteger)
    time = (epoch_seconds(session, col(CallLog.created_at)) // rollup.unit).label(rollup.time)
    columns = {
        "user_id": func.coalesce(col(CallLog.user_id), "").label("user_id"),
        "project_id": func.coalesce(col(CallLog.project_id), "").label("project_id"),
        "model": col(CallLog.model),
        "provider": col(CallLog.provider),
        "feature": col(CallLog.feature),
        "conversation_id": col(CallLog.conversation_id),
    }
    keys = [time, *(columns[k] for k in rollup.keys)]
    query = select(  # pyright: ignore[reportCallIssue]
        *keys,
        func.count(),
        one(col(CallLog.attempt) == 1),
        one(col(CallLog.status) == "error"),
        one(col(CallLog.failover_from).is_not(None)),
        one(col(CallLog.cache_hit)),
        func.sum(col(CallLog.input_tokens)),
        func.sum(col(CallLog.output_tokens)),
        func.sum(col(CallLog.cache_read_tokens)),
        func.sum(col(CallLog.cache_write_tokens)),
        func.sum(nano),
        one(UNKNOWN_PRICE),
    ).group_by(*keys)
    if rollup is DAILY_CONVERSATION:
        query = query.where(col(CallLog.conversation_id).is_not(None))
    return query


def _histogram_select(session: Session) -> Any:
    hour = epoch_seconds(session, col(CallLog.created_at)) // 3600
    parts = [
        select(
            hour.label("hour"),
            literal(metric).label("metric"),
            literal_column(bucket_sql(f"call_log.{column}")).label("bucket"),
        ).where(where)
        for metric, column, where in (
            (TTFT, "ttft_ms", col(CallLog.ttft_ms).is_not(None)),
            (LATENCY, "latency_ms", col(CallLog.status) == "ok"),
        )
    ]
    rows = union_all(*parts).subquery()
    return select(rows.c.hour, rows.c.metric, rows.c.bucket, func.count()).group_by(
        rows.c.hour, rows.c.metric, rows.c.bucket
    )


def rebuild_usage_rollups(*, session: Session) -> int:
    """Recompute every rollup from ``call_log``; returns the number of ``usage_hourly`` rows."""
    for rollup in ROLLUPS:
        session.execute(delete(rollup.table))
        columns = [rollup.time, *rollup.keys, *SUMS]
        session.execute(insert(rollup.table).from_select(columns, _sums_select(session, rollup)))
    session.execute(delete(UsageLatencyHourly))
    session.execute(
        insert(UsageLatencyHourly).from_select(
            ["hour", "metric", "bucket", "n"], _histogram_select(session)
        )
    )
    if session.get_bind().dialect.name == "postgresql":
        for table in (*(r.table for r in ROLLUPS), UsageLatencyHourly):
            session.execute(text(f"ANALYZE {table.__tablename__}"))
    return int(session.execute(select(func.count()).select_from(UsageHourly)).scalar_one())
