"""The usage rollups kept by the call-log writes, the call log's indexes for the dashboard,
and alerts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Index,
    Numeric,
)
from sqlmodel import Field, SQLModel

from app.db.models.base import utcnow
from app.db.models.calls import CallLog


class UsageSums(SQLModel):
    """The figures every usage rollup sums (not a table). Money is ``cost_nano``: the priced
    rows' cost in billionths of a dollar, an integer, so sums are exact on SQLite too;
    ``unknown`` counts billed rows whose price is unknown."""

    calls: int = 0  # attempts
    requests: int = 0  # first attempts (attempt == 1)
    errors: int = 0
    failovers: int = 0  # attempts on a fallback model
    cache_hits: int = 0
    input_tokens: int = Field(default=0, sa_type=BigInteger)
    output_tokens: int = Field(default=0, sa_type=BigInteger)
    cache_read_tokens: int = Field(default=0, sa_type=BigInteger)
    cache_write_tokens: int = Field(default=0, sa_type=BigInteger)
    cost_nano: int = Field(default=0, sa_type=BigInteger)
    unknown: int = 0


# The usage rollups (issue 11). All are kept exact by the writes themselves:
# :func:`app.db.crud.add_call_log` upserts each in the same transaction as the call-log insert
# (never a job that can lag), and :func:`app.db.crud.rebuild_usage_rollups` recomputes them
# from ``call_log`` (migration backfill, bulk loads) with the same rules. ``hour`` / ``day`` are
# whole hours / days since the Unix epoch, UTC. Missing ids are ``''`` (NULLs would never
# conflict in a unique key). Each key leads with the time and, on SQLite, is the table itself
# (WITHOUT ROWID), so a period's rows are one contiguous range.


class UsageHourly(UsageSums, table=True):
    """Per UTC hour x user x project x model x provider x feature: any filter, any scope, and
    any time zone whose offsets are whole hours (each hour lies in one local day)."""

    __tablename__ = "usage_hourly"  # pyright: ignore[reportAssignmentType]
    __table_args__ = ({"sqlite_with_rowid": False},)

    hour: int = Field(primary_key=True)
    user_id: str = Field(default="", max_length=64, primary_key=True)
    project_id: str = Field(default="", max_length=64, primary_key=True)
    model: str = Field(max_length=200, primary_key=True)
    provider: str = Field(max_length=50, primary_key=True)
    feature: str = Field(max_length=32, primary_key=True)


class UsageHourlyModel(UsageSums, table=True):
    """Per UTC hour x model x provider x feature (at most a few dozen rows an hour): the
    headline and the charts of views with no user or project in their filter or scope."""

    __tablename__ = "usage_hourly_model"  # pyright: ignore[reportAssignmentType]
    __table_args__ = ({"sqlite_with_rowid": False},)

    hour: int = Field(primary_key=True)
    model: str = Field(max_length=200, primary_key=True)
    provider: str = Field(max_length=50, primary_key=True)
    feature: str = Field(max_length=32, primary_key=True)


class UsageDaily(UsageSums, table=True):
    """Per UTC day x user x project: the tables by user and by project (a period's whole UTC
    days from here, its edges from the hourly rollup)."""

    __tablename__ = "usage_daily"  # pyright: ignore[reportAssignmentType]
    __table_args__ = ({"sqlite_with_rowid": False},)

    day: int = Field(primary_key=True)
    user_id: str = Field(default="", max_length=64, primary_key=True)
    project_id: str = Field(default="", max_length=64, primary_key=True)


class UsageDailyConversation(UsageSums, table=True):
    """Per UTC day x conversation (with its user and project, for scopes): the table by
    conversation (whole UTC days from here, the edges from the call log). Calls outside a
    conversation (the API) are not in it."""

    __tablename__ = "usage_daily_conversation"  # pyright: ignore[reportAssignmentType]
    __table_args__ = ({"sqlite_with_rowid": False},)

    day: int = Field(primary_key=True)
    conversation_id: str = Field(max_length=64, primary_key=True)
    user_id: str = Field(default="", max_length=64, primary_key=True)
    project_id: str = Field(default="", max_length=64, primary_key=True)


class UsageLatencyHourly(SQLModel, table=True):
    """Latency histograms per UTC hour: ``n`` attempts whose milliseconds fall in log bucket
    ``bucket`` (:data:`app.db.crud.latency.BOUNDS`: exact below 16 ms, then 8 buckets an
    octave). ``metric`` 0 is time to first token (attempts that had one), 1 total latency
    (successful attempts). The dashboard's p50/p95 of unfiltered views read these."""

    __tablename__ = "usage_latency_hourly"  # pyright: ignore[reportAssignmentType]
    __table_args__ = ({"sqlite_with_rowid": False},)

    hour: int = Field(primary_key=True)
    metric: int = Field(primary_key=True)
    bucket: int = Field(primary_key=True)
    n: int = 0


# The dashboard's raw-row reads (percentiles, the call-log browser) filter by time first.
Index(
    "ix_call_log_created_at_latency",
    CallLog.created_at,  # pyright: ignore[reportArgumentType]
    CallLog.latency_ms,  # pyright: ignore[reportArgumentType]
    CallLog.ttft_ms,  # pyright: ignore[reportArgumentType]
    CallLog.status,  # pyright: ignore[reportArgumentType]
)
# A model filter's exact percentiles (the histograms have no model): read from the index only.
Index(
    "ix_call_log_model_created_at_latency",
    CallLog.model,  # pyright: ignore[reportArgumentType]
    CallLog.created_at,  # pyright: ignore[reportArgumentType]
    CallLog.latency_ms,  # pyright: ignore[reportArgumentType]
    CallLog.ttft_ms,  # pyright: ignore[reportArgumentType]
    CallLog.status,  # pyright: ignore[reportArgumentType]
)


# ----- alerts (issue 11: budgets and alerts) --------------------------------------------------


class Alert(SQLModel, table=True):
    """One alert: a budget threshold crossed (``kind`` "budget") or an hour's spend far above
    its trailing average ("spike"). ``dedupe`` is unique, so a crossing gives one row however
    many calls (or workers) see it: ``budget/<scope>/<subject>/<unit>/<threshold>/<YYYY-MM>``,
    ``spike/<scope>/<subject>/<hour>``. ``scope`` is "user", "project" or "all" (subject '').
    ``delivery``: "none" (no webhook configured), "pending", "delivered" or "failed"."""

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    scope: str = Field(max_length=16)
    subject_id: str = Field(default="", max_length=64, index=True)
    unit: str = Field(default="usd", max_length=16)  # "usd" or "tokens"
    threshold: float  # the budget fraction crossed, or the spike factor k
    value: Decimal = Field(sa_type=Numeric(24, 9))  # spent this month / the hour's spend
    reference: Decimal = Field(sa_type=Numeric(24, 9))  # the budget / the trailing hourly mean
    message: str = Field(max_length=500)
    dedupe: str = Field(max_length=200, unique=True)
    delivery: str = Field(default="none", max_length=16, index=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)


class AlertDelivery(SQLModel, table=True):
    """One webhook POST attempt for an alert (the delivery log)."""

    __tablename__ = "alert_delivery"  # pyright: ignore[reportAssignmentType]

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True, ondelete="CASCADE")
    attempt: int
    status_code: int | None = Field(default=None)  # None: no HTTP answer
    ok: bool = Field(default=False)
    error: str = Field(default="", max_length=300)
    duration_ms: int = 0
    created_at: datetime = Field(default_factory=utcnow)


# ----- agents and extraction (issue 12) ------------------------------------------------------
