"""The hourly usage rollup (``usage_hourly``), kept exact by the call-log writes themselves.

:func:`add_to_rollup` runs in the same session (so the same transaction) as the call-log
insert: an atomic ``INSERT ... ON CONFLICT DO UPDATE`` adding the row's figures to its hour.
:func:`rebuild_usage_rollups` recomputes every hour from ``call_log`` with one
``INSERT ... SELECT`` (the migration's backfill, and bulk loads such as the generator's).
Both apply the same rules, so the rollup always equals a sum over the raw rows.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, and_, case, cast, func, insert, not_, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, delete, select

from app.db.models import CallLog, UsageHourly

NANO = Decimal(1_000_000_000)
KEY = ("hour", "user_id", "project_id", "model", "provider", "feature")
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


def add_to_rollup(*, session: Session, call: CallLog) -> None:
    """Add one call-log row to its hour, atomically, in the caller's transaction."""
    values: dict[str, Any] = {
        "hour": hour_of(call),
        "user_id": call.user_id or "",
        "project_id": call.project_id or "",
        "model": call.model,
        "provider": call.provider,
        "feature": call.feature,
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
    dialect = session.get_bind().dialect.name
    builder = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = builder(UsageHourly).values(**values)
    table = UsageHourly.__table__  # pyright: ignore[reportAttributeAccessIssue]
    stmt = stmt.on_conflict_do_update(
        index_elements=list(KEY),
        set_={name: table.c[name] + stmt.excluded[name] for name in SUMS},
    )
    session.execute(stmt)


def _rollup_select(session: Session) -> Any:
    one = lambda cond: func.sum(case((cond, 1), else_=0))  # noqa: E731
    if session.get_bind().dialect.name == "postgresql":
        nano = cast(func.coalesce(col(CallLog.cost), 0) * 1_000_000_000, BigInteger)
    else:  # SQLite keeps NUMERIC(18, 9) as a double: round to whole billionths
        nano = cast(func.round(func.coalesce(col(CallLog.cost), 0) * 1_000_000_000), BigInteger)
    hour = (epoch_seconds(session, col(CallLog.created_at)) // 3600).label("hour")
    user = func.coalesce(col(CallLog.user_id), "").label("user_id")
    project = func.coalesce(col(CallLog.project_id), "").label("project_id")
    return select(  # pyright: ignore[reportCallIssue]
        hour,
        user,
        project,
        col(CallLog.model),
        col(CallLog.provider),
        col(CallLog.feature),
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
    ).group_by(hour, user, project, col(CallLog.model), col(CallLog.provider), col(CallLog.feature))


def rebuild_usage_rollups(*, session: Session) -> int:
    """Recompute ``usage_hourly`` from ``call_log``; returns the number of rollup rows."""
    session.execute(delete(UsageHourly))
    session.execute(insert(UsageHourly).from_select([*KEY, *SUMS], _rollup_select(session)))
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE usage_hourly"))
    return int(session.execute(select(func.count()).select_from(UsageHourly)).scalar_one())
